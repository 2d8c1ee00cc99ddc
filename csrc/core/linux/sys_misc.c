/* sys_misc.c — process, time, identity and limits syscalls (signals are
 * in signal.c).
 *
 * The guest is one single-threaded process: its pid and tid are the host
 * pid.
 *
 * Time and randomness come from the machine's clock (core/clock.c): in
 * deterministic mode clock_gettime, gettimeofday, times, getrusage and
 * sysinfo report guest time derived from instructions retired, sleeps
 * advance that time instead of waiting, and getrandom draws from the seeded
 * stream, so no host time or entropy reaches the guest. */
#include "linux.h"
#include "../snapshot.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t ret_errno(long r) { return r < 0 ? -errno : r; }

static struct timespec ns_to_ts(uint64_t ns)
{
    return (struct timespec){ .tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u) };
}

/* Deterministic guest time for a Linux clock id: the wall clocks follow
 * the guest's realtime, every other clock (monotonic, boottime, cpu time)
 * its monotonic time.  False for clock ids Linux does not have. */
static bool det_clock(lx_ctx *x, int64_t clk, uint64_t *ns)
{
    switch (clk) {
    case CLOCK_REALTIME: case CLOCK_REALTIME_COARSE: case CLOCK_TAI: case CLOCK_REALTIME_ALARM:
        *ns = vm_clock_realtime_ns(x->m);
        return true;
    case CLOCK_MONOTONIC: case CLOCK_MONOTONIC_RAW: case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME: case CLOCK_BOOTTIME_ALARM:
    case CLOCK_PROCESS_CPUTIME_ID: case CLOCK_THREAD_CPUTIME_ID:
        *ns = vm_clock_monotonic_ns(x->m);
        return true;
    default:
        return false;
    }
}

static int64_t sys_clock(lx_ctx *x)
{
    struct timespec ts;
    clockid_t clk = (clockid_t)x->a[0];
    if (vm_clock_deterministic(x->m)) {
        uint64_t ns;
        if (!det_clock(x, (int64_t)(int32_t)x->a[0], &ns))
            return -EINVAL;
        ts = x->nr == LX_clock_gettime ? ns_to_ts(ns) : (struct timespec){ 0, 1 };
    } else {
        int rc = x->nr == LX_clock_gettime ? clock_gettime(clk, &ts) : clock_getres(clk, &ts);
        if (rc < 0)
            return -errno;
    }
    if (x->nr == LX_clock_gettime && !x->a[1])
        return -EFAULT;
    return lx_copy_out_opt(x, x->a[1], &ts, sizeof ts);
}

static int64_t sys_gettimeofday(lx_ctx *x)
{
    struct timeval tv;
    if (vm_clock_deterministic(x->m)) {
        uint64_t ns = vm_clock_realtime_ns(x->m);
        tv = (struct timeval){ .tv_sec = (time_t)(ns / 1000000000u), .tv_usec = (suseconds_t)(ns % 1000000000u / 1000) };
    } else {
        gettimeofday(&tv, NULL);
    }
    int32_t tz[2] = { 0, 0 };
    if (lx_copy_out_opt(x, x->a[0], &tv, sizeof tv) || lx_copy_out_opt(x, x->a[1], tz, sizeof tz))
        return -EFAULT;
    return 0;
}

/* How far a sleep of want ns gets before the interval timer cuts it short
 * with a SIGALRM that runs a handler or ends the process; UINT64_MAX if
 * it does not (no timer, or SIGALRM blocked or ignored). */
static uint64_t sleep_cut(lx_ctx *x, uint64_t want)
{
    uint64_t left = lx_itimer_left(x);
    return left < want && lx_signal_interrupts(x->p, SIGALRM) ? left : UINT64_MAX;
}

/* Writes what is left of an interrupted relative sleep. */
static int64_t interrupted(lx_ctx *x, uint64_t rem_addr, bool absolute, uint64_t left_ns)
{
    struct timespec rem = ns_to_ts(left_ns);
    if (!absolute && lx_copy_out_opt(x, rem_addr, &rem, sizeof rem))
        return -EFAULT;
    return -EINTR;
}

