/* The rules of signal actions and masks, for signals a process raises
 * itself: portable C, run under vmpy and natively, where the host's kernel
 * is the oracle (qemu-user 7.2 gets sa_mask wrong).  Every line printed
 * must match. */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

static volatile sig_atomic_t hits[65];
static volatile int depth, max_depth;
static char altstack[65536];

static void counting(int sig)
{
    hits[sig]++;
    if (++depth > max_depth)
        max_depth = depth;
    if (sig == SIGUSR2 && hits[sig] < 3)
        raise(SIGUSR2);             /* nested: SA_NODEFER lets it in at once */
    depth--;
}

static void with_info(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    printf("info: sig=%d signo=%d code=%d pid_ok=%d blocked_self=%d blocked_extra=%d saved_mask_usr1=%d\n",
           sig, si->si_signo, si->si_code, si->si_pid == getpid(), sigismember(&now, sig),
           sigismember(&now, SIGHUP), sigismember(&uc->uc_sigmask, SIGUSR1));
}

static void on_altstack(int sig)
{
    char here;
    printf("altstack: sig=%d on_it=%d\n", sig,
           &here >= altstack && &here < altstack + sizeof altstack);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction sa;
    sigset_t set;

    /* SA_SIGINFO, sa_mask and the mask inside the handler. */
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = with_info;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGHUP);
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    kill(getpid(), SIGUSR1);
    sigprocmask(SIG_BLOCK, NULL, &set);
    printf("mask restored: hup=%d usr1=%d\n", sigismember(&set, SIGHUP), sigismember(&set, SIGUSR1));

    /* SA_NODEFER: a handler raising its own signal nests. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = counting;
    sa.sa_flags = SA_NODEFER;
    sigaction(SIGUSR2, &sa, NULL);
    raise(SIGUSR2);
    printf("usr2 hits=%d max_depth=%d\n", hits[SIGUSR2], max_depth);

    /* SA_RESETHAND: the second raise finds the default action, which for
     * SIGWINCH is to ignore. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = counting;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGWINCH, &sa, NULL);
    raise(SIGWINCH);
    raise(SIGWINCH);
    sigaction(SIGWINCH, NULL, &sa);
    printf("winch hits=%d reset=%d\n", hits[SIGWINCH], sa.sa_handler == SIG_DFL);

    /* Ignored signals are discarded. */
    signal(SIGUSR1, SIG_IGN);
    raise(SIGUSR1);
    printf("ignored ok\n");

    /* An alternate stack. */
    stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0 };
    sigaltstack(&ss, NULL);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_altstack;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGURG, &sa, NULL);
    raise(SIGURG);
    sa.sa_flags = 0;
    sigaction(SIGURG, &sa, NULL);
    raise(SIGURG);

    /* A handler that is blocked while pending, then made to ignore it:
     * the pending signal is discarded. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = counting;
    sigaction(SIGUSR2, &sa, NULL);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    raise(SIGUSR2);
    signal(SIGUSR2, SIG_IGN);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    printf("usr2 hits=%d\n", hits[SIGUSR2]);
    printf("done\n");
    return 0;
}
