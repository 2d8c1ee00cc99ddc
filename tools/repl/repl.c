/* repl.c — the REPL's Tcl interpreter: creation, command dispatch with
 * usage errors, `help`, output routing, `exit`, and evaluation entry points.
 *
 * Four of our command names are Tcl builtins.  `info` is a Tcl ensemble, so
 * ours become extra entries of its map (`info regions`); `break`, `trace` and
 * `load` are wrapped: with our arguments they are ours, otherwise the
 * original runs (so `break` still leaves loops). */
#ifdef VMPY_HAVE_TCL
#include "repl_int.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const vr_cmd *const vr_all_commands[] = {
    &vr_cmd_load, &vr_cmd_reg, &vr_cmd_mem, &vr_cmd_x, &vr_cmd_dis, &vr_cmd_break, &vr_cmd_watch,
    &vr_cmd_delete, &vr_cmd_step, &vr_cmd_next, &vr_cmd_finish, &vr_cmd_cont, &vr_cmd_until,
    &vr_cmd_run, &vr_cmd_exitcode, &vr_cmd_info, &vr_cmd_trace, &vr_cmd_sym, &vr_cmd_addr,
    &vr_cmd_snapshot, &vr_cmd_console, &vr_cmd_dev, &vr_cmd_help, NULL,
};

/* ---- output ----------------------------------------------------------- */

static void out_stdio(void *ctx, int stream, const char *text, size_t len)
{
    FILE *f = stream == 2 ? stderr : stdout;
    fwrite(text, 1, len, f);
    fflush(f);
}

void vr_print(vr_repl *r, int stream, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        r->out(r->out_ctx, stream, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big)
        return;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    r->out(r->out_ctx, stream, big, (size_t)n);
    free(big);
}

/* ---- dispatch ----------------------------------------------------------- */

typedef struct {
    vr_repl *r;
    const vr_cmd *c;
    char orig[64];         /* a wrapped Tcl builtin, or "" */
} vr_binding;

static void usage_line(Tcl_DString *d, const char *words, const vr_cmd *c)
{
    Tcl_DStringAppend(d, words, -1);
    if (c->usage && c->usage[0]) {
        Tcl_DStringAppend(d, " ", 1);
        Tcl_DStringAppend(d, c->usage, -1);
    }
}

int vr_usage_error(Tcl_Interp *ip, const char *words, const vr_cmd *c)
{
    Tcl_DString d;
    Tcl_DStringInit(&d);
    if (c->subs) {
        Tcl_DStringAppend(&d, "usage:", -1);
        for (const vr_cmd *s = c->subs; s->name; s++) {
            Tcl_DStringAppend(&d, "\n  ", -1);
            Tcl_DStringAppend(&d, words, -1);
            Tcl_DStringAppend(&d, " ", 1);
            usage_line(&d, s->name, s);
        }
    } else {
        Tcl_DStringAppend(&d, "wrong # args: should be \"", -1);
        usage_line(&d, words, c);
        Tcl_DStringAppend(&d, "\"", 1);
    }
    Tcl_DStringResult(ip, &d);
    Tcl_SetErrorCode(ip, "VMPY", "USAGE", NULL);
    return TCL_ERROR;
}

/* A value error (bad address, bad number): the message, then the usage. */
static int with_usage(Tcl_Interp *ip, const char *words, const vr_cmd *c)
{
    Tcl_DString d;
    Tcl_DStringInit(&d);
    Tcl_DStringAppend(&d, Tcl_GetStringResult(ip), -1);
    Tcl_DStringAppend(&d, "\nusage: ", -1);
    usage_line(&d, words, c);
    Tcl_DStringResult(ip, &d);
    Tcl_SetErrorCode(ip, "VMPY", "USAGE", NULL);
    return TCL_ERROR;
}

static const vr_cmd *find_sub(const vr_cmd *c, const char *name)
{
    const vr_cmd *hit = NULL;
    size_t len = strlen(name);
    for (const vr_cmd *s = c->subs; s->name; s++) {
        if (!strcmp(s->name, name))
            return s;
        if (len && !strncmp(s->name, name, len)) {
            if (hit)
                return NULL;   /* ambiguous prefix */
            hit = s;
        }
    }
    return hit;
}

