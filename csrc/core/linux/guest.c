/* guest.c — guest memory access and the guest fd table for syscalls. */
#include "linux.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Bounce buffers beyond this are refused: a guest asking the host to copy
 * gigabytes through a buffer that is not one mapping is almost surely wrong. */
#define LX_BOUNCE_MAX (64u << 20)

int lx_copy_in(lx_ctx *x, void *dst, uint64_t addr, size_t len)
{
    if (len == 0)
        return 0;
    return vm_mem_read(x->m, addr, dst, len) == 0 ? 0 : -EFAULT;
}

int lx_copy_out(lx_ctx *x, uint64_t addr, const void *src, size_t len)
{
    if (len == 0)
        return 0;
    return vm_mem_write(x->m, addr, src, len) == 0 ? 0 : -EFAULT;
}

int lx_copy_out_opt(lx_ctx *x, uint64_t addr, const void *src, size_t len)
{
    return addr ? lx_copy_out(x, addr, src, len) : 0;
}

const void *lx_in_buf(lx_ctx *x, uint64_t addr, size_t len, void **bounce)
{
    static const char empty[1];
    *bounce = NULL;
    if (len == 0)
        return empty;
    void *p = vm_mem_host_ptr(x->m, addr, len);
    if (p)
        return p;
    if (len > LX_BOUNCE_MAX || !(*bounce = malloc(len)))
        return NULL;
    if (vm_mem_read(x->m, addr, *bounce, len) != 0) {
        free(*bounce);
        *bounce = NULL;
        return NULL;
    }
    return *bounce;
}

void *lx_out_buf(lx_ctx *x, uint64_t addr, size_t len, void **bounce)
{
    static char empty[1];
    *bounce = NULL;
    if (len == 0)
        return empty;
    /* Always bounce through vm_mem_write so that writes into pages holding
     * translated code invalidate it, as a guest store would.  Check the
     * range first so a bad pointer fails before the host acts. */
    if (addr + len < addr || !vm_mem_host_ptr(x->m, addr, 1) ||
        !vm_mem_host_ptr(x->m, addr + len - 1, 1))
        return NULL;
    if (len > LX_BOUNCE_MAX)
        return NULL;
    *bounce = malloc(len);
    return *bounce;
}

int lx_out_done(lx_ctx *x, uint64_t addr, void *buf, size_t n, void *bounce)
{
    int rc = 0;
    if (bounce) {
        if (n && vm_mem_write(x->m, addr, bounce, n) != 0)
            rc = -EFAULT;
        free(bounce);
    }
    return rc;
}

int lx_str_in(lx_ctx *x, uint64_t addr, size_t max, char **out)
{
    *out = NULL;
    char *s = malloc(max);
    if (!s)
        return -ENOMEM;
    size_t n = 0;
    while (n < max) {
        /* Read up to the end of the current page: the next may be unmapped. */
        uint64_t a = addr + n;
        size_t chunk = VM_PAGE_SIZE - (a & (VM_PAGE_SIZE - 1));
        if (chunk > max - n)
            chunk = max - n;
        if (vm_mem_read(x->m, a, s + n, chunk) != 0) {
            free(s);
            return -EFAULT;
        }
        char *nul = memchr(s + n, 0, chunk);
        if (nul) {
            *out = s;
            return 0;
        }
        n += chunk;
    }
    free(s);
    return -ENAMETOOLONG;
}

/* ---- fd table ---------------------------------------------------------------- */

int lx_fd_host(struct vm_linux_process *p, int64_t gfd)
{
    if (gfd < 0 || gfd >= LX_MAX_FDS || p->fds[gfd].host < 0)
        return -EBADF;
    return p->fds[gfd].host;
}

int lx_fd_dir(struct vm_linux_process *p, int64_t gfd)
{
    if ((int)gfd == AT_FDCWD)
        return p->cwd_fd;
    return lx_fd_host(p, gfd);
}

int lx_fd_install(struct vm_linux_process *p, int host, bool cloexec, int min)
{
    for (int i = min < 0 ? 0 : min; i < LX_MAX_FDS; i++) {
        if (p->fds[i].host < 0) {
            p->fds[i] = (lx_fd){ host, false, cloexec };
            return i;
        }
    }
    close(host);
    return -EMFILE;
}

int lx_fd_close(struct vm_linux_process *p, int64_t gfd)
{
    if (lx_fd_host(p, gfd) < 0)
        return -EBADF;
    lx_fd *f = &p->fds[gfd];
    int rc = 0;
    if (!f->borrowed && close(f->host) != 0 && errno != EINTR)
        rc = -errno;
    f->host = -1;
    return rc;
}

void lx_fd_close_all(struct vm_linux_process *p)
{
    for (int i = 0; i < LX_MAX_FDS; i++)
        if (p->fds[i].host >= 0)
            lx_fd_close(p, i);
}
