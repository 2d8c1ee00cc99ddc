/* memory.c — the address space: RAM and MMIO regions, the soft TLB's fill and
 * slow paths, and the debugger-view bulk accessors.
 *
 * Regions live in one array sorted by base.  Lookups on the hot path never
 * reach it: they hit the per-vCPU soft TLB (machine.h).  Everything that
 * must see an access — MMIO, memory hooks, watchpoints, stores to pages
 * holding decoded code, misaligned or page-crossing accesses — is arranged
 * to miss the TLB and come here. */
#include "machine.h"
#include <stdlib.h>
#include <string.h>

static bool range_ok(uint64_t addr, uint64_t size)
{
    return size && !(addr & ~VM_PAGE_MASK) && !(size & ~VM_PAGE_MASK) && addr + size - 1 >= addr;
}

static uint64_t region_end(const vm_region *r) { return r->base + r->size; }

/* Index of the first region whose end is above addr (binary search). */
static size_t region_lower_bound(const vm_machine *m, uint64_t addr)
{
    size_t lo = 0, hi = m->nregions;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (region_end(&m->regions[mid]) - 1 < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

vm_region *vm_region_find(vm_machine *m, uint64_t addr)
{
    size_t i = region_lower_bound(m, addr);
    if (i < m->nregions && m->regions[i].base <= addr)
        return &m->regions[i];
    return NULL;
}

static int regions_reserve(vm_machine *m, size_t extra)
{
    if (m->nregions + extra <= m->cap_regions)
        return 0;
    size_t cap = m->cap_regions ? m->cap_regions * 2 : 16;
    while (cap < m->nregions + extra)
        cap *= 2;
    vm_region *r = realloc(m->regions, cap * sizeof *r);
    if (!r)
        return vm_set_error(m, VM_ENOMEM, "out of memory for the region table");
    m->regions = r;
    m->cap_regions = cap;
    return 0;
}

static uint8_t *page_bytes_new(uint64_t size)
{
    return calloc(size >> VM_PAGE_SHIFT, 1);
}

/* Releases what region r owns for its whole range. */
static void region_release(vm_region *r)
{
    if (r->mmio) {
        if (--r->mmio->refs == 0) {
            if (r->mmio->free_opaque)
                r->mmio->free_opaque(r->mmio->opaque);
            free(r->mmio);
        }
    } else {
        vm_host_free_ram(r->host, r->size);
    }
    free(r->code_pages);
    free(r->dirty_pages);
}

static int insert_region(vm_machine *m, const vm_region *nr)
{
    if (regions_reserve(m, 1))
        return VM_ENOMEM;
    size_t i = region_lower_bound(m, nr->base);
    memmove(&m->regions[i + 1], &m->regions[i], (m->nregions - i) * sizeof *nr);
    m->regions[i] = *nr;
    m->nregions++;
    return 0;
}

static bool overlaps_any(vm_machine *m, uint64_t addr, uint64_t size)
{
    size_t i = region_lower_bound(m, addr);
    return i < m->nregions && m->regions[i].base <= addr + size - 1;
}

static int check_new_range(vm_machine *m, uint64_t addr, uint64_t size)
{
    if (!range_ok(addr, size))
        return vm_set_error(m, VM_EINVAL,
                            "address 0x%llx and size 0x%llx must be non-zero multiples of the 4 KiB page size",
                            (unsigned long long)addr, (unsigned long long)size);
    if (overlaps_any(m, addr, size))
        return vm_set_error(m, VM_EOVERLAP, "0x%llx..0x%llx overlaps a mapped region",
                            (unsigned long long)addr, (unsigned long long)(addr + size - 1));
    return 0;
}

int vm_mem_map(vm_machine *m, uint64_t addr, uint64_t size, int prot)
{
    int err = check_new_range(m, addr, size);
    if (err)
        return err;
    if (prot & ~VM_PROT_RWX)
        return vm_set_error(m, VM_EINVAL, "bad protection %d", prot);
    vm_region r = { .base = addr, .size = size, .prot = prot };
    r.host = vm_host_alloc_ram(size);
    r.code_pages = page_bytes_new(size);
    if (!r.host || !r.code_pages) {
        vm_host_free_ram(r.host, size);
        free(r.code_pages);
        return vm_set_error(m, VM_ENOMEM, "cannot allocate 0x%llx bytes of guest RAM",
                            (unsigned long long)size);
    }
    if (insert_region(m, &r)) {
        region_release(&r);
        return VM_ENOMEM;
    }
    vm_tlb_flush_all(m);
    return 0;
}

int vm_mmio_map(vm_machine *m, uint64_t addr, uint64_t size,
                vm_mmio_read_fn read, vm_mmio_write_fn write,
                void *opaque, void (*free_opaque)(void *))
{
    int err = check_new_range(m, addr, size);
    if (err)
        return err;
    vm_mmio *io = calloc(1, sizeof *io);
    if (!io)
        return vm_set_error(m, VM_ENOMEM, "out of memory");
    *io = (vm_mmio){ .read = read, .write = write, .opaque = opaque,
                     .free_opaque = free_opaque, .refs = 1 };
    vm_region r = { .base = addr, .size = size, .prot = VM_PROT_R | VM_PROT_W, .mmio = io };
    if (insert_region(m, &r)) {
        free(io);
        return VM_ENOMEM;
    }
    vm_tlb_flush_all(m);
    return 0;
}

/* Splits the region containing addr so that a region starts exactly at addr.
 * Page bookkeeping is copied into fresh arrays for the upper half. */
static int split_at(vm_machine *m, uint64_t addr)
{
    vm_region *r = vm_region_find(m, addr);
    if (!r || r->base == addr)
        return 0;
    if (regions_reserve(m, 1))
        return VM_ENOMEM;
    r = vm_region_find(m, addr);       /* the table may have moved */
    uint64_t low = addr - r->base, high = region_end(r) - addr;
    vm_region up = *r;
    up.base = addr;
    up.size = high;
    up.code_pages = up.dirty_pages = NULL;
    if (r->mmio) {
        up.mmio_offset = r->mmio_offset + low;
        r->mmio->refs++;
    } else {
        up.host = r->host + low;
        up.code_pages = page_bytes_new(high);
        if (!up.code_pages)
            return vm_set_error(m, VM_ENOMEM, "out of memory");
        memcpy(up.code_pages, r->code_pages + (low >> VM_PAGE_SHIFT), high >> VM_PAGE_SHIFT);
        if (r->dirty_pages) {
            up.dirty_pages = page_bytes_new(high);
            if (!up.dirty_pages) {
                free(up.code_pages);
                return vm_set_error(m, VM_ENOMEM, "out of memory");
            }
            memcpy(up.dirty_pages, r->dirty_pages + (low >> VM_PAGE_SHIFT), high >> VM_PAGE_SHIFT);
        }
    }
    r->size = low;
    return insert_region(m, &up);
}

/* The range must be fully mapped for unmap/protect: partial holes are an
 * error, as a user asking to unmap them almost certainly made a mistake. */
static int check_fully_mapped(vm_machine *m, uint64_t addr, uint64_t size, const char *what)
{
    if (!range_ok(addr, size))
        return vm_set_error(m, VM_EINVAL, "%s: address and size must be non-zero page multiples", what);
    uint64_t a = addr, end = addr + size;
    while (a < end) {
        vm_region *r = vm_region_find(m, a);
        if (!r)
            return vm_set_error(m, VM_EUNMAPPED, "%s: 0x%llx is not mapped", what, (unsigned long long)a);
        a = region_end(r);
        if (a == 0)
            break;
    }
    return 0;
}

int vm_mem_unmap(vm_machine *m, uint64_t addr, uint64_t size)
{
    int err = check_fully_mapped(m, addr, size, "unmap");
    if (err || (err = split_at(m, addr)) || (err = split_at(m, addr + size)))
        return err;
    uint64_t last = addr + size - 1;      /* inclusive: the range may end at 2^64 */
    size_t i = region_lower_bound(m, addr), j = i;
    while (j < m->nregions && m->regions[j].base <= last)
        region_release(&m->regions[j++]);
    memmove(&m->regions[i], &m->regions[j], (m->nregions - j) * sizeof(vm_region));
    m->nregions -= j - i;
    vm_code_invalidate(m, addr, addr + size);
    vm_tlb_flush_all(m);
    return 0;
}

int vm_mem_protect(vm_machine *m, uint64_t addr, uint64_t size, int prot)
{
    if (prot & ~VM_PROT_RWX)
        return vm_set_error(m, VM_EINVAL, "bad protection %d", prot);
    int err = check_fully_mapped(m, addr, size, "protect");
    if (err || (err = split_at(m, addr)) || (err = split_at(m, addr + size)))
        return err;
    for (size_t i = region_lower_bound(m, addr); i < m->nregions && m->regions[i].base <= addr + size - 1; i++)
        if (!m->regions[i].mmio)
            m->regions[i].prot = prot;
    vm_code_invalidate(m, addr, addr + size);
    vm_tlb_flush_all(m);
    return 0;
}

size_t vm_mem_regions(const vm_machine *m, vm_region_info *out, size_t max)
{
    for (size_t i = 0; i < m->nregions && i < max; i++)
        out[i] = (vm_region_info){ m->regions[i].base, m->regions[i].size,
                                   m->regions[i].prot, m->regions[i].mmio != NULL };
    return m->nregions;
}

void *vm_mem_host_ptr(vm_machine *m, uint64_t addr, size_t len)
{
    vm_region *r = vm_region_find(m, addr);
    if (!r || r->mmio || len > region_end(r) - addr)
        return NULL;
    return r->host + (addr - r->base);
}

/* ---- debugger-view bulk access ------------------------------------------ */

static int bulk_check(vm_machine *m, uint64_t addr, size_t len)
{
    if (!len)
        return 0;
    uint64_t last = addr + len - 1;        /* inclusive: a range may end at 2^64 */
    if (last < addr)
        return vm_set_error(m, VM_EUNMAPPED, "0x%llx + %zu wraps around", (unsigned long long)addr, len);
    for (uint64_t a = addr;;) {
        vm_region *r = vm_region_find(m, a);
        if (!r)
            return vm_set_error(m, VM_EUNMAPPED, "0x%llx is not mapped", (unsigned long long)a);
        uint64_t r_last = r->base + r->size - 1;
        if (r_last >= last)
            return 0;
        a = r_last + 1;
    }
}

/* Marks [addr, addr+len) written by the host: decoded code there goes stale
 * and the snapshot layer must see the pages as dirty. */
static void note_host_write(vm_machine *m, vm_region *r, uint64_t addr, size_t len)
{
    uint64_t first = (addr - r->base) >> VM_PAGE_SHIFT;
    uint64_t last = (addr + len - 1 - r->base) >> VM_PAGE_SHIFT;
    bool code = false;
    for (uint64_t p = first; p <= last; p++) {
        code |= r->code_pages[p] != 0;
        if (r->dirty_pages)
            r->dirty_pages[p] = 1;
    }
    if (code)
        vm_code_invalidate(m, r->base + (first << VM_PAGE_SHIFT), r->base + ((last + 1) << VM_PAGE_SHIFT));
}

static int bulk_copy(vm_machine *m, uint64_t addr, uint8_t *buf, size_t len, bool write)
{
    int err = bulk_check(m, addr, len);
    if (err)
        return err;
    while (len) {
        vm_region *r = vm_region_find(m, addr);
        uint64_t off = addr - r->base;
        size_t n = region_end(r) - addr;
        if (n == 0 || n > len)     /* n == 0: the region ends at 2^64 */
            n = len;
        if (r->mmio) {
            for (size_t i = 0; i < n; i++) {
                if (write) {
                    if (r->mmio->write)
                        r->mmio->write(r->mmio->opaque, r->mmio_offset + off + i, 1, buf[i]);
                } else {
                    buf[i] = r->mmio->read ? (uint8_t)r->mmio->read(r->mmio->opaque, r->mmio_offset + off + i, 1) : 0;
                }
            }
        } else if (write) {
            memcpy(r->host + off, buf, n);
            note_host_write(m, r, addr, n);
        } else {
            memcpy(buf, r->host + off, n);
        }
        addr += n;
        buf += n;
        len -= n;
    }
    return 0;
}

int vm_mem_read(vm_machine *m, uint64_t addr, void *buf, size_t len)
{
    return bulk_copy(m, addr, buf, len, false);
}

int vm_mem_write(vm_machine *m, uint64_t addr, const void *buf, size_t len)
{
    return bulk_copy(m, addr, (uint8_t *)buf, len, true);
}

/* ---- the soft TLB ------------------------------------------------------------ */

int vm_mmio_access(vm_machine *m, uint64_t addr, unsigned size, bool write, uint64_t *value)
{
    if (size != 1 && size != 2 && size != 4 && size != 8)
        return vm_set_error(m, VM_EINVAL, "a device access is 1, 2, 4 or 8 bytes, not %u", size);
    vm_region *r = vm_region_find(m, addr);
    if (!r || !r->mmio)
        return vm_set_error(m, VM_EUNMAPPED, "no device at 0x%llx", (unsigned long long)addr);
    uint64_t off = addr - r->base;
    if (off + size > r->size)
        return vm_set_error(m, VM_EINVAL, "the access leaves the device's region");
    if (write) {
        if (r->mmio->write)
            r->mmio->write(r->mmio->opaque, r->mmio_offset + off, size, *value);
    } else {
        uint64_t v = r->mmio->read ? r->mmio->read(r->mmio->opaque, r->mmio_offset + off, size) : 0;
        *value = size == 8 ? v : v & ((1ull << (8 * size)) - 1);
    }
    return 0;
}

/* The guest physical page whose RAM holds host page h, or ~0. */
static uint64_t host_to_phys(const vm_machine *m, uintptr_t h)
{
    for (size_t i = 0; i < m->nregions; i++) {
        const vm_region *r = &m->regions[i];
        if (r->host && h >= (uintptr_t)r->host && h - (uintptr_t)r->host < r->size)
            return r->base + (h - (uintptr_t)r->host);
    }
    return ~(uint64_t)0;
}

size_t vm_cpu_tlb(const vm_cpu *c, vm_tlb_info *out, size_t max)
{
    size_t n = 0;
    for (unsigned i = 0; i <= c->tlb_mask; i++) {
        const vm_tlb_entry *e = &c->tlb[i];
        int prot = (e->tag_r != VM_TLB_INVALID ? VM_PROT_R : 0) |
                   (e->tag_w != VM_TLB_INVALID ? VM_PROT_W : 0) |
                   (e->tag_x != VM_TLB_INVALID ? VM_PROT_X : 0);
        if (!prot)
            continue;
        /* Every valid tag of an entry names the same page. */
        uint64_t va = prot & VM_PROT_R ? e->tag_r : prot & VM_PROT_W ? e->tag_w : e->tag_x;
        if (n < max) {
            uintptr_t host = (uintptr_t)va + e->addend;
            out[n] = (vm_tlb_info){ va, host_to_phys(c->machine, host), host, prot };
        }
        n++;
    }
    return n;
}

static bool watched(const vm_machine *m, uint64_t page, int access)
{
    for (size_t i = 0; i < m->nwps; i++)
        if ((m->wps[i].access & access) && m->wps[i].addr < page + VM_PAGE_SIZE &&
            m->wps[i].addr + m->wps[i].len > page)
            return true;
    return false;
}

/* May accesses of this kind to this page take the fast path? */
static bool page_is_plain(vm_machine *m, vm_region *r, uint64_t ppage, uint64_t vpage, int access)
{
    uint64_t pg = (ppage - r->base) >> VM_PAGE_SHIFT;
    if (access == VM_PROT_R)
        return !vm_hooks_cover(m, VM_HOOK_MEM_READ, vpage, vpage + VM_PAGE_SIZE) && !watched(m, vpage, VM_PROT_R);
    if (access == VM_PROT_W)
        return !r->code_pages[pg] && !vm_hooks_cover(m, VM_HOOK_MEM_WRITE, vpage, vpage + VM_PAGE_SIZE) &&
               !watched(m, vpage, VM_PROT_W);
    return true;
}

/* Resolves one access: translation, region, permission.  On success fills
 * the TLB when the page may take the fast path and returns the region and
 * physical address. */
static int resolve(vm_cpu *c, uint64_t vaddr, int access, unsigned size, vm_region **rp, uint64_t *pap)
{
    vm_machine *m = c->machine;
    uint64_t pa = vaddr;
    if (m->isa->translate) {
        int err = m->isa->translate(c, vaddr, access, &pa);
        if (err)
            return err;
    }
    bool cacheable = true;
    if (m->isa->phys_check) {
        int chk = m->isa->phys_check(c, pa, size, access);
        if (chk < 0)
            return chk;
        cacheable = chk == 0;
    }
    vm_region *r = vm_region_find(m, pa);
    if (!r)
        return VM_EUNMAPPED;
    if (!(r->prot & access))
        return VM_EPROT;
    *rp = r;
    *pap = pa;
    if (r->mmio)
        return 0;
    uint64_t vpage = vaddr & VM_PAGE_MASK;
    if (!cacheable || !page_is_plain(m, r, pa & VM_PAGE_MASK, vpage, access))
        return 0;
    vm_tlb_entry *e = vm_tlb_entry_for(c->tlb, c->tlb_mask, vaddr);
    uintptr_t addend = (uintptr_t)(r->host + ((pa & VM_PAGE_MASK) - r->base)) - (uintptr_t)vpage;
    if (e->addend != addend || (e->tag_r != vpage && e->tag_w != vpage && e->tag_x != vpage))
        *e = (vm_tlb_entry){ VM_TLB_INVALID, VM_TLB_INVALID, VM_TLB_INVALID, addend };
    if (access == VM_PROT_R)
        e->tag_r = vpage;
    else if (access == VM_PROT_W) {
        e->tag_w = vpage;
        if (r->dirty_pages)
            r->dirty_pages[(pa - r->base) >> VM_PAGE_SHIFT] = 1;
    } else
        e->tag_x = vpage;
    return 0;
}

static void record_fault(vm_cpu *c, uint64_t addr, int access, unsigned size, int err)
{
    c->fault = (vm_fault_info){ .addr = addr, .access = access, .size = (int)size, .error = err,
                                .pc = c->machine->isa->get_pc(c) };
}

/* Resolves with the fault hook's chance to fix things up (map memory). */
static int resolve_or_fault(vm_cpu *c, uint64_t addr, int access, unsigned size, uint64_t value,
                            vm_region **rp, uint64_t *pap)
{
    for (int tries = 0;; tries++) {
        int err = resolve(c, addr, access, size, rp, pap);
        if (!err)
            return 0;
        record_fault(c, addr, access, size, err);
        if (err == VM_EPAGE || tries >= 4 || !vm_hooks_any(c->machine, VM_HOOK_MEM_FAULT))
            return err;
        int h = vm_hooks_call(c, VM_HOOK_MEM_FAULT, addr, size, (uint64_t)access);
        if (h < 0)
            return VM_ESTOPPED;
        if (h != VM_HOOK_HANDLED)
            return err;
    }
}

static int check_watch(vm_cpu *c, uint64_t addr, unsigned size, int access)
{
    vm_machine *m = c->machine;
    for (size_t i = 0; i < m->nwps; i++) {
        struct vm_watch *w = &m->wps[i];
        if ((w->access & access) && addr < w->addr + w->len && addr + size > w->addr) {
            c->watch_addr = addr < w->addr ? w->addr : addr;
            c->watch_access = access;
            vm_cpu_request_exit(c, VM_STOP_WATCHPOINT);
            return 1;
        }
    }
    return 0;
}

static bool crosses_page(uint64_t addr, unsigned size)
{
    return ((addr & ~VM_PAGE_MASK) + size) > VM_PAGE_SIZE;
}

int vm_mem_load_slow(vm_cpu *c, uint64_t addr, unsigned size, uint64_t *val)
{
    vm_machine *m = c->machine;
    if (crosses_page(addr, size)) {
        uint64_t v = 0;
        for (unsigned i = 0; i < size; i++) {
            uint64_t b;
            int err = vm_mem_load_slow(c, addr + i, 1, &b);
            if (err)
                return err;
            v |= b << (8 * i);
        }
        *val = v;
        return 0;
    }
    vm_region *r;
    uint64_t pa;
    int err = resolve_or_fault(c, addr, VM_PROT_R, size, 0, &r, &pa);
    if (err)
        return err;
    uint64_t v;
    if (r->mmio)
        v = r->mmio->read ? r->mmio->read(r->mmio->opaque, r->mmio_offset + (pa - r->base), size) : 0;
    else
        v = vm_host_load(r->host + (pa - r->base), size);
    if (size < 8)
        v &= (1ull << (8 * size)) - 1;
    *val = v;
    if (m->nwps)
        check_watch(c, addr, size, VM_PROT_R);
    if (vm_hooks_any(m, VM_HOOK_MEM_READ) && vm_hooks_call(c, VM_HOOK_MEM_READ, addr, size, v) < 0)
        return VM_ESTOPPED;
    return 0;
}

int vm_mem_store_slow(vm_cpu *c, uint64_t addr, unsigned size, uint64_t val)
{
    vm_machine *m = c->machine;
    if (crosses_page(addr, size)) {
        /* Check both pages first so that a faulting store changes nothing. */
        vm_region *r;
        uint64_t pa;
        uint64_t second = (addr + size - 1) & VM_PAGE_MASK;
        int err = resolve_or_fault(c, addr, VM_PROT_W, size, val, &r, &pa);
        if (!err)
            err = resolve_or_fault(c, second, VM_PROT_W, size, val, &r, &pa);
        if (err)
            return err;
        for (unsigned i = 0; i < size; i++)
            if ((err = vm_mem_store_slow(c, addr + i, 1, (val >> (8 * i)) & 0xff)))
                return err;
        return 0;
    }
    if (vm_hooks_any(m, VM_HOOK_MEM_WRITE) && vm_hooks_call(c, VM_HOOK_MEM_WRITE, addr, size, val) < 0)
        return VM_ESTOPPED;
    vm_region *r;
    uint64_t pa;
    int err = resolve_or_fault(c, addr, VM_PROT_W, size, val, &r, &pa);
    if (err)
        return err;
    if (r->mmio) {
        if (r->mmio->write)
            r->mmio->write(r->mmio->opaque, r->mmio_offset + (pa - r->base), size, val);
    } else {
        uint64_t pg = (pa - r->base) >> VM_PAGE_SHIFT;
        if (r->code_pages[pg]) {
            /* Self-modifying code: drop what was decoded from this page.  The
             * engine leaves the current block after this instruction. */
            vm_code_invalidate(m, pa & VM_PAGE_MASK, (pa & VM_PAGE_MASK) + VM_PAGE_SIZE);
        }
        if (r->dirty_pages)
            r->dirty_pages[pg] = 1;
        vm_host_store(r->host + (pa - r->base), size, val);
    }
    if (m->nwps)
        check_watch(c, addr, size, VM_PROT_W);
    return 0;
}

uint8_t *vm_mem_fetch_page(vm_cpu *c, uint64_t pc, int *errp)
{
    vm_region *r;
    uint64_t pa;
    int err = resolve_or_fault(c, pc, VM_PROT_X, 2, 0, &r, &pa);
    if (!err && r->mmio)
        err = VM_EPROT;       /* executing from MMIO is not supported */
    if (err) {
        if (err != VM_ESTOPPED)
            record_fault(c, pc, VM_PROT_X, 2, err);
        *errp = err;
        return NULL;
    }
    uint64_t pg = (pa - r->base) >> VM_PAGE_SHIFT;
    if (!r->code_pages[pg]) {
        r->code_pages[pg] = 1;
        /* Writes to this page must now take the slow path, through any
         * virtual address that maps it, in any translation context. */
        vm_tlb_drop_host_writes(c->machine, (uintptr_t)r->host + (pg << VM_PAGE_SHIFT));
    }
    *errp = 0;
    return r->host + (pg << VM_PAGE_SHIFT);
}

int vm_mem_fetch(vm_cpu *c, uint64_t addr, unsigned size, uint32_t *out)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i += 2) {
        int err;
        uint8_t *page = vm_mem_fetch_page(c, addr + i, &err);
        if (!page)
            return err;
        uint16_t half;
        memcpy(&half, page + ((addr + i) & ~VM_PAGE_MASK), 2);
        v |= (uint32_t)half << (8 * i);
    }
    *out = v;
    return 0;
}
