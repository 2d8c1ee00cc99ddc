/* snapshot_state.c — what the snapshot layer keeps per machine (the mark the
 * dirty pages are relative to, the clock settings, registered device
 * sections), plus small helpers shared by the snapshot files.
 *
 * The state lives in a table keyed by machine rather than in vm_machine so
 * that the snapshot layer stays self-contained; vm_snapshot_machine_free()
 * drops a machine's entry.  A mutex guards the table: the clock reads it from
 * the run thread while another thread may create machines. */
#include "snapshot_int.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static snap_machine **table;
static size_t ntable, cap_table;

/* 2024-01-01T00:00:00Z: a fixed wall clock for deterministic runs. */
#define DEFAULT_REALTIME_BASE_NS (1704067200ull * 1000000000ull)

static snap_machine *find_locked(vm_machine *m)
{
    for (size_t i = 0; i < ntable; i++)
        if (table[i]->m == m)
            return table[i];
    return NULL;
}

static snap_machine *create_locked(vm_machine *m)
{
    if (ntable == cap_table) {
        size_t cap = cap_table ? cap_table * 2 : 8;
        snap_machine **t = realloc(table, cap * sizeof *t);
        if (!t)
            return NULL;
        table = t;
        cap_table = cap;
    }
    snap_machine *sm = calloc(1, sizeof *sm);
    if (!sm)
        return NULL;
    sm->m = m;
    sm->clock = (snap_clock){ .ns_per_insn = 1, .realtime_base_ns = DEFAULT_REALTIME_BASE_NS };
    table[ntable++] = sm;
    return sm;
}

snap_machine *vm_snap_machine(vm_machine *m, bool create)
{
    pthread_mutex_lock(&table_lock);
    snap_machine *sm = find_locked(m);
    if (!sm && create)
        sm = create_locked(m);
    pthread_mutex_unlock(&table_lock);
    return sm;
}

void vm_snap_clock_get(vm_machine *m, snap_clock *out)
{
    pthread_mutex_lock(&table_lock);
    snap_machine *sm = find_locked(m);
    *out = sm ? sm->clock
              : (snap_clock){ .ns_per_insn = 1, .realtime_base_ns = DEFAULT_REALTIME_BASE_NS };
    pthread_mutex_unlock(&table_lock);
}

void vm_snapshot_machine_free(vm_machine *m)
{
    pthread_mutex_lock(&table_lock);
    snap_machine *sm = NULL;
    for (size_t i = 0; i < ntable; i++)
        if (table[i]->m == m) {
            sm = table[i];
            table[i] = table[--ntable];
            break;
        }
    pthread_mutex_unlock(&table_lock);
    if (!sm)
        return;
    if (sm->mark)
        vm_snapshot_unref(sm->mark);
    for (size_t i = 0; i < sm->ndevs; i++)
        free(sm->devs[i].name);
    free(sm->devs);
    free(sm);
}

/* ---- device sections ---------------------------------------------------------- */

int vm_snapshot_section_register(vm_machine *m, const char *name,
                                 const vm_snap_section_ops *ops, void *opaque)
{
    if (!name || !*name || strlen(name) > 255 || !ops || !ops->save || !ops->load)
        return vm_set_error(m, VM_EINVAL, "a section needs a name of 1..255 bytes, save and load");
    snap_machine *sm = vm_snap_machine(m, true);
    if (!sm)
        return vm_set_error(m, VM_ENOMEM, "out of memory");
    for (size_t i = 0; i < sm->ndevs; i++)
        if (!strcmp(sm->devs[i].name, name))
            return vm_set_error(m, VM_EINVAL, "snapshot section '%s' is already registered", name);
    snap_dev *d = realloc(sm->devs, (sm->ndevs + 1) * sizeof *d);
    if (!d)
        return vm_set_error(m, VM_ENOMEM, "out of memory");
    sm->devs = d;
    char *copy = strdup(name);
    if (!copy)
        return vm_set_error(m, VM_ENOMEM, "out of memory");
    d[sm->ndevs++] = (snap_dev){ .name = copy, .ops = *ops, .opaque = opaque };
    return 0;
}

