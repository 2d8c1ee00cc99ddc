/* gdb_fake_target.c — see gdb_fake_target.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "gdb_fake_target.h"

static fake_hart *hart(fake_target *t, int thread)
{
    if (thread < 1 || thread > FAKE_NHARTS)
        return NULL;
    return &t->hart[thread - 1];
}

/* Register numbers as in gdb/riscv64-*.xml. */
static int reg_slot(fake_hart *h, int regno, uint8_t **p, size_t *size)
{
    if (regno >= 0 && regno < 32) {
        *p = (uint8_t *)&h->x[regno];
        *size = 8;
    } else if (regno == 32) {
        *p = (uint8_t *)&h->pc;
        *size = 8;
    } else if (regno >= 33 && regno < 65) {
        *p = (uint8_t *)&h->f[regno - 33];
        *size = 8;
    } else if (regno >= 66 && regno <= 68) {     /* fflags frm fcsr: 32-bit */
        *p = (uint8_t *)&h->csr[regno - 65];
        *size = 4;
    } else if (regno >= 65 && regno < 65 + 4096) {
        *p = (uint8_t *)&h->csr[regno - 65];
        *size = 8;
    } else if (regno == 4161) {
        *p = &h->priv;
        *size = 1;
    } else {
        return GDB_ENOREG;
    }
    return GDB_OK;
}

static int f_read_reg(void *tp, int thread, int regno, uint8_t *buf, size_t *len)
{
    fake_hart *h = hart(tp, thread);
    uint8_t *p;
    size_t size;

    if (!h || reg_slot(h, regno, &p, &size) != GDB_OK || *len < size)
        return GDB_ENOREG;
    memcpy(buf, p, size);                      /* the host is little-endian */
    if (regno == 0)
        memset(buf, 0, 8);
    *len = size;
    return GDB_OK;
}

static int f_write_reg(void *tp, int thread, int regno, const uint8_t *buf, size_t len)
{
    fake_hart *h = hart(tp, thread);
    uint8_t *p;
    size_t size;

    if (!h || reg_slot(h, regno, &p, &size) != GDB_OK || len != size)
        return GDB_ERR;
    if (regno != 0)
        memcpy(p, buf, size);
    return GDB_OK;
}

static bool mem_ok(uint64_t addr, size_t len)
{
    return addr >= FAKE_MEM_BASE && len <= FAKE_MEM_SIZE &&
           addr - FAKE_MEM_BASE <= FAKE_MEM_SIZE - len;
}

static int f_read_mem(void *tp, uint64_t addr, uint8_t *buf, size_t len)
{
    fake_target *t = tp;
    if (!mem_ok(addr, len))
        return GDB_EFAULT;
    memcpy(buf, t->mem + (addr - FAKE_MEM_BASE), len);
    return GDB_OK;
}

static int f_write_mem(void *tp, uint64_t addr, const uint8_t *buf, size_t len)
{
    fake_target *t = tp;
    if (!mem_ok(addr, len))
        return GDB_EFAULT;
    memcpy(t->mem + (addr - FAKE_MEM_BASE), buf, len);
    return GDB_OK;
}

static int f_insert_bp(void *tp, int type, uint64_t addr, uint64_t kind)
{
    fake_target *t = tp;
    for (int i = 0; i < FAKE_NBP; i++) {
        if (!t->bp[i].used) {
            t->bp[i] = (fake_bp){ true, type, addr, kind };
            return GDB_OK;
        }
    }
    return GDB_ERR;
}

static int f_remove_bp(void *tp, int type, uint64_t addr, uint64_t kind)
{
    fake_target *t = tp;
    for (int i = 0; i < FAKE_NBP; i++) {
        if (t->bp[i].used && t->bp[i].type == type && t->bp[i].addr == addr) {
            t->bp[i].used = false;
            return GDB_OK;
        }
    }
    return GDB_ERR;
}

/* One fake instruction on hart `thread`; returns true and fills *st if
 * it stops there. */
