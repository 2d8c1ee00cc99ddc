/* cmd_snap.c — `snapshot save|restore|list|delete`: named in-memory
 * snapshots of the machine (core/snapshot.h), for "try something, go back"
 * in a debugging session or a firmware check.  Each name holds a full
 * snapshot; the core makes restoring to a recent one cheap (dirty pages). */
#ifdef VMPY_HAVE_TCL
#include "repl_int.h"
#include "core/snapshot.h"

#include <stdlib.h>
#include <string.h>

struct vr_snap {
    char *name;
    vm_snapshot *snap;
    struct vr_snap *next;
};

void vr_snaps_free(vr_repl *r)
{
    while (r->snaps) {
        struct vr_snap *s = r->snaps;
        r->snaps = s->next;
        vm_snapshot_unref(s->snap);
        free(s->name);
        free(s);
    }
}

static struct vr_snap **snap_find(vr_repl *r, const char *name)
{
    struct vr_snap **p = &r->snaps;
    while (*p && strcmp((*p)->name, name))
        p = &(*p)->next;
    return p;
}

static int snap_save_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    const char *name = Tcl_GetString(objv[0]);
    if (r->run_depth)
        return vr_error(ip, "snapshot save: not from a breakpoint script while the machine runs");
    vm_snapshot *snap;
    int err = vm_snapshot_take(r->m, NULL, &snap);
    if (err)
        return vr_core_error(r, ip, "snapshot save", err);
    struct vr_snap **p = snap_find(r, name);
    if (*p) {
        vm_snapshot_unref((*p)->snap);
        (*p)->snap = snap;
    } else {
        struct vr_snap *s = calloc(1, sizeof *s);
        if (!s || !(s->name = strdup(name))) {
            free(s);
            vm_snapshot_unref(snap);
            return vr_error(ip, "snapshot save: out of memory");
        }
        s->snap = snap;
        s->next = r->snaps;
        r->snaps = s;
    }
    Tcl_SetObjResult(ip, objv[0]);
    return TCL_OK;
}

static int snap_restore_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    const char *name = Tcl_GetString(objv[0]);
    struct vr_snap *s = *snap_find(r, name);
    if (!s)
        return vr_error(ip, "snapshot restore: no snapshot \"%s\" (`snapshot list` shows them)", name);
    if (r->run_depth)
        return vr_error(ip, "snapshot restore: not from a breakpoint script while the machine runs");
    int err = vm_snapshot_restore(r->m, s->snap);
    if (err)
        return vr_core_error(r, ip, "snapshot restore", err);
    r->exited = 0;     /* the program runs again from the snapshot's state */
    Tcl_SetObjResult(ip, objv[0]);
    return TCL_OK;
}

static int snap_list_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    Tcl_Obj *list = Tcl_NewListObj(0, NULL);
    for (struct vr_snap *s = r->snaps; s; s = s->next) {
        char icount[32];
        snprintf(icount, sizeof icount, "%llu", (unsigned long long)vm_snapshot_icount(s->snap, 0));
        Tcl_Obj *pair[2] = { Tcl_NewStringObj(s->name, -1), Tcl_NewStringObj(icount, -1) };
        Tcl_ListObjAppendElement(ip, list, Tcl_NewListObj(2, pair));
    }
    Tcl_SetObjResult(ip, list);
    return TCL_OK;
}

static int snap_delete_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    const char *name = Tcl_GetString(objv[0]);
    if (!strcmp(name, "all")) {
        vr_snaps_free(r);
        return TCL_OK;
    }
    struct vr_snap **p = snap_find(r, name);
    if (!*p)
        return vr_error(ip, "snapshot delete: no snapshot \"%s\"", name);
    struct vr_snap *s = *p;
    *p = s->next;
    vm_snapshot_unref(s->snap);
    free(s->name);
    free(s);
    return TCL_OK;
}

static const vr_cmd snap_subs[] = {
    { "save", "NAME", "snapshot the whole machine (cpus, RAM, devices) under NAME (replacing it)", NULL, 1, 1,
      snap_save_fn, NULL },
    { "restore", "NAME", "put the machine back in the state saved as NAME", NULL, 1, 1, snap_restore_fn, NULL },
    { "list", "", "the saved snapshots: {NAME INSTRUCTIONS-OF-CPU-0} ..., newest first", NULL, 0, 0,
      snap_list_fn, NULL },
    { "delete", "NAME|all", "forget a snapshot", NULL, 1, 1, snap_delete_fn, NULL },
    { NULL },
};
const vr_cmd vr_cmd_snapshot = { "snapshot", "save|restore|list|delete ...",
                                 "named in-memory snapshots of the machine", NULL, 0, -1, NULL, snap_subs };
#endif /* VMPY_HAVE_TCL */
