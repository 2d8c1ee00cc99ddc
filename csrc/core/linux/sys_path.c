/* sys_path.c — syscalls that take path names: openat, stat family,
 * directories, links, access, the working directory.
 *
 * The guest's working directory is a host O_PATH fd (p->cwd_fd): relative
 * names resolve against it through the host's *at calls, so a guest chdir
 * never moves the working directory of the hosting process. */
#include "linux.h"
#include "../snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define LX_PATH_MAX 4096

static int64_t ret_errno(long r) { return r < 0 ? -errno : r; }

/* The riscv64 kernel's struct stat (asm-generic/stat.h, 128 bytes). */
typedef struct lx_stat {
    uint64_t dev, ino;
    uint32_t mode, nlink, uid, gid;
    uint64_t rdev, pad1;
    int64_t size;
    int32_t blksize, pad2;
    int64_t blocks;
    int64_t atime, atime_nsec, mtime, mtime_nsec, ctime, ctime_nsec;
    uint32_t unused4, unused5;
} lx_stat;
_Static_assert(sizeof(lx_stat) == 128, "riscv64 struct stat is 128 bytes");

static int stat_out(lx_ctx *x, uint64_t addr, const struct stat *st)
{
    lx_stat g = {
        .dev = st->st_dev, .ino = st->st_ino, .mode = st->st_mode, .nlink = (uint32_t)st->st_nlink,
        .uid = st->st_uid, .gid = st->st_gid, .rdev = st->st_rdev, .size = st->st_size,
        .blksize = (int32_t)st->st_blksize, .blocks = st->st_blocks,
        .atime = st->st_atim.tv_sec, .atime_nsec = st->st_atim.tv_nsec,
        .mtime = st->st_mtim.tv_sec, .mtime_nsec = st->st_mtim.tv_nsec,
        .ctime = st->st_ctim.tv_sec, .ctime_nsec = st->st_ctim.tv_nsec,
    };
    return lx_copy_out(x, addr, &g, sizeof g);
}

static bool is_self_exe(const char *path)
{
    char buf[64];
    snprintf(buf, sizeof buf, "/proc/%d/exe", (int)getpid());
    return strcmp(path, "/proc/self/exe") == 0 || strcmp(path, buf) == 0;
}

/* Copies path argument pi in and resolves dirfd argument di (-1: the
 * working directory) to a host fd.  Absolute paths ignore the dirfd. */
static int path_in(lx_ctx *x, int pi, int di, char **path, int *dir)
{
    int rc = lx_str_in(x, x->a[pi], LX_PATH_MAX, path);
    if (rc)
        return rc;
    *dir = x->p->cwd_fd;
    if (di >= 0 && (*path)[0] != '/' && (*dir = lx_fd_dir(x->p, (int32_t)x->a[di])) < 0) {
        free(*path);
        *path = NULL;
        return *dir;
    }
    return 0;
}

/* /proc/self/maps describes the guest's address space, not the host's:
 * an anonymous file with one line per region. */
static int open_maps(lx_ctx *x)
{
    size_t n = vm_mem_regions(x->m, NULL, 0);
    vm_region_info *r = calloc(n ? n : 1, sizeof *r);
    int fd = memfd_create("maps", MFD_CLOEXEC);
    if (!r || fd < 0) {
        free(r);
        if (fd >= 0)
            close(fd);
        return -ENOMEM;
    }
    n = vm_mem_regions(x->m, r, n);
    for (size_t i = 0; i < n; i++) {
        const char *name = r[i].base == x->p->stack_lo ? "[stack]" :
                           r[i].base >= x->p->brk_start && r[i].base < x->p->brk_end ? "[heap]" : "";
        dprintf(fd, "%08llx-%08llx %c%c%cp 00000000 00:00 0 %s\n", (unsigned long long)r[i].base,
                (unsigned long long)(r[i].base + r[i].size), r[i].prot & VM_PROT_R ? 'r' : '-',
                r[i].prot & VM_PROT_W ? 'w' : '-', r[i].prot & VM_PROT_X ? 'x' : '-', name);
    }
    free(r);
    lseek(fd, 0, SEEK_SET);
    return fd;
}

static int64_t sys_openat(lx_ctx *x)
{
    char *path;
    int dir;
    int rc = path_in(x, 1, 0, &path, &dir);
    if (rc)
        return rc;
    int flags = (int)x->a[2];
    mode_t mode = (mode_t)x->a[3] & ~x->p->umask & 07777;
    const char *name = is_self_exe(path) ? x->p->exe_path : path;
    bool det_random = (!strcmp(path, "/dev/urandom") || !strcmp(path, "/dev/random")) &&
                      vm_clock_deterministic(x->m);     /* no host entropy in deterministic mode */
    int h = strcmp(path, "/proc/self/maps") == 0 ? open_maps(x) : det_random ? lx_det_random_fd(x)
                                                 : openat(dir, name, flags | O_CLOEXEC, mode);
    if (h < -1) {
        free(path);
        return h;
    }
    free(path);
    if (h < 0)
        return -errno;
    return lx_fd_install(x->p, h, (flags & O_CLOEXEC) != 0, 0);
}