static bool exec_one(fake_target *t, int thread, int n, gdb_stop *st)
{
    fake_hart *h = hart(t, thread);

    for (int i = 0; i < FAKE_NBP; i++) {
        fake_bp *b = &t->bp[i];
        if (!b->used)
            continue;
        if (b->type == GDB_WP_WRITE && n == 2 && mem_ok(b->addr, 1)) {
            t->mem[b->addr - FAKE_MEM_BASE]++;       /* the "store" */
            h->pc += 4;
            *st = (gdb_stop){ .kind = GDB_STOP_WATCH, .thread = thread,
                              .signal = GDB_SIGNAL_TRAP, .addr = b->addr };
            return true;
        }
    }
    h->pc += 4;
    for (int i = 0; i < FAKE_NBP; i++) {
        fake_bp *b = &t->bp[i];
        if (b->used && b->type <= GDB_BP_HW && b->addr == h->pc) {
            *st = (gdb_stop){ .kind = b->type == GDB_BP_SW ? GDB_STOP_SWBREAK : GDB_STOP_HWBREAK,
                              .thread = thread, .signal = GDB_SIGNAL_TRAP };
            return true;
        }
    }
    return false;
}

/* Runs until a stop; in sync mode at most `budget` instructions, then the
 * program "exits" with a0's low byte. */
static void run(fake_target *t, int thread, int step)
{
    gdb_stop st = { .kind = GDB_STOP_SIGNAL, .thread = thread, .signal = GDB_SIGNAL_TRAP };

    if (t->exit_next >= 0) {
        st = (gdb_stop){ .kind = GDB_STOP_EXITED, .code = t->exit_next };
        t->exit_next = -1;
    } else if (step) {
        exec_one(t, thread, 0, &st);
        st.kind = st.kind == GDB_STOP_WATCH ? st.kind : GDB_STOP_SIGNAL;
        st.signal = GDB_SIGNAL_TRAP;
    } else {
        for (int n = 0;; n++) {
            if (exec_one(t, thread, n, &st))
                break;
            if (t->async) {
                bool stop;
                pthread_mutex_lock(&t->mu);
                stop = t->stop_req || t->quit;
                t->stop_req = false;
                pthread_mutex_unlock(&t->mu);
                if (stop) {
                    st = (gdb_stop){ .kind = GDB_STOP_SIGNAL, .thread = thread,
                                     .signal = GDB_SIGNAL_INT };
                    break;
                }
                if (n % 64 == 0)
                    nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
            } else if (n + 1 >= t->budget) {
                st = (gdb_stop){ .kind = GDB_STOP_EXITED, .code = (int)(hart(t, thread)->x[10] & 0xff) };
                break;
            }
        }
    }
    gdb_session_report_stop(t->session, &st);
}