static int64_t sys_sleep(lx_ctx *x)
{
    bool clk = x->nr == LX_clock_nanosleep;
    uint64_t req_addr = x->a[clk ? 2 : 0], rem_addr = x->a[clk ? 3 : 1];
    struct timespec req, rem = { 0, 0 };
    if (lx_copy_in(x, &req, req_addr, sizeof req))
        return -EFAULT;
    if (req.tv_nsec < 0 || req.tv_nsec >= 1000000000 || req.tv_sec < 0)
        return -EINVAL;
    bool absolute = clk && (x->a[1] & 1);          /* TIMER_ABSTIME */
    bool det = vm_clock_deterministic(x->m);
    if (det || lx_itimer_left(x) != UINT64_MAX) {
        /* Guest time, or a timer that may end the sleep first: timed here.
         * In deterministic mode guest time jumps to the wake-up time (or
         * the timer's) and the call returns at once. */
        int64_t id = clk ? (int64_t)(int32_t)x->a[0] : CLOCK_MONOTONIC;
        struct timespec host_now = { 0, 0 };
        uint64_t now = 0, want = (uint64_t)req.tv_sec * 1000000000u + (uint64_t)req.tv_nsec;
        if (det ? !det_clock(x, id, &now) : absolute && clock_gettime((clockid_t)id, &host_now) < 0)
            return -EINVAL;
        if (!det)
            now = (uint64_t)host_now.tv_sec * 1000000000u + (uint64_t)host_now.tv_nsec;
        uint64_t delta = absolute ? (want > now ? want - now : 0) : want;
        uint64_t cut = sleep_cut(x, delta);
        if (det || cut < delta) {
            int rc = lx_wait_ns(x, cut < delta ? cut : delta);
            if (rc)
                return rc;                          /* a host signal (Ctrl-C) */
            return cut < delta ? interrupted(x, rem_addr, absolute, delta - cut) : 0;
        }
    }
    int rc = clk ? -clock_nanosleep((clockid_t)x->a[0], (int)x->a[1], &req, &rem)
                 : (int)ret_errno(nanosleep(&req, &rem));
    if (rc == -EINTR && lx_copy_out_opt(x, rem_addr, &rem, sizeof rem))
        return -EFAULT;
    lx_itimer_check(x);                             /* it may have come due meanwhile */
    return rc;
}

static int64_t sys_getrandom(lx_ctx *x)
{
    size_t len = x->a[1] > (32u << 20) - 1 ? (32u << 20) - 1 : (size_t)x->a[1];
    if (x->a[2] & ~(uint64_t)(GRND_NONBLOCK | GRND_RANDOM | 4 /* GRND_INSECURE */))
        return -EINVAL;
    void *bounce;
    void *buf = lx_out_buf(x, x->a[0], len, &bounce);
    if (!buf && len)
        return -EFAULT;
    /* The machine's source: the host's getrandom, or the deterministic stream. */
    vm_clock_random(x->m, buf, len);
    int rc = lx_out_done(x, x->a[0], buf, len, bounce);
    return rc ? rc : (int64_t)len;
}

/* /dev/urandom and /dev/random in deterministic mode: a file of the next
 * LX_DET_RANDOM_FILE bytes of the seeded stream (a program that reads more
 * than that from one open sees end of file).  -errno on failure. */
#define LX_DET_RANDOM_FILE (256u << 10)
int lx_det_random_fd(lx_ctx *x)
{
    uint8_t *buf = malloc(LX_DET_RANDOM_FILE);
    int fd = buf ? memfd_create("urandom", MFD_CLOEXEC) : -1;
    if (fd < 0) {
        free(buf);
        return -ENOMEM;
    }
    vm_clock_random(x->m, buf, LX_DET_RANDOM_FILE);
    size_t done = 0;
    while (done < LX_DET_RANDOM_FILE) {
        ssize_t n = write(fd, buf + done, LX_DET_RANDOM_FILE - done);
        if (n <= 0 && errno != EINTR)
            break;
        if (n > 0)
            done += (size_t)n;
    }
    free(buf);
    if (done < LX_DET_RANDOM_FILE) {
        close(fd);
        return -EIO;
    }
    lseek(fd, 0, SEEK_SET);
    return fd;
}

