/* cmd_bp.c — breakpoints and watchpoints: `break`, `watch`, `delete`,
 * and the listing behind `info breakpoints`.
 *
 * The core keeps its own set of breakpoint addresses (shared with Python
 * and gdb); the REPL numbers the ones it made and attaches scripts. */
#ifdef VMPY_HAVE_TCL
#include "repl_int.h"

#include <stdlib.h>
#include <string.h>

static vr_point *add_point(vr_repl *r, int kind, uint64_t addr, uint64_t len, int access)
{
    vr_point *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->id = r->next_point_id++;
    p->kind = kind;
    p->addr = addr;
    p->len = len;
    p->access = access;
    vr_point **tail = &r->points;
    while (*tail)
        tail = &(*tail)->next;
    *tail = p;
    return p;
}

static void drop_point(vr_repl *r, vr_point *p)
{
    for (vr_point **pp = &r->points; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    if (p->kind == VR_BREAK)
        vm_bp_remove(r->m, p->addr);
    else
        vm_wp_remove(r->m, p->addr, p->len, p->access);
    if (p->script)
        Tcl_DecrRefCount(p->script);
    free(p);
}

void vr_points_free(vr_repl *r)
{
    while (r->points)
        drop_point(r, r->points);
}

vr_point *vr_point_at_pc(vr_repl *r, uint64_t pc)
{
    for (vr_point *p = r->points; p; p = p->next)
        if (p->kind == VR_BREAK && p->addr == pc)
            return p;
    return NULL;
}

static int break_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    uint64_t addr;
    if (vr_get_addr(r, objv[0], &addr) != TCL_OK)
        return TCL_ERROR + 100;
    vr_point *p = vr_point_at_pc(r, addr);
    if (!p) {
        int err = vm_bp_add(r->m, addr);
        if (err)
            return vr_core_error(r, ip, "break", err);
        if (!(p = add_point(r, VR_BREAK, addr, 1, 0))) {
            vm_bp_remove(r->m, addr);
            return vr_error(ip, "out of memory");
        }
    }
    if (p->script)
        Tcl_DecrRefCount(p->script);
    p->script = objc == 2 ? objv[1] : NULL;
    if (p->script)
        Tcl_IncrRefCount(p->script);
    Tcl_SetObjResult(ip, Tcl_NewIntObj(p->id));
    return TCL_OK;
}

const vr_cmd vr_cmd_break = { "break", "ADDR|SYMBOL ?SCRIPT?", "set a breakpoint; returns its id",
    "      SCRIPT runs (at global level) each time the breakpoint is hit; the run\n"
    "      then stops, unless SCRIPT ends with `continue`, which resumes it.\n"
    "      Without arguments `break` is Tcl's loop break.", 1, 2, break_fn, NULL };

static int parse_access(const char *s)
{
    if (!strcmp(s, "r"))
        return VM_PROT_R;
    if (!strcmp(s, "w"))
        return VM_PROT_W;
    if (!strcmp(s, "rw") || !strcmp(s, "wr"))
        return VM_PROT_R | VM_PROT_W;
    return 0;
}

static int watch_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    uint64_t addr, len = 0;
    int access = VM_PROT_W;
    if (vr_get_addr(r, objv[0], &addr) != TCL_OK)
        return TCL_ERROR + 100;
    for (int i = 1; i < objc; i++) {    /* LEN and the access, in either order */
        int a = parse_access(Tcl_GetString(objv[i]));
        if (a)
            access = a;
        else if (vr_get_u64(ip, objv[i], &len) != TCL_OK || len == 0) {
            vr_error(ip, "bad length or access \"%s\": use a positive LEN and r, w or rw", Tcl_GetString(objv[i]));
            return TCL_ERROR + 100;
        }
    }
    if (!len) {   /* a data symbol knows its size */
        const vr_sym *s = vr_sym_at(&r->syms, addr);
        len = s && s->addr == addr && s->size ? s->size : 8;
    }
    int err = vm_wp_add(r->m, addr, len, access);
    if (err)
        return vr_core_error(r, ip, "watch", err);
    vr_point *p = add_point(r, VR_WATCH, addr, len, access);
    if (!p) {
        vm_wp_remove(r->m, addr, len, access);
        return vr_error(ip, "out of memory");
    }
    Tcl_SetObjResult(ip, Tcl_NewIntObj(p->id));
    return TCL_OK;
}

const vr_cmd vr_cmd_watch = { "watch", "ADDR ?LEN? ?r|w|rw?", "set a watchpoint (default: writes); returns its id",
    "      LEN defaults to the size of the symbol at ADDR, else 8.  The run stops\n"
    "      with `watchpoint` after the accessing instruction.", 1, 3, watch_fn, NULL };

static int delete_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    const char *s = Tcl_GetString(objv[0]);
    if (!strcmp(s, "all")) {
        vr_points_free(r);
        return TCL_OK;
    }
    int id;
    if (Tcl_GetIntFromObj(NULL, objv[0], &id) != TCL_OK) {
        vr_error(ip, "expected a breakpoint id or \"all\" but got \"%s\"", s);
        return TCL_ERROR + 100;
    }
    for (vr_point *p = r->points; p; p = p->next) {
        if (p->id == id) {
            drop_point(r, p);
            return TCL_OK;
        }
    }
    return vr_error(ip, "no breakpoint or watchpoint %d", id);
}

const vr_cmd vr_cmd_delete = { "delete", "ID|all", "delete a breakpoint or watchpoint (or all of them)", NULL,
                               1, 1, delete_fn, NULL };
#endif /* VMPY_HAVE_TCL */
