/* trace.c — instruction traces: streams, overflow policies, memory events.
 * (Coverage is in coverage.c.)  See trace.h for the model. */
#include "trace.h"
#include "platform/prefault.h"
#include <stdlib.h>
#include <string.h>

struct vm_trace {
    vm_machine *m;               /* NULL once detached */
    unsigned what;
    uint64_t begin, end;
    uint64_t limit;
    vm_trace_policy policy;
    void *data[VM_TS_COUNT];     /* inside map (aligned for huge pages) */
    void *map[VM_TS_COUNT];
    size_t bytes[VM_TS_COUNT];
    uint64_t n_insn, n_mem;      /* ever recorded */
    bool full;
    bool pending;                /* regs: entry n_insn-1 waits for its rd value */
    vm_hook *hread, *hwrite;
    vm_prefault *pf;             /* faults stream pages in ahead of the recorder */
    uint64_t kick;               /* n_insn at which to move the prefault window on */
};

/* Streams of at least PREFAULT_MIN bytes get a helper thread that keeps
 * the next PREFAULT_WINDOW..2*PREFAULT_WINDOW entries faulted in (see
 * platform/prefault.c); smaller ones fault in too fast to bother. */
#define PREFAULT_MIN ((size_t)4 << 20)
#define PREFAULT_WINDOW ((uint64_t)1 << 20)

static const size_t itemsizes[VM_TS_COUNT] = {
    [VM_TS_PC] = 8, [VM_TS_INSN] = 4, [VM_TS_RD] = 1, [VM_TS_RDVAL] = 8,
    [VM_TS_MEM] = sizeof(vm_trace_mem),
};

static bool stream_on(unsigned what, vm_trace_stream s)
{
    switch (s) {
    case VM_TS_PC: return what & VM_TRACE_PC;
    case VM_TS_INSN: return what & VM_TRACE_INSN;
    case VM_TS_RD: case VM_TS_RDVAL: return what & VM_TRACE_REGS;
    case VM_TS_MEM: return what & VM_TRACE_MEM;
    default: return false;
    }
}

static vm_tracer *tracer_of(vm_machine *m)
{
    if (!m->tracer)
        m->tracer = calloc(1, sizeof *m->tracer);
    return m->tracer;
}

/* Blocks were decoded without (or with) trace slots: drop them, and make
 * running cpus leave their current block. */
static void code_changed(vm_machine *m)
{
    vm_code_invalidate(m, 0, UINT64_MAX);
    for (int i = 0; i < m->ncpus; i++)
        atomic_store(&m->cpus[i]->exit_request, 1);
}

/* The fast path's bound for t: its limit, or earlier where the prefault
 * window must move on (prefault_advance). */
static uint64_t fast_limit_of(const vm_trace *t)
{
    return t->kick < t->limit ? t->kick : t->limit;
}

/* After the trace list changed: the per-instruction need and the fast path. */
static void recompute_all_insns(vm_tracer *tr)
{
    tr->all_insns = false;
    for (size_t i = 0; i < tr->ntraces; i++)
        if (tr->traces[i]->what & (VM_TRACE_MEM | VM_TRACE_REGS))
            tr->all_insns = true;
    vm_trace *t = tr->ntraces == 1 && !tr->all_insns ? tr->traces[0] : NULL;
    if (t && t->policy == VM_TRACE_RING)
        t = NULL;
    tr->fast = t;
    tr->fast_n = t ? &t->n_insn : NULL;
    tr->fast_limit = t ? fast_limit_of(t) : 0;
    tr->fast_pc = t ? t->data[VM_TS_PC] : NULL;
    tr->fast_insn = t ? t->data[VM_TS_INSN] : NULL;
}

/* ---- memory events (a C hook on data reads and writes) --------------------- */
static void mem_record(vm_trace *t, uint64_t pc, uint64_t addr, unsigned size,
                       uint64_t value, bool write)
{
    uint64_t i = t->n_mem;
    if (i >= t->limit) {
        if (t->policy != VM_TRACE_RING)
            return;      /* cannot happen: vm_trace_insn() kept room */
        i %= t->limit;
    }
    ((vm_trace_mem *)t->data[VM_TS_MEM])[i] =
        (vm_trace_mem){ .pc = pc, .addr = addr, .value = value, .size = size, .is_write = write };
    t->n_mem++;
}

static int mem_hook(vm_cpu *c, uint64_t addr, unsigned size, uint64_t value, void *opaque, bool write)
{
    vm_trace *t = opaque;
    uint64_t pc = c->machine->tracer->cur_pc;
    if (pc >= t->begin && pc < t->end)
        mem_record(t, pc, addr, size, value, write);
    return VM_HOOK_CONTINUE;
}
static int mem_read_hook(vm_cpu *c, uint64_t a, unsigned s, uint64_t v, void *o) { return mem_hook(c, a, s, v, o, false); }
static int mem_write_hook(vm_cpu *c, uint64_t a, unsigned s, uint64_t v, void *o) { return mem_hook(c, a, s, v, o, true); }

