/* snapshot.c — taking and restoring snapshots.
 *
 * The fast path: after a snapshot is taken or restored it becomes the
 * machine's mark, every RAM region gets a dirty-page array (memory.c sets a
 * byte on each write through the slow path and on each TLB write fill) and
 * the TLBs are flushed so every write tag is refilled, and so marked, again.
 * Restoring a snapshot then needs only the pages written since the mark plus
 * the pages that differ between the mark and the target, which are the
 * deltas of the incremental snapshots on the path between them through their
 * common base.  Without such a relation a region is copied in full. */
#include "snapshot_int.h"
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static uint64_t npages(uint64_t size) { return size >> VM_PAGE_SHIFT; }

/* ---- lineage: which pages may differ between the mark and a target ------- */

#define MAX_CHAIN 4096

/* Collects s and its bases into out (at most max); returns the count. */
static size_t chain_of(vm_snapshot *s, vm_snapshot **out, size_t max)
{
    size_t n = 0;
    for (; s && n < max; s = s->base)
        out[n++] = s;
    return n;
}

/* Snapshots whose deltas separate mark and target (both chains up to their
 * common ancestor, exclusive).  Returns the count, or -1 if they share none. */
static long lineage_path(vm_snapshot *mark, vm_snapshot *target, vm_snapshot **path, size_t max)
{
    vm_snapshot **a = malloc(2 * MAX_CHAIN * sizeof *a), **b = a + MAX_CHAIN;
    if (!a)
        return -1;               /* no shared lineage known: the caller compares pages */
    long found = -1;
    size_t na = chain_of(mark, a, MAX_CHAIN), nb = chain_of(target, b, MAX_CHAIN);
    for (size_t j = 0; j < nb; j++)
        for (size_t i = 0; i < na; i++)
            if (a[i] == b[j]) {             /* the nearest common ancestor */
                if (i + j <= max) {
                    memcpy(path, a, i * sizeof *path);
                    memcpy(path + i, b, j * sizeof *path);
                    found = (long)(i + j);
                }
                goto done;
            }
done:
    free(a);
    return found;
}

/* Adds the pages a delta region lists within machine region r to r's dirty
 * array.  Returns false if p holds r's range in full (no page list). */
static bool or_deltas(vm_region *r, const vm_snapshot *p)
{
    uint64_t end = r->base + r->size;
    for (size_t i = 0; i < p->nregions; i++) {
        const snap_region *pr = &p->regions[i];
        if (pr->is_mmio || pr->base >= end || pr->base + pr->size <= r->base)
            continue;
        if (!pr->is_delta)
            return false;
        for (uint64_t k = 0; k < pr->ndelta; k++) {
            uint64_t a = pr->base + ((uint64_t)pr->idx[k] << VM_PAGE_SHIFT);
            if (a >= r->base && a < end)
                r->dirty_pages[(a - r->base) >> VM_PAGE_SHIFT] = 1;
        }
    }
    return true;
}

/* For each RAM region of m: tracked[i] is set when r->dirty_pages now marks
 * a superset of the pages that differ between the machine and target. */
static void gather_changes(vm_machine *m, snap_machine *sm, vm_snapshot *target, bool *tracked)
{
    vm_snapshot **path = sm && sm->mark ? malloc(MAX_CHAIN * sizeof *path) : NULL;
    long n = path ? lineage_path(sm->mark, target, path, MAX_CHAIN) : -1;
    for (size_t i = 0; i < m->nregions; i++) {
        vm_region *r = &m->regions[i];
        tracked[i] = n >= 0 && !r->mmio && r->dirty_pages;
        for (long k = 0; tracked[i] && k < n; k++)
            tracked[i] = or_deltas(r, path[k]);
    }
    free(path);
}

/* Starts a new tracking epoch relative to s: every RAM region has a clean
 * dirty array and no TLB entry can write without marking. */
static void set_mark(vm_machine *m, snap_machine *sm, vm_snapshot *s)
{
    vm_snapshot_ref(s);
    if (sm->mark)
        vm_snapshot_unref(sm->mark);
    sm->mark = s;
    for (size_t i = 0; i < m->nregions; i++) {
        vm_region *r = &m->regions[i];
        if (r->mmio)
            continue;
        if (!r->dirty_pages)
            r->dirty_pages = calloc(npages(r->size), 1);   /* NULL: untracked, full copies */
        else
            memset(r->dirty_pages, 0, npages(r->size));
    }
    vm_tlb_flush_all(m);
}

