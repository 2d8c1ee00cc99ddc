/* Signals a process raises itself and the signals of its own faults, run
 * under vmpy and qemu-riscv64; every line printed must match.  (The rules
 * for masks and actions are in user_sigmask.c, checked against the host's
 * kernel: qemu-user 7.2 leaves sa_mask unblocked in a handler.)
 * argv[1] picks the ending: "segv" (an unhandled fault), "abort" (abort()
 * with a handler that returns), "term" (raise(SIGTERM), default action),
 * or none (exit 0). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

static volatile sig_atomic_t hits[65];
/* An unmapped address (a constant one draws -Warray-bounds). */
static volatile int *volatile unmapped = (volatile int *)16;
static sigjmp_buf recover;

static void counting(int sig)
{
    hits[sig]++;
}

static void segv_recover(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    printf("segv: sig=%d code=%d addr=%#lx\n", sig, si->si_code, (unsigned long)si->si_addr);
    siglongjmp(recover, 1);
}

/* Skips the faulting instruction by editing the saved pc: the handler's
 * return (rt_sigreturn) must restore the context it left. */
static void ill_skip(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    printf("ill: sig=%d code=%d at_pc=%d\n", sig, si->si_code,
           (uintptr_t)si->si_addr == (uintptr_t)uc->uc_mcontext.__gregs[REG_PC]);
    uc->uc_mcontext.__gregs[REG_PC] += 4;
    uc->uc_mcontext.__gregs[10] = 1234;     /* a0 as the code after it sees it */
}

static void trap_handler(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    printf("trap: sig=%d code=%d\n", sig, si->si_code);
    uc->uc_mcontext.__gregs[REG_PC] += 4;     /* past the (uncompressed) ebreak */
}

static volatile int chld_pid, chld_code, chld_status;

static void on_chld(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)ctx;
    chld_code = si->si_code;
    chld_status = si->si_status;
    chld_pid = si->si_pid;
}

static void abort_handler(int sig)
{
    printf("abort handler: sig=%d\n", sig);
    fflush(stdout);
}

static void fp_clobber(int sig)
{
    (void)sig;
    volatile double x = 1.0, y = 3.0;
    volatile double z = x / y;      /* sets fflags (inexact) in the handler */
    (void)z;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction sa;

    /* A plain handler; raise() delivers it before raise returns. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = counting;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    raise(SIGUSR1);
    printf("usr1 hits=%d\n", hits[SIGUSR1]);

    /* Blocked: pending, visible in sigpending, delivered on unblock. */
    sigset_t set, old, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, &old);
    raise(SIGUSR1);
    raise(SIGUSR1);                  /* not queued twice: one pending bit */
    sigpending(&pend);
    printf("pending usr1=%d hits=%d\n", sigismember(&pend, SIGUSR1), hits[SIGUSR1]);
    sigprocmask(SIG_SETMASK, &old, NULL);
    sigpending(&pend);
    printf("after unblock hits=%d pending=%d\n", hits[SIGUSR1], sigismember(&pend, SIGUSR1));

    /* sigsuspend: the pending blocked signal runs its handler inside it,
     * and the old mask (USR1 blocked) comes back. */
    sigprocmask(SIG_BLOCK, &set, NULL);
    raise(SIGUSR1);
    sigset_t none;
    sigemptyset(&none);
    int rc = sigsuspend(&none);
    int eintr = errno == EINTR;
    sigprocmask(SIG_BLOCK, NULL, &pend);
    printf("sigsuspend r=%d eintr=%d hits=%d still_blocked=%d\n", rc, eintr, hits[SIGUSR1],
           sigismember(&pend, SIGUSR1));
    sigprocmask(SIG_UNBLOCK, &set, NULL);

    /* SIGCHLD: a child's exit runs the handler, busy as the parent is. */
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGCHLD, &sa, NULL);
    pid_t kid = fork();
    if (kid == 0)
        _exit(7);
    while (!chld_pid)
        ;
    int st = 0;
    waitpid(kid, &st, 0);
    printf("sigchld: pid_ok=%d code=%d status=%d waited=%d\n", chld_pid == kid, chld_code, chld_status,
           WEXITSTATUS(st));
    signal(SIGCHLD, SIG_DFL);

    /* A fault with a handler: siglongjmp out of it, twice. */
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = segv_recover;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    for (int i = 0; i < 2; i++) {
        if (sigsetjmp(recover, 1) == 0) {
            volatile int *bad = (volatile int *)(uintptr_t)(0x10 + 0x1000 * i);
            *bad = 1;
            printf("not reached\n");
        } else {
            printf("recovered %d\n", i);
        }
    }
    if (sigsetjmp(recover, 1) == 0) {
        volatile char *text = (volatile char *)main;   /* a write to read-only code */
        text[0] = 0;
    } else {
        printf("recovered from a write to code\n");
    }

    /* An illegal instruction whose handler steps over it. */
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = ill_skip;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGILL, &sa, NULL);
    long a0;
    __asm__ volatile("li a0, 7\n\t.word 0\n\tmv %0, a0" : "=r"(a0) : : "a0");
    printf("after ill: a0=%ld\n", a0);

    /* ebreak: SIGTRAP. */
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = trap_handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGTRAP, &sa, NULL);
    __asm__ volatile(".option push\n\t.option norvc\n\tebreak\n\t.option pop");
    printf("after trap\n");

    /* The FP state is saved and restored around a handler. */
    signal(SIGUSR1, fp_clobber);
    volatile double p = 2.0, q = 4.0;
    volatile double r = p / q;                          /* exact */
    unsigned long fflags_before, fflags_after;
    __asm__ volatile("csrw fflags, zero\n\tcsrr %0, fflags" : "=r"(fflags_before));
    raise(SIGUSR1);
    __asm__ volatile("csrr %0, fflags" : "=r"(fflags_after));
    printf("fflags before=%lu after=%lu r=%g\n", fflags_before, fflags_after, r);

    const char *end = argc > 1 ? argv[1] : "";
    if (strcmp(end, "segv") == 0) {
        signal(SIGSEGV, SIG_DFL);
        *unmapped = 1;
    } else if (strcmp(end, "abort") == 0) {
        signal(SIGABRT, abort_handler);
        abort();
    } else if (strcmp(end, "term") == 0) {
        raise(SIGTERM);
        printf("not reached\n");
    } else if (strcmp(end, "blocked-segv") == 0) {
        sigemptyset(&set);
        sigaddset(&set, SIGSEGV);
        sigprocmask(SIG_BLOCK, &set, NULL);     /* a blocked fault signal kills */
        *unmapped = 1;
    }
    printf("done\n");
    return 0;
}