static int64_t sys_uname(lx_ctx *x)
{
    struct utsname u;
    if (uname(&u) < 0)
        return -errno;
    if (vm_clock_deterministic(x->m)) {        /* the host's name and kernel are host state */
        memset(&u, 0, sizeof u);
        strcpy(u.sysname, "Linux");
        strcpy(u.nodename, "vmpy");
        strcpy(u.release, "6.1.0-vmpy");
        strcpy(u.version, "#1 SMP");
        strcpy(u.domainname, "(none)");
    }
    /* struct new_utsname: six 65-byte fields, as on the host. */
    memset(u.machine, 0, sizeof u.machine);
    strcpy(u.machine, "riscv64");
    _Static_assert(sizeof u == 6 * 65, "utsname layout");
    return lx_copy_out(x, x->a[0], &u, sizeof u) ? -EFAULT : 0;
}

static int64_t sys_rlimit(lx_ctx *x)
{
    /* getrlimit(res, old) or prlimit64(pid, res, new, old).  Limits are
     * read from the host; setting them is accepted but not applied, as it
     * would change the hosting process. */
    bool pr = x->nr == LX_prlimit64;
    if (pr && x->a[0] != 0 && x->a[0] != (uint64_t)getpid())
        return -ESRCH;
    int res = (int)x->a[pr ? 1 : 0];
    uint64_t old = pr ? x->a[3] : x->a[1];
    struct rlimit rl;
    if (getrlimit(res, &rl) < 0)
        return -errno;
    if (res == RLIMIT_NOFILE) {
        if (rl.rlim_cur > LX_MAX_FDS)
            rl.rlim_cur = LX_MAX_FDS;
        if (rl.rlim_max > LX_MAX_FDS)
            rl.rlim_max = LX_MAX_FDS;
    }
    return lx_copy_out_opt(x, old, &rl, sizeof rl);
}

static int64_t sys_futex(lx_ctx *x)
{
    int cmd = (int)x->a[1] & 0x7f;
    uint32_t cur;
    switch (cmd) {
    case 0: case 9:                             /* FUTEX_WAIT, FUTEX_WAIT_BITSET */
        if (lx_copy_in(x, &cur, x->a[0], 4))
            return -EFAULT;
        if (cur != (uint32_t)x->a[2])
            return -EAGAIN;
        /* Nothing else runs that could wake us: a timed wait times out at
         * once, an untimed one would hang forever and is interrupted. */
        if (x->p->verbose && !x->a[3])
            fprintf(stderr, "vmpy: futex wait without timeout in a single-threaded guest\n");
        return x->a[3] ? -ETIMEDOUT : -EINTR;
    case 1: case 10: case 3: case 4: case 5:    /* WAKE, WAKE_BITSET, REQUEUE, CMP_REQUEUE, WAKE_OP */
        return 0;
    default:
        return -ENOSYS;
    }
}

static int64_t sys_affinity(lx_ctx *x)
{
    uint8_t mask[128];
    size_t len = x->a[1] < sizeof mask ? (size_t)x->a[1] : sizeof mask;
    long n = syscall(SYS_sched_getaffinity, 0, len, mask);
    if (n < 0)
        return -errno;
    return lx_copy_out(x, x->a[2], mask, (size_t)n) ? -EFAULT : n;
}

static int64_t sys_prctl(lx_ctx *x)
{
    static const char name[16] = "vmpy-guest";
    switch (x->a[0]) {
    case 15: return 0;                          /* PR_SET_NAME */
    case 16: return lx_copy_out(x, x->a[1], name, sizeof name) ? -EFAULT : 0;
    default: return -EINVAL;
    }
}

static int64_t sys_ids(lx_ctx *x)
{
    gid_t groups[256];
    uint32_t ids[3];
    int n;
    switch (x->nr) {
    case LX_getgroups:
        /* gid_t is 32 bits on both sides. */
        if ((n = getgroups(256, groups)) < 0)
            return -errno;
        if (x->a[0] == 0)
            return n;
        if ((int64_t)x->a[0] < n)
            return -EINVAL;
        return lx_copy_out(x, x->a[1], groups, (size_t)n * sizeof(gid_t)) ? -EFAULT : n;
    case LX_getresuid: case LX_getresgid:
        if (x->nr == LX_getresuid)
            getresuid(&ids[0], &ids[1], &ids[2]);
        else
            getresgid(&ids[0], &ids[1], &ids[2]);
        for (int i = 0; i < 3; i++)
            if (lx_copy_out(x, x->a[i], &ids[i], 4))
                return -EFAULT;
        return 0;
    default:
        return -ENOSYS;
    }
}

