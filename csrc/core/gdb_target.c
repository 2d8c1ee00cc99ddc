/* gdb_target.c — the vm_* API seen through gdb_target_ops, plus the two
 * threads that serve it (see gdb_target.h).
 *
 * Why a machine thread: the protocol library wants resume() to return at
 * once and hear about the stop later.  The machine thread waits for a
 * resume command, runs vm_machine_run, maps the stop reason and calls
 * gdb_session_report_stop.  Runs are cut into timed pieces so a Ctrl-C that
 * lands just before vm_machine_run (which clears pending stop requests) is
 * still seen within a fraction of a second. */
#include "core/gdb_target.h"
#include "core/riscv64/rv.h"
#include "rsp.h"
#include "server.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_POINTS 256      /* gdb rarely plants more than a handful */
#define RUN_PIECE 0.2       /* seconds per vm_machine_run while continuing */
#define MAX_AUXV 1024
#define MAX_HARTS 64        /* the most vCPUs a machine has */

typedef struct point { int type; uint64_t addr, len; } point;

struct vm_gdb {
    vm_machine *m;
    int lfd, port;
    char *exec_file;
    uint8_t auxv[MAX_AUXV];
    size_t auxv_len;

    pthread_mutex_t lock;
    pthread_cond_t cond;           /* any change below */
    pthread_t proto_thr, mach_thr;
    bool started, closed;
    atomic_int quit;               /* close requested */
    atomic_int int_pending;        /* Ctrl-C not yet turned into a stop */
    gdb_session *session;          /* set while a client is attached */
    vm_gdb_state state;
    int exit_code;
    bool connected, done;
    /* machine thread command */
    bool cmd_pending, running;
    int cmd_thread, cmd_step;

    point pts[MAX_POINTS];
    int npts;
    vm_gdb_hooks hooks;            /* set before start, read-only after */
};

/* ---- registers ---------------------------------------------------------- */

enum { RN_PC = 32, RN_F0 = 33, RN_CSR0 = 65, RN_FFLAGS = 66, RN_FCSR = 68,
       RN_PRIV = 65 + 4096 };

static vm_cpu *cpu_of(vm_gdb *g, int thread)
{
    int i = thread >= 1 ? thread - 1 : 0;
    return i < vm_machine_ncpus(g->m) ? vm_machine_cpu(g->m, i) : NULL;
}

/* Size gdb expects for a register number, or 0 if it has no such number. */
static size_t reg_size(int regno)
{
    if (regno >= RN_FFLAGS && regno <= RN_FCSR)
        return 4;
    if (regno == RN_PRIV)
        return 1;
    return regno >= 0 && regno < RN_PRIV ? 8 : 0;
}

/* gdb's numbering is the core's (isa.c), except priv (the privilege mode
 * of org.gnu.gdb.riscv.virtual), which is no register of the core: the
 * stub reads and writes the hart's mode itself. */
static int reg_get(vm_cpu *c, int regno, uint64_t *v)
{
    if (regno == RN_PRIV) {
        *v = (uint64_t)rv_cpu_of(c)->priv;
        return 0;
    }
    return vm_cpu_reg_read(c, regno, v);
}

static int reg_set(vm_cpu *c, int regno, uint64_t v)
{
    if (regno == RN_PRIV) {
        if (v != RV_PRIV_U && v != RV_PRIV_S && v != RV_PRIV_M)
            return -1;
        rv_cpu_of(c)->priv = (int)v;
        rv_tlb_sync(rv_cpu_of(c));
        return 0;
    }
    return vm_cpu_reg_write(c, regno, v);
}

static int op_read_reg(void *t, int thread, int regno, uint8_t *buf, size_t *len)
{
    vm_gdb *g = t;
    vm_cpu *c = cpu_of(g, thread);
    size_t n = reg_size(regno);
    if (!c || !n || *len < n)
        return GDB_ENOREG;
    *len = n;
    uint64_t v;
    if (reg_get(c, regno, &v))
        return GDB_EUNAVAIL;
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)(v >> (8 * i));    /* RISC-V is little-endian */
    return GDB_OK;
}

static int op_write_reg(void *t, int thread, int regno, const uint8_t *buf, size_t len)
{
    vm_gdb *g = t;
    vm_cpu *c = cpu_of(g, thread);
    size_t n = reg_size(regno);
    if (!c || !n)
        return GDB_ENOREG;
    if (len != n)
        return GDB_ERR;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)buf[i] << (8 * i);
    return reg_set(c, regno, v) == 0 ? GDB_OK : GDB_ERR;
}

