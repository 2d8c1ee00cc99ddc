/* cmd_code.c — code views: `dis` (disassembly with symbols) and
 * `trace on|off` (an instruction trace through a code hook). */
#ifdef VMPY_HAVE_TCL
#include "repl_int.h"

#include <stdlib.h>
#include <string.h>

/* Branches and jumps print a pc-relative offset as their last operand;
 * their target is worth naming. */
static int is_pcrel(const char *mn)
{
    static const char *const ops[] = {
        "jal", "j", "beq", "bne", "blt", "bge", "bltu", "bgeu", "beqz", "bnez", "blez", "bgez",
        "bltz", "bgtz", "bgt", "ble", "bgtu", "bleu", "c.j", "c.jal", "c.beqz", "c.bnez", NULL,
    };
    for (int i = 0; ops[i]; i++)
        if (!strcmp(mn, ops[i]))
            return 1;
    return 0;
}

static void annotate_target(vr_repl *r, uint64_t addr, const char *text, char *out, size_t len)
{
    out[0] = 0;
    char mn[16];
    size_t n = strcspn(text, " ");
    if (n >= sizeof mn)
        return;
    memcpy(mn, text, n);
    mn[n] = 0;
    const char *last = strrchr(text, ' ');
    if (!is_pcrel(mn) || !last)
        return;
    char *end;
    long long off = strtoll(last + 1, &end, 0);
    if (*end)
        return;
    char where[256];
    vr_format_addr(r, addr + (uint64_t)off, where, sizeof where);
    snprintf(out, len, "  # %s", where);
}

int vr_disasm_line(vr_repl *r, uint64_t addr, Tcl_DString *d, int mark_pc)
{
    char text[128], where[256], target[300], line[768];
    int n = vm_disasm(r->m, addr, text, sizeof text);
    vr_format_addr(r, addr, where, sizeof where);
    target[0] = 0;
    if (n > 0)
        annotate_target(r, addr, text, target, sizeof target);
    int at_pc = mark_pc && addr == vm_cpu_pc(vm_machine_cpu(r->m, 0));
    snprintf(line, sizeof line, "%s%s:  %s%s", at_pc ? "=> " : "   ", where, n > 0 ? text : "<unreadable>", target);
    Tcl_DStringAppend(d, line, -1);
    return n;
}

static int dis_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    uint64_t addr = vm_cpu_pc(vm_machine_cpu(r->m, 0)), count = 10;
    if (objc >= 1 && vr_get_addr(r, objv[0], &addr) != TCL_OK)
        return TCL_ERROR + 100;
    if (objc >= 2 && vr_get_u64(ip, objv[1], &count) != TCL_OK)
        return TCL_ERROR + 100;
    if (count > 100000)
        return vr_error(ip, "count %llu is too large", (unsigned long long)count);
    Tcl_DString d;
    Tcl_DStringInit(&d);
    for (uint64_t i = 0; i < count; i++) {
        if (i)
            Tcl_DStringAppend(&d, "\n", 1);
        int n = vr_disasm_line(r, addr, &d, 1);
        if (n <= 0) {
            if (i == 0) {
                Tcl_DStringFree(&d);
                return vr_error(ip, "cannot read code at 0x%llx", (unsigned long long)addr);
            }
            break;
        }
        addr += (uint64_t)n;
    }
    Tcl_DStringResult(ip, &d);
    return TCL_OK;
}

const vr_cmd vr_cmd_dis = { "dis", "?ADDR? ?COUNT?", "disassemble COUNT (10) instructions from ADDR (pc)",
    "      Lines read `=> 0x10554 <main+4>:  jal 0x22  # 0x10576 <add>`; `=>` marks the pc.",
    0, 2, dis_fn, NULL };

/* ---- trace ---------------------------------------------------------------------
 * The hook runs on the run loop's thread with the GIL released, so it writes
 * to a C stream (the file, or the process's stdout), never through the
 * REPL's output callback. */

static int trace_hook(vm_cpu *c, uint64_t addr, unsigned size, uint64_t value, void *opaque)
{
    vr_repl *r = opaque;
    char text[128], where[256];
    if (vm_disasm(r->m, addr, text, sizeof text) <= 0)
        snprintf(text, sizeof text, "<unreadable>");
    vr_format_addr(r, addr, where, sizeof where);
    fprintf(r->trace_file ? r->trace_file : stdout, "%s:  %s\n", where, text);
    r->trace_lines++;
    return VM_HOOK_CONTINUE;
}

void vr_trace_stop(vr_repl *r)
{
    if (r->trace_hook)
        vm_hook_remove(r->m, r->trace_hook);
    r->trace_hook = NULL;
    if (r->trace_file)
        fclose(r->trace_file);
    else
        fflush(stdout);
    r->trace_file = NULL;
    free(r->trace_path);
    r->trace_path = NULL;
}

static int trace_on_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    FILE *f = NULL;
    if (objc == 1) {
        const char *path = Tcl_GetString(objv[0]);
        f = fopen(path, "w");
        if (!f)
            return vr_error(ip, "cannot open \"%s\" for writing", path);
    }
    vr_trace_stop(r);
    r->trace_file = f;
    r->trace_path = objc == 1 ? strdup(Tcl_GetString(objv[0])) : NULL;
    r->trace_lines = 0;
    r->trace_hook = vm_hook_add(r->m, VM_HOOK_CODE, 0, 0, trace_hook, r, NULL);
    if (!r->trace_hook) {
        vr_trace_stop(r);
        return vr_core_error(r, ip, "trace", VM_EINVAL);
    }
    return TCL_OK;
}

static int trace_off_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    unsigned long lines = r->trace_lines;
    vr_trace_stop(r);
    Tcl_SetObjResult(ip, Tcl_NewWideIntObj((Tcl_WideInt)lines));
    return TCL_OK;
}

static const vr_cmd trace_subs[] = {
    { "on", "?FILE?", "trace every executed instruction to FILE (default: stdout)",
      "      Lines read `0x10554 <main+4>:  addi sp, sp, -16`.", 0, 1, trace_on_fn, NULL },
    { "off", "", "stop tracing; returns the number of instructions traced", NULL, 0, 0, trace_off_fn, NULL },
    { NULL },
};
const vr_cmd vr_cmd_trace = { "trace", "on|off ...", "instruction trace (Tcl's own trace subcommands still work)",
                              NULL, 0, -1, NULL, trace_subs };
#endif /* VMPY_HAVE_TCL */
