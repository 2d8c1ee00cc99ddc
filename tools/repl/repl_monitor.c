/* repl_monitor.c — vmpy_repl_eval: one command in, its printed output and
 * result out, for the gdb stub's `monitor` commands.  Interpreters are
 * kept per (machine, thread) because a Tcl interpreter is bound to the
 * thread that made it. */
#include "repl.h"

#include <stdlib.h>
#include <string.h>

#ifdef VMPY_HAVE_TCL
#include <pthread.h>
#include "repl_int.h"

typedef struct kept {
    vm_machine *m;
    Tcl_ThreadId thread;
    vmpy_repl *r;
    char *buf;           /* output captured during one eval */
    size_t len, cap;
    struct kept *next;
} kept;

/* A monitor command runs on the stub's protocol thread, which reads
 * nothing from gdb meanwhile, so gdb's Ctrl-C cannot reach it: runs started
 * by monitor commands (`monitor cont`) are bounded in time instead, and
 * leave SIGINT alone (this is not the main thread). */
#define MONITOR_RUN_MAX 2.0   /* seconds */

static int monitor_run(void *ctx, vm_machine *m, const vm_run_opts *o, vm_stop_reason *why, char *msg,
                       size_t msglen)
{
    vm_run_opts bounded = *o;
    if (bounded.timeout <= 0 || bounded.timeout > MONITOR_RUN_MAX)
        bounded.timeout = MONITOR_RUN_MAX;
    *why = vm_machine_run(m, &bounded);
    return 0;
}

static kept *kept_list;
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;

static void capture(void *ctx, int stream, const char *text, size_t len)
{
    kept *k = ctx;
    if (k->len + len + 1 > k->cap) {
        size_t cap = (k->cap ? k->cap * 2 : 256) + len;
        char *b = realloc(k->buf, cap);
        if (!b)
            return;   /* out of memory: drop output rather than fail the command */
        k->buf = b;
        k->cap = cap;
    }
    memcpy(k->buf + k->len, text, len);
    k->len += len;
    k->buf[k->len] = 0;
}

static kept *find_or_make(vm_machine *m)
{
    Tcl_ThreadId self = Tcl_GetCurrentThread();
    pthread_mutex_lock(&kept_lock);
    kept *k = kept_list;
    while (k && !(k->m == m && k->thread == self))
        k = k->next;
    pthread_mutex_unlock(&kept_lock);
    if (k)
        return k;
    k = calloc(1, sizeof *k);
    if (!k || !(k->r = vmpy_repl_new(m))) {
        free(k);
        return NULL;
    }
    k->m = m;
    k->thread = self;
    vmpy_repl_set_output(k->r, capture, k);
    vmpy_repl_set_run(k->r, monitor_run, k);
    vmpy_repl_set_verbose(k->r, 1);
    pthread_mutex_lock(&kept_lock);
    k->next = kept_list;
    kept_list = k;
    pthread_mutex_unlock(&kept_lock);
    return k;
}

int vmpy_repl_eval(vm_machine *m, const char *cmd, char **out)
{
    *out = NULL;
    kept *k = find_or_make(m);
    if (!k) {
        *out = strdup("the Tcl interpreter could not be created");
        return -1;
    }
    k->len = 0;
    char *result = NULL;
    int code = 0;
    int rc = vmpy_repl_eval_script(k->r, cmd, &result, &code);
    if (rc == VMPY_REPL_EXIT) {
        free(result);
        result = strdup("exit is not available from monitor commands");
        rc = VMPY_REPL_ERROR;
    }
    if (result && result[0]) {
        capture(k, 1, result, strlen(result));
        capture(k, 1, "\n", 1);
    }
    free(result);
    *out = strdup(k->len ? k->buf : "");
    return rc == VMPY_REPL_OK ? 0 : -1;
}

void vmpy_repl_forget(vm_machine *m)
{
    Tcl_ThreadId self = Tcl_GetCurrentThread();
    pthread_mutex_lock(&kept_lock);
    for (kept **kp = &kept_list; *kp;) {
        kept *k = *kp;
        /* Only this thread may delete its interpreters. */
        if (k->m == m && k->thread == self) {
            *kp = k->next;
            vmpy_repl_free(k->r);
            free(k->buf);
            free(k);
        } else {
            kp = &k->next;
        }
    }
    pthread_mutex_unlock(&kept_lock);
}

#else /* no Tcl: the gdb stub still links */

int vmpy_repl_eval(vm_machine *m, const char *cmd, char **out)
{
    *out = strdup("vmpy was built without Tcl: no monitor commands");
    return -1;
}

void vmpy_repl_forget(vm_machine *m) { }

#endif