/* ---- memory ------------------------------------------------------------- */

static int op_read_mem(void *t, uint64_t addr, uint8_t *buf, size_t len)
{
    vm_gdb *g = t;
    return vm_mem_read(g->m, addr, buf, len) ? GDB_EFAULT : GDB_OK;
}

static int op_write_mem(void *t, uint64_t addr, const uint8_t *buf, size_t len)
{
    vm_gdb *g = t;
    return vm_mem_write(g->m, addr, buf, len) ? GDB_EFAULT : GDB_OK;
}

/* ---- breakpoints and watchpoints ----------------------------------------- */

static int wp_access(int type)
{
    return type == GDB_WP_WRITE ? VM_PROT_W : type == GDB_WP_READ ? VM_PROT_R
                                                                 : VM_PROT_R | VM_PROT_W;
}

/* Our own list of what gdb planted: to classify stops and to remove
 * everything when the session ends.  Called with g->lock held. */
static int points_find(vm_gdb *g, int type, uint64_t addr, uint64_t len)
{
    for (int i = 0; i < g->npts; i++)
        if (g->pts[i].type == type && g->pts[i].addr == addr && g->pts[i].len == len)
            return i;
    return -1;
}

static int core_insert(vm_gdb *g, const point *p)
{
    if (p->type <= GDB_BP_HW)
        return vm_bp_add(g->m, p->addr);
    return vm_wp_add(g->m, p->addr, p->len, wp_access(p->type));
}

static void core_remove(vm_gdb *g, const point *p)
{
    if (p->type <= GDB_BP_HW)
        vm_bp_remove(g->m, p->addr);
    else
        vm_wp_remove(g->m, p->addr, p->len, wp_access(p->type));
}

static int op_insert_bp(void *t, int type, uint64_t addr, uint64_t kind)
{
    vm_gdb *g = t;
    if (type < GDB_BP_SW || type > GDB_WP_ACCESS)
        return GDB_ENOTSUP;
    point p = { type, addr, type <= GDB_BP_HW ? 0 : kind };
    if (p.type > GDB_BP_HW && (kind == 0 || kind > 4096))
        return GDB_ERR;
    pthread_mutex_lock(&g->lock);
    int rc = GDB_OK;
    if (points_find(g, p.type, addr, p.len) < 0) {
        /* Two gdb breakpoints at one address share one core breakpoint. */
        bool shared = false;
        for (int i = 0; i < g->npts && p.type <= GDB_BP_HW; i++)
            shared |= g->pts[i].type <= GDB_BP_HW && g->pts[i].addr == addr;
        if (g->npts == MAX_POINTS || (!shared && core_insert(g, &p)))
            rc = GDB_ERR;
        else
            g->pts[g->npts++] = p;
    }
    pthread_mutex_unlock(&g->lock);
    return rc;
}

static int op_remove_bp(void *t, int type, uint64_t addr, uint64_t kind)
{
    vm_gdb *g = t;
    if (type < GDB_BP_SW || type > GDB_WP_ACCESS)
        return GDB_ENOTSUP;
    uint64_t len = type <= GDB_BP_HW ? 0 : kind;
    pthread_mutex_lock(&g->lock);
    int i = points_find(g, type, addr, len);
    if (i >= 0) {
        point p = g->pts[i];
        g->pts[i] = g->pts[--g->npts];
        bool shared = false;
        for (int j = 0; j < g->npts && p.type <= GDB_BP_HW; j++)
            shared |= g->pts[j].type <= GDB_BP_HW && g->pts[j].addr == addr;
        if (!shared)
            core_remove(g, &p);
    }
    pthread_mutex_unlock(&g->lock);
    return GDB_OK;   /* removing an unknown point is harmless */
}

static void points_clear(vm_gdb *g)
{
    pthread_mutex_lock(&g->lock);
    while (g->npts > 0) {
        point p = g->pts[--g->npts];
        bool shared = false;
        for (int j = 0; j < g->npts && p.type <= GDB_BP_HW; j++)
            shared |= g->pts[j].type <= GDB_BP_HW && g->pts[j].addr == p.addr;
        if (!shared)
            core_remove(g, &p);
    }
    pthread_mutex_unlock(&g->lock);
}

