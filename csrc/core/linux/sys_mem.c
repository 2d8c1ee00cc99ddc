/* sys_mem.c — brk, mmap, munmap, mprotect, mremap, madvise.
 *
 * The guest address space is the machine's region list; mmap picks
 * addresses top-down below the stack like Linux's default layout. */
#include "linux.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    LX_MAP_SHARED = 0x01, LX_MAP_PRIVATE = 0x02, LX_MAP_TYPE = 0x0f, LX_MAP_FIXED = 0x10,
    LX_MAP_ANONYMOUS = 0x20, LX_MAP_FIXED_NOREPLACE = 0x100000,
    LX_MREMAP_MAYMOVE = 1, LX_MREMAP_FIXED = 2,
};

static uint64_t page_up(uint64_t v) { return (v + VM_PAGE_SIZE - 1) & VM_PAGE_MASK; }

/* The region list, malloc'd; NULL with *n = 0 if empty or out of memory. */
static vm_region_info *regions(vm_machine *m, size_t *n)
{
    size_t cnt = vm_mem_regions(m, NULL, 0);
    vm_region_info *r = cnt ? malloc(cnt * sizeof *r) : NULL;
    *n = r ? vm_mem_regions(m, r, cnt) : 0;
    if (*n > cnt)
        *n = cnt;
    return r;
}

/* Does any region intersect [addr, addr+len)? */
static bool range_used(vm_machine *m, uint64_t addr, uint64_t len)
{
    size_t n;
    vm_region_info *r = regions(m, &n);
    bool used = false;
    for (size_t i = 0; i < n && !used; i++)
        used = r[i].base < addr + len && addr < r[i].base + r[i].size;
    free(r);
    return used;
}

/* Is every page of [addr, addr+len) mapped? */
static bool range_mapped(vm_machine *m, uint64_t addr, uint64_t len)
{
    size_t n;
    vm_region_info *r = regions(m, &n);
    uint64_t at = addr, end = addr + len;
    for (size_t i = 0; i < n && at < end; i++)
        if (r[i].base <= at && at < r[i].base + r[i].size)
            at = r[i].base + r[i].size;
    free(r);
    return at >= end;
}

/* Highest free gap of len bytes below LX_MMAP_TOP, or 0. */
static uint64_t find_free(vm_machine *m, uint64_t len)
{
    size_t n;
    vm_region_info *r = regions(m, &n);
    uint64_t hi = LX_MMAP_TOP, found = 0;
    for (size_t i = n; i-- > 0 && !found;) {
        uint64_t end = r[i].base + r[i].size;
        if (r[i].base >= hi)
            continue;
        if (end < hi && hi - end >= len)
            found = hi - len;
        else
            hi = r[i].base;
    }
    if (!found && hi >= LX_MMAP_MIN && hi - LX_MMAP_MIN >= len)
        found = hi - len;
    free(r);
    return found;
}

int lx_unmap_range(vm_machine *m, uint64_t addr, uint64_t len)
{
    size_t n;
    vm_region_info *r = regions(m, &n);
    uint64_t end = addr + len;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t lo = r[i].base > addr ? r[i].base : addr;
        uint64_t hi = r[i].base + r[i].size < end ? r[i].base + r[i].size : end;
        if (lo < hi && !r[i].is_mmio && vm_mem_unmap(m, lo, hi - lo) != 0)
            rc = -ENOMEM;
    }
    free(r);
    return rc;
}

static int protect_range(vm_machine *m, uint64_t addr, uint64_t len, int prot)
{
    size_t n;
    vm_region_info *r = regions(m, &n);
    uint64_t end = addr + len;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t lo = r[i].base > addr ? r[i].base : addr;
        uint64_t hi = r[i].base + r[i].size < end ? r[i].base + r[i].size : end;
        if (lo < hi && vm_mem_protect(m, lo, hi - lo, prot) != 0)
            rc = -ENOMEM;
    }
    free(r);
    return rc;
}

static bool range_ok(uint64_t addr, uint64_t len)
{
    return len && addr < LX_TASK_SIZE && len <= LX_TASK_SIZE - addr;
}

