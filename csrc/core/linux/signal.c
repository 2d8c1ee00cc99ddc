/* signal.c — Linux signals in user mode: actions, the mask, pending
 * signals, and running a guest's handler.
 *
 * A handler runs on a frame built on the guest's stack as the kernel
 * builds it: a siginfo, then a ucontext whose uc_mcontext the ISA fills
 * with the interrupted registers (vm_linux_abi.save_context).  It returns
 * to a trampoline page mapped above the stack that makes the rt_sigreturn
 * syscall, which restores the mask and every register from the frame.  On
 * Linux the vDSO holds that trampoline; glibc sets no SA_RESTORER on
 * riscv64, so the return address must come from us.
 *
 * What is delivered: the signals a process sends itself (kill, tkill,
 * tgkill: raise(), abort()), held while blocked and delivered when a
 * syscall leaves them unblocked; and the signal of a fault the guest takes
 * (SIGSEGV, SIGBUS, SIGILL, SIGTRAP), when the guest has a handler for it
 * and does not block it.  Otherwise a fault stops the run as before (and
 * `vmpy run` exits with 128 + the signal's number).  And SIGALRM from the
 * ITIMER_REAL timer (setitimer, alarm) and SIGCHLD from forked children,
 * below.  Other signals from outside (the host's Ctrl-C, other processes)
 * are not delivered: the guest is one process inside ours. */
#include "linux.h"
#include "../snapshot.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum {
    LX_SA_ONSTACK = 0x08000000, LX_SA_NODEFER = 0x40000000,
    LX_SA_RESETHAND = (int)0x80000000u,
    LX_SS_ONSTACK = 1, LX_SS_DISABLE = 2, LX_SS_AUTODISARM = (int)0x80000000u,
    LX_SI_USER = 0, LX_SI_TKILL = -6, LX_SI_KERNEL = 0x80,
    LX_SIGINFO_SIZE = 128,
    /* ucontext: uc_flags, uc_link, uc_stack (24 bytes), uc_sigmask (8) and
     * its padding to 128 bytes, then uc_mcontext at the ISA's offset. */
    LX_UC_STACK = 16, LX_UC_SIGMASK = 40,
};

static uint64_t bit(int sig) { return 1ull << (sig - 1); }
static const uint64_t unblockable = (1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1));

static uint64_t action_word(const struct vm_linux_process *p, int sig, int i)
{
    uint64_t v;
    memcpy(&v, p->sigact[sig] + 8 * i, 8);    /* handler, flags, mask (asm-generic sigaction) */
    return v;
}

static void put64(uint8_t *b, uint64_t v) { vm_host_store(b, 8, v); }
static void put32(uint8_t *b, uint32_t v) { vm_host_store(b, 4, v); }

/* SIG_IGN, or SIG_DFL where the default is to ignore (or to stop: there
 * is nothing to stop). */
static bool ignored(const struct vm_linux_process *p, int sig)
{
    uint64_t handler = action_word(p, sig, 0);
    bool ignored_by_default = sig == SIGCHLD || sig == SIGCONT || sig == SIGURG || sig == SIGWINCH ||
                              sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
    return handler == 1 || (handler == 0 && ignored_by_default);
}

static size_t frame_size(const struct vm_linux_abi *abi)
{
    return (LX_SIGINFO_SIZE + abi->mcontext_offset + abi->mcontext_size + 15) & ~(size_t)15;
}

/* ss_flags of the alternate stack as seen from sp. */
static int altstack_flags(const struct vm_linux_process *p, uint64_t sp)
{
    uint64_t base = p->altstack[0], size = p->altstack[2];
    if ((p->altstack[1] & LX_SS_DISABLE) || !size)
        return LX_SS_DISABLE;
    return sp > base && sp - base <= size ? LX_SS_ONSTACK : 0;
}

/* Runs sig's handler: the frame holds info (LX_SIGINFO_SIZE bytes) and the
 * state to resume at resume_pc.  0, or -EFAULT if the frame cannot be
 * written (the caller then treats the signal as unhandled). */