static int64_t sys_fstatat(lx_ctx *x)
{
    struct stat st;
    int flags = (int)x->a[3] & (AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT);
    char *path;
    int dir;
    int rc = path_in(x, 1, 0, &path, &dir);
    if (rc)
        return rc;
    rc = fstatat(dir, path, &st, flags);
    free(path);
    if (rc < 0)
        return -errno;
    return stat_out(x, x->a[2], &st);
}

static int64_t sys_fstat(lx_ctx *x)
{
    int host = lx_fd_host(x->p, (int32_t)x->a[0]);
    struct stat st;
    if (host < 0)
        return host;
    if (fstat(host, &st) < 0)
        return -errno;
    return stat_out(x, x->a[1], &st);
}

/* struct statx is architecture-independent (256 bytes). */
static int64_t sys_statx(lx_ctx *x)
{
    char *path;
    int dir;
    int rc = path_in(x, 1, 0, &path, &dir);
    if (rc)
        return rc;
    struct statx stx;
    rc = statx(dir, path, (int)x->a[2], (unsigned)x->a[3], &stx);
    free(path);
    if (rc < 0)
        return -errno;
    return lx_copy_out(x, x->a[4], &stx, sizeof stx);
}

static int64_t sys_getdents64(lx_ctx *x)
{
    int host = lx_fd_host(x->p, (int32_t)x->a[0]);
    if (host < 0)
        return host;
    size_t len = x->a[2] > (1u << 20) ? (1u << 20) : (size_t)x->a[2];
    void *bounce;
    void *buf = lx_out_buf(x, x->a[1], len, &bounce);
    if (!buf)
        return -EFAULT;
    ssize_t r = getdents64(host, buf, len);
    int64_t res = ret_errno(r);
    int rc = lx_out_done(x, x->a[1], buf, r > 0 ? (size_t)r : 0, bounce);
    return rc ? rc : res;
}

static int64_t sys_readlinkat(lx_ctx *x)
{
    char *path;
    int dir;
    int rc = path_in(x, 1, 0, &path, &dir);
    if (rc)
        return rc;
    if ((int64_t)x->a[3] <= 0) {
        free(path);
        return -EINVAL;
    }
    char target[LX_PATH_MAX];
    ssize_t n;
    if (is_self_exe(path)) {
        n = (ssize_t)strlen(x->p->exe_path);
        memcpy(target, x->p->exe_path, (size_t)n < sizeof target ? (size_t)n : sizeof target);
    } else {
        n = readlinkat(dir, path, target, sizeof target);
    }
    free(path);
    if (n < 0)
        return -errno;
    if ((uint64_t)n > x->a[3])
        n = (ssize_t)x->a[3];
    if ((size_t)n > sizeof target)
        n = sizeof target;
    return lx_copy_out(x, x->a[2], target, (size_t)n) ? -EFAULT : n;
}

