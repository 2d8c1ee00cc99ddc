/* sys_io.c — syscalls on open file descriptors: read/write and their vector
 * and positional forms, lseek, close, dup, pipe2, fcntl, ioctl, fsync.
 * Structures passed here (termios, winsize, flock) have the same layout on
 * riscv64 and the x86-64 host, so they are copied through unchanged. */
#include "linux.h"
#include "../snapshot.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* A single transfer is capped (Linux caps at MAX_RW_COUNT too); callers
 * see a short read or write, which they must handle anyway. */
#define LX_RW_MAX (16u << 20)
#define LX_IOV_MAX 1024

static size_t rw_len(uint64_t n) { return n > LX_RW_MAX ? LX_RW_MAX : (size_t)n; }

static int64_t ret_errno(ssize_t r) { return r < 0 ? -errno : r; }

static int64_t do_read(lx_ctx *x, bool positional)
{
    int host = lx_fd_host(x->p, (int32_t)x->a[0]);
    if (host < 0)
        return host;
    size_t len = rw_len(x->a[2]);
    void *bounce;
    void *buf = lx_out_buf(x, x->a[1], len, &bounce);
    if (!buf)
        return -EFAULT;
    ssize_t r = positional ? pread(host, buf, len, (off_t)x->a[3]) : read(host, buf, len);
    int64_t res = ret_errno(r);
    int rc = lx_out_done(x, x->a[1], buf, r > 0 ? (size_t)r : 0, bounce);
    return rc ? rc : res;
}

static int64_t do_write(lx_ctx *x, bool positional)
{
    int host = lx_fd_host(x->p, (int32_t)x->a[0]);
    if (host < 0)
        return host;
    size_t len = rw_len(x->a[2]);
    void *bounce;
    const void *buf = lx_in_buf(x, x->a[1], len, &bounce);
    if (!buf)
        return -EFAULT;
    ssize_t r = positional ? pwrite(host, buf, len, (off_t)x->a[3]) : write(host, buf, len);
    int64_t res = ret_errno(r);
    free(bounce);
    return res;
}

/* Reads the guest iovec array; the total is capped at LX_RW_MAX. */
static int read_iov(lx_ctx *x, uint64_t addr, uint64_t cnt, uint64_t (**iov)[2], size_t *total)
{
    if (cnt > LX_IOV_MAX)
        return -EINVAL;
    *iov = calloc(cnt ? cnt : 1, 16);
    if (!*iov)
        return -ENOMEM;
    if (lx_copy_in(x, *iov, addr, cnt * 16) != 0) {
        free(*iov);
        return -EFAULT;
    }
    *total = 0;
    for (uint64_t i = 0; i < cnt; i++) {
        if ((*iov)[i][1] > LX_RW_MAX - *total)
            (*iov)[i][1] = LX_RW_MAX - *total;
        *total += (*iov)[i][1];
    }
    return 0;
}

/* writev: gathered into one host write so a pipe sees it at once. */
static int64_t do_writev(lx_ctx *x, bool positional)
{
    int host = lx_fd_host(x->p, (int32_t)x->a[0]);
    if (host < 0)
        return host;
    uint64_t (*iov)[2];
    size_t total;
    int rc = read_iov(x, x->a[1], x->a[2], &iov, &total);
    if (rc)
        return rc;
    uint8_t *buf = malloc(total ? total : 1);
    size_t at = 0;
    for (uint64_t i = 0; buf && i < x->a[2] && rc == 0; i++) {
        rc = lx_copy_in(x, buf + at, iov[i][0], iov[i][1]);
        at += iov[i][1];
    }
    int64_t res = !buf ? -ENOMEM : rc ? rc :
        ret_errno(positional ? pwrite(host, buf, total, (off_t)x->a[3]) : write(host, buf, total));
    free(buf);
    free(iov);
    return res;
}

/* readv: one host read, then scattered to the guest buffers. */
static int64_t do_readv(lx_ctx *x, bool positional)
{
    int host = lx_fd_host(x->p, (int32_t)x->a[0]);
    if (host < 0)
        return host;
    uint64_t (*iov)[2];
    size_t total;
    int rc = read_iov(x, x->a[1], x->a[2], &iov, &total);
    if (rc)
        return rc;
    uint8_t *buf = malloc(total ? total : 1);
    if (!buf) {
        free(iov);
        return -ENOMEM;
    }
    ssize_t r = positional ? pread(host, buf, total, (off_t)x->a[3]) : read(host, buf, total);
    int64_t res = ret_errno(r);
    size_t at = 0;
    for (uint64_t i = 0; r > 0 && i < x->a[2] && at < (size_t)r; i++) {
        size_t n = iov[i][1] < (size_t)r - at ? iov[i][1] : (size_t)r - at;
        if (lx_copy_out(x, iov[i][0], buf + at, n) != 0) {
            res = -EFAULT;
            break;
        }
        at += n;
    }
    free(buf);
    free(iov);
    return res;
}