static int call(vr_repl *r, Tcl_Interp *ip, const char *words, const vr_cmd *c, int objc, Tcl_Obj *const objv[])
{
    if (objc < c->min || (c->max >= 0 && objc > c->max))
        return vr_usage_error(ip, words, c);
    Tcl_ResetResult(ip);
    int rc = c->fn(r, ip, objc, objv);
    /* TCL_ERROR + 100 from a command: a value error that wants the usage. */
    if (rc == TCL_ERROR + 100)
        return with_usage(ip, words, c);
    return rc;
}

static int dispatch(ClientData cd, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    vr_binding *b = cd;
    const vr_cmd *c = b->c;
    if (Tcl_GetCurrentThread() != b->r->thread)
        return vr_error(ip, "this interpreter belongs to another thread");
    if (!c->subs)
        return call(b->r, ip, c->name, c, objc - 1, objv + 1);
    if (objc < 2)
        return vr_usage_error(ip, c->name, c);
    const char *name = Tcl_GetString(objv[1]);
    const vr_cmd *s = find_sub(c, name);
    if (!s) {
        vr_usage_error(ip, c->name, c);
        Tcl_Obj *msg = Tcl_ObjPrintf("unknown or ambiguous subcommand \"%s\"\n%s", name, Tcl_GetStringResult(ip));
        Tcl_SetObjResult(ip, msg);
        return TCL_ERROR;
    }
    char words[64];
    snprintf(words, sizeof words, "%s %s", c->name, s->name);
    return call(b->r, ip, words, s, objc - 2, objv + 2);
}

/* break/trace/load: ours with our arguments, the Tcl builtin otherwise. */
static int wrapped(ClientData cd, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    vr_binding *b = cd;
    int ours = objc >= 2;
    if (ours && b->c->subs) {
        ours = 0;
        for (const vr_cmd *s = b->c->subs; s->name; s++)
            if (!strcmp(s->name, Tcl_GetString(objv[1])))
                ours = 1;
    }
    if (ours)
        return dispatch(cd, ip, objc, objv);
    if (objc < 2 && b->c->subs)
        return vr_usage_error(ip, b->c->name, b->c);
    Tcl_Obj **v = (Tcl_Obj **)ckalloc(sizeof(Tcl_Obj *) * (size_t)objc);
    v[0] = Tcl_NewStringObj(b->orig, -1);
    Tcl_IncrRefCount(v[0]);
    for (int i = 1; i < objc; i++)
        v[i] = objv[i];
    int rc = Tcl_EvalObjv(ip, objc, v, 0);
    Tcl_DecrRefCount(v[0]);
    ckfree((char *)v);
    if (rc == TCL_ERROR && b->c->subs) {   /* name our forms too */
        Tcl_Obj *msg = Tcl_DuplicateObj(Tcl_GetObjResult(ip));
        for (const vr_cmd *s = b->c->subs; s->name; s++)
            Tcl_AppendPrintfToObj(msg, "\nor vmpy's: %s %s %s", b->c->name, s->name, s->usage);
        Tcl_SetObjResult(ip, msg);
    }
    return rc;
}

static void free_binding(ClientData cd)
{
    ckfree((char *)cd);
}

static int define_cmd(vr_repl *r, const char *tclname, const vr_cmd *c, const char *orig)
{
    vr_binding *b = (vr_binding *)ckalloc(sizeof *b);
    b->r = r;
    b->c = c;
    snprintf(b->orig, sizeof b->orig, "%s", orig ? orig : "");
    return Tcl_CreateObjCommand(r->ip, tclname, orig ? wrapped : dispatch, b, free_binding) ? 0 : -1;
}

int vr_define(vr_repl *r, const char *tclname, const vr_cmd *c)
{
    return define_cmd(r, tclname, c, NULL);
}

/* ---- help ----------------------------------------------------------------- */

static const vr_cmd *find_top(const char *name)
{
    for (int i = 0; vr_all_commands[i]; i++)
        if (!strcmp(vr_all_commands[i]->name, name))
            return vr_all_commands[i];
    return NULL;
}

static void help_one(Tcl_DString *d, const char *words, const vr_cmd *c)
{
    Tcl_DStringAppend(d, "  ", 2);
    usage_line(d, words, c);
    Tcl_DStringAppend(d, "\n      ", -1);
    Tcl_DStringAppend(d, c->summary, -1);
    Tcl_DStringAppend(d, "\n", 1);
    if (c->help) {
        Tcl_DStringAppend(d, c->help, -1);
        Tcl_DStringAppend(d, "\n", 1);
    }
}