/* ---- taking ---------------------------------------------------------------- */

static int check_linux(vm_machine *m, snap_machine *sm)
{
    if (!m->linux)
        return 0;
    for (size_t i = 0; sm && i < sm->ndevs; i++)
        if (!strcmp(sm->devs[i].name, "linux"))
            return 0;
    return vm_set_error(m, VM_ENOTSUP,
                        "snapshots of Linux user-mode machines are not supported: the process "
                        "state (host file descriptors, brk, mmap layout, signal state, cwd) "
                        "cannot be saved or restored");
}

static void take_cpus(vm_machine *m, vm_snapshot *s)
{
    size_t isz = vm_snap_cpu_isa_size(s);
    for (int i = 0; i < m->ncpus; i++) {
        vm_cpu *c = m->cpus[i];
        s->heads[i] = (snap_cpu_head){ vm_cpu_retired(c), c->fault, c->trap_cause, c->trap_tval,
                                       c->watch_addr, c->watch_access };
        memcpy(s->cpus + i * isz, (uint8_t *)c + sizeof(vm_cpu), isz);
    }
}

static int take_sections(vm_machine *m, snap_machine *sm, vm_snapshot *s)
{
    if (!sm || !sm->ndevs)
        return 0;
    s->sections = calloc(sm->ndevs, sizeof *s->sections);
    if (!s->sections)
        return vm_set_error(m, VM_ENOMEM, "out of memory");
    for (size_t i = 0; i < sm->ndevs; i++) {
        snap_section *sec = &s->sections[s->nsections];
        sec->name = strdup(sm->devs[i].name);
        if (!sec->name)
            return vm_set_error(m, VM_ENOMEM, "out of memory");
        s->nsections++;
        if (sm->devs[i].ops.save(sm->devs[i].opaque, &sec->data, &sec->len))
            return vm_set_error(m, VM_EIO, "device '%s' could not save its state", sec->name);
    }
    return 0;
}

static int take_full(vm_region *r, snap_region *sr)
{
    uint64_t n = npages(r->size);
    sr->data = vm_host_alloc_ram(r->size);
    sr->present = calloc(n, 1);
    if (!sr->data || !sr->present)
        return VM_ENOMEM;
    for (uint64_t p = 0; p < n; p++) {
        const uint8_t *src = r->host + (p << VM_PAGE_SHIFT);
        if (!vm_snap_page_is_zero(src)) {
            memcpy(sr->data + (p << VM_PAGE_SHIFT), src, SNAP_PAGE);
            sr->present[p] = 1;
        }
    }
    return 0;
}

static int delta_push(snap_region *sr, uint64_t *cap, uint32_t pg, const uint8_t *src)
{
    if (sr->ndelta == *cap) {
        uint64_t nc = *cap ? *cap * 2 : 64;
        uint32_t *idx = realloc(sr->idx, nc * sizeof *idx);
        if (idx)
            sr->idx = idx;
        uint8_t *data = idx ? realloc(sr->data, nc * SNAP_PAGE) : NULL;
        if (!data)
            return VM_ENOMEM;
        sr->data = data;
        *cap = nc;
    }
    sr->idx[sr->ndelta] = pg;
    memcpy(sr->data + (sr->ndelta << VM_PAGE_SHIFT), src, SNAP_PAGE);
    sr->ndelta++;
    return 0;
}

/* Pages of r that differ from base: candidates are the dirty pages when
 * tracked, else every page. */
static int take_delta(vm_region *r, bool tracked, vm_snapshot *base, snap_region *sr)
{
    uint64_t cap = 0, n = npages(r->size), want = 0;
    sr->is_delta = true;
    for (uint64_t p = 0; tracked && p < n; p++)
        want += r->dirty_pages[p] != 0;
    if (want) {                 /* one allocation for the usual case */
        sr->idx = malloc(want * sizeof *sr->idx);
        sr->data = sr->idx ? malloc(want * SNAP_PAGE) : NULL;
        if (!sr->data)
            return VM_ENOMEM;
        cap = want;
    }
    for (uint64_t p = 0; p < n; p++) {
        if (tracked && !r->dirty_pages[p])
            continue;
        const uint8_t *cur = r->host + (p << VM_PAGE_SHIFT);
        const uint8_t *old = vm_snap_page(base, r->base + (p << VM_PAGE_SHIFT));
        if (memcmp(cur, old, SNAP_PAGE) && delta_push(sr, &cap, (uint32_t)p, cur))
            return VM_ENOMEM;
    }
    return 0;
}