/* ---- life cycle ------------------------------------------------------------- */
/* The recorder passed t->kick: move the prefault window on. */
static void prefault_advance(vm_trace *t)
{
    t->kick = t->n_insn + PREFAULT_WINDOW;
    vm_prefault_upto(t->pf, t->n_insn + 2 * PREFAULT_WINDOW);
    vm_tracer *tr = t->m ? t->m->tracer : NULL;
    if (tr && tr->fast == t)
        tr->fast_limit = fast_limit_of(t);
}

/* Per-instruction streams that are big enough get a prefault helper (the
 * memory stream fills at its own pace and is left to fault inline). */
static void prefault_setup(vm_trace *t)
{
    t->kick = UINT64_MAX;
    size_t per_insn = 0;
    for (int s = 0; s < VM_TS_COUNT; s++)
        if (s != VM_TS_MEM && t->data[s])
            per_insn += itemsizes[s];
    const char *env = getenv("VMPY_TRACE_PREFAULT");    /* "0": fault inline (measuring) */
    if ((env && env[0] == '0') || (size_t)t->limit * per_insn < PREFAULT_MIN || !(t->pf = vm_prefault_start()))
        return;
    for (int s = 0; s < VM_TS_COUNT; s++)
        if (s != VM_TS_MEM && t->data[s])
            vm_prefault_add(t->pf, t->data[s], itemsizes[s], (size_t)t->limit * itemsizes[s]);
    prefault_advance(t);
}

static void prefault_stop(vm_trace *t)
{
    vm_prefault_stop(t->pf);
    t->pf = NULL;
    t->kick = UINT64_MAX;
}

/* Streams: reserved at full size, never moved (trace_mem.c). */
static int alloc_streams(vm_trace *t)
{
    for (int s = 0; s < VM_TS_COUNT; s++) {
        if (!stream_on(t->what, (vm_trace_stream)s))
            continue;
        t->data[s] = vm_trace_mem_get((size_t)t->limit * itemsizes[s], &t->map[s], &t->bytes[s]);
        if (!t->data[s])
            return -1;
    }
    prefault_setup(t);
    return 0;
}

static void free_streams(vm_trace *t)
{
    prefault_stop(t);
    for (int s = 0; s < VM_TS_COUNT; s++)
        vm_trace_mem_put(t->map[s], t->data[s], t->bytes[s]);
}

vm_trace *vm_trace_new(vm_machine *m, unsigned what, uint64_t begin, uint64_t end,
                       uint64_t mem_begin, uint64_t mem_end, uint64_t limit,
                       vm_trace_policy policy)
{
    if (end == 0)
        end = UINT64_MAX;
    if (mem_end == 0)
        mem_end = UINT64_MAX;
    if (!what || (what & ~15u) || end <= begin || mem_end <= mem_begin || (unsigned)policy > VM_TRACE_ERROR) {
        vm_set_error(m, VM_EINVAL, "bad trace request (kinds, ranges or overflow policy)");
        return NULL;
    }
    if (limit == 0 || limit > ((uint64_t)1 << 40) / sizeof(vm_trace_mem)) {
        vm_set_error(m, VM_EINVAL, "trace limit must be between 1 and 2^35 entries");
        return NULL;
    }
    vm_tracer *tr = tracer_of(m);
    vm_trace *t = calloc(1, sizeof *t);
    if (!tr || !t) {
        free(t);
        vm_set_error(m, VM_ENOMEM, "out of memory");
        return NULL;
    }
    *t = (vm_trace){ .m = m, .what = what, .begin = begin, .end = end, .limit = limit, .policy = policy };
    if (alloc_streams(t) || (tr->ntraces == tr->cap && !(tr->traces = realloc(tr->traces, (tr->cap = tr->cap * 2 + 4) * sizeof *tr->traces)))) {
        free_streams(t);
        free(t);
        vm_set_error(m, VM_ENOMEM, "cannot reserve trace buffers of %llu entries", (unsigned long long)limit);
        return NULL;
    }
    if (what & VM_TRACE_MEM) {
        t->hread = vm_hook_add(m, VM_HOOK_MEM_READ, mem_begin, mem_end, mem_read_hook, t, NULL);
        t->hwrite = t->hread ? vm_hook_add(m, VM_HOOK_MEM_WRITE, mem_begin, mem_end, mem_write_hook, t, NULL) : NULL;
        if (!t->hwrite) {
            vm_hook_remove(m, t->hread);
            free_streams(t);
            free(t);
            return NULL;
        }
    }
    tr->traces[tr->ntraces++] = t;
    recompute_all_insns(tr);
    code_changed(m);
    return t;
}