static int help_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    Tcl_DString d;
    Tcl_DStringInit(&d);
    if (objc == 0) {
        Tcl_DStringAppend(&d, "vmpy REPL commands (any Tcl command works too; `help NAME` for details):\n", -1);
        for (int i = 0; vr_all_commands[i]; i++) {
            const vr_cmd *c = vr_all_commands[i];
            char line[160];
            snprintf(line, sizeof line, "  %-10s %s\n", c->name, c->summary);
            Tcl_DStringAppend(&d, line, -1);
        }
    } else {
        const char *name = Tcl_GetString(objv[0]);
        const vr_cmd *c = find_top(name);
        if (!c) {
            Tcl_DStringFree(&d);
            vr_error(ip, "no command \"%s\" (try `help` for the list)", name);
            return TCL_ERROR + 100;
        }
        if (c->subs) {
            Tcl_DStringAppend(&d, c->name, -1);
            Tcl_DStringAppend(&d, ": ", 2);
            Tcl_DStringAppend(&d, c->summary, -1);
            Tcl_DStringAppend(&d, "\n", 1);
            for (const vr_cmd *s = c->subs; s->name; s++) {
                char words[64];
                snprintf(words, sizeof words, "%s %s", c->name, s->name);
                help_one(&d, words, s);
            }
        } else {
            help_one(&d, c->name, c);
        }
    }
    /* No trailing newline: the REPL prints results with one. */
    int len = Tcl_DStringLength(&d);
    if (len && Tcl_DStringValue(&d)[len - 1] == '\n')
        Tcl_DStringSetLength(&d, len - 1);
    Tcl_DStringResult(ip, &d);
    return TCL_OK;
}

const vr_cmd vr_cmd_help = { "help", "?COMMAND?", "list the commands, or describe one", NULL, 0, 1, help_fn, NULL };

/* ---- puts and exit -------------------------------------------------------- */

/* puts ?-nonewline? ?channelId? string: stdout and stderr go to the
 * REPL's output (Python's sys.stdout in a notebook), others to Tcl's puts. */
static int puts_cmd(ClientData cd, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    vr_repl *r = cd;
    int i = 1, newline = 1;
    if (objc >= 3 && !strcmp(Tcl_GetString(objv[1]), "-nonewline")) {
        newline = 0;
        i = 2;
    }
    const char *chan = objc - i == 2 ? Tcl_GetString(objv[i]) : "stdout";
    int stream = !strcmp(chan, "stdout") ? 1 : !strcmp(chan, "stderr") ? 2 : 0;
    if (objc - i < 1 || objc - i > 2 || !stream) {
        Tcl_Obj **v = (Tcl_Obj **)ckalloc(sizeof(Tcl_Obj *) * (size_t)objc);
        v[0] = Tcl_NewStringObj("::vmpy::tcl::puts", -1);
        Tcl_IncrRefCount(v[0]);
        for (int k = 1; k < objc; k++)
            v[k] = objv[k];
        int rc = Tcl_EvalObjv(ip, objc, v, 0);
        Tcl_DecrRefCount(v[0]);
        ckfree((char *)v);
        return rc;
    }
    int len;
    const char *s = Tcl_GetStringFromObj(objv[objc - 1], &len);
    Tcl_DString d;
    Tcl_DStringInit(&d);
    Tcl_DStringAppend(&d, s, len);
    if (newline)
        Tcl_DStringAppend(&d, "\n", 1);
    r->out(r->out_ctx, stream, Tcl_DStringValue(&d), (size_t)Tcl_DStringLength(&d));
    Tcl_DStringFree(&d);
    return TCL_OK;
}

/* exit ?CODE?: never ends the host process (it may be a notebook kernel).
 * It unwinds the whole evaluation, through any catch, and the front end
 * decides what exiting means. */
static int exit_cmd(ClientData cd, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    vr_repl *r = cd;
    int code = 0;
    if (objc > 2) {
        Tcl_WrongNumArgs(ip, 1, objv, "?returnCode?");
        return TCL_ERROR;
    }
    if (objc == 2 && Tcl_GetIntFromObj(ip, objv[1], &code) != TCL_OK)
        return TCL_ERROR;
    r->exit_requested = 1;
    r->exit_status = code;
    Tcl_Obj *msg = Tcl_ObjPrintf("exit %d", code);
    Tcl_CancelEval(ip, msg, NULL, TCL_CANCEL_UNWIND);
    Tcl_SetObjResult(ip, Tcl_ObjPrintf("exit %d", code));
    return TCL_ERROR;
}