/* Does s hold RAM for all of [base, base+size)? */
static bool snap_covers(const vm_snapshot *s, uint64_t base, uint64_t size)
{
    uint64_t a = base, end = base + size;
    while (a < end) {
        const snap_region *r = vm_snap_region_at(s, a);
        if (!r || r->is_mmio)
            return false;
        a = r->base + r->size;
    }
    return true;
}

static int take_regions(vm_machine *m, snap_machine *sm, vm_snapshot *s, vm_snapshot *base)
{
    bool *tracked = calloc(m->nregions + 1, sizeof *tracked);
    s->regions = calloc(m->nregions + 1, sizeof *s->regions);
    if (!tracked || !s->regions) {
        free(tracked);
        return vm_set_error(m, VM_ENOMEM, "out of memory");
    }
    if (base)
        gather_changes(m, sm, base, tracked);
    int err = 0;
    for (size_t i = 0; i < m->nregions && !err; i++) {
        vm_region *r = &m->regions[i];
        snap_region *sr = &s->regions[s->nregions++];
        *sr = (snap_region){ .base = r->base, .size = r->size, .prot = r->prot, .is_mmio = r->mmio != NULL };
        if (r->mmio)
            continue;
        if (base && snap_covers(base, r->base, r->size))
            err = take_delta(r, tracked[i], base, sr);
        else
            err = take_full(r, sr);
    }
    free(tracked);
    return err ? vm_set_error(m, err, "out of memory for the snapshot's RAM") : 0;
}

int vm_snapshot_take(vm_machine *m, vm_snapshot *base, vm_snapshot **out)
{
    snap_machine *sm = vm_snap_machine(m, true);
    if (!sm)
        return vm_set_error(m, VM_ENOMEM, "out of memory");
    int err = check_linux(m, sm);
    if (err)
        return err;
    if (base && (base->isa != m->isa || base->ncpus != m->ncpus || base->cpu_size != m->isa->cpu_size))
        return vm_set_error(m, VM_EINVAL, "the base snapshot is of another machine (%s, %d cpus)",
                            base->isa->name, base->ncpus);
    vm_snapshot *s = vm_snap_alloc(m->isa, m->ncpus, m->isa->cpu_size);
    if (!s)
        return vm_set_error(m, VM_ENOMEM, "out of memory");
    take_cpus(m, s);
    s->clock = sm->clock;
    if ((err = take_sections(m, sm, s)) || (err = take_regions(m, sm, s, base))) {
        vm_snapshot_unref(s);
        return err;
    }
    if (base) {
        vm_snapshot_ref(base);
        s->base = base;
    }
    set_mark(m, sm, s);
    *out = s;
    return 0;
}

/* ---- restoring ------------------------------------------------------------------ */

static const snap_section *find_section(const vm_snapshot *s, const char *name)
{
    for (size_t i = 0; i < s->nsections; i++)
        if (!strcmp(s->sections[i].name, name))
            return &s->sections[i];
    return NULL;
}

/* Everything that can make a restore fail is checked here, before any change. */
static int restore_check(vm_machine *m, snap_machine *sm, const vm_snapshot *s)
{
    if (s->isa != m->isa || s->ncpus != m->ncpus || s->cpu_size != m->isa->cpu_size)
        return vm_set_error(m, VM_EFORMAT, "snapshot of a %s machine with %d cpus cannot go into a %s machine with %d",
                            s->isa->name, s->ncpus, m->isa->name, m->ncpus);
    if (check_linux(m, sm))
        return VM_ENOTSUP;
    size_t ndevs = sm ? sm->ndevs : 0;
    for (size_t i = 0; i < ndevs; i++) {
        const snap_dev *d = &sm->devs[i];
        const snap_section *sec = find_section(s, d->name);
        if (!sec)
            return vm_set_error(m, VM_EFORMAT, "the snapshot has no state for device '%s'", d->name);
        if (d->ops.check && d->ops.check(d->opaque, sec->data, sec->len))
            return vm_set_error(m, VM_EFORMAT, "the snapshot's state for device '%s' is invalid", d->name);
    }
    for (size_t i = 0; i < s->nsections; i++) {
        bool known = false;
        for (size_t j = 0; j < ndevs && !known; j++)
            known = !strcmp(sm->devs[j].name, s->sections[i].name);
        if (!known)
            return vm_set_error(m, VM_EFORMAT, "the snapshot has state for device '%s', which this machine does not have",
                                s->sections[i].name);
    }
    for (size_t i = 0; i < s->nregions; i++) {
        const snap_region *sr = &s->regions[i];
        for (size_t j = 0; !sr->is_mmio && j < m->nregions; j++) {
            const vm_region *r = &m->regions[j];
            if (r->mmio && r->base < sr->base + sr->size && sr->base < r->base + r->size)
                return vm_set_error(m, VM_EFORMAT, "the snapshot's RAM at 0x%llx overlaps MMIO",
                                    (unsigned long long)sr->base);
        }
    }
    return 0;
}

