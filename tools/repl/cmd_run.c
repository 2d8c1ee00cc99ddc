/* cmd_run.c — running the guest: `step`, `next`, `finish`, `cont`, `until`,
 * `run`, `exitcode`; breakpoint scripts; where-did-it-stop reports; Ctrl-C.
 *
 * Every run command returns the stop reason's name (breakpoint, exit,
 * count, until, watchpoint, fault, trap, invalid, stop, ...).  In verbose
 * (interactive) mode it also prints where the machine stopped. */
#ifdef VMPY_HAVE_TCL
#include "repl_int.h"

#include <signal.h>
#include <string.h>

/* Breakpoint scripts may run commands that run the guest again. */
#define MAX_RUN_DEPTH 16

/* ---- Ctrl-C ---------------------------------------------------------------
 * While the guest runs, SIGINT stops the machine instead of raising
 * KeyboardInterrupt (Python's handler cannot run while the run loop holds
 * the thread).  The previous handler is back as soon as the run returns. */
static vm_machine *volatile sigint_target;
static volatile sig_atomic_t sigint_seen;

static void on_sigint(int sig)
{
    sigint_seen = 1;
    vm_machine *m = sigint_target;
    if (m)
        vm_machine_stop(m);
}

vm_stop_reason vmpy_repl_run_default_sigint(vm_machine *m, const vm_run_opts *o)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigint_seen = 0;
    sigint_target = m;
    int installed = sigaction(SIGINT, &sa, &old) == 0;
    vm_stop_reason why = vm_machine_run(m, o);
    if (installed)
        sigaction(SIGINT, &old, NULL);
    sigint_target = NULL;
    return why;
}

/* ---- one run ----------------------------------------------------------------- */

int vr_running_check(vr_repl *r, Tcl_Interp *ip)
{
    if (r->exited)
        return vr_error(ip, "the program has exited (status %d); nothing to run", r->exit_code);
    if (r->run_depth >= MAX_RUN_DEPTH)
        return vr_error(ip, "breakpoint scripts nest too deeply (%d runs)", MAX_RUN_DEPTH);
    return TCL_OK;
}

int vr_run_once(vr_repl *r, Tcl_Interp *ip, const vm_run_opts *o, vm_stop_reason *why)
{
    if (vr_running_check(r, ip) != TCL_OK)
        return TCL_ERROR;
    char msg[256] = "";
    int err = 0;
    r->run_depth++;
    if (r->run)
        err = r->run(r->run_ctx, r->m, o, why, msg, sizeof msg);
    else
        *why = vmpy_repl_run_default_sigint(r->m, o);
    r->run_depth--;
    if (r->trace_file)
        fflush(r->trace_file);
    else if (r->trace_hook)
        fflush(stdout);
    if (err)
        return vr_error(ip, "%s", msg[0] ? msg : "the machine cannot run");
    if (*why == VM_STOP_EXIT) {
        r->exited = 1;
        r->exit_code = vm_linux_exit_code(r->m);
    } else if (vr_board_powered_off(r, &r->exit_code)) {
        *why = VM_STOP_EXIT;     /* a board's power-off is its exit */
        r->exited = 1;
    }
    return TCL_OK;
}