static int64_t sys_dup3(lx_ctx *x, bool is_dup3)
{
    int64_t oldfd = (int32_t)x->a[0], newfd = (int32_t)x->a[1];
    int flags = is_dup3 ? (int)x->a[2] : 0;
    int host = lx_fd_host(x->p, oldfd);
    if (host < 0)
        return host;
    if ((flags & ~O_CLOEXEC) || oldfd == newfd)
        return -EINVAL;
    if (newfd < 0 || newfd >= LX_MAX_FDS)
        return -EBADF;
    int h = fcntl(host, F_DUPFD_CLOEXEC, 0);
    if (h < 0)
        return -errno;
    if (x->p->fds[newfd].host >= 0)
        lx_fd_close(x->p, newfd);
    x->p->fds[newfd] = (lx_fd){ h, false, (flags & O_CLOEXEC) != 0 };
    return newfd;
}

static int64_t sys_dup_min(lx_ctx *x, int64_t gfd, int min, bool cloexec)
{
    int host = lx_fd_host(x->p, gfd);
    if (host < 0)
        return host;
    if (min < 0 || min >= LX_MAX_FDS)
        return -EINVAL;
    int h = fcntl(host, F_DUPFD_CLOEXEC, 0);
    if (h < 0)
        return -errno;
    return lx_fd_install(x->p, h, cloexec, min);
}

static int64_t sys_fcntl(lx_ctx *x)
{
    int64_t gfd = (int32_t)x->a[0];
    int host = lx_fd_host(x->p, gfd);
    if (host < 0)
        return host;
    int cmd = (int)x->a[1];
    uint64_t arg = x->a[2];
    struct flock fl;
    switch (cmd) {
    case F_DUPFD: return sys_dup_min(x, gfd, (int)arg, false);
    case F_DUPFD_CLOEXEC: return sys_dup_min(x, gfd, (int)arg, true);
    case F_GETFD: return x->p->fds[gfd].cloexec ? FD_CLOEXEC : 0;
    case F_SETFD: x->p->fds[gfd].cloexec = arg & FD_CLOEXEC; return 0;
    case F_GETFL: return ret_errno(fcntl(host, F_GETFL));
    case F_SETFL: return ret_errno(fcntl(host, F_SETFL, (int)arg));
    case F_GETLK: case F_SETLK: case F_SETLKW:
        /* struct flock: same layout (short, short, off_t, off_t, pid_t). */
        if (lx_copy_in(x, &fl, arg, sizeof fl))
            return -EFAULT;
        if (fcntl(host, cmd, &fl) < 0)
            return -errno;
        return cmd == F_GETLK && lx_copy_out(x, arg, &fl, sizeof fl) ? -EFAULT : 0;
    default: return -EINVAL;
    }
}

static int64_t sys_ioctl(lx_ctx *x)
{
    int host = lx_fd_host(x->p, (int32_t)x->a[0]);
    if (host < 0)
        return host;
    uint64_t req = (uint32_t)x->a[1], arg = x->a[2];
    uint8_t buf[64];
    size_t len;
    bool out;
    switch (req) {
    case TCGETS: len = 36; out = true; break;            /* struct termios */
    case TCSETS: case TCSETSW: case TCSETSF: len = 36; out = false; break;
    case TIOCGWINSZ: len = 8; out = true; break;          /* struct winsize */
    case TIOCSWINSZ: len = 8; out = false; break;
    case FIONREAD: len = 4; out = true; break;
    case TIOCGPGRP: len = 4; out = true; break;
    default: return -ENOTTY;
    }
    memset(buf, 0, sizeof buf);
    if (!out && lx_copy_in(x, buf, arg, len))
        return -EFAULT;
    if (ioctl(host, req, buf) < 0)
        return -errno;
    if (out && lx_copy_out(x, arg, buf, len))
        return -EFAULT;
    return 0;
}

static int64_t sys_pipe2(lx_ctx *x)
{
    int flags = (int)x->a[1];
    if (flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT))
        return -EINVAL;
    int fds[2];
    if (pipe2(fds, flags | O_CLOEXEC) != 0)
        return -errno;
    int g0 = lx_fd_install(x->p, fds[0], flags & O_CLOEXEC, 0);
    if (g0 < 0) {
        close(fds[1]);
        return g0;
    }
    int g1 = lx_fd_install(x->p, fds[1], flags & O_CLOEXEC, 0);
    if (g1 < 0) {
        lx_fd_close(x->p, g0);
        return g1;
    }
    int32_t out[2] = { g0, g1 };
    if (lx_copy_out(x, x->a[0], out, sizeof out)) {
        lx_fd_close(x->p, g0);
        lx_fd_close(x->p, g1);
        return -EFAULT;
    }
    return 0;
}