void vm_snapshot_section_unregister(vm_machine *m, const char *name)
{
    snap_machine *sm = vm_snap_machine(m, false);
    for (size_t i = 0; sm && i < sm->ndevs; i++)
        if (!strcmp(sm->devs[i].name, name)) {
            free(sm->devs[i].name);
            sm->devs[i] = sm->devs[--sm->ndevs];
            return;
        }
}

void vm_mem_note_dirty(vm_machine *m, uint64_t addr, uint64_t len)
{
    uint64_t a = addr & VM_PAGE_MASK, end = addr + len;
    while (len && a < end) {
        vm_region *r = vm_region_find(m, a);
        if (r && r->dirty_pages)
            r->dirty_pages[(a - r->base) >> VM_PAGE_SHIFT] = 1;
        a += VM_PAGE_SIZE;
    }
}

/* ---- helpers ---------------------------------------------------------------------- */

static const vm_isa *const known_isas[] = { &vm_isa_riscv64 };

const vm_isa *vm_snap_isa_by_name(const char *name)
{
    for (size_t i = 0; i < sizeof known_isas / sizeof *known_isas; i++)
        if (!strcmp(known_isas[i]->name, name))
            return known_isas[i];
    return NULL;
}

static uint64_t next_id;

vm_snapshot *vm_snap_alloc(const vm_isa *isa, int ncpus, size_t cpu_size)
{
    vm_snapshot *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->refs = 1;
    s->id = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
    s->isa = isa;
    s->ncpus = ncpus;
    s->cpu_size = cpu_size;
    s->heads = calloc((size_t)ncpus, sizeof *s->heads);
    s->cpus = calloc((size_t)ncpus, cpu_size - sizeof(vm_cpu) + 1);
    if (!s->heads || !s->cpus) {
        free(s->heads);
        free(s->cpus);
        free(s);
        return NULL;
    }
    return s;
}

size_t vm_snap_cpu_isa_size(const vm_snapshot *s)
{
    return s->cpu_size - sizeof(vm_cpu);
}

void vm_snap_region_free(snap_region *r)
{
    if (r->is_delta)
        free(r->data);
    else if (!r->is_mmio)
        vm_host_free_ram(r->data, r->size);
    free(r->present);
    free(r->idx);
    r->data = NULL;
    r->present = NULL;
    r->idx = NULL;
}

void vm_snapshot_ref(vm_snapshot *s)
{
    __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
}

void vm_snapshot_unref(vm_snapshot *s)
{
    while (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        vm_snapshot *base = s->base;
        for (size_t i = 0; i < s->nregions; i++)
            vm_snap_region_free(&s->regions[i]);
        free(s->regions);
        for (size_t i = 0; i < s->nsections; i++) {
            free(s->sections[i].name);
            free(s->sections[i].data);
        }
        free(s->sections);
        free(s->heads);
        free(s->cpus);
        free(s);
        s = base;     /* drop the base's reference without recursion */
    }
}

const snap_region *vm_snap_region_at(const vm_snapshot *s, uint64_t addr)
{
    size_t lo = 0, hi = s->nregions;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const snap_region *r = &s->regions[mid];
        if (addr < r->base)
            hi = mid;
        else if (addr - r->base >= r->size)
            lo = mid + 1;
        else
            return r;
    }
    return NULL;
}

static const uint8_t zero_page[SNAP_PAGE];

const uint8_t *vm_snap_page(const vm_snapshot *s, uint64_t addr)
{
    for (; s; s = s->base) {
        const snap_region *r = vm_snap_region_at(s, addr);
        if (!r || r->is_mmio)
            return NULL;
        uint64_t pg = (addr - r->base) >> VM_PAGE_SHIFT;
        if (!r->is_delta)
            return r->present[pg] ? r->data + (pg << VM_PAGE_SHIFT) : zero_page;
        size_t lo = 0, hi = r->ndelta;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (r->idx[mid] < pg)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < r->ndelta && r->idx[lo] == pg)
            return r->data + ((uint64_t)lo << VM_PAGE_SHIFT);
    }
    return NULL;
}

bool vm_snap_page_is_zero(const uint8_t *p)
{
    const uint64_t *w = (const uint64_t *)p;
    uint64_t acc = 0;
    for (size_t i = 0; i < SNAP_PAGE / 8; i += 8)
        acc |= w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7];
    return acc == 0;
}