static int enter_handler(lx_ctx *x, int sig, const uint8_t *info, uint64_t resume_pc)
{
    struct vm_linux_process *p = x->p;
    const struct vm_linux_abi *abi = x->m->isa->linux_abi;
    uint64_t flags = action_word(p, sig, 1), handler = action_word(p, sig, 0);
    uint64_t sp = abi->get_sp(x->c);
    int ss = altstack_flags(p, sp);          /* as seen from the interrupted code */
    if ((flags & LX_SA_ONSTACK) && ss == 0)
        sp = p->altstack[0] + p->altstack[2];
    size_t size = frame_size(abi);
    uint64_t frame = (sp - size) & ~15ull;
    uint8_t *buf = calloc(1, size);
    if (!buf)
        return -ENOMEM;
    memcpy(buf, info, LX_SIGINFO_SIZE);
    uint8_t *uc = buf + LX_SIGINFO_SIZE;
    put64(uc + LX_UC_STACK, p->altstack[0]);
    put32(uc + LX_UC_STACK + 8, (uint32_t)ss);
    put64(uc + LX_UC_STACK + 16, p->altstack[2]);
    /* The mask rt_sigreturn restores: after rt_sigsuspend, the one from
     * before it (the handler itself runs under the temporary one). */
    put64(uc + LX_UC_SIGMASK, p->in_sigsuspend ? p->suspend_mask : p->sigmask);
    abi->save_context(x->c, resume_pc, uc + abi->mcontext_offset);
    int rc = lx_copy_out(x, frame, buf, size);
    free(buf);
    if (rc)
        return -EFAULT;
    p->in_sigsuspend = false;
    p->sigmask |= action_word(p, sig, 2) | ((flags & LX_SA_NODEFER) ? 0 : bit(sig));
    p->sigmask &= ~unblockable;
    p->sigpending &= ~bit(sig);
    if (flags & LX_SA_RESETHAND)
        memset(p->sigact[sig], 0, sizeof p->sigact[sig]);
    abi->enter_signal_handler(x->c, handler, frame, LX_SIGRETURN_ADDR,
                              (uint64_t)sig, frame, frame + LX_SIGINFO_SIZE);
    if (p->verbose)
        fprintf(stderr, "vmpy: signal %d delivered to the handler at 0x%llx\n", sig,
                (unsigned long long)handler);
    return 0;
}

/* A signal sent by the process to itself: pending until it is delivered
 * at the end of the syscall (see lx_signal_deliver), or discarded. */
static int64_t raise_from(lx_ctx *x, int sig, int code, int pid, int status);

static int64_t self_signal(lx_ctx *x, int sig, int code)
{
    return raise_from(x, sig, code, getpid(), 0);
}

/* sig becomes pending, sent by pid (si_code code, si_status status). */
static int64_t raise_from(lx_ctx *x, int sig, int code, int pid, int status)
{
    struct vm_linux_process *p = x->p;
    if (sig < 0 || sig > LX_NSIG)
        return -EINVAL;
    if (sig == 0)
        return 0;
    if (sig == SIGKILL) {
        lx_exit_signal(x, sig);
        return 0;
    }
    if (!(p->sigmask & bit(sig)) && ignored(p, sig))
        return 0;                                   /* discarded */
    p->sigpending |= bit(sig);
    p->sigfrom[sig].code = code;
    p->sigfrom[sig].pid = pid;
    p->sigfrom[sig].status = status;
    return 0;
}

/* ---- SIGCHLD ------------------------------------------------------------------
 * A forked child is a host process.  Its exit is looked for (waitid with
 * WNOWAIT, so the guest's wait4 still reaps it) only while the guest
 * handles SIGCHLD: at the end of syscalls and run slices, and every 10 ms
 * while it waits in sigsuspend (as a shell's `wait` does). */
void lx_child_add(struct vm_linux_process *p, int pid)
{
    if (p->nchildren == LX_MAX_CHILDREN)
        return;                                     /* past that, no SIGCHLD for it */
    p->children[p->nchildren].pid = pid;
    p->children[p->nchildren++].signalled = false;
}

