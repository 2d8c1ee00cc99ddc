/* cmd_info.c — `load elf|symbols` and `info regions|breakpoints|hooks|tlb|
 * devices|symbols` (the latter are added to Tcl's own `info` ensemble). */
#ifdef VMPY_HAVE_TCL
#include "repl_int.h"

#include <stdlib.h>
#include <string.h>

extern char **environ;

/* ---- load ----------------------------------------------------------------- */

static int load_symbols(vr_repl *r, Tcl_Interp *ip, const char *path)
{
    char err[256];
    if (vr_symtab_load(&r->syms, path, err, sizeof err))
        return vr_error(ip, "symbols of %s: %s", path, err);
    return TCL_OK;
}

static int load_elf_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    const char *path = Tcl_GetString(objv[0]);
    char **argv = (char **)ckalloc(sizeof(char *) * (size_t)(objc + 1));
    for (int i = 0; i < objc; i++)
        argv[i] = Tcl_GetString(objv[i]);
    argv[objc] = NULL;
    int err = vm_linux_exec(r->m, path, objc, argv, environ);
    ckfree((char *)argv);
    if (err)
        return vr_error(ip, "load elf %s: %s", path, vm_machine_error(r->m));
    free(r->program);
    r->program = strdup(path);
    r->exited = 0;
    if (load_symbols(r, ip, path) != TCL_OK) {
        /* The program is loaded; only names are missing.  Say so, go on. */
        vr_print(r, 2, "warning: %s\n", Tcl_GetStringResult(ip));
    }
    vr_set_hex(ip, (unsigned long long)vm_cpu_pc(vm_machine_cpu(r->m, 0)));
    return TCL_OK;
}

static int load_symbols_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    if (load_symbols(r, ip, Tcl_GetString(objv[0])) != TCL_OK)
        return TCL_ERROR;
    Tcl_SetObjResult(ip, Tcl_NewWideIntObj((Tcl_WideInt)r->syms.n));
    return TCL_OK;
}

static const vr_cmd load_subs[] = {
    { "elf", "PATH ?ARGS...?", "start a static Linux ELF as this machine's process (user mode); returns the entry pc",
      "      Like qemu-user: argv is PATH ARGS..., the environment is the host's.\n"
      "      The ELF's symbol table is read so addresses can be written as names.\n"
      "      A machine runs one process: load once per machine.", 1, -1, load_elf_fn, NULL },
    { "symbols", "PATH", "read the symbol table of an ELF (e.g. one loaded from Python); returns the count",
      NULL, 1, 1, load_symbols_fn, NULL },
    { NULL },
};
const vr_cmd vr_cmd_load = { "load", "elf|symbols ...", "load a program or its symbols (Tcl's own load still works)",
                             NULL, 0, -1, NULL, load_subs };

/* ---- info ------------------------------------------------------------------- */

static void append(Tcl_DString *d, const char *line)
{
    if (Tcl_DStringLength(d))
        Tcl_DStringAppend(d, "\n", 1);
    Tcl_DStringAppend(d, line, -1);
}

static int regions(vr_repl *r, Tcl_Interp *ip, int mmio_only)
{
    size_t n = vm_mem_regions(r->m, NULL, 0);
    vm_region_info *info = (vm_region_info *)ckalloc(sizeof *info * (n ? n : 1));
    vm_mem_regions(r->m, info, n);
    Tcl_DString d;
    Tcl_DStringInit(&d);
    for (size_t i = 0; i < n; i++) {
        if (mmio_only && !info[i].is_mmio)
            continue;
        char line[320], label[200];
        vr_sym_label(r, info[i].base, label, sizeof label);
        snprintf(line, sizeof line, "0x%016llx-0x%016llx %c%c%c %s%s%s",
                 (unsigned long long)info[i].base, (unsigned long long)(info[i].base + info[i].size),
                 info[i].prot & VM_PROT_R ? 'r' : '-', info[i].prot & VM_PROT_W ? 'w' : '-',
                 info[i].prot & VM_PROT_X ? 'x' : '-', info[i].is_mmio ? "mmio" : "ram",
                 label[0] ? "  " : "", label);
        append(&d, line);
    }
    ckfree((char *)info);
    if (mmio_only && !Tcl_DStringLength(&d))
        Tcl_DStringAppend(&d, "no devices (the machine has no MMIO regions)", -1);
    Tcl_DStringResult(ip, &d);
    return TCL_OK;
}

static int info_regions_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    return regions(r, ip, 0);
}

static int info_devices_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    return regions(r, ip, 1);
}

static int info_breakpoints_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    Tcl_DString d;
    Tcl_DStringInit(&d);
    for (vr_point *p = r->points; p; p = p->next) {
        char line[512], where[256];
        vr_format_addr(r, p->addr, where, sizeof where);
        if (p->kind == VR_BREAK)
            snprintf(line, sizeof line, "%-3d break  %s  hits %lu%s%.200s", p->id, where, p->hits,
                     p->script ? "  script: " : "", p->script ? Tcl_GetString(p->script) : "");
        else
            snprintf(line, sizeof line, "%-3d watch  %s len %llu %s%s  hits %lu", p->id, where,
                     (unsigned long long)p->len, p->access & VM_PROT_R ? "r" : "",
                     p->access & VM_PROT_W ? "w" : "", p->hits);
        append(&d, line);
    }
    if (!r->points)
        Tcl_DStringAppend(&d, "no breakpoints or watchpoints", -1);
    Tcl_DStringResult(ip, &d);
    return TCL_OK;
}