void vm_trace_close(vm_trace *t)
{
    vm_machine *m = t ? t->m : NULL;
    if (!m)
        return;
    if (t->hread)
        vm_hook_remove(m, t->hread);
    if (t->hwrite)
        vm_hook_remove(m, t->hwrite);
    t->hread = t->hwrite = NULL;
    prefault_stop(t);            /* nothing more will be written */
    vm_tracer *tr = m->tracer;
    for (size_t i = 0; i < tr->ntraces; i++)
        if (tr->traces[i] == t) {
            memmove(&tr->traces[i], &tr->traces[i + 1], (tr->ntraces - i - 1) * sizeof *tr->traces);
            tr->ntraces--;
            break;
        }
    if (tr->last == t)
        tr->last = NULL;
    recompute_all_insns(tr);
    code_changed(m);
    t->m = NULL;
}

void vm_trace_free(vm_trace *t)
{
    if (!t)
        return;
    vm_trace_close(t);
    free_streams(t);
    free(t);
}

void vm_trace_clear(vm_trace *t)
{
    if (t->m && t->m->tracer && t->m->tracer->last == t)
        t->m->tracer->last = NULL;
    t->n_insn = t->n_mem = 0;
    t->full = t->pending = false;
}

/* ---- reading ------------------------------------------------------------------ */
void *vm_trace_data(vm_trace *t, vm_trace_stream s, size_t *itemsize)
{
    if ((unsigned)s >= VM_TS_COUNT)
        return NULL;
    *itemsize = itemsizes[s];
    return t->data[s];
}

uint64_t vm_trace_total(const vm_trace *t, vm_trace_stream s)
{
    if (s == VM_TS_MEM)
        return t->n_mem;
    /* A pending register value is not complete yet: hide that entry's
     * rd stream element until vm_trace_flush() fills it in. */
    if ((s == VM_TS_RD || s == VM_TS_RDVAL) && t->pending)
        return t->n_insn - 1;
    return t->n_insn;
}

uint64_t vm_trace_count(const vm_trace *t, vm_trace_stream s)
{
    uint64_t n = vm_trace_total(t, s);
    return n < t->limit ? n : t->limit;
}

uint64_t vm_trace_limit(const vm_trace *t) { return t->limit; }
unsigned vm_trace_what(const vm_trace *t) { return t->what; }
bool vm_trace_full(const vm_trace *t) { return t->full; }
bool vm_trace_attached(const vm_trace *t) { return t->m != NULL; }

/* ---- recording ------------------------------------------------------------------ */
bool vm_trace_wants_insn(const vm_machine *m, uint64_t pc, unsigned len)
{
    const vm_tracer *tr = m->tracer;
    if (!tr || !tr->ntraces)
        return false;
    if (tr->all_insns)
        return true;
    for (size_t i = 0; i < tr->ntraces; i++)
        if (tr->traces[i]->begin < pc + len && pc < tr->traces[i]->end)
            return true;
    return false;
}

/* The value of the register written by the previous traced instruction. */
static void complete_pending(vm_trace *t, vm_cpu *c)
{
    uint64_t i = (t->n_insn - 1) % t->limit;
    uint8_t rd = ((uint8_t *)t->data[VM_TS_RD])[i];
    uint64_t v = 0;
    if (rd)
        c->machine->isa->reg_read(c, rd, &v);
    ((uint64_t *)t->data[VM_TS_RDVAL])[i] = v;
    t->pending = false;
}

#define PER_INSN (VM_TRACE_PC | VM_TRACE_INSN | VM_TRACE_REGS)   /* streams indexed by instruction */

static bool no_room(const vm_trace *t)
{
    if (t->policy == VM_TRACE_RING)
        return false;
    /* An instruction makes at most two memory accesses (AMOs): keep room
     * for them, so that memory events never overflow mid-instruction. */
    return ((t->what & PER_INSN) && t->n_insn >= t->limit) ||
           ((t->what & VM_TRACE_MEM) && t->n_mem + 2 > t->limit);
}