static int64_t sys_getcwd(lx_ctx *x)
{
    char link[64], cwd[LX_PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", x->p->cwd_fd);
    ssize_t n = readlink(link, cwd, sizeof cwd - 1);
    if (n < 0)
        return -errno;
    cwd[n++] = 0;
    if ((uint64_t)n > x->a[1])
        return -ERANGE;
    return lx_copy_out(x, x->a[0], cwd, (size_t)n) ? -EFAULT : n;
}

static int64_t set_cwd(lx_ctx *x, int dir, const char *path)
{
    int h = openat(dir, path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (h < 0)
        return -errno;
    close(x->p->cwd_fd);
    x->p->cwd_fd = h;
    return 0;
}

/* Calls with one path (plus dirfd) and integer arguments. */
static int64_t one_path(lx_ctx *x)
{
    bool at = x->nr != LX_chdir && x->nr != LX_truncate;
    char *path;
    int dir;
    int rc = path_in(x, at ? 1 : 0, at ? 0 : -1, &path, &dir);
    if (rc)
        return rc;
    int64_t r;
    int fd;
    switch (x->nr) {
    case LX_chdir: r = set_cwd(x, dir, path); break;
    case LX_mkdirat: r = ret_errno(mkdirat(dir, path, (mode_t)x->a[2] & ~x->p->umask & 07777)); break;
    case LX_unlinkat: r = ret_errno(unlinkat(dir, path, (int)x->a[2])); break;
    case LX_faccessat: r = ret_errno(faccessat(dir, path, (int)x->a[2], 0)); break;
    case LX_faccessat2: r = ret_errno(faccessat(dir, path, (int)x->a[2], (int)x->a[3])); break;
    case LX_fchmodat: r = ret_errno(fchmodat(dir, path, (mode_t)x->a[2], 0)); break;
    case LX_truncate:
        fd = openat(dir, path, O_WRONLY | O_CLOEXEC);
        r = fd < 0 ? -errno : ret_errno(ftruncate(fd, (off_t)x->a[1]));
        if (fd >= 0)
            close(fd);
        break;
    default: r = -ENOSYS;
    }
    free(path);
    return r;
}

/* renameat/renameat2/linkat (two dirfd+path pairs) and symlinkat. */
static int64_t two_paths(lx_ctx *x)
{
    char *a = NULL, *b = NULL;
    int da = x->p->cwd_fd, db;
    int64_t r = 0;
    if (x->nr == LX_symlinkat) {
        r = lx_str_in(x, x->a[0], LX_PATH_MAX, &a);
        if (!r)
            r = path_in(x, 2, 1, &b, &db);
    } else {
        r = path_in(x, 1, 0, &a, &da);
        if (!r)
            r = path_in(x, 3, 2, &b, &db);
    }
    if (!r) {
        switch (x->nr) {
        case LX_symlinkat: r = ret_errno(symlinkat(a, db, b)); break;
        case LX_renameat: r = ret_errno(renameat(da, a, db, b)); break;
        case LX_renameat2: r = ret_errno(renameat2(da, a, db, b, (unsigned)x->a[4])); break;
        case LX_linkat: r = ret_errno(linkat(da, a, db, b, (int)x->a[4])); break;
        default: r = -ENOSYS;
        }
    }
    free(a);
    free(b);
    return r;
}

static int64_t sys_utimensat(lx_ctx *x)
{
    struct timespec ts[2], *tp = NULL;
    if (x->a[2]) {
        if (lx_copy_in(x, ts, x->a[2], sizeof ts))
            return -EFAULT;
        tp = ts;
    }
    int dir = lx_fd_dir(x->p, (int32_t)x->a[0]);
    if (dir < 0)
        return dir;
    if (!x->a[1])                               /* futimens(fd, times) */
        return ret_errno(futimens(dir, tp));
    char *path;
    int rc = lx_str_in(x, x->a[1], LX_PATH_MAX, &path);
    if (rc)
        return rc;
    int64_t r = ret_errno(utimensat(dir, path, tp, (int)x->a[3]));
    free(path);
    return r;
}

/* struct statfs: the same 120-byte layout on riscv64 and x86-64. */
static int64_t sys_statfs(lx_ctx *x)
{
    struct statfs sf;
    _Static_assert(sizeof sf == 120, "struct statfs layout");
    int rc;
    if (x->nr == LX_fstatfs) {
        int host = lx_fd_host(x->p, (int32_t)x->a[0]);
        if (host < 0)
            return host;
        rc = fstatfs(host, &sf);
    } else {
        char *path;
        int dir;
        if ((rc = path_in(x, 0, -1, &path, &dir)) != 0)
            return rc;
        /* statfs has no *at form: open the name relative to the guest cwd. */
        int fd = openat(dir, path, O_PATH | O_CLOEXEC);
        free(path);
        if (fd < 0)
            return -errno;
        rc = fstatfs(fd, &sf);
        close(fd);
    }
    if (rc < 0)
        return -errno;
    return lx_copy_out(x, x->a[1], &sf, sizeof sf) ? -EFAULT : 0;
}

static int64_t sys_fchdir(lx_ctx *x)
{
    int host = lx_fd_host(x->p, (int32_t)x->a[0]);
    return host < 0 ? host : set_cwd(x, host, ".");
}

int64_t lx_sys_path(lx_ctx *x, bool *known)
{
    *known = true;
    switch (x->nr) {
    case LX_openat: return sys_openat(x);
    case LX_newfstatat: return sys_fstatat(x);
    case LX_fstat: return sys_fstat(x);
    case LX_statx: return sys_statx(x);
    case LX_getdents64: return sys_getdents64(x);
    case LX_readlinkat: return sys_readlinkat(x);
    case LX_getcwd: return sys_getcwd(x);
    case LX_fchdir: return sys_fchdir(x);
    case LX_statfs: case LX_fstatfs: return sys_statfs(x);
    case LX_utimensat: return sys_utimensat(x);
    case LX_chdir: case LX_mkdirat: case LX_unlinkat: case LX_faccessat:
    case LX_faccessat2: case LX_fchmodat: case LX_truncate:
        return one_path(x);
    case LX_symlinkat: case LX_renameat: case LX_renameat2: case LX_linkat:
        return two_paths(x);
    default: *known = false; return -ENOSYS;
    }
}