static int info_hooks_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    Tcl_DString d;
    Tcl_DStringInit(&d);
    if (r->trace_hook) {
        char line[512];
        snprintf(line, sizeof line, "trace: code hook on every address -> %.400s (%lu instructions so far)",
                 r->trace_path ? r->trace_path : "stdout", r->trace_lines);
        append(&d, line);
    }
    for (vr_point *p = r->points; p; p = p->next) {
        if (p->kind == VR_BREAK && p->script) {
            char line[512], where[256];
            vr_format_addr(r, p->addr, where, sizeof where);
            snprintf(line, sizeof line, "breakpoint %d script at %s: %.200s", p->id, where, Tcl_GetString(p->script));
            append(&d, line);
        }
    }
    if (!Tcl_DStringLength(&d))
        Tcl_DStringAppend(&d, "no hooks installed by the REPL", -1);
    Tcl_DStringResult(ip, &d);
    return TCL_OK;
}

/* One line per valid soft-TLB entry of a cpu: which virtual page the
 * fast path serves, from which physical page, for which accesses. */
static int info_tlb_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    int cpu = 0;
    if (objc && Tcl_GetIntFromObj(ip, objv[0], &cpu) != TCL_OK)
        return TCL_ERROR;
    if (cpu < 0 || cpu >= vm_machine_ncpus(r->m))
        return vr_error(ip, "info tlb: no cpu %d (the machine has %d)", cpu, vm_machine_ncpus(r->m));
    vm_tlb_info e[256];
    size_t n = vm_cpu_tlb(vm_machine_cpu(r->m, cpu), e, sizeof e / sizeof *e);
    if (n > sizeof e / sizeof *e)
        n = sizeof e / sizeof *e;
    Tcl_DString d;
    Tcl_DStringInit(&d);
    for (size_t i = 0; i < n; i++) {
        char line[160], phys[24] = "?";
        if (e[i].paddr != ~(uint64_t)0)
            snprintf(phys, sizeof phys, "0x%016llx", (unsigned long long)e[i].paddr);
        snprintf(line, sizeof line, "0x%016llx -> %s %c%c%c", (unsigned long long)e[i].vaddr, phys,
                 e[i].prot & VM_PROT_R ? 'r' : '-', e[i].prot & VM_PROT_W ? 'w' : '-',
                 e[i].prot & VM_PROT_X ? 'x' : '-');
        append(&d, line);
    }
    if (!n) {
        char line[64];
        snprintf(line, sizeof line, "the soft TLB of cpu %d is empty", cpu);
        Tcl_DStringAppend(&d, line, -1);
    }
    Tcl_DStringResult(ip, &d);
    return TCL_OK;
}

static int info_symbols_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    const char *pattern = objc ? Tcl_GetString(objv[0]) : "*";
    Tcl_DString d;
    Tcl_DStringInit(&d);
    for (size_t i = 0; i < r->syms.n; i++) {
        const vr_sym *s = &r->syms.syms[i];
        if (!Tcl_StringMatch(s->name, pattern))
            continue;
        char line[320];
        snprintf(line, sizeof line, "0x%016llx %6llu %s %s", (unsigned long long)s->addr,
                 (unsigned long long)s->size, s->type == 2 ? "func" : s->type == 1 ? "data" : "    ", s->name);
        append(&d, line);
    }
    Tcl_DStringResult(ip, &d);
    return TCL_OK;
}

static const vr_cmd info_subs[] = {
    { "regions", "", "the memory map: range, permissions, ram or mmio", NULL, 0, 0, info_regions_fn, NULL },
    { "breakpoints", "", "the REPL's breakpoints and watchpoints with hit counts", NULL, 0, 0, info_breakpoints_fn, NULL },
    { "hooks", "", "the hooks the REPL installed (trace, breakpoint scripts)", NULL, 0, 0, info_hooks_fn, NULL },
    { "tlb", "?CPU?", "the soft TLB of a cpu (default 0): virtual page -> physical page, fast-path accesses",
      "  One line per valid entry: the fast path serves accesses of the listed\n"
      "  kinds (r, w, x) to the virtual page from RAM at the physical page.\n"
      "  Pages with watchpoints, MMIO and misses take the slow path and are absent.",
      0, 1, info_tlb_fn, NULL },
    { "devices", "", "the device (MMIO) regions", NULL, 0, 0, info_devices_fn, NULL },
    { "symbols", "?PATTERN?", "symbols matching a glob PATTERN: address, size, kind, name", NULL, 0, 1,
      info_symbols_fn, NULL },
    { NULL },
};
const vr_cmd vr_cmd_info = { "info", "regions|breakpoints|hooks|tlb|devices|symbols",
                             "machine state (Tcl's own info subcommands still work)", NULL, 0, -1, NULL, info_subs };
#endif /* VMPY_HAVE_TCL */
