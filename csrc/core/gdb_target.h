/* gdb_target.h — serve one vmpy machine to gdb over TCP.
 *
 * Two threads per server: the protocol thread (accepts one gdb client and
 * feeds its bytes to a gdb_session) and the machine thread (owns
 * vm_machine_run while gdb has the machine resumed).  Neither holds any
 * language runtime lock; callers that embed an interpreter make their hooks
 * take their own locks.
 *
 * Lifetime: vm_gdb_new (binds the socket) -> vm_gdb_start -> ... ->
 * vm_gdb_close (stops the machine, joins both threads; the machine is then
 * free for other users) -> vm_gdb_free.  The machine must outlive the
 * server. */
#ifndef VM_GDB_TARGET_H
#define VM_GDB_TARGET_H

#include "core/vm.h"

typedef struct vm_gdb vm_gdb;

typedef enum vm_gdb_state {
    VM_GDB_LISTENING = 0,  /* no client yet */
    VM_GDB_CONNECTED,      /* a gdb is attached */
    VM_GDB_DETACHED,       /* gdb sent D: the machine is stopped, usable */
    VM_GDB_KILLED,         /* gdb sent k */
    VM_GDB_CLOSED,         /* link dropped, or vm_gdb_close */
    VM_GDB_EXITED,         /* the guest exited while gdb was attached */
} vm_gdb_state;

/* Binds host:port (host NULL: 127.0.0.1; port 0: any free port).
 * exec_file (may be NULL): the program path for qXfer:exec-file; when set
 * and the machine has not run yet, its initial stack is parsed for auxv.
 * Returns NULL with *err set to an errno value on failure. */
vm_gdb *vm_gdb_new(vm_machine *m, const char *host, int port,
                   const char *exec_file, int *err);
int vm_gdb_port(const vm_gdb *g);
/* Starts both threads.  Returns 0 or an errno value. */
int vm_gdb_start(vm_gdb *g);
/* Waits until a gdb connected (what = 0) or the session ended (what = 1),
 * at most timeout_ms (-1 forever).  Returns 1 if reached, 0 on timeout. */
int vm_gdb_wait(vm_gdb *g, int what, int timeout_ms);
vm_gdb_state vm_gdb_state_get(vm_gdb *g);

/* What the embedder adds (all optional; set before vm_gdb_start).
 * monitor: `monitor CMD` from gdb; *out (malloc'ed, may stay NULL) is the
 *   text shown to the user; return 0, or -1 for an error (gdb then shows
 *   the text and reports the failure).  Called on the protocol thread while
 *   the machine is stopped, so it may run the machine itself.
 * session_end: on the protocol thread once the gdb session is over (frees
 *   whatever monitor kept per thread).
 * exited: after every stop of the machine; returns 1 and sets *code when
 *   the guest is gone for good (a board powered off), so gdb hears "exited"
 *   rather than "interrupted".  Linux user mode needs none of this. */
typedef struct vm_gdb_hooks {
    int (*monitor)(void *ctx, const char *cmd, char **out);
    void (*session_end)(void *ctx);
    int (*exited)(void *ctx, int *code);
    void *ctx;
} vm_gdb_hooks;
void vm_gdb_set_hooks(vm_gdb *g, const vm_gdb_hooks *h);
/* Exit code once the state is VM_GDB_EXITED. */
int vm_gdb_exit_code(vm_gdb *g);
/* Drops the client (if any), stops the machine and joins the threads.
 * Idempotent. */
void vm_gdb_close(vm_gdb *g);
void vm_gdb_free(vm_gdb *g);

#endif