static void *runner(void *arg)
{
    fake_target *t = arg;

    pthread_mutex_lock(&t->mu);
    for (;;) {
        while (!t->run_req && !t->quit)
            pthread_cond_wait(&t->cv, &t->mu);
        if (t->quit)
            break;
        t->run_req = false;
        pthread_mutex_unlock(&t->mu);
        run(t, t->run_thread, t->run_step);
        pthread_mutex_lock(&t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

static int f_resume(void *tp, int thread, int step, int signal)
{
    fake_target *t = tp;

    t->last_thread = thread;
    t->last_step = step;
    t->last_signal = signal;
    t->resumes++;
    if (thread < 0)
        thread = 1;
    if (!hart(t, thread))
        return GDB_ERR;
    if (t->hold)
        return GDB_OK;
    if (!t->async) {
        run(t, thread, step);        /* reports from inside resume */
        return GDB_OK;
    }
    pthread_mutex_lock(&t->mu);
    t->run_thread = thread;
    t->run_step = step;
    t->stop_req = false;
    t->run_req = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    return GDB_OK;
}

static void f_interrupt(void *tp)
{
    fake_target *t = tp;

    t->interrupts++;
    if (t->async) {
        pthread_mutex_lock(&t->mu);
        t->stop_req = true;
        pthread_mutex_unlock(&t->mu);
    }
}

static int f_thread_list(void *tp, int *ids, int max)
{
    for (int i = 0; i < FAKE_NHARTS && i < max; i++)
        ids[i] = i + 1;
    return FAKE_NHARTS;
}

static int f_thread_extra_info(void *tp, int thread, char *buf, size_t buflen)
{
    if (!hart(tp, thread))
        return GDB_ERR;
    return snprintf(buf, buflen, "hart %d", thread - 1);
}

static int f_monitor(void *tp, const char *cmd, gdb_out_fn out, void *ctx)
{
    fake_target *t = tp;
    static char big[40000];

    if (strcmp(cmd, "help") == 0) {
        out(ctx, "echo TEXT, exit N, big, fail\n", 29);
    } else if (strncmp(cmd, "echo ", 5) == 0) {
        out(ctx, cmd + 5, strlen(cmd + 5));
        out(ctx, "\n", 1);
    } else if (strncmp(cmd, "exit ", 5) == 0) {
        t->exit_next = (int)strtol(cmd + 5, NULL, 0) & 0xff;
    } else if (strcmp(cmd, "big") == 0) {    /* output spanning packets */
        for (size_t i = 0; i < sizeof big; i++)
            big[i] = (char)('a' + i % 26);
        out(ctx, big, sizeof big);
    } else {
        return -1;
    }
    return 0;
}

static const char *f_target_xml(void *tp, const char *annex)
{
    return gdb_riscv64_xml(annex);
}

static const char *f_exec_file(void *tp)
{
    return "/bin/fake";
}

static long f_read_auxv(void *tp, uint64_t offset, uint8_t *buf, size_t len)
{
    static const uint8_t auxv[40] = { 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0,
                                      '#', '$', '}', '*', 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8 };
    size_t n;

    if (offset >= sizeof auxv)
        return 0;
    n = sizeof auxv - (size_t)offset;
    if (n > len)
        n = len;
    memcpy(buf, auxv + offset, n);
    return (long)n;
}

static void f_detach(void *tp) { ((fake_target *)tp)->detached = true; }
static void f_kill(void *tp) { ((fake_target *)tp)->killed = true; }

const gdb_target_ops fake_ops = {
    .read_reg = f_read_reg,
    .write_reg = f_write_reg,
    .g_packet_regs = 33,
    .read_mem = f_read_mem,
    .write_mem = f_write_mem,
    .insert_bp = f_insert_bp,
    .remove_bp = f_remove_bp,
    .resume = f_resume,
    .interrupt = f_interrupt,
    .pc_regno = 32,
    .thread_list = f_thread_list,
    .thread_extra_info = f_thread_extra_info,
    .monitor = f_monitor,
    .target_xml = f_target_xml,
    .exec_file = f_exec_file,
    .read_auxv = f_read_auxv,
    .detach = f_detach,
    .kill = f_kill,
};

void fake_init(fake_target *t, bool async)
{
    memset(t, 0, sizeof *t);
    t->exit_next = -1;
    t->async = async;
    t->budget = 1000;
    for (int h = 0; h < FAKE_NHARTS; h++) {
        for (int i = 1; i < 32; i++)
            t->hart[h].x[i] = 0x1000 * (uint64_t)(h + 1) + (uint64_t)i;
        t->hart[h].pc = FAKE_MEM_BASE;
        t->hart[h].priv = 3;
        t->hart[h].csr[0xf14] = (uint64_t)h;            /* mhartid */
    }
    /* Code region [0x1000, 0x2000): 4-byte NOPs (addi x0,x0,0 = 0x00000013),
     * so gdb's software single-step, which decodes the instruction at the
     * pc, agrees with the fake execution model.  Data above: i*7+1. */
    for (size_t i = 0; i < FAKE_MEM_SIZE; i++)
        t->mem[i] = i < FAKE_CODE_SIZE ? (i % 4 == 0 ? 0x13 : 0) : (uint8_t)(i * 7 + 1);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    if (async)
        pthread_create(&t->runner, NULL, runner, t);
}

void fake_fini(fake_target *t)
{
    if (t->async) {
        pthread_mutex_lock(&t->mu);
        t->quit = true;
        pthread_cond_signal(&t->cv);
        pthread_mutex_unlock(&t->mu);
        pthread_join(t->runner, NULL);
    }
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
}