/* ---- Ctrl-C during evaluation ---------------------------------------------
 * A Tcl loop that never runs the guest would otherwise ignore Ctrl-C (Python's
 * handler only sets a flag).  The signal marks an async handler; Tcl runs it
 * between commands and it cancels the evaluation, through any catch. */
static vr_repl *volatile eval_target;

static void on_sigint_eval(int sig)
{
    vr_repl *r = eval_target;
    if (r && r->async)
        Tcl_AsyncMark(r->async);
}

static int async_cancel(ClientData cd, Tcl_Interp *ip, int code)
{
    vr_repl *r = cd;
    Tcl_CancelEval(r->ip, Tcl_NewStringObj("interrupted", -1), NULL, TCL_CANCEL_UNWIND);
    return code;
}

typedef struct { struct sigaction old; int installed; vr_repl *prev; } eval_guard;

static void guard_enter(vr_repl *r, eval_guard *g)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint_eval;
    sigemptyset(&sa.sa_mask);
    g->prev = eval_target;
    eval_target = r;
    g->installed = sigaction(SIGINT, &sa, &g->old) == 0;
}

static void guard_leave(eval_guard *g)
{
    if (g->installed)
        sigaction(SIGINT, &g->old, NULL);
    eval_target = g->prev;
}

/* ---- creation ------------------------------------------------------------- */

static pthread_once_t tcl_once = PTHREAD_ONCE_INIT;
static void tcl_global_init(void) { Tcl_FindExecutable(NULL); }

static int install_builtin_overrides(vr_repl *r)
{
    static const char *setup =
        "namespace eval ::vmpy { variable verbose 0 }\n"
        "namespace eval ::vmpy::tcl {}\n"
        "rename ::puts ::vmpy::tcl::puts\n"
        "rename ::exit ::vmpy::tcl::exit\n"
        "rename ::break ::vmpy::tcl::break\n"
        "rename ::trace ::vmpy::tcl::trace\n"
        "rename ::load ::vmpy::tcl::load\n";
    if (Tcl_Eval(r->ip, setup) != TCL_OK)
        return -1;
    if (!Tcl_CreateObjCommand(r->ip, "::puts", puts_cmd, r, NULL) ||
        !Tcl_CreateObjCommand(r->ip, "::exit", exit_cmd, r, NULL))
        return -1;
    return 0;
}

/* `info regions` etc. become entries of Tcl's own info ensemble. */
static int extend_info(vr_repl *r)
{
    Tcl_DString d;
    Tcl_DStringInit(&d);
    Tcl_DStringAppend(&d, "namespace ensemble configure ::info -map [dict merge "
                          "[namespace ensemble configure ::info -map] {", -1);
    for (const vr_cmd *s = vr_cmd_info.subs; s->name; s++) {
        char entry[96];
        snprintf(entry, sizeof entry, " %s {::vmpy::info %s}", s->name, s->name);
        Tcl_DStringAppend(&d, entry, -1);
    }
    Tcl_DStringAppend(&d, "}]", -1);
    int rc = Tcl_Eval(r->ip, Tcl_DStringValue(&d));
    Tcl_DStringFree(&d);
    return rc == TCL_OK ? 0 : -1;
}

static int install_commands(vr_repl *r)
{
    if (install_builtin_overrides(r))
        return -1;
    for (int i = 0; vr_all_commands[i]; i++) {
        const vr_cmd *c = vr_all_commands[i];
        char qualified[64];
        snprintf(qualified, sizeof qualified, "::vmpy::%s", c->name);
        if (vr_define(r, qualified, c))
            return -1;
        if (c == &vr_cmd_info)
            continue;
        char orig[64];
        snprintf(orig, sizeof orig, "::vmpy::tcl::%s", c->name);
        int wraps = c == &vr_cmd_break || c == &vr_cmd_trace || c == &vr_cmd_load;
        if (define_cmd(r, c->name, c, wraps ? orig : NULL))
            return -1;
    }
    return extend_info(r);
}

