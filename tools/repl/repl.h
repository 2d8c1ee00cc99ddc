/* repl.h — the vmpy Tcl command language (tools/repl), public entry points.
 *
 * One Tcl interpreter per front door drives a vm_machine through the public
 * core API (csrc/core/vm.h): the interactive REPL (vmpy/repl.py over the
 * _core.TclRepl type), `vmpy repl --script`, Machine.tcl() and the gdb
 * stub's `monitor` commands all evaluate the same commands.
 *
 * A Tcl interpreter belongs to the thread that created it; every call below
 * must come from that thread.
 */
#ifndef VMPY_REPL_H
#define VMPY_REPL_H

#include <stddef.h>
#include "core/vm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmpy_repl vmpy_repl;

/* How the REPL runs the machine.  The default (vmpy_repl_run_default) calls
 * vm_machine_run with SIGINT turned into vm_machine_stop; the Python binding
 * installs one that also drops the GIL.  Returns 0 and sets *why, or a
 * negative VM_E* code with a message in msg. */
typedef int (*vmpy_repl_run_fn)(void *ctx, vm_machine *m, const vm_run_opts *o,
                                vm_stop_reason *why, char *msg, size_t msglen);
/* Where `puts` to stdout/stderr and the REPL's own messages go
 * (stream 1 = stdout, 2 = stderr).  Default: the C stdio streams. */
typedef void (*vmpy_repl_out_fn)(void *ctx, int stream, const char *text, size_t len);

/* Returns NULL if Tcl is unavailable or out of memory. */
vmpy_repl *vmpy_repl_new(vm_machine *m);
void vmpy_repl_free(vmpy_repl *r);
void vmpy_repl_set_run(vmpy_repl *r, vmpy_repl_run_fn fn, void *ctx);
void vmpy_repl_set_output(vmpy_repl *r, vmpy_repl_out_fn fn, void *ctx);
/* vmpy repl --boot: the machine is this board's (devices/board.h); enables
 * `console` and device names in `dev`, and a power-off ends the program.
 * The board's own run thread must not run while the REPL drives it. */
struct vm_board;
void vmpy_repl_set_board(vmpy_repl *r, struct vm_board *b);
/* Interactive mode prints where the machine stopped after run commands. */
void vmpy_repl_set_verbose(vmpy_repl *r, int on);

/* Evaluates a script at global level.  Returns 0 (TCL_OK) or 1 (TCL_ERROR);
 * *result (malloc'ed, caller frees) is the result or the error message.
 * When the script called `exit N`, returns 2 and *exit_code = N. */
enum { VMPY_REPL_OK = 0, VMPY_REPL_ERROR = 1, VMPY_REPL_EXIT = 2 };
int vmpy_repl_eval_script(vmpy_repl *r, const char *script, char **result, int *exit_code);
int vmpy_repl_eval_file(vmpy_repl *r, const char *path, char **result, int *exit_code);
/* The Tcl errorInfo (stack trace) of the last error, malloc'ed. */
char *vmpy_repl_error_info(vmpy_repl *r);
/* 1 if script is a complete Tcl command (for multi-line input). */
int vmpy_repl_complete(const char *script);
/* "0x10554 <main+4>": the current pc for the prompt, malloc'ed. */
char *vmpy_repl_where(vmpy_repl *r);

vm_stop_reason vmpy_repl_run_default_sigint(vm_machine *m, const vm_run_opts *o);

/* For the gdb stub's `monitor` commands: evaluates cmd on an interpreter
 * kept for (m, calling thread), created on first use.  *out (malloc'ed)
 * gets everything the command printed followed by its result or error.
 * Returns 0 on success, -1 on a Tcl error.  vmpy_repl_forget frees the
 * interpreters kept for m (call it before freeing the machine). */
int vmpy_repl_eval(vm_machine *m, const char *cmd, char **out);
void vmpy_repl_forget(vm_machine *m);

#ifdef __cplusplus
}
#endif
#endif