static void describe_stop(vr_repl *r, vm_stop_reason why, const vr_point *p, Tcl_DString *d)
{
    vm_cpu *c = vm_machine_cpu(r->m, 0);
    char where[256], line[512];
    vr_format_addr(r, vm_cpu_pc(c), where, sizeof where);
    switch (why) {
    case VM_STOP_EXIT:
        snprintf(line, sizeof line, "[program exited with status %d]", r->exit_code);
        Tcl_DStringAppend(d, line, -1);
        return;
    case VM_STOP_BREAKPOINT:
        if (p)
            snprintf(line, sizeof line, "Breakpoint %d, %s", p->id, where);
        else
            snprintf(line, sizeof line, "Breakpoint (not the REPL's), %s", where);
        break;
    case VM_STOP_WATCHPOINT: {
        uint64_t addr;
        int access;
        vm_cpu_watch_hit(c, &addr, &access);
        snprintf(line, sizeof line, "Watchpoint%s: %s of 0x%llx, now at %s", "", access == VM_PROT_W ? "write" : "read",
                 (unsigned long long)addr, where);
        break;
    }
    case VM_STOP_FAULT: {
        vm_fault_info f;
        vm_cpu_fault(c, &f);
        snprintf(line, sizeof line, "Fault: %s %s of 0x%llx at %s", f.error == VM_EPROT ? "protection" : "unmapped",
                 f.access == VM_PROT_W ? "write" : f.access == VM_PROT_X ? "fetch" : "read",
                 (unsigned long long)f.addr, where);
        break;
    }
    case VM_STOP_TRAP: {
        uint64_t cause, tval;
        vm_cpu_trap(c, &cause, &tval);
        snprintf(line, sizeof line, "Trap: cause %llu, tval 0x%llx at %s", (unsigned long long)cause,
                 (unsigned long long)tval, where);
        break;
    }
    case VM_STOP_REQUEST:
        snprintf(line, sizeof line, "%s at %s", sigint_seen ? "Interrupted" : "Stopped", where);
        break;
    default:
        snprintf(line, sizeof line, "Stopped (%s) at %s", vm_stop_reason_name(why), where);
        break;
    }
    Tcl_DStringAppend(d, line, -1);
    Tcl_DStringAppend(d, "\n", 1);
    vr_disasm_line(r, vm_cpu_pc(c), d, 1);
}

static void report(vr_repl *r, vm_stop_reason why, const vr_point *p)
{
    if (!r->verbose)
        return;
    Tcl_DString d;
    Tcl_DStringInit(&d);
    describe_stop(r, why, p, &d);
    Tcl_DStringAppend(&d, "\n", 1);
    r->out(r->out_ctx, 1, Tcl_DStringValue(&d), (size_t)Tcl_DStringLength(&d));
    Tcl_DStringFree(&d);
}

static void count_watch_hit(vr_repl *r)
{
    uint64_t addr;
    int access;
    vm_cpu_watch_hit(vm_machine_cpu(r->m, 0), &addr, &access);
    for (vr_point *p = r->points; p; p = p->next)
        if (p->kind == VR_WATCH && (p->access & access) && addr - p->addr < p->len)
            p->hits++;
}

/* Runs until a stop that is not a breakpoint whose script said `continue`.
 * count: instruction budget for the whole command (0 = none). */
static int run_cmd(vr_repl *r, Tcl_Interp *ip, int has_until, uint64_t until, uint64_t count, vm_stop_reason *out)
{
    vm_cpu *c = vm_machine_cpu(r->m, 0);
    uint64_t start = vm_cpu_icount(c);
    for (;;) {
        vm_run_opts o = { .has_until = has_until, .until = until };
        if (count) {
            uint64_t done = vm_cpu_icount(c) - start;
            if (done >= count) {
                *out = VM_STOP_COUNT;
                break;
            }
            o.count = count - done;
        }
        vm_stop_reason why;
        if (vr_run_once(r, ip, &o, &why) != TCL_OK)
            return TCL_ERROR;
        *out = why;
        if (why == VM_STOP_WATCHPOINT)
            count_watch_hit(r);
        vr_point *p = why == VM_STOP_BREAKPOINT ? vr_point_at_pc(r, vm_cpu_pc(c)) : NULL;
        if (p)
            p->hits++;
        if (!p || !p->script) {
            report(r, why, p);
            break;
        }
        Tcl_Obj *script = p->script;   /* the script may delete its own breakpoint */
        Tcl_IncrRefCount(script);
        int rc = Tcl_EvalObjEx(ip, script, TCL_EVAL_GLOBAL);
        Tcl_DecrRefCount(script);
        if (rc == TCL_CONTINUE)
            continue;
        if (rc == TCL_ERROR) {
            Tcl_AddErrorInfo(ip, "\n    (breakpoint script)");
            return TCL_ERROR;
        }
        report(r, why, p);
        break;
    }
    Tcl_SetObjResult(ip, Tcl_NewStringObj(vm_stop_reason_name(*out), -1));
    return TCL_OK;
}

static int step_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    uint64_t n = 1;
    if (objc == 1 && (vr_get_u64(ip, objv[0], &n) != TCL_OK || n == 0)) {
        vr_error(ip, "bad count \"%s\": expected a positive number", Tcl_GetString(objv[0]));
        return TCL_ERROR + 100;
    }
    vm_stop_reason why;
    return run_cmd(r, ip, 0, 0, n, &why);
}