vmpy_repl *vmpy_repl_new(vm_machine *m)
{
    pthread_once(&tcl_once, tcl_global_init);
    vr_repl *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->m = m;
    r->out = out_stdio;
    r->next_point_id = 1;
    r->thread = Tcl_GetCurrentThread();
    r->ip = Tcl_CreateInterp();
    if (!r->ip) {
        free(r);
        return NULL;
    }
    r->async = Tcl_AsyncCreate(async_cancel, r);
    /* init.tcl gives `parray`, auto-loading and friends; the REPL works
     * without it, so a missing Tcl library is not fatal. */
    if (Tcl_Init(r->ip) != TCL_OK)
        Tcl_ResetResult(r->ip);
    if (install_commands(r)) {
        fprintf(stderr, "vmpy repl: setting up Tcl failed: %s\n", Tcl_GetStringResult(r->ip));
        vmpy_repl_free(r);
        return NULL;
    }
    Tcl_ResetResult(r->ip);
    return r;
}

void vmpy_repl_free(vmpy_repl *r)
{
    if (!r)
        return;
    if (eval_target == r)
        eval_target = NULL;
    vr_trace_stop(r);
    vr_points_free(r);
    vr_snaps_free(r);
    vr_board_free(r);
    if (r->async)
        Tcl_AsyncDelete(r->async);
    if (r->ip)
        Tcl_DeleteInterp(r->ip);
    vr_symtab_free(&r->syms);
    free(r->program);
    free(r);
}

void vmpy_repl_set_run(vmpy_repl *r, vmpy_repl_run_fn fn, void *ctx)
{
    r->run = fn;
    r->run_ctx = ctx;
}

void vmpy_repl_set_output(vmpy_repl *r, vmpy_repl_out_fn fn, void *ctx)
{
    r->out = fn ? fn : out_stdio;
    r->out_ctx = ctx;
}

void vmpy_repl_set_verbose(vmpy_repl *r, int on)
{
    r->verbose = on;
    Tcl_SetVar2Ex(r->ip, "::vmpy::verbose", NULL, Tcl_NewIntObj(on), TCL_GLOBAL_ONLY);
}

/* ---- evaluation ---------------------------------------------------------- */

/* Exported by libtcl8.6 (tclIntDecls.h, internal stub 237) but not in
 * tcl.h: after `exit` or Ctrl-C cancelled a whole evaluation, the flag
 * must be cleared or every later eval fails as cancelled too. */
extern int TclResetCancellation(Tcl_Interp *interp, int force);

static int finish_eval(vr_repl *r, int rc, char **result, int *exit_code)
{
    TclResetCancellation(r->ip, 1);
    if (r->exit_requested) {
        r->exit_requested = 0;
        *exit_code = r->exit_status;
        /* Clear the cancellation so the interpreter stays usable. */
        Tcl_ResetResult(r->ip);
        *result = strdup("");
        return VMPY_REPL_EXIT;
    }
    *result = strdup(Tcl_GetStringResult(r->ip));
    return rc == TCL_OK ? VMPY_REPL_OK : VMPY_REPL_ERROR;
}

int vmpy_repl_eval_script(vmpy_repl *r, const char *script, char **result, int *exit_code)
{
    if (Tcl_GetCurrentThread() != r->thread) {
        *result = strdup("this interpreter belongs to another thread");
        return VMPY_REPL_ERROR;
    }
    eval_guard g;
    guard_enter(r, &g);
    int rc = Tcl_EvalEx(r->ip, script, -1, TCL_EVAL_GLOBAL);
    guard_leave(&g);
    return finish_eval(r, rc, result, exit_code);
}

int vmpy_repl_eval_file(vmpy_repl *r, const char *path, char **result, int *exit_code)
{
    if (Tcl_GetCurrentThread() != r->thread) {
        *result = strdup("this interpreter belongs to another thread");
        return VMPY_REPL_ERROR;
    }
    eval_guard g;
    guard_enter(r, &g);
    int rc = Tcl_EvalFile(r->ip, path);
    guard_leave(&g);
    return finish_eval(r, rc, result, exit_code);
}

char *vmpy_repl_error_info(vmpy_repl *r)
{
    const char *s = Tcl_GetVar2(r->ip, "::errorInfo", NULL, TCL_GLOBAL_ONLY);
    return strdup(s ? s : "");
}

int vmpy_repl_complete(const char *script)
{
    return Tcl_CommandComplete(script);
}

char *vmpy_repl_where(vmpy_repl *r)
{
    char buf[256];
    vm_cpu *c = vm_machine_cpu(r->m, 0);
    vr_format_addr(r, c ? vm_cpu_pc(c) : 0, buf, sizeof buf);
    return strdup(buf);
}
#endif /* VMPY_HAVE_TCL */