static int64_t sys_brk(lx_ctx *x)
{
    struct vm_linux_process *p = x->p;
    uint64_t want = x->a[0];
    if (want < p->brk_start || want > LX_MMAP_TOP)
        return (int64_t)p->brk_cur;
    uint64_t end = page_up(want);
    if (end > p->brk_end) {
        if (vm_mem_map(x->m, p->brk_end, end - p->brk_end, VM_PROT_R | VM_PROT_W) != 0)
            return (int64_t)p->brk_cur;
    } else if (end < p->brk_end) {
        lx_unmap_range(x->m, end, p->brk_end - end);
    }
    p->brk_end = end;
    p->brk_cur = want;
    return (int64_t)want;
}

/* Copies file bytes [off, off+len) into fresh guest memory at addr (the
 * rest stays zero, like the tail of a mapping past the end of the file). */
static int fill_from_file(lx_ctx *x, int host, uint64_t addr, uint64_t len, uint64_t off)
{
    size_t chunk = 1u << 20;
    uint8_t *buf = malloc(chunk);
    if (!buf)
        return -ENOMEM;
    int rc = 0;
    for (uint64_t done = 0; done < len;) {
        size_t want = len - done < chunk ? (size_t)(len - done) : chunk;
        ssize_t got = pread(host, buf, want, (off_t)(off + done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = -errno;
            break;
        }
        if (got == 0)
            break;
        if (vm_mem_write(x->m, addr + done, buf, (size_t)got) != 0) {
            rc = -EFAULT;
            break;
        }
        done += (uint64_t)got;
    }
    free(buf);
    return rc;
}

static int64_t sys_mmap(lx_ctx *x)
{
    uint64_t addr = x->a[0], len = x->a[1], off = x->a[5];
    int prot = (int)x->a[2] & 7, flags = (int)x->a[3];
    int64_t gfd = (int32_t)x->a[4];
    int type = flags & LX_MAP_TYPE;
    if (len == 0 || (off & (VM_PAGE_SIZE - 1)) || (type != LX_MAP_PRIVATE && type != LX_MAP_SHARED && type != 3))
        return -EINVAL;
    if (len > LX_TASK_SIZE)
        return -ENOMEM;
    len = page_up(len);
    int host = -1;
    if (!(flags & LX_MAP_ANONYMOUS) && (host = lx_fd_host(x->p, gfd)) < 0)
        return -EBADF;
    bool fixed = flags & (LX_MAP_FIXED | LX_MAP_FIXED_NOREPLACE);
    if (fixed) {
        if ((addr & (VM_PAGE_SIZE - 1)) || !range_ok(addr, len))
            return -EINVAL;
        if (range_used(x->m, addr, len)) {
            if (flags & LX_MAP_FIXED_NOREPLACE)
                return -EEXIST;
            lx_unmap_range(x->m, addr, len);
        }
    } else {
        addr &= VM_PAGE_MASK;
        if (!addr || addr < LX_MMAP_MIN || !range_ok(addr, len) || range_used(x->m, addr, len))
            addr = find_free(x->m, len);
        if (!addr)
            return -ENOMEM;
    }
    if (vm_mem_map(x->m, addr, len, prot) != 0)
        return -ENOMEM;
    if (host >= 0) {
        int rc = fill_from_file(x, host, addr, len, off);
        if (rc) {
            lx_unmap_range(x->m, addr, len);
            return rc;
        }
    }
    return (int64_t)addr;
}

static int64_t sys_munmap(lx_ctx *x)
{
    uint64_t addr = x->a[0], len = page_up(x->a[1]);
    if ((addr & (VM_PAGE_SIZE - 1)) || !range_ok(addr, len))
        return -EINVAL;
    return lx_unmap_range(x->m, addr, len);
}

static int64_t sys_mprotect(lx_ctx *x)
{
    uint64_t addr = x->a[0], len = page_up(x->a[1]);
    if (addr & (VM_PAGE_SIZE - 1))
        return -EINVAL;
    if (x->a[1] == 0)
        return 0;
    if (!range_ok(addr, len) || !range_mapped(x->m, addr, len))
        return -ENOMEM;
    return protect_range(x->m, addr, len, (int)x->a[2] & 7);
}

/* Protection of the region holding addr (RW if none, which cannot happen
 * for a range that was checked to be mapped). */
static int prot_at(vm_machine *m, uint64_t addr)
{
    size_t n;
    vm_region_info *r = regions(m, &n);
    int prot = VM_PROT_R | VM_PROT_W;
    for (size_t i = 0; i < n; i++)
        if (r[i].base <= addr && addr < r[i].base + r[i].size)
            prot = r[i].prot;
    free(r);
    return prot;
}

static int copy_guest(vm_machine *m, uint64_t dst, uint64_t src, uint64_t len)
{
    size_t chunk = 1u << 20;
    uint8_t *buf = malloc(chunk);
    if (!buf)
        return -ENOMEM;
    int rc = 0;
    for (uint64_t done = 0; done < len && !rc; done += chunk) {
        size_t n = len - done < chunk ? (size_t)(len - done) : chunk;
        if (vm_mem_read(m, src + done, buf, n) || vm_mem_write(m, dst + done, buf, n))
            rc = -EFAULT;
    }
    free(buf);
    return rc;
}

static int64_t sys_mremap(lx_ctx *x)
{
    uint64_t old = x->a[0], oldlen = page_up(x->a[1]), newlen = page_up(x->a[2]);
    int flags = (int)x->a[3];
    uint64_t dest = x->a[4];
    if ((old & (VM_PAGE_SIZE - 1)) || newlen == 0 || (flags & ~3) ||
        ((flags & LX_MREMAP_FIXED) && !(flags & LX_MREMAP_MAYMOVE)))
        return -EINVAL;
    if (!range_ok(old, oldlen ? oldlen : 1) || !range_ok(old, newlen))
        return flags & LX_MREMAP_MAYMOVE ? -ENOMEM : -EINVAL;
    if (oldlen == 0 || !range_mapped(x->m, old, oldlen))
        return -EFAULT;
    int prot = prot_at(x->m, old);
    if (!(flags & LX_MREMAP_FIXED)) {
        if (newlen <= oldlen) {
            lx_unmap_range(x->m, old + newlen, oldlen - newlen);
            return (int64_t)old;
        }
        if (!range_used(x->m, old + oldlen, newlen - oldlen) &&
            vm_mem_map(x->m, old + oldlen, newlen - oldlen, prot) == 0)
            return (int64_t)old;
        if (!(flags & LX_MREMAP_MAYMOVE))
            return -ENOMEM;
        if (!(dest = find_free(x->m, newlen)))
            return -ENOMEM;
    } else {
        if ((dest & (VM_PAGE_SIZE - 1)) || !range_ok(dest, newlen) ||
            (dest < old + oldlen && old < dest + newlen))
            return -EINVAL;
        lx_unmap_range(x->m, dest, newlen);
    }
    if (vm_mem_map(x->m, dest, newlen, prot) != 0)
        return -ENOMEM;
    int rc = copy_guest(x->m, dest, old, oldlen < newlen ? oldlen : newlen);
    if (rc) {
        lx_unmap_range(x->m, dest, newlen);
        return rc;
    }
    lx_unmap_range(x->m, old, oldlen);
    return (int64_t)dest;
}

/* MADV_DONTNEED on private anonymous memory reads back as zeros; the other
 * advice values only tune performance and are accepted. */
static int64_t sys_madvise(lx_ctx *x)
{
    uint64_t addr = x->a[0], len = page_up(x->a[1]);
    if (addr & (VM_PAGE_SIZE - 1))
        return -EINVAL;
    if (x->a[1] == 0)
        return 0;
    if (!range_ok(addr, len) || !range_mapped(x->m, addr, len))
        return -ENOMEM;
    if (x->a[2] != 4)                    /* MADV_DONTNEED */
        return 0;
    static const uint8_t zero[VM_PAGE_SIZE];
    for (uint64_t a = addr; a < addr + len; a += VM_PAGE_SIZE)
        if (vm_mem_write(x->m, a, zero, VM_PAGE_SIZE) != 0)
            return -ENOMEM;
    return 0;
}

int64_t lx_sys_mem(lx_ctx *x, bool *known)
{
    *known = true;
    switch (x->nr) {
    case LX_brk: return sys_brk(x);
    case LX_mmap: return sys_mmap(x);
    case LX_munmap: return sys_munmap(x);
    case LX_mprotect: return sys_mprotect(x);
    case LX_mremap: return sys_mremap(x);
    case LX_madvise: return sys_madvise(x);
    case LX_msync: return 0;
    default: *known = false; return -ENOSYS;
    }
}