void lx_child_reaped(struct vm_linux_process *p, int pid)
{
    for (int i = 0; i < p->nchildren; i++)
        if (p->children[i].pid == pid) {
            p->children[i] = p->children[--p->nchildren];
            return;
        }
}

bool lx_children_pending(const struct vm_linux_process *p)
{
    if (!p->nchildren || ignored(p, SIGCHLD))
        return false;
    for (int i = 0; i < p->nchildren; i++)
        if (!p->children[i].signalled)
            return true;
    return false;
}

void lx_children_check(lx_ctx *x)
{
    struct vm_linux_process *p = x->p;
    for (int i = 0; i < p->nchildren; i++) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (p->children[i].signalled ||
            waitid(P_PID, (id_t)p->children[i].pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || !si.si_pid)
            continue;
        p->children[i].signalled = true;
        raise_from(x, SIGCHLD, si.si_code, si.si_pid, si.si_status);   /* CLD_* are Linux's own */
    }
}

bool lx_signal_interrupts(const struct vm_linux_process *p, int sig)
{
    return !(p->sigmask & bit(sig)) && !ignored(p, sig);
}

bool lx_signal_ready(const struct vm_linux_process *p)
{
    return (p->sigpending & ~p->sigmask) != 0;
}

int lx_signal_deliver(lx_ctx *x, uint64_t resume_pc)
{
    struct vm_linux_process *p = x->p;
    uint64_t ready = p->sigpending & ~p->sigmask;
    if (!ready) {
        if (p->in_sigsuspend) {                     /* nothing ran a handler after all */
            p->sigmask = p->suspend_mask;
            p->in_sigsuspend = false;
        }
        return 0;
    }
    int sig = __builtin_ctzll(ready) + 1;
    if (ignored(p, sig)) {
        p->sigpending &= ~bit(sig);                 /* ignored by now */
        return lx_signal_deliver(x, resume_pc);
    }
    if (action_word(p, sig, 0) == 0) {
        lx_exit_signal(x, sig);                     /* the default action: terminate */
        return -1;
    }
    uint8_t info[LX_SIGINFO_SIZE] = { 0 };
    put32(info, (uint32_t)sig);
    put32(info + 8, (uint32_t)p->sigfrom[sig].code);
    put32(info + 16, (uint32_t)p->sigfrom[sig].pid);
    put32(info + 20, (uint32_t)getuid());
    put32(info + 24, (uint32_t)p->sigfrom[sig].status);
    if (enter_handler(x, sig, info, resume_pc)) {
        lx_exit_signal(x, SIGSEGV);                 /* as Linux does when the frame cannot be written */
        return -1;
    }
    return 1;
}

bool vm_linux_fault_signal(vm_cpu *c, int sig, int code, uint64_t addr)
{
    vm_machine *m = vm_cpu_machine(c);
    struct vm_linux_process *p = m->linux;
    if (!p || !p->loaded || sig < 1 || sig > LX_NSIG)
        return false;
    if (action_word(p, sig, 0) <= 1 || (p->sigmask & bit(sig)))
        return false;           /* Linux would kill the process: stop, and the caller reports it */
    lx_ctx x = { .c = c, .m = m, .p = p };
    uint8_t info[LX_SIGINFO_SIZE] = { 0 };
    put32(info, (uint32_t)sig);
    put32(info + 8, (uint32_t)code);
    put64(info + 16, addr);
    return enter_handler(&x, sig, info, vm_cpu_pc(c)) == 0;
}

static int64_t sys_rt_sigreturn(lx_ctx *x)
{
    struct vm_linux_process *p = x->p;
    const struct vm_linux_abi *abi = x->m->isa->linux_abi;
    size_t size = frame_size(abi);
    uint64_t frame = abi->get_sp(x->c);
    uint8_t *buf = malloc(size);
    if (!buf || lx_copy_in(x, buf, frame, size)) {
        free(buf);
        lx_exit_signal(x, SIGSEGV);
        return 0;
    }
    const uint8_t *uc = buf + LX_SIGINFO_SIZE;
    p->sigmask = vm_host_load(uc + LX_UC_SIGMASK, 8) & ~unblockable;
    abi->restore_context(x->c, uc + abi->mcontext_offset);
    free(buf);
    return LX_REGS_RESTORED;
}

