/* engine.c — the "jit" and "auto" engines: block cache, dispatcher, chaining
 * and invalidation.
 *
 * The dispatcher runs compiled blocks while the guest stays in compiled
 * code (blocks chain to each other through patched jumps and the jump
 * cache), and hands everything else to a private interpreter one block at a
 * time: code we do not translate, hooked code, breakpoints, a budget shorter
 * than the block, and (under "auto") code not yet hot.  Both engines count
 * through c->budget only, so counts are exact whichever runs. */
#include "core/trace.h"
#include "core/riscv64/rv.h"

#ifdef VMPY_HAVE_ASMJIT
#include "jit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Tiering ("auto"): a run's first AUTO_WARMUP instructions are all
 * interpreted at full interpreter speed, so short runs never pay for
 * compiling; after that a block is compiled on its AUTO_THRESHOLD-th
 * execution. */
#define AUTO_THRESHOLD 8
#define AUTO_WARMUP 2000000

static unsigned hash_pc(uint64_t pc) { return (unsigned)((pc >> 1) ^ (pc >> 17)) & ((1u << JIT_HASH_BITS) - 1); }
static unsigned jc_pc(uint64_t pc) { return (unsigned)(pc >> 1) & ((1u << JIT_JC_BITS) - 1); }

/* An empty jump-cache entry must match no jump target: generated code
 * compares the pc and then jumps to the code, so a zeroed entry would send
 * a guest `jr` to address 0 (a null function pointer) to host address 0.
 * Targets are even (jalr clears bit 0), so an odd pc never matches. */
#define JC_EMPTY_PC (~0ull)
static void jc_clear(jit_state *st)
{
    for (size_t i = 0; i < (1u << JIT_JC_BITS); i++)
        st->rt.jc[i] = (jit_jc_entry){ JC_EMPTY_PC, NULL };
}

/* Drops every block.  Code memory is rewound, not unmapped: a block that is
 * running when its code is invalidated finishes its exit path unharmed
 * (nothing is compiled before it returns), and gen stops the dispatcher
 * from patching a jump inside dropped code. */
static void jit_flush(jit_state *st)
{
    st->used = st->base_used;
    st->npool = 0;
    memset(st->hash, 0, sizeof st->hash);
    jc_clear(st);
    memset(st->page_hash, 0, sizeof st->page_hash);
    memset(st->vpage_bits, 0, sizeof st->vpage_bits);
    st->gen++;
    st->nflushes++;
}

/* "auto" adapts how hot a block must be before it is compiled: a block whose
 * code keeps being rewritten (self-modifying code, a JIT in the guest) needs
 * twice as many executions after each invalidation, so a page that is
 * written all the time ends up interpreted instead of recompiled without
 * end; and a full code memory doubles the threshold for every block, so
 * under pressure only the hotter code is compiled again. */
static uint64_t tier_threshold(const jit_state *st, const jit_block *b)
{
    return (uint64_t)st->threshold << b->kills;
}

static void code_memory_full(jit_state *st)
{
    jit_flush(st);
    if (st->tiered && st->threshold < 1024)
        st->threshold *= 2;
}

/* The big tables come straight from mmap: zero pages that cost nothing
 * until touched and go back to the system on destroy (through malloc, large
 * blocks raise its mmap threshold and then stay in the heap). */
