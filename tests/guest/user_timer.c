/* The ITIMER_REAL interval timer and SIGALRM: alarm() ending a busy loop,
 * periodic ticks, getitimer, sleeps cut short with EINTR, a blocked
 * SIGALRM.  Run under vmpy and qemu-riscv64; every line must match.
 * With an argument, an unhandled alarm ends the process (status 142). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t ticks;

static void on_alarm(int sig)
{
    (void)sig;
    ticks++;
}

static void arm(long usec, long interval_usec)
{
    struct itimerval it = { { 0, interval_usec }, { usec / 1000000, usec % 1000000 } };
    setitimer(ITIMER_REAL, &it, NULL);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    volatile unsigned long spins = 0;
    signal(SIGALRM, on_alarm);

    alarm(1);                               /* a watchdog ends a busy loop */
    while (!ticks)
        spins++;
    printf("alarm fired ticks=%d\n", ticks);

    ticks = 0;                              /* periodic: 20 ms */
    arm(20000, 20000);
    while (ticks < 5)
        spins++;
    struct itimerval old;
    arm(0, 0);
    getitimer(ITIMER_REAL, &old);
    printf("interval: ticks>=5 %d, disarmed %d\n", ticks >= 5, old.it_value.tv_sec == 0 && old.it_value.tv_usec == 0);

    alarm(100);
    getitimer(ITIMER_REAL, &old);
    printf("remaining in [99,100]: %d, alarm(0) gave %u\n",
           old.it_value.tv_sec >= 99 && old.it_value.tv_sec <= 100, alarm(0));

    ticks = 0;                              /* a sleep cut short */
    arm(100000, 0);
    struct timespec req = { 2, 0 }, rem = { 0, 0 };
    int r = nanosleep(&req, &rem);
    printf("nanosleep r=%d eintr=%d rem_sec=%ld ticks=%d\n", r, r < 0 && errno == EINTR, (long)rem.tv_sec, ticks);

    ticks = 0;
    arm(100000, 0);
    printf("sleep(3) left %u ticks=%d\n", sleep(3), ticks);

    ticks = 0;                              /* pause() until the timer */
    arm(50000, 0);
    r = pause();
    printf("pause r=%d eintr=%d ticks=%d\n", r, r < 0 && errno == EINTR, ticks);

    sigset_t set, pend;                     /* blocked: the sleep runs on, the signal waits */
    sigemptyset(&set);
    sigaddset(&set, SIGALRM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    ticks = 0;
    arm(50000, 0);
    req = (struct timespec){ 0, 200000000 };
    r = nanosleep(&req, NULL);
    sigpending(&pend);
    printf("blocked: r=%d pending=%d ticks=%d\n", r, sigismember(&pend, SIGALRM), ticks);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    printf("unblocked: ticks=%d\n", ticks);

    if (argc > 1 && argv[1][0]) {
        signal(SIGALRM, SIG_DFL);
        arm(50000, 0);
        for (;;)
            spins++;
    }
    printf("done\n");
    return 0;
}