/* sysinfo, getrusage and times in deterministic mode: guest time as the
 * uptime and the cpu time, fixed values for the rest. */
static int64_t det_info(lx_ctx *x)
{
    uint64_t ns = vm_clock_monotonic_ns(x->m);
    struct sysinfo si;
    struct rusage ru;
    struct tms t;
    clock_t ticks = (clock_t)(ns / 10000000u);          /* AT_CLKTCK is 100 */
    switch (x->nr) {
    case LX_sysinfo:
        memset(&si, 0, sizeof si);
        si.uptime = (long)(ns / 1000000000u);
        si.totalram = si.freeram = 1ul << 30;
        si.procs = 1;
        si.mem_unit = 1;
        return lx_copy_out(x, x->a[0], &si, sizeof si) ? -EFAULT : 0;
    case LX_getrusage:
        memset(&ru, 0, sizeof ru);
        ru.ru_utime = (struct timeval){ .tv_sec = (time_t)(ns / 1000000000u),
                                        .tv_usec = (suseconds_t)(ns % 1000000000u / 1000) };
        return lx_copy_out(x, x->a[1], &ru, sizeof ru) ? -EFAULT : 0;
    default:
        t = (struct tms){ .tms_utime = ticks };
        return lx_copy_out_opt(x, x->a[0], &t, sizeof t) ? -EFAULT : (int64_t)ticks;
    }
}

static int64_t host_info(lx_ctx *x)
{
    if (vm_clock_deterministic(x->m))
        return det_info(x);
    struct sysinfo si;
    struct rusage ru;
    struct tms t;
    clock_t ticks;
    switch (x->nr) {
    case LX_sysinfo:
        if (sysinfo(&si) < 0)
            return -errno;
        return lx_copy_out(x, x->a[0], &si, sizeof si) ? -EFAULT : 0;
    case LX_getrusage:
        if (getrusage((int)x->a[0], &ru) < 0)
            return -errno;
        return lx_copy_out(x, x->a[1], &ru, sizeof ru) ? -EFAULT : 0;
    case LX_times:
        ticks = times(&t);
        return lx_copy_out_opt(x, x->a[0], &t, sizeof t) ? -EFAULT : (int64_t)ticks;
    default:
        return -ENOSYS;
    }
}

int64_t lx_sys_misc(lx_ctx *x, bool *known)
{
    *known = true;
    switch (x->nr) {
    case LX_exit: case LX_exit_group: lx_exit(x, (int)(x->a[0] & 0xff)); return 0;
    case LX_clock_gettime: case LX_clock_getres: return sys_clock(x);
    case LX_gettimeofday: return sys_gettimeofday(x);
    case LX_nanosleep: case LX_clock_nanosleep: return sys_sleep(x);
    case LX_getrandom: return sys_getrandom(x);
    case LX_uname: return sys_uname(x);
    case LX_getrlimit: case LX_prlimit64: return sys_rlimit(x);
    case LX_setrlimit: return 0;
    case LX_futex: return sys_futex(x);
    case LX_sched_getaffinity: return sys_affinity(x);
    case LX_sched_yield: return 0;
    case LX_prctl: return sys_prctl(x);
    case LX_sysinfo: case LX_getrusage: case LX_times: return host_info(x);
    case LX_set_tid_address: x->p->tid_address = x->a[0]; return getpid();
    case LX_set_robust_list: return x->a[1] == 24 ? 0 : -EINVAL;
    case LX_getpid: case LX_gettid: return getpid();
    case LX_getppid: return getppid();
    case LX_getpgid: return ret_errno(getpgid((pid_t)x->a[0]));
    case LX_getsid: return ret_errno(getsid((pid_t)x->a[0]));
    case LX_getgroups: case LX_getresuid: case LX_getresgid: return sys_ids(x);
    case LX_getuid: return getuid();
    case LX_geteuid: return geteuid();
    case LX_getgid: return getgid();
    case LX_getegid: return getegid();
    case LX_umask: { unsigned old = x->p->umask; x->p->umask = (unsigned)x->a[0] & 0777; return old; }
    case LX_riscv_flush_icache: return 0;   /* stores to code are detected by the engines */
    case LX_riscv_hwprobe: case LX_rseq: case LX_clone3: return -ENOSYS;
    default: *known = false; return -ENOSYS;
    }
}