static bool same_ram_layout(const vm_machine *m, const vm_snapshot *s)
{
    size_t j = 0;
    for (size_t i = 0; i < m->nregions; i++) {
        const vm_region *r = &m->regions[i];
        if (r->mmio)
            continue;
        while (j < s->nregions && s->regions[j].is_mmio)
            j++;
        if (j == s->nregions || s->regions[j].base != r->base || s->regions[j].size != r->size)
            return false;
        j++;
    }
    while (j < s->nregions && s->regions[j].is_mmio)
        j++;
    return j == s->nregions;
}

/* Makes the machine's RAM regions those of s (contents still to copy). */
static int restore_layout(vm_machine *m, const vm_snapshot *s)
{
    if (!same_ram_layout(m, s)) {
        for (size_t i = m->nregions; i-- > 0;) {
            vm_region *r = &m->regions[i];
            if (!r->mmio) {
                int err = vm_mem_unmap(m, r->base, r->size);
                if (err)
                    return err;
            }
        }
        for (size_t i = 0; i < s->nregions; i++) {
            const snap_region *sr = &s->regions[i];
            int err = sr->is_mmio ? 0 : vm_mem_map(m, sr->base, sr->size, sr->prot);
            if (err)
                return err;
        }
    }
    for (size_t i = 0; i < s->nregions; i++) {
        const snap_region *sr = &s->regions[i];
        vm_region *r = sr->is_mmio ? NULL : vm_region_find(m, sr->base);
        if (r && r->prot != sr->prot) {
            int err = vm_mem_protect(m, sr->base, sr->size, sr->prot);
            if (err)
                return err;
        }
    }
    return 0;
}

typedef struct { uint64_t lo, hi; } code_range;

static void copy_page(vm_region *r, uint64_t p, const vm_snapshot *s, code_range *code)
{
    const uint8_t *src = vm_snap_page(s, r->base + (p << VM_PAGE_SHIFT));
    memcpy(r->host + (p << VM_PAGE_SHIFT), src, SNAP_PAGE);
    if (r->code_pages[p]) {
        uint64_t a = r->base + (p << VM_PAGE_SHIFT);
        if (a < code->lo)
            code->lo = a;
        if (a + SNAP_PAGE > code->hi)
            code->hi = a + SNAP_PAGE;
    }
}

/* Whole region: zero it by dropping its host pages, then copy the non-zero
 * pages of s.  Holes and zero pages cost nothing. */
static void restore_full(vm_region *r, const vm_snapshot *s, code_range *code)
{
    uint64_t n = npages(r->size);
    if (madvise(r->host, r->size, MADV_DONTNEED))
        memset(r->host, 0, r->size);
    for (uint64_t p = 0; p < n; p++) {
        const uint8_t *src = vm_snap_page(s, r->base + (p << VM_PAGE_SHIFT));
        if (!vm_snap_page_is_zero(src))
            memcpy(r->host + (p << VM_PAGE_SHIFT), src, SNAP_PAGE);
        if (r->code_pages[p])
            copy_page(r, p, s, code);   /* records the code range (copy is idempotent) */
    }
}

/* Dirty bytes are mostly zero: skip them eight at a time. */
static void restore_dirty(vm_region *r, const vm_snapshot *s, code_range *code)
{
    uint64_t n = npages(r->size), p = 0;
    const uint8_t *d = r->dirty_pages;
    while (p < n) {
        uint64_t w;
        if (p + 8 <= n && (memcpy(&w, d + p, 8), w == 0)) {
            p += 8;
            continue;
        }
        if (d[p])
            copy_page(r, p, s, code);
        p++;
    }
}