static bool bp_at(vm_gdb *g, uint64_t pc)
{
    pthread_mutex_lock(&g->lock);
    bool hit = false;
    for (int i = 0; i < g->npts && !hit; i++)
        hit = g->pts[i].type <= GDB_BP_HW && g->pts[i].addr == pc;
    pthread_mutex_unlock(&g->lock);
    return hit;
}

/* Which kind of watchpoint report matches a hit at addr with access acc. */
static gdb_stop_kind watch_kind(vm_gdb *g, uint64_t addr, int acc)
{
    gdb_stop_kind k = acc & VM_PROT_W ? GDB_STOP_WATCH : GDB_STOP_RWATCH;
    pthread_mutex_lock(&g->lock);
    for (int i = 0; i < g->npts; i++) {
        point *p = &g->pts[i];
        if (p->type < GDB_WP_WRITE || addr < p->addr || addr - p->addr >= p->len)
            continue;
        if (p->type == GDB_WP_ACCESS)
            k = GDB_STOP_AWATCH;
        else if ((p->type == GDB_WP_WRITE) == ((acc & VM_PROT_W) != 0))
            k = p->type == GDB_WP_WRITE ? GDB_STOP_WATCH : GDB_STOP_RWATCH;
        else
            continue;
        break;
    }
    pthread_mutex_unlock(&g->lock);
    return k;
}

/* ---- running: the machine thread ----------------------------------------- */

/* Did hart i run since the resume?  (start_ic: instruction counts then) */
static bool hart_ran(vm_gdb *g, int i, const uint64_t *start_ic)
{
    return i >= MAX_HARTS || vm_cpu_icount(vm_machine_cpu(g->m, i)) != start_ic[i];
}

/* The hart that hit a breakpoint: one on a breakpoint that has run since
 * the resume (a hart still parked on the breakpoint it stopped at before
 * did not cause this stop), else any hart on a breakpoint. */
static int bp_thread(vm_gdb *g, const uint64_t *start_ic)
{
    int n = vm_machine_ncpus(g->m);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++)
            if ((pass || hart_ran(g, i, start_ic)) && bp_at(g, vm_cpu_pc(vm_machine_cpu(g->m, i))))
                return i + 1;
    return 0;
}

static gdb_stop map_stop(vm_gdb *g, vm_stop_reason why, const uint64_t *start_ic)
{
    gdb_stop s = { .kind = GDB_STOP_SIGNAL, .signal = GDB_SIGNAL_TRAP };
    int n = vm_machine_ncpus(g->m);
    switch (why) {
    case VM_STOP_BREAKPOINT:
        /* Not one of gdb's (a REPL breakpoint made by `monitor break`):
         * a plain SIGTRAP, or gdb would take it for a stale hit of a
         * breakpoint it removed and silently resume. */
        s.thread = bp_thread(g, start_ic);
        s.kind = s.thread ? GDB_STOP_SWBREAK : GDB_STOP_SIGNAL;
        break;
    case VM_STOP_WATCHPOINT:
        for (int i = 0; i < n; i++) {
            uint64_t a = 0;
            int acc = 0;
            vm_cpu_watch_hit(vm_machine_cpu(g->m, i), &a, &acc);
            if (acc) {
                s.thread = i + 1;
                s.addr = a;
                s.kind = watch_kind(g, a, acc);
                break;
            }
        }
        break;
    case VM_STOP_EXIT:
        s.kind = GDB_STOP_EXITED;
        s.code = vm_linux_exit_code(g->m);
        break;
    case VM_STOP_FAULT: s.signal = GDB_SIGNAL_SEGV; break;
    case VM_STOP_INVALID: s.signal = GDB_SIGNAL_ILL; break;
    case VM_STOP_ERROR: s.signal = GDB_SIGNAL_ABRT; break;
    case VM_STOP_REQUEST: case VM_STOP_WFI: s.signal = GDB_SIGNAL_INT; break;
    default: break;   /* COUNT (step done), TRAP, UNTIL: SIGTRAP */
    }
    return s;
}