static void *zalloc(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void zfree(void *p, size_t size)
{
    if (p)
        munmap(p, size);
}

#define POOL_BYTES (JIT_MAX_BLOCKS * sizeof(jit_block))

static void *create(vm_machine *m, bool tiered)
{
    jit_state *st = zalloc(sizeof *st);
    if (!st)
        return NULL;
    st->tiered = tiered;
    const char *th = getenv("VMPY_JIT_THRESHOLD");
    st->threshold = th ? (unsigned)atoi(th) : AUTO_THRESHOLD;
    const char *wu = getenv("VMPY_JIT_WARMUP");
    st->warmup = !tiered ? 0 : wu ? strtoull(wu, NULL, 0) : AUTO_WARMUP;
    st->interp = rv_interp_create(m);
    if (!st->interp) {
        zfree(st, sizeof *st);
        return NULL;
    }
    st->owner_key = ~0ull;
    st->pid = getpid();
#define JIT_HELPER_PTR(f) st->rt.helper[JH_##f] = (const void *)f;
    JIT_HELPERS(JIT_HELPER_PTR)
#undef JIT_HELPER_PTR
    const char *dump = getenv("VMPY_JIT_DUMP");
    if (dump && *dump)
        st->dump = fopen(dump, "w");
    return st;
}

/* The code cache opens with the first look at the machine's setting; a
 * warm cache ends "auto"'s warm-up at once (compiled code is at hand, no
 * compile cost to avoid). */
static void cache_ready(jit_state *st, vm_machine *m)
{
    if (st->cache_tried)
        return;
    st->cache_tried = true;
    if (m->code_cache_dir)
        st->cache = jit_cache_open(m->code_cache_dir, m->cpus[0]->tlb_mask);
    if (st->tiered && jit_cache_warm(st->cache) && !getenv("VMPY_JIT_WARMUP"))
        st->warmup = 0;
}

/* The code generator, code memory and block pool are set up when the first
 * block is about to be compiled: short-lived machines (and "auto" runs that
 * never leave the warm-up) do not pay for them.  Returns false if the JIT
 * cannot work here (everything is then interpreted). */
static bool code_ready(jit_state *st)
{
    if (st->pool)
        return true;
    if (st->no_code)
        return false;
    st->pool = zalloc(POOL_BYTES);
    st->as = jx_new();
    if (!st->pool || !st->as || vm_codemem_init(&st->cm, JIT_CODE_SIZE) || jit_emit_trampoline(st)) {
        zfree(st->pool, POOL_BYTES);
        st->pool = NULL;
        jx_free(st->as);
        st->as = NULL;
        vm_codemem_free(&st->cm);
        st->no_code = true;
        return false;
    }
    st->pid = getpid();
    jc_clear(st);       /* before any code can look into it (zeroed, it would match pc 0) */
    return true;
}

static void *jit_create(vm_machine *m) { return create(m, false); }
static void *auto_create(vm_machine *m) { return create(m, true); }

static void jit_stats(vm_machine *m, void *state, vm_jit_stats *out)
{
    jit_state *st = state;
    *out = (vm_jit_stats){
        .compiled = st->ncompiled, .loaded = st->nloaded, .refused = st->nrefused,
        .code_bytes = st->code_bytes, .flushes = st->nflushes, .compile_ns = st->compile_ns,
        .entries = st->nenter, .interp_blocks = st->ninterp,
    };
    jit_cache_stats(st->cache, out);
}

static int cache_save(vm_machine *m, void *state)
{
    jit_state *st = state;
    return st->cache ? jit_cache_save(st->cache) : 0;
}

/* A new directory (or none): what the old one got is saved there first. */
static void cache_changed(vm_machine *m, void *state)
{
    jit_state *st = state;
    jit_cache_save(st->cache);
    jit_cache_close(st->cache);
    st->cache = NULL;
    st->cache_tried = false;
}

static void jit_destroy(vm_machine *m, void *state)
{
    jit_state *st = state;
    if (!st)
        return;
    jit_cache_save(st->cache);
    if (getenv("VMPY_JIT_STATS") && (st->nenter || st->ninterp)) {
        vm_jit_stats s;
        jit_stats(m, st, &s);
        fprintf(stderr, "jit: %llu blocks compiled (%llu refused), %llu bytes, %.2f us/block, %llu flushes, "
                "%llu entries, %llu patches, %llu interpreted blocks\n",
                (unsigned long long)st->ncompiled, (unsigned long long)st->nrefused,
                (unsigned long long)st->code_bytes,
                st->ncompiled ? st->compile_ns / 1e3 / (double)st->ncompiled : 0.0,
                (unsigned long long)st->nflushes, (unsigned long long)st->nenter,
                (unsigned long long)st->npatch, (unsigned long long)st->ninterp);
        if (st->cache)
            fprintf(stderr, "jit: code cache: %llu blocks loaded (%.2f us/block), %llu records found, "
                    "%llu rejected, %llu files rejected; saved %llu records, %llu bytes\n",
                    (unsigned long long)st->nloaded, st->nloaded ? st->load_ns / 1e3 / (double)st->nloaded : 0.0,
                    (unsigned long long)s.cache_records, (unsigned long long)s.cache_rejected,
                    (unsigned long long)s.cache_files_rejected, (unsigned long long)s.cache_saved,
                    (unsigned long long)s.cache_saved_bytes);
    }
    jit_cache_close(st->cache);
    if (st->dump)
        fclose(st->dump);
    rv_interp_destroy(m, st->interp);
    if (st->as)
        jx_free(st->as);
    free(st->scratch);
    vm_codemem_free(&st->cm);
    zfree(st->pool, POOL_BYTES);
    zfree(st, sizeof *st);
}

static bool is_jit(const vm_engine *e);

static unsigned page_hash(uint64_t ppage) { return (unsigned)(ppage >> VM_PAGE_SHIFT) & ((1u << JIT_PAGE_HASH_BITS) - 1); }
static unsigned vpage_bit(uint64_t va) { return (unsigned)(va >> VM_PAGE_SHIFT) & (JIT_VPAGE_BITS - 1); }

/* Makes b's code unreachable: its entry jump now goes to the bail path, so
 * blocks chained to it return to the dispatcher, which recompiles. */
static void kill(jit_state *st, jit_block *b)
{
    uint8_t *w = vm_codemem_write(&st->cm, b->code);
    int32_t rel = (int32_t)b->bail_off - 5;
    memcpy(w + 1, &rel, 4);
    w[0] = 0xe9;                      /* the entry nop becomes jmp bail */
    jit_jc_entry *e = &st->rt.jc[jc_pc(b->pc)];
    if (e->code == b->code)
        e->pc = JC_EMPTY_PC;
    b->code = NULL;
    b->tried = false;
    b->hits = 0;
    b->stale = false;
    if (b->kills < 16)
        b->kills++;
}

static const uint8_t entry_nop[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
static jit_block *find(jit_state *st, uint64_t pc, uint64_t key);

/* SFENCE.VMA: mappings may have changed, the code they map has not.  Rather
 * than recompiling everything, every block's entry is switched to bail and
 * the block marked stale; the dispatcher revalidates a stale block (does its
 * pc still map to the same physical page, executable?) before entering it,
 * and revives it by restoring the entry nop. */
static void stale_all(jit_state *st)
{
    for (size_t i = 0; i < st->npool; i++) {
        jit_block *b = &st->pool[i];
        if (!b->code || b->stale)
            continue;
        uint8_t *w = vm_codemem_write(&st->cm, b->code);
        int32_t rel = (int32_t)b->bail_off - 5;
        memcpy(w + 1, &rel, 4);
        w[0] = 0xe9;
        b->stale = true;
    }
}

/* Returns b if its mapping holds (revived), else a fresh descriptor. */
static jit_block *revalidate(jit_state *st, rv_cpu *c, jit_block *b)
{
    int err;
    uint8_t *page = vm_mem_fetch_page(&c->common, b->pc, &err);
    if (page && jit_host_to_phys(c->common.machine, page) == b->ppage) {
        memcpy(vm_codemem_write(&st->cm, b->code), entry_nop, 5);
        b->stale = false;
        return b;
    }
    uint64_t pc = b->pc;
    b->code = NULL;
    b->pc = 1;                        /* unreachable: no pc is odd */
    return find(st, pc, rv_code_key(c));
}

/* Code in guest-physical [begin, end) changed (a store to a code page,
 * m.write, hooks or breakpoints: those pass everything). */
static void jit_invalidate(vm_machine *m, uint64_t begin, uint64_t end)
{
    if (!m->engine_state || !m->engine || !is_jit(m->engine))
        return;
    jit_state *st = m->engine_state;
    rv_interp_flush(st->interp);
    if (!st->pool)
        return;
    /* Whole pages: a store into code (guest-physical).  Anything else —
     * breakpoints, hooks, `until` (guest-virtual), m.write, snapshots — drops
     * everything, as the interpreter does. */
    if (end - begin > 64 * VM_PAGE_SIZE || (begin & ~VM_PAGE_MASK) || (end & ~VM_PAGE_MASK)) {
        jit_flush(st);
        return;
    }
    for (uint64_t p = begin & VM_PAGE_MASK; p < end; p += VM_PAGE_SIZE)
        for (jit_block *b = st->page_hash[page_hash(p)]; b; b = b->page_next)
            if (b->ppage == p && b->code)
                kill(st, b);
}

/* Blocks are keyed by (rv_code_key, virtual pc): switching address spaces
 * (harts taking turns, context switches) keeps every space's code, and
 * M-mode's untranslated fetch (key 0) is a space of its own. */
static jit_block *find(jit_state *st, uint64_t pc, uint64_t key)
{
    for (jit_block *b = st->hash[hash_pc(pc)]; b; b = b->next)
        if (b->pc == pc && b->key == key)
            return b;
    if (st->npool == JIT_MAX_BLOCKS)
        code_memory_full(st);
    jit_block *b = &st->pool[st->npool++];
    *b = (jit_block){ .pc = pc, .key = key, .next = st->hash[hash_pc(pc)] };
    st->hash[hash_pc(pc)] = b;
    return b;
}

/* Compiles b (or copies its code from the code cache); cached_only: only
 * if the cache has it ("auto" looks there on a block's first execution). */
static void compile(jit_state *st, rv_cpu *c, jit_block *b, bool cached_only)
{
    uint64_t t0 = vm_host_now_ns(), loaded = st->nloaded;
    bool full;
    b->tried = !cached_only;
    b->code = jit_translate(st, c, b, &full, cached_only);
    if (!b->code && full) {
        code_memory_full(st);
        b = find(st, c->pc, rv_code_key(c));
        b->tried = !cached_only;
        b->code = jit_translate(st, c, b, &full, cached_only);
    }
    if (b->code) {
        b->tried = true;
        if (!b->in_page_list) {
            unsigned h = page_hash(b->ppage);
            b->page_next = st->page_hash[h];
            st->page_hash[h] = b;
            b->in_page_list = true;
        }
        unsigned v = vpage_bit(b->pc);
        st->vpage_bits[v / 64] |= 1ull << (v % 64);
    } else if (!cached_only) {
        st->nrefused++;
    }
    uint64_t dt = vm_host_now_ns() - t0;
    st->compile_ns += dt;
    if (st->nloaded != loaded)
        st->load_ns += dt;
}

static void patch(jit_state *st, uint8_t *rel32_x, const uint8_t *target)
{
    uint8_t *w = vm_codemem_write(&st->cm, rel32_x);
    int32_t rel = (int32_t)(target - (rel32_x + 4));
    memcpy(w, &rel, 4);
}

/* Linux user mode forks the host process; the code memory is a shared
 * mapping, so a child must not write into its parent's: it takes a fresh one
 * (unmapping the inherited views affects the child only). */
static void after_fork(jit_state *st)
{
    st->pid = getpid();
    jit_cache_forked(st->cache);
    vm_codemem_free(&st->cm);
    jit_flush(st);
    if (vm_codemem_init(&st->cm, JIT_CODE_SIZE) || jit_emit_trampoline(st)) {
        vm_codemem_free(&st->cm);
        zfree(st->pool, POOL_BYTES);
        st->pool = NULL;
        st->no_code = true;
    }
}

static void jit_exec(vm_cpu *vc)
{
    rv_cpu *c = rv_cpu_of(vc);
    vm_machine *m = vc->machine;
    jit_state *st = m->engine_state;
    vc->engine_rt = &st->rt;
    cache_ready(st, m);
    rv_tlb_sync(c);                   /* state changed between runs (debugger, restore) */
    if (unlikely(st->pool && st->pid != getpid()))
        after_fork(st);
    if (m->system_mode) {
        if (rv_irq_enter(c))
            return;
        if (m->ncpus > 1)
            c->reservation = ~0ull;   /* another hart ran since: SC may fail, as allowed */
    }
    if (st->warmup) {
        uint64_t before = vc->budget;
        rv_interp_run_for(vc, st->interp, st->warmup);
        uint64_t ran = before - vc->budget;
        st->warmup -= ran < st->warmup ? ran : st->warmup;
        if (st->warmup || vc->budget == 0 || c->wfi)
            return;
    }
    if (vm_trace_active(m)) {
        /* Traces and coverage record in the interpreter: let it run (and
         * chain) the whole slice rather than one block at a time.  A fence
         * it executes makes the compiled blocks stale, as in the loop. */
        bool all;
        uint64_t va, sf = rv_interp_sfences(st->interp, &all, &va);
        rv_interp_run_for(vc, st->interp, vc->budget);
        if (rv_interp_sfences(st->interp, &all, &va) != sf)
            stale_all(st);
        return;
    }
    if (!code_ready(st)) {
        rv_interp_run_for(vc, st->interp, vc->budget);
        return;
    }
    uint8_t *pending = NULL;          /* a chain jump to patch to the block at c->pc */
    uint64_t pending_gen = 0;
    for (;;) {
        if (atomic_load_explicit(&vc->exit_request, memory_order_relaxed) || vc->budget == 0)
            return;
        uint64_t key = rv_code_key(c);
        if (m->system_mode && unlikely(key != st->owner_key)) {
            /* the jump cache is keyed by pc alone: a new address space, or
             * M-mode's untranslated fetch */
            jc_clear(st);
            st->owner_key = key;
            pending = NULL;
        }
        uint64_t pc = c->pc;
        jit_block *b = find(st, pc, key);
        if (unlikely(b->stale) && b->code)
            b = revalidate(st, c, b);
        if (!b->tried && !st->no_code) {
            if (!st->tiered || ++b->hits >= tier_threshold(st, b)) {
                compile(st, c, b, false);
                b = find(st, pc, key);   /* a full code memory was flushed */
            } else if (st->cache && !b->probed) {
                b->probed = true;
                compile(st, c, b, true);
                b = find(st, pc, key);
            }
        }
        /* A trace or coverage records from the interpreter only: while one
         * is active, compiled code is not entered. */
        if (b->code && b->ninsns <= vc->budget && !vm_trace_active(m)) {
            if (pending && pending_gen == st->gen)
                patch(st, pending, b->code), st->npatch++;
            st->rt.jc[jc_pc(pc)] = (jit_jc_entry){ pc, b->code };
            pending_gen = st->gen;
            st->nenter++;
            pending = (uint8_t *)(uintptr_t)st->enter(c, b->code);
            continue;
        }
        pending = NULL;
        bool all;
        uint64_t va, sf = rv_interp_sfences(st->interp, &all, &va), before = vc->budget;
        rv_interp_run_block(vc, st->interp);
        st->ninterp++;
        if (rv_interp_sfences(st->interp, &all, &va) != sf) {
            unsigned v = vpage_bit(va);
            if (all || ((st->vpage_bits[v / 64] >> (v % 64)) & 1))
                stale_all(st);
        }
        if (c->wfi || (vc->budget == before && c->pc == pc))
            return;                   /* asleep, or the interpreter made no progress */
    }
}

const vm_engine rv_engine_jit = {
    .name = "jit", .exec = jit_exec, .invalidate = jit_invalidate,
    .create = jit_create, .destroy = jit_destroy,
    .code_cache_changed = cache_changed, .code_cache_save = cache_save, .stats = jit_stats,
};
const vm_engine rv_engine_auto = {
    .name = "auto", .exec = jit_exec, .invalidate = jit_invalidate,
    .create = auto_create, .destroy = jit_destroy,
    .code_cache_changed = cache_changed, .code_cache_save = cache_save, .stats = jit_stats,
};
static bool is_jit(const vm_engine *e) { return e == &rv_engine_jit || e == &rv_engine_auto; }

#else /* no asmjit: the engines exist but cannot start (a clear error). */

static void *no_create(vm_machine *m) { return NULL; }
static void no_exec(vm_cpu *vc) {}
const vm_engine rv_engine_jit = { .name = "jit", .exec = no_exec, .create = no_create };
const vm_engine rv_engine_auto = { .name = "auto", .exec = no_exec, .create = no_create };
#endif