static int next_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    uint64_t pc = vm_cpu_pc(vm_machine_cpu(r->m, 0));
    int len = vr_is_call(r, pc);
    vm_stop_reason why;
    if (len > 0)
        return run_cmd(r, ip, 1, pc + (uint64_t)len, 0, &why);
    return run_cmd(r, ip, 0, 0, 1, &why);
}

/* Runs to the return address in ra; a stop there with sp below where it
 * started is a deeper (recursive) call returning, so it goes on. */
static int finish_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    vm_cpu *c = vm_machine_cpu(r->m, 0);
    int ra = vm_reg_lookup(r->m, "ra"), sp = vm_reg_lookup(r->m, "sp");
    uint64_t ret, sp0, spnow;
    if (ra < 0 || sp < 0 || vm_cpu_reg_read(c, ra, &ret) || vm_cpu_reg_read(c, sp, &sp0))
        return vr_error(ip, "finish: this ISA has no ra/sp registers");
    int verbose = r->verbose;
    for (;;) {
        vm_stop_reason why;
        r->verbose = 0;
        int rc = run_cmd(r, ip, 1, ret, 0, &why);
        r->verbose = verbose;
        if (rc != TCL_OK)
            return rc;
        if (why == VM_STOP_UNTIL && vm_cpu_reg_read(c, sp, &spnow) == 0 && spnow < sp0)
            continue;
        report(r, why, why == VM_STOP_BREAKPOINT ? vr_point_at_pc(r, vm_cpu_pc(c)) : NULL);
        return TCL_OK;
    }
}

static int cont_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    vm_stop_reason why;
    return run_cmd(r, ip, 0, 0, 0, &why);
}

static int until_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    uint64_t addr;
    if (vr_get_addr(r, objv[0], &addr) != TCL_OK)
        return TCL_ERROR + 100;
    vm_stop_reason why;
    return run_cmd(r, ip, 1, addr, 0, &why);
}

static int run_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    uint64_t n = 0;
    if (objc == 1 && vr_get_u64(ip, objv[0], &n) != TCL_OK)
        return TCL_ERROR + 100;
    vm_stop_reason why;
    return run_cmd(r, ip, 0, 0, n, &why);
}

static int exitcode_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    if (!r->exited)
        return vr_error(ip, "the program has not exited");
    Tcl_SetObjResult(ip, Tcl_NewIntObj(r->exit_code));
    return TCL_OK;
}

#define RESULT_NOTE "      Returns the stop reason: breakpoint, watchpoint, exit, count, until,\n" \
                    "      fault, trap, invalid, stop (Ctrl-C), timeout, error."
const vr_cmd vr_cmd_step = { "step", "?N?", "execute N (1) instructions", RESULT_NOTE, 0, 1, step_fn, NULL };
const vr_cmd vr_cmd_next = { "next", "", "step one instruction, running calls to their return",
    "      A call (jal/jalr that links) runs until the instruction after it.\n" RESULT_NOTE,
    0, 0, next_fn, NULL };
const vr_cmd vr_cmd_finish = { "finish", "", "run until the current function returns",
    "      Runs to the address in ra (so use it before ra is overwritten, e.g. at\n"
    "      the function's entry), skipping returns of deeper recursive calls.\n" RESULT_NOTE,
    0, 0, finish_fn, NULL };
const vr_cmd vr_cmd_cont = { "cont", "", "continue until a breakpoint, watchpoint, exit or fault",
                             RESULT_NOTE, 0, 0, cont_fn, NULL };
const vr_cmd vr_cmd_until = { "until", "ADDR|SYMBOL", "continue until pc reaches ADDR (or another stop)",
                              RESULT_NOTE, 1, 1, until_fn, NULL };
const vr_cmd vr_cmd_run = { "run", "?COUNT?", "run at most COUNT instructions (default: no limit)",
                            RESULT_NOTE, 0, 1, run_fn, NULL };
const vr_cmd vr_cmd_exitcode = { "exitcode", "", "the guest's exit status, once it has exited", NULL,
                                 0, 0, exitcode_fn, NULL };
#endif /* VMPY_HAVE_TCL */