static int64_t sys_rt_sigaction(lx_ctx *x)
{
    int sig = (int)x->a[0];
    if (sig < 1 || sig > LX_NSIG || x->a[3] != 8)
        return -EINVAL;
    uint8_t act[24];
    if (x->a[1]) {
        if (sig == SIGKILL || sig == SIGSTOP)
            return -EINVAL;
        if (lx_copy_in(x, act, x->a[1], sizeof act))
            return -EFAULT;
    }
    if (lx_copy_out_opt(x, x->a[2], x->p->sigact[sig], sizeof act))
        return -EFAULT;
    if (x->a[1]) {
        memcpy(x->p->sigact[sig], act, sizeof act);
        if (ignored(x->p, sig))
            x->p->sigpending &= ~bit(sig);      /* a pending signal now ignored is discarded */
    }
    return 0;
}

static int64_t sys_rt_sigprocmask(lx_ctx *x)
{
    if (x->a[3] != 8)
        return -EINVAL;
    uint64_t set, old = x->p->sigmask;
    if (x->a[1]) {
        if (lx_copy_in(x, &set, x->a[1], 8))
            return -EFAULT;
        switch (x->a[0]) {
        case SIG_BLOCK: x->p->sigmask |= set; break;
        case SIG_UNBLOCK: x->p->sigmask &= ~set; break;
        case SIG_SETMASK: x->p->sigmask = set; break;
        default: return -EINVAL;
        }
        x->p->sigmask &= ~unblockable;
    }
    return lx_copy_out_opt(x, x->a[2], &old, 8);
}

static int64_t sys_rt_sigpending(lx_ctx *x)
{
    if (x->a[1] != 8)
        return -EINVAL;
    uint64_t pending = x->p->sigpending & x->p->sigmask;
    return lx_copy_out_opt(x, x->a[0], &pending, 8);
}

/* Waits, under a temporary mask, for a signal that runs a handler (or ends
 * the process); the handler's frame restores the old mask.  Only the
 * interval timer can send one while we wait: without it, the wait lasts
 * until the host's Ctrl-C stops the run (the call then restarts, as
 * vm_linux_syscall arranges for an EINTR with an exit request).  glibc's
 * pause() and sigsuspend() come here. */
static int64_t sys_rt_sigsuspend(lx_ctx *x)
{
    struct vm_linux_process *p = x->p;
    uint64_t mask;
    if (x->a[1] != 8)
        return -EINVAL;
    if (lx_copy_in(x, &mask, x->a[0], 8))
        return -EFAULT;
    uint64_t old = p->sigmask;
    p->sigmask = mask & ~unblockable;
    while (!lx_signal_ready(p)) {
        bool children = lx_children_pending(p) && lx_signal_interrupts(p, SIGCHLD);
        if (children) {
            lx_children_check(x);
            if (lx_signal_ready(p))
                break;
        }
        uint64_t left = lx_signal_interrupts(p, SIGALRM) ? lx_itimer_left(x) : UINT64_MAX;
        if (children && left > 10000000u)
            left = 10000000u;                   /* look at the children again in 10 ms */
        if (left == UINT64_MAX) {
            pause();
            if (atomic_load(&x->c->exit_request))
                break;
            continue;
        }
        if (lx_wait_ns(x, left) && atomic_load(&x->c->exit_request))
            break;
    }
    if (!lx_signal_ready(p)) {
        p->sigmask = old;               /* stopped from the host: the call runs again */
        return -EINTR;
    }
    p->in_sigsuspend = true;
    p->suspend_mask = old;
    return -EINTR;
}