bool vm_trace_insn(vm_cpu *c, uint64_t pc, uint32_t raw, unsigned rd)
{
    vm_tracer *tr = c->machine->tracer;
    size_t n = tr->ntraces;
    vm_trace *const *ts = tr->traces;
    tr->cur_pc = pc;
    for (size_t k = 0; k < n; k++) {
        vm_trace *t = ts[k];
        if (t->pending)
            complete_pending(t, c);
        if (pc >= t->begin && pc < t->end && no_room(t)) {
            t->full = true;
            vm_cpu_request_exit(c, t->policy == VM_TRACE_ERROR ? VM_STOP_ERROR : VM_STOP_REQUEST);
            return false;
        }
    }
    for (size_t k = 0; k < n; k++) {
        vm_trace *t = ts[k];
        if (pc < t->begin || pc >= t->end || !(t->what & PER_INSN))
            continue;
        uint64_t i = t->n_insn;
        if (unlikely(i >= t->kick))
            prefault_advance(t);
        if (i >= t->limit)
            i %= t->limit;
        if (t->data[VM_TS_PC])
            ((uint64_t *)t->data[VM_TS_PC])[i] = pc;
        if (t->data[VM_TS_INSN])
            ((uint32_t *)t->data[VM_TS_INSN])[i] = raw;
        if (t->data[VM_TS_RD]) {
            ((uint8_t *)t->data[VM_TS_RD])[i] = (uint8_t)(rd < 32 ? rd : 0);
            t->pending = true;
        }
        t->n_insn++;
    }
    return true;
}

/* ---- whole blocks ------------------------------------------------------------------ */
bool vm_trace_bulk_ok(const vm_machine *m)
{
    const vm_tracer *tr = m->tracer;
    return tr && tr->ntraces == 1 && !tr->all_insns && tr->traces[0]->limit >= VM_TRACE_BULK_MIN_LIMIT;
}

int vm_trace_bulk_covers(const vm_machine *m, uint64_t pc, uint64_t end)
{
    const vm_trace *t = m->tracer->traces[0];
    if (t->begin <= pc && end <= t->end)
        return 1;
    return end <= t->begin || t->end <= pc ? 0 : -1;
}

static void copy_wrapped(void *dst, size_t item, uint64_t at, uint64_t limit, const void *src, unsigned n)
{
    uint64_t first = limit - at < n ? limit - at : n;
    memcpy((char *)dst + at * item, src, first * item);
    if (first < n)
        memcpy(dst, (const char *)src + first * item, (n - first) * item);
}

bool vm_trace_block(vm_cpu *c, const uint64_t *pcs, const uint32_t *raws, unsigned n)
{
    vm_tracer *tr = c->machine->tracer;
    if (unlikely(tr->ntraces != 1 || tr->all_insns)) {
        tr->last = NULL;         /* traces changed since this block was decoded: it is on its way out */
        return true;
    }
    vm_trace *t = tr->traces[0];
    uint64_t i = t->n_insn;
    if (i + n > t->kick)
        prefault_advance(t);
    if (t->policy != VM_TRACE_RING) {
        if (unlikely(i + n > t->limit)) {
            t->full = true;
            vm_cpu_request_exit(c, t->policy == VM_TRACE_ERROR ? VM_STOP_ERROR : VM_STOP_REQUEST);
            return false;
        }
        if (t->data[VM_TS_PC])
            memcpy((uint64_t *)t->data[VM_TS_PC] + i, pcs, n * sizeof *pcs);
        if (t->data[VM_TS_INSN])
            memcpy((uint32_t *)t->data[VM_TS_INSN] + i, raws, n * sizeof *raws);
    } else {
        uint64_t at = i % t->limit;
        if (n > t->limit) {      /* a block longer than the ring: keep its tail */
            pcs += n - t->limit;
            raws += n - t->limit;
            i += n - t->limit;
            n = (unsigned)t->limit;
            at = i % t->limit;
        }
        if (t->data[VM_TS_PC])
            copy_wrapped(t->data[VM_TS_PC], 8, at, t->limit, pcs, n);
        if (t->data[VM_TS_INSN])
            copy_wrapped(t->data[VM_TS_INSN], 4, at, t->limit, raws, n);
    }
    t->n_insn = i + n;
    tr->last = t;
    tr->last_end = t->n_insn;
    return true;
}

void vm_trace_unwind(vm_cpu *c, unsigned not_run)
{
    vm_tracer *tr = c->machine->tracer;
    if (tr && tr->last && tr->ntraces == 1 && tr->traces[0] == tr->last && tr->last->n_insn == tr->last_end)
        tr->last->n_insn -= not_run;
    if (tr)
        tr->last = NULL;
}

void vm_trace_flush(vm_cpu *c)
{
    vm_tracer *tr = c->machine->tracer;
    if (!tr)
        return;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_ia32_sfence();     /* the non-temporal stores of vm_stream_store64 */
#endif
    for (size_t k = 0; k < tr->ntraces; k++)
        if (tr->traces[k]->pending)
            complete_pending(tr->traces[k], c);
}

void vm_tracer_free(vm_machine *m)
{
    vm_tracer *tr = m->tracer;
    if (!tr)
        return;
    while (tr->ntraces)
        vm_trace_close(tr->traces[tr->ntraces - 1]);
    while (tr->ncovs)
        vm_cov_close(tr->covs[tr->ncovs - 1]);
    free(tr->traces);
    free(tr->covs);
    free(tr);
    m->tracer = NULL;
}