/* One resume: runs until something gdb should hear about. */
static gdb_stop run_once(vm_gdb *g, int step, int thread)
{
    static const gdb_stop interrupted = { .kind = GDB_STOP_SIGNAL, .signal = GDB_SIGNAL_INT };
    /* A step, or a continue of one thread (gdb's way of stepping a hart
     * over a breakpoint), moves only that hart; timed pieces keep Ctrl-C working even when
     * that hart sleeps in WFI. */
    vm_run_opts o = { .count = step ? 1 : 0, .timeout = RUN_PIECE,
                      .cpu = thread > 0 ? thread : 0 };
    uint64_t start_ic[MAX_HARTS];
    for (int i = 0; i < vm_machine_ncpus(g->m) && i < MAX_HARTS; i++)
        start_ic[i] = vm_cpu_icount(vm_machine_cpu(g->m, i));
    for (;;) {
        if (atomic_exchange(&g->int_pending, 0) || atomic_load(&g->quit))
            return interrupted;
        vm_stop_reason why = vm_machine_run(g->m, &o);
        int code = 0;
        if (g->hooks.exited && g->hooks.exited(g->hooks.ctx, &code)) {
            atomic_store(&g->int_pending, 0);
            return (gdb_stop){ .kind = GDB_STOP_EXITED, .code = code };
        }
        if (why == VM_STOP_REQUEST && atomic_exchange(&g->int_pending, 0))
            return interrupted;
        if (why != VM_STOP_TIMEOUT) {
            gdb_stop st = map_stop(g, why, start_ic);
            if (thread > 0 && st.kind != GDB_STOP_EXITED)
                st.thread = thread;    /* the only hart that ran */
            return st;
        }
        /* A piece may end with a hart that ran onto a breakpoint not yet
         * taken; the next run would step over it, so report it here.  A
         * hart still parked where it was resumed is not a new hit. */
        for (int i = 0; i < vm_machine_ncpus(g->m); i++)
            if ((thread <= 0 || i == thread - 1) && hart_ran(g, i, start_ic) &&
                bp_at(g, vm_cpu_pc(vm_machine_cpu(g->m, i))))
                return (gdb_stop){ .kind = GDB_STOP_SWBREAK, .thread = i + 1 };
    }
}