static int64_t sys_sigaltstack(lx_ctx *x)
{
    struct vm_linux_process *p = x->p;
    uint64_t ss[3], old[3] = { p->altstack[0], 0, p->altstack[2] };
    old[1] = (uint64_t)altstack_flags(p, x->m->isa->linux_abi->get_sp(x->c));
    if (x->a[0] && lx_copy_in(x, ss, x->a[0], sizeof ss))
        return -EFAULT;
    if (x->a[0] && old[1] == LX_SS_ONSTACK)
        return -EPERM;                          /* cannot change it while running on it */
    if (lx_copy_out_opt(x, x->a[1], old, sizeof old))
        return -EFAULT;
    if (x->a[0]) {
        uint32_t flags = (uint32_t)ss[1];
        if (flags & ~(uint32_t)(LX_SS_ONSTACK | LX_SS_DISABLE | LX_SS_AUTODISARM))
            return -EINVAL;     /* (SS_ONSTACK asks for nothing: Linux accepts it as 0) */
        if (flags & LX_SS_DISABLE)
            ss[0] = ss[2] = 0;
        else if (ss[2] < 2048)                  /* MINSIGSTKSZ */
            return -ENOMEM;
        memcpy(p->altstack, ss, sizeof ss);
    }
    return 0;
}

static int64_t sys_kill(lx_ctx *x)
{
    int64_t pid = (int32_t)x->a[0], self = getpid();
    int sig;
    switch (x->nr) {
    case LX_kill: sig = (int)x->a[1]; break;
    case LX_tkill: sig = (int)x->a[1]; break;
    default: sig = (int)x->a[2]; if ((int32_t)x->a[1] != self) return -ESRCH; break;
    }
    if (x->nr == LX_kill && pid > 0 && pid != self) {
        /* Only our own (forked) children may be signalled. */
        siginfo_t si;
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WSTOPPED | WNOHANG | WNOWAIT) != 0)
            return errno == ECHILD ? -EPERM : -errno;
        return kill((pid_t)pid, sig) == 0 ? 0 : -errno;
    }
    if (pid != self && !(x->nr == LX_kill && pid == 0))
        return x->nr == LX_kill ? -EPERM : -ESRCH;
    return self_signal(x, sig, x->nr == LX_kill ? LX_SI_USER : LX_SI_TKILL);
}

/* ---- ITIMER_REAL: SIGALRM on the machine's monotonic clock -------------------
 * (guest time in deterministic mode).  The timer is looked at when a slice
 * of the run ends, where a due SIGALRM is delivered at the instruction the
 * slice stopped before; in deterministic mode the slice is cut to end when
 * the timer is due (vm_linux_budget_cap), so the handler starts at the same
 * instruction whatever the run's slicing.  Sleeps, ppoll and sigsuspend
 * end early, with EINTR, at the timer; other blocking calls are not
 * interrupted (the signal comes when they return). */
typedef struct { int64_t sec, usec; } lx_timeval;

static uint64_t timeval_ns(const lx_timeval *t) { return (uint64_t)t->sec * 1000000000u + (uint64_t)t->usec * 1000u; }
static lx_timeval ns_timeval(uint64_t ns)
{
    ns += 999;                                      /* Linux rounds up to whole microseconds */
    return (lx_timeval){ (int64_t)(ns / 1000000000u), (int64_t)(ns % 1000000000u / 1000u) };
}

uint64_t lx_itimer_left(lx_ctx *x)
{
    uint64_t due = x->p->itimer_due, now = vm_clock_monotonic_ns(x->m);
    return !due ? UINT64_MAX : due > now ? due - now : 0;
}

int lx_wait_ns(lx_ctx *x, uint64_t ns)
{
    if (vm_clock_deterministic(x->m)) {
        vm_clock_warp_to(x->m, vm_clock_monotonic_ns(x->m) + ns);
    } else {
        struct timespec d = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
        if (nanosleep(&d, NULL) < 0)
            return -errno;
    }
    lx_itimer_check(x);
    return 0;
}