static void restore_cpus(vm_machine *m, const vm_snapshot *s)
{
    size_t isz = vm_snap_cpu_isa_size(s);
    for (int i = 0; i < m->ncpus; i++) {
        vm_cpu *c = m->cpus[i];
        const snap_cpu_head *h = &s->heads[i];
        c->icount = h->icount;
        c->budget_start = c->budget;     /* retired = icount exactly */
        c->fault = h->fault;
        c->trap_cause = h->trap_cause;
        c->trap_tval = h->trap_tval;
        c->watch_addr = h->watch_addr;
        c->watch_access = h->watch_access;
        memcpy((uint8_t *)c + sizeof(vm_cpu), s->cpus + i * isz, isz);
        vm_tlb_flush_cpu(c);
    }
}

static int restore_ram(vm_machine *m, snap_machine *sm, vm_snapshot *s)
{
    bool *tracked = calloc(m->nregions + 1, sizeof *tracked);
    if (!tracked)
        return vm_set_error(m, VM_ENOMEM, "out of memory");
    gather_changes(m, sm, s, tracked);
    code_range code = { UINT64_MAX, 0 };
    for (size_t i = 0; i < m->nregions; i++) {
        vm_region *r = &m->regions[i];
        if (r->mmio)
            continue;
        if (tracked[i])
            restore_dirty(r, s, &code);
        else
            restore_full(r, s, &code);
    }
    free(tracked);
    if (code.lo < code.hi)
        vm_code_invalidate(m, code.lo, code.hi);
    return 0;
}

int vm_snapshot_restore(vm_machine *m, vm_snapshot *s)
{
    snap_machine *sm = vm_snap_machine(m, true);
    if (!sm)
        return vm_set_error(m, VM_ENOMEM, "out of memory");
    int err = restore_check(m, sm, s);
    if (err)
        return err;
    bool relayout = !same_ram_layout(m, s);
    if ((err = restore_layout(m, s)))
        return err;
    if (relayout && sm->mark) {        /* new regions are untracked: full copies */
        vm_snapshot_unref(sm->mark);
        sm->mark = NULL;
    }
    if ((err = restore_ram(m, sm, s)))
        return err;
    restore_cpus(m, s);
    sm->clock = s->clock;
    for (size_t i = 0; i < sm->ndevs; i++) {
        const snap_section *sec = find_section(s, sm->devs[i].name);
        sm->devs[i].ops.load(sm->devs[i].opaque, sec->data, sec->len);
    }
    set_mark(m, sm, s);
    return 0;
}

/* ---- inspecting ------------------------------------------------------------------ */

const char *vm_snapshot_isa(const vm_snapshot *s) { return s->isa->name; }
int vm_snapshot_ncpus(const vm_snapshot *s) { return s->ncpus; }
vm_snapshot *vm_snapshot_base(const vm_snapshot *s) { return s->base; }

uint64_t vm_snapshot_icount(const vm_snapshot *s, int cpu)
{
    return cpu >= 0 && cpu < s->ncpus ? s->heads[cpu].icount : 0;
}

uint64_t vm_snapshot_stored_pages(const vm_snapshot *s)
{
    uint64_t n = 0;
    for (size_t i = 0; i < s->nregions; i++) {
        const snap_region *r = &s->regions[i];
        if (r->is_delta)
            n += r->ndelta;
        else if (!r->is_mmio)
            for (uint64_t p = 0; p < npages(r->size); p++)
                n += r->present[p];
    }
    return n;
}

size_t vm_snapshot_regions(const vm_snapshot *s, vm_region_info *out, size_t max)
{
    for (size_t i = 0; i < s->nregions && i < max; i++)
        out[i] = (vm_region_info){ s->regions[i].base, s->regions[i].size, s->regions[i].prot,
                                   s->regions[i].is_mmio };
    return s->nregions;
}

int vm_snapshot_read(const vm_snapshot *s, uint64_t addr, void *buf, size_t len)
{
    uint8_t *out = buf;
    while (len) {
        uint64_t off = addr & ~VM_PAGE_MASK;
        size_t n = SNAP_PAGE - off < len ? SNAP_PAGE - off : len;
        const uint8_t *pg = vm_snap_page(s, addr & VM_PAGE_MASK);
        if (!pg)
            return VM_EUNMAPPED;
        memcpy(out, pg + off, n);
        out += n;
        addr += n;
        len -= n;
    }
    return 0;
}