static void *machine_main(void *arg)
{
    vm_gdb *g = arg;
    pthread_mutex_lock(&g->lock);
    for (;;) {
        while (!g->cmd_pending && !atomic_load(&g->quit))
            pthread_cond_wait(&g->cond, &g->lock);
        if (atomic_load(&g->quit))
            break;
        g->cmd_pending = false;
        g->running = true;
        int step = g->cmd_step, thread = g->cmd_thread;
        pthread_mutex_unlock(&g->lock);
        gdb_stop s = run_once(g, step, thread);
        pthread_mutex_lock(&g->lock);
        if (s.kind == GDB_STOP_EXITED) {
            g->state = VM_GDB_EXITED;
            g->exit_code = s.code;
        }
        gdb_session *sess = g->session;
        pthread_mutex_unlock(&g->lock);
        /* Never hold g->lock here: the session lock is taken inside, and
         * the protocol thread takes g->lock while holding the session lock. */
        if (sess && !atomic_load(&g->quit))
            gdb_session_report_stop(sess, &s);
        pthread_mutex_lock(&g->lock);
        g->running = false;
        pthread_cond_broadcast(&g->cond);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

static int op_resume(void *t, int thread, int step, int signal)
{
    vm_gdb *g = t;
    (void)signal;   /* no guest signals in this machine model */
    pthread_mutex_lock(&g->lock);
    atomic_store(&g->int_pending, 0);
    g->cmd_pending = true;
    g->cmd_step = step;
    g->cmd_thread = thread;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
    return 0;
}

static void op_interrupt(void *t)
{
    vm_gdb *g = t;
    atomic_store(&g->int_pending, 1);
    vm_machine_stop(g->m);
}

/* ---- threads, descriptions, Linux user mode ------------------------------ */

static int op_thread_list(void *t, int *ids, int max)
{
    vm_gdb *g = t;
    int n = vm_machine_ncpus(g->m);
    for (int i = 0; i < n && i < max; i++)
        ids[i] = i + 1;
    return n;
}

static int op_thread_extra(void *t, int thread, char *buf, size_t buflen)
{
    (void)t;
    int n = snprintf(buf, buflen, "hart %d", thread - 1);
    return n < 0 || (size_t)n >= buflen ? -1 : n;
}

static const char *op_target_xml(void *t, const char *annex)
{
    (void)t;
    return gdb_riscv64_xml(annex);
}

static const char *op_exec_file(void *t)
{
    return ((vm_gdb *)t)->exec_file;
}

static long op_read_auxv(void *t, uint64_t offset, uint8_t *buf, size_t len)
{
    vm_gdb *g = t;
    if (offset >= g->auxv_len)
        return 0;
    size_t n = g->auxv_len - (size_t)offset;
    n = n < len ? n : len;
    memcpy(buf, g->auxv + offset, n);
    return (long)n;
}

static void op_detach(void *t)
{
    vm_gdb *g = t;
    pthread_mutex_lock(&g->lock);
    if (g->state == VM_GDB_CONNECTED)
        g->state = VM_GDB_DETACHED;
    pthread_mutex_unlock(&g->lock);
}

static void op_kill(void *t)
{
    vm_gdb *g = t;
    pthread_mutex_lock(&g->lock);
    if (g->state == VM_GDB_CONNECTED)
        g->state = VM_GDB_KILLED;
    pthread_mutex_unlock(&g->lock);
}

/* `monitor CMD`: the embedder's command language (the Tcl REPL), else a
 * message saying there is none. */
static int op_monitor(void *t, const char *cmd, gdb_out_fn out, void *out_ctx)
{
    vm_gdb *g = t;
    if (!g->hooks.monitor) {
        static const char none[] = "this vmpy has no monitor commands (built without the Tcl REPL)\n";
        out(out_ctx, none, sizeof none - 1);
        return -1;
    }
    char *text = NULL;
    int rc = g->hooks.monitor(g->hooks.ctx, cmd, &text);
    if (rc != 0)
        out(out_ctx, "error: ", 7);
    if (text && text[0]) {
        size_t n = strlen(text);
        out(out_ctx, text, n);
        if (text[n - 1] != '\n')
            out(out_ctx, "\n", 1);
    }
    free(text);
    return rc == 0 ? 0 : -1;
}

static const gdb_target_ops riscv64_ops = {
    .read_reg = op_read_reg, .write_reg = op_write_reg, .g_packet_regs = 33,
    .read_mem = op_read_mem, .write_mem = op_write_mem,
    .insert_bp = op_insert_bp, .remove_bp = op_remove_bp,
    .resume = op_resume, .interrupt = op_interrupt, .pc_regno = RN_PC,
    .thread_list = op_thread_list, .thread_extra_info = op_thread_extra,
    .monitor = op_monitor, .target_xml = op_target_xml, .exec_file = op_exec_file,
    .read_auxv = op_read_auxv, .detach = op_detach, .kill = op_kill,
};

static bool read_u64(vm_machine *m, uint64_t addr, uint64_t *v)
{
    return vm_mem_read(m, addr, v, 8) == 0;   /* host and guest: little-endian */
}

/* The Linux initial stack: argc, argv[], NULL, envp[], NULL, auxv pairs up
 * to AT_NULL.  Only trusted before the first instruction. */
static void capture_auxv(vm_gdb *g)
{
    vm_cpu *c = vm_machine_cpu(g->m, 0);
    uint64_t sp, argc, v;
    if (vm_cpu_icount(c) != 0 || vm_cpu_reg_read(c, 2, &sp) || !read_u64(g->m, sp, &argc) ||
        argc > 65536)
        return;
    uint64_t p = sp + 8 + 8 * (argc + 1);
    for (int i = 0; i < 65536; i++, p += 8) {
        if (!read_u64(g->m, p, &v))
            return;
        if (v == 0)
            break;
    }
    p += 8;
    for (size_t off = 0; off + 16 <= MAX_AUXV; off += 16, p += 16) {
        uint64_t pair[2];
        if (vm_mem_read(g->m, p, pair, 16))
            return;
        memcpy(g->auxv + off, pair, 16);
        if (pair[0] == 0) {
            g->auxv_len = off + 16;
            return;
        }
    }
}

/* ---- the protocol thread ------------------------------------------------ */

static void *proto_main(void *arg)
{
    vm_gdb *g = arg;
    int fd = -1;
    while (fd < 0 && !atomic_load(&g->quit))
        fd = gdb_server_accept(g->lfd, 100);
    gdb_session *s = fd >= 0 ? gdb_session_new(&riscv64_ops, g, gdb_server_write,
                                               gdb_server_fd_ctx(fd)) : NULL;
    pthread_mutex_lock(&g->lock);
    g->session = s;
    g->connected = s != NULL;
    if (s)
        g->state = VM_GDB_CONNECTED;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
    if (s)
        gdb_server_serve(fd, s, &g->quit);
    /* Session over: stop the machine and wait for its thread to go idle
     * before the session it reports to goes away. */
    pthread_mutex_lock(&g->lock);
    g->session = NULL;
    g->cmd_pending = false;
    while (g->running) {
        atomic_store(&g->int_pending, 1);
        vm_machine_stop(g->m);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->cond, &g->lock, &ts);
    }
    if (g->state == VM_GDB_CONNECTED || g->state == VM_GDB_LISTENING)
        g->state = VM_GDB_CLOSED;
    pthread_mutex_unlock(&g->lock);
    points_clear(g);   /* the machine must not stop at gdb's leftovers */
    if (s)
        gdb_session_free(s);
    if (g->hooks.session_end)
        g->hooks.session_end(g->hooks.ctx);
    if (fd >= 0)
        close(fd);
    pthread_mutex_lock(&g->lock);
    g->done = true;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

/* ---- lifetime ----------------------------------------------------------- */

vm_gdb *vm_gdb_new(vm_machine *m, const char *host, int port, const char *exec_file, int *err)
{
    vm_gdb *g = calloc(1, sizeof *g);
    if (!g || (exec_file && !(g->exec_file = strdup(exec_file)))) {
        free(g);
        *err = ENOMEM;
        return NULL;
    }
    g->m = m;
    g->lfd = gdb_server_listen(host, port, &g->port);
    if (g->lfd < 0) {
        *err = errno ? errno : EADDRNOTAVAIL;
        free(g->exec_file);
        free(g);
        return NULL;
    }
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, NULL);
    if (exec_file)
        capture_auxv(g);
    return g;
}

void vm_gdb_set_hooks(vm_gdb *g, const vm_gdb_hooks *h)
{
    if (!g->started && h)
        g->hooks = *h;
}

int vm_gdb_port(const vm_gdb *g)
{
    return g->port;
}

int vm_gdb_start(vm_gdb *g)
{
    if (g->started)
        return 0;
    int rc = pthread_create(&g->mach_thr, NULL, machine_main, g);
    if (rc)
        return rc;
    rc = pthread_create(&g->proto_thr, NULL, proto_main, g);
    if (rc) {
        atomic_store(&g->quit, 1);
        pthread_mutex_lock(&g->lock);
        pthread_cond_broadcast(&g->cond);
        pthread_mutex_unlock(&g->lock);
        pthread_join(g->mach_thr, NULL);
        return rc;
    }
    g->started = true;
    return 0;
}

int vm_gdb_wait(vm_gdb *g, int what, int timeout_ms)
{
    struct timespec end;
    clock_gettime(CLOCK_REALTIME, &end);
    if (timeout_ms >= 0) {
        end.tv_sec += timeout_ms / 1000;
        end.tv_nsec += (timeout_ms % 1000) * 1000000L;
        if (end.tv_nsec >= 1000000000L) {
            end.tv_sec++;
            end.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&g->lock);
    int rc = 0;
    for (;;) {
        rc = what == 0 ? (g->connected || g->done) : g->done;
        if (rc || !g->started)
            break;
        if (timeout_ms < 0)
            pthread_cond_wait(&g->cond, &g->lock);
        else if (pthread_cond_timedwait(&g->cond, &g->lock, &end) == ETIMEDOUT)
            break;
    }
    rc = what == 0 ? (g->connected || g->done) : g->done;
    pthread_mutex_unlock(&g->lock);
    return rc;
}

vm_gdb_state vm_gdb_state_get(vm_gdb *g)
{
    pthread_mutex_lock(&g->lock);
    vm_gdb_state s = g->state;
    pthread_mutex_unlock(&g->lock);
    return s;
}

int vm_gdb_exit_code(vm_gdb *g)
{
    pthread_mutex_lock(&g->lock);
    int c = g->exit_code;
    pthread_mutex_unlock(&g->lock);
    return c;
}

void vm_gdb_close(vm_gdb *g)
{
    if (g->closed)
        return;
    g->closed = true;
    atomic_store(&g->quit, 1);
    vm_machine_stop(g->m);
    if (g->started) {
        pthread_join(g->proto_thr, NULL);   /* it waits for the machine to idle */
        pthread_mutex_lock(&g->lock);
        pthread_cond_broadcast(&g->cond);
        pthread_mutex_unlock(&g->lock);
        pthread_join(g->mach_thr, NULL);
    }
    if (g->lfd >= 0)
        close(g->lfd);
    g->lfd = -1;
}

void vm_gdb_free(vm_gdb *g)
{
    if (!g)
        return;
    vm_gdb_close(g);
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->cond);
    free(g->exec_file);
    free(g);
}