/* ppoll: the guest's fds are translated to host fds in a copy of the
 * array; the signal mask argument is ignored (the only signal that can
 * arrive while it waits is the interval timer's SIGALRM). */
static int64_t sys_ppoll(lx_ctx *x)
{
    uint64_t n = x->a[1];
    if (n > LX_MAX_FDS)
        return -EINVAL;
    struct pollfd *g = calloc(n ? n : 1, sizeof *g), *h = calloc(n ? n : 1, sizeof *h);
    struct timespec ts, *tp = NULL;
    int64_t r = (!g || !h) ? -ENOMEM : lx_copy_in(x, g, x->a[0], n * sizeof *g);
    if (!r && x->a[2]) {
        r = lx_copy_in(x, &ts, x->a[2], sizeof ts);
        tp = &ts;
    }
    for (uint64_t i = 0; !r && i < n; i++) {
        h[i] = g[i];
        /* A negative fd is skipped by poll; an unknown one reports POLLNVAL. */
        h[i].fd = g[i].fd < 0 ? -1 : lx_fd_host(x->p, g[i].fd) < 0 ? INT32_MAX : lx_fd_host(x->p, g[i].fd);
    }
    /* The interval timer ends the wait with EINTR if it comes first (glibc's
     * pause() is ppoll with no fds and no timeout). */
    uint64_t want = tp ? (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec : UINT64_MAX;
    uint64_t cut = lx_signal_interrupts(x->p, SIGALRM) ? lx_itimer_left(x) : UINT64_MAX;
    bool det = vm_clock_deterministic(x->m);
    struct timespec until_timer = { (time_t)(cut / 1000000000u), (long)(cut % 1000000000u) };
    if (det)
        until_timer = (struct timespec){ 0, 0 };   /* guest time: look, then jump */
    if (cut < want)
        tp = &until_timer;
    if (!r) {
        int k = ppoll(h, n, tp, NULL);
        r = k < 0 ? -errno : k;
        if (k == 0 && cut < want) {
            if (det)
                vm_clock_warp_to(x->m, vm_clock_monotonic_ns(x->m) + cut);
            lx_itimer_check(x);
            r = -EINTR;
            k = -1;
        }
        for (uint64_t i = 0; k >= 0 && i < n; i++)
            g[i].revents = h[i].revents;
        if (k >= 0 && lx_copy_out(x, x->a[0], g, n * sizeof *g))
            r = -EFAULT;
    }
    free(g);
    free(h);
    return r;
}

static int64_t host_fd_op(lx_ctx *x)
{
    int host = lx_fd_host(x->p, (int32_t)x->a[0]);
    if (host < 0)
        return host;
    switch (x->nr) {
    case LX_lseek: return ret_errno(lseek(host, (off_t)x->a[1], (int)x->a[2]));
    case LX_fsync: return ret_errno(fsync(host));
    case LX_fdatasync: return ret_errno(fdatasync(host));
    case LX_ftruncate: return ret_errno(ftruncate(host, (off_t)x->a[1]));
    case LX_fchmod: return ret_errno(fchmod(host, (mode_t)x->a[1]));
    case LX_fadvise64: return 0;
    default: return -ENOSYS;
    }
}

int64_t lx_sys_io(lx_ctx *x, bool *known)
{
    *known = true;
    switch (x->nr) {
    case LX_read: return do_read(x, false);
    case LX_pread64: return do_read(x, true);
    case LX_write: return do_write(x, false);
    case LX_pwrite64: return do_write(x, true);
    case LX_readv: return do_readv(x, false);
    case LX_writev: return do_writev(x, false);
    case LX_close: return lx_fd_close(x->p, (int32_t)x->a[0]);
    case LX_dup: return sys_dup_min(x, (int32_t)x->a[0], 0, false);
    case LX_dup3: return sys_dup3(x, true);
    case LX_fcntl: return sys_fcntl(x);
    case LX_ioctl: return sys_ioctl(x);
    case LX_pipe2: return sys_pipe2(x);
    case LX_ppoll: return sys_ppoll(x);
    case LX_lseek: case LX_fsync: case LX_fdatasync: case LX_ftruncate:
    case LX_fchmod: case LX_fadvise64:
        return host_fd_op(x);
    default: *known = false; return -ENOSYS;
    }
}