void lx_itimer_check(lx_ctx *x)
{
    struct vm_linux_process *p = x->p;
    uint64_t now = vm_clock_monotonic_ns(x->m);
    if (!p->itimer_due || now < p->itimer_due)
        return;
    self_signal(x, SIGALRM, LX_SI_KERNEL);
    if (!p->itimer_interval)
        p->itimer_due = 0;
    else if ((p->itimer_due += p->itimer_interval) <= now)
        p->itimer_due = now + p->itimer_interval;  /* missed periods are not made up */
}

static int64_t sys_itimer(lx_ctx *x)
{
    struct vm_linux_process *p = x->p;
    if (x->a[0] != 0) {                             /* ITIMER_VIRTUAL, ITIMER_PROF */
        if (p->verbose)
            fprintf(stderr, "vmpy: interval timer %llu is not supported\n", (unsigned long long)x->a[0]);
        return -EINVAL;
    }
    uint64_t left = lx_itimer_left(x);             /* a due timer shows 1 ns (1 us), not 0 (disarmed) */
    lx_timeval old[2] = { ns_timeval(p->itimer_interval), ns_timeval(left == UINT64_MAX ? 0 : left ? left : 1) };
    if (x->nr == LX_getitimer)
        return lx_copy_out(x, x->a[1], old, sizeof old) ? -EFAULT : 0;
    lx_timeval v[2] = { { 0, 0 }, { 0, 0 } };   /* a NULL new value disarms, as Linux allows */
    if (x->a[1] && lx_copy_in(x, v, x->a[1], sizeof v))
        return -EFAULT;
    for (int i = 0; i < 2; i++)
        if (v[i].sec < 0 || v[i].usec < 0 || v[i].usec >= 1000000)
            return -EINVAL;
    if (lx_copy_out_opt(x, x->a[2], old, sizeof old))
        return -EFAULT;
    p->itimer_interval = timeval_ns(&v[0]);
    uint64_t value = timeval_ns(&v[1]);
    p->itimer_due = value ? vm_clock_monotonic_ns(x->m) + value : 0;
    return 0;
}

void vm_linux_slice_end(vm_cpu *c)
{
    vm_machine *m = vm_cpu_machine(c);
    struct vm_linux_process *p = m->linux;
    if (!p->loaded || p->exited || (!p->itimer_due && !lx_children_pending(p)))
        return;
    /* A run that stopped for its own reason (a breakpoint, a fault, stop())
     * reports the pc it stopped at; the signal waits for the next slice. */
    if (c->stop_reason != VM_STOP_NONE || atomic_load(&m->stop_requested))
        return;
    lx_ctx x = { .c = c, .m = m, .p = p };
    lx_itimer_check(&x);
    if (lx_children_pending(p))
        lx_children_check(&x);
    if (lx_signal_ready(p))
        lx_signal_deliver(&x, vm_cpu_pc(c));
}

uint64_t vm_linux_budget_cap(vm_cpu *c)
{
    vm_machine *m = vm_cpu_machine(c);
    struct vm_linux_process *p = m->linux;
    if (!p->itimer_due || !vm_clock_deterministic(m))
        return UINT64_MAX;
    uint64_t n = vm_clock_insns_until(m, p->itimer_due);
    return n ? n : 1;
}

int64_t lx_sys_signal(lx_ctx *x, bool *known)
{
    *known = true;
    switch (x->nr) {
    case LX_rt_sigaction: return sys_rt_sigaction(x);
    case LX_rt_sigprocmask: return sys_rt_sigprocmask(x);
    case LX_rt_sigpending: return sys_rt_sigpending(x);
    case LX_rt_sigsuspend: return sys_rt_sigsuspend(x);
    case LX_rt_sigreturn: return sys_rt_sigreturn(x);
    case LX_sigaltstack: return sys_sigaltstack(x);
    case LX_kill: case LX_tkill: case LX_tgkill: return sys_kill(x);
    case LX_getitimer: case LX_setitimer: return sys_itimer(x);
    default: *known = false; return -ENOSYS;
    }
}
