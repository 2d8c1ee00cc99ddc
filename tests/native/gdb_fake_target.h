/* gdb_fake_target.h — an in-memory riscv64-like target for the gdb
 * protocol tests: two harts with register files, 64 KiB of memory at
 * 0x1000 (NOPs in the first 4 KiB, a byte pattern after), breakpoint/watchpoint tables and a trivial "execution" model
 * (every instruction is 4 bytes and does nothing, except that a write
 * watchpoint is hit on the third instruction, which stores to it). */
#ifndef GDB_FAKE_TARGET_H
#define GDB_FAKE_TARGET_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "rsp.h"

#define FAKE_MEM_BASE 0x1000u
#define FAKE_MEM_SIZE 0x10000u
#define FAKE_CODE_SIZE 0x1000u
#define FAKE_NBP 64
#define FAKE_NHARTS 2

typedef struct fake_hart {
    uint64_t x[32], pc, f[32], csr[4096];
    uint8_t priv;
} fake_hart;

typedef struct fake_bp {
    bool used;
    int type;
    uint64_t addr, kind;
} fake_bp;

typedef struct fake_target {
    fake_hart hart[FAKE_NHARTS];
    uint8_t mem[FAKE_MEM_SIZE];
    fake_bp bp[FAKE_NBP];
    gdb_session *session;     /* where stops are reported */
    int exit_next;            /* >= 0: the next continue exits with this */
    /* last resume request, for tests */
    int last_thread, last_step, last_signal, resumes, interrupts;
    bool detached, killed;
    bool hold;                /* resume returns without running (tests) */
    int budget;               /* sync mode: instructions per continue (1000) */
    /* async mode: a run thread executes after resume (fake server) */
    bool async;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool run_req, stop_req, quit;
    int run_thread, run_step;
    pthread_t runner;
} fake_target;

extern const gdb_target_ops fake_ops;

void fake_init(fake_target *t, bool async);
void fake_fini(fake_target *t);

#endif
