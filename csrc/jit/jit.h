/* jit.h — the RISC-V JIT inside csrc/jit: engine state shared by the
 * dispatcher (engine.c), the translator (translate.c) and the helpers that
 * generated code calls (helpers.c).
 *
 * Generated code runs with rbx = the rv_cpu, r15 = c->budget (stored back
 * when it leaves or calls C), a 16-byte aligned stack frame with scratch at
 * [rsp] and the page cache slots of loop bodies above it (translate.c), and
 * up to nine guest registers cached in rbp, r12..r14, rdi, r8..r11 for the
 * length of a block (the caller-saved ones are spilled around C calls in
 * the body).  A block returns 0,
 * or the executable address of a chained jump's rel32 field for the
 * dispatcher to patch to the block at c->pc.  A block's code begins with a
 * 5-byte nop; killing the block (its guest page was written) turns it into a
 * jmp to the bail path, so chained jumps into it leave.
 *
 * Block code holds no absolute host address, so that the persistent code
 * cache (codecache.c) can reuse its bytes in a later process: helpers are
 * called through the table in jit_rt (`mov rax, [rbx + engine_rt]; call [rax +
 * 8*i]`), the jump cache is reached the same way, data a helper needs (an
 * instruction's rv_insn) is stored in the block and passed RIP-relative,
 * and so is the address an exit stub hands to the dispatcher.  What the
 * code depends on is the guest pc, the guest instruction bytes and this
 * build's layout: the cache keys on exactly these.  Codegen that starts
 * depending on anything else (machine state, modes, a per-process table)
 * must put it in the code cache's key or record (codecache.c);
 * tests/test_jit_cache.py runs warm code in another process to catch a
 * host address left in the code. */
#ifndef VM_JIT_H
#define VM_JIT_H

#include "core/riscv64/rv.h"
#include "platform/codemem.h"
#include "x86asm.h"

#define JIT_HASH_BITS 15
#define JIT_JC_BITS 12           /* indirect-jump cache entries (power of two) */
#define JIT_MAX_INSNS 64
#define JIT_CODE_SIZE (64u << 20)
#define JIT_MAX_BLOCKS (1u << 18)

typedef struct jit_block {
    uint64_t pc;
    uint64_t key;                /* the fetch regime it was compiled in (rv_code_key) */
    uint8_t *code;               /* executable entry, or NULL: the interpreter runs it */
    uint32_t ninsns;
    uint32_t hits;               /* tiering: executions so far by the interpreter */
    bool tried;                  /* translation attempted (and refused if !code) */
    bool in_page_list;
    bool stale;                  /* SFENCE.VMA since: check the mapping before running it */
    bool probed;                 /* "auto": looked up in the code cache on first sight */
    uint8_t kills;               /* times its code was invalidated by stores (SMC) */
    uint32_t bail_off;           /* offset of the bail path in code (for killing) */
    uint64_t ppage;              /* physical page the code came from */
    struct jit_block *next;
    struct jit_block *page_next; /* blocks hashed by ppage, for invalidation */
} jit_block;

#define JIT_PAGE_HASH_BITS 12
#define JIT_VPAGE_BITS 4096

typedef struct jit_jc_entry {
    uint64_t pc;
    uint8_t *code;
} jit_jc_entry;

/* The C functions generated code calls, by their index in jit_rt.helper. */
#define JIT_HELPERS(X) \
    X(jit_load_slow) X(jit_store_slow) X(jit_fp_load) X(jit_fp_store) X(jit_csr) \
    X(jit_raise) X(rv_fp_exec) X(jit_h_div) X(jit_h_divu) X(jit_h_rem) X(jit_h_remu) \
    X(jit_h_divw) X(jit_h_divuw) X(jit_h_remw) X(jit_h_remuw) X(jit_h_mulhsu) X(jit_h_clz) \
    X(jit_h_clzw) X(jit_h_ctz) X(jit_h_ctzw) X(jit_h_cpop) X(jit_h_cpopw) X(jit_h_orc_b) \
    X(jit_amo)
enum {
#define JIT_HELPER_ENUM(f) JH_##f,
    JIT_HELPERS(JIT_HELPER_ENUM)
#undef JIT_HELPER_ENUM
    JH_COUNT
};

/* What generated code reaches through vm_cpu.engine_rt (set on every entry). */
typedef struct jit_rt {
    const void *helper[JH_COUNT];
    jit_jc_entry jc[1u << JIT_JC_BITS];  /* indirect jumps: pc -> code */
} jit_rt;

typedef struct jit_cache jit_cache;   /* codecache.c */

typedef struct jit_state {
    bool tiered;                 /* engine "auto" */
    unsigned threshold;          /* "auto": executions before a block is compiled; doubles
                                    each time a full code memory is flushed */
    uint64_t warmup;             /* "auto": instructions left to interpret before tiering */
    vm_codemem cm;
    size_t used, base_used;      /* bytes of cm used; the trampoline stays */
    uint64_t (*enter)(rv_cpu *c, const uint8_t *code);
    jit_block *hash[1u << JIT_HASH_BITS];
    jit_block *pool;
    size_t npool;
    jit_rt rt;
    jit_block *page_hash[1u << JIT_PAGE_HASH_BITS];
    uint64_t vpage_bits[JIT_VPAGE_BITS / 64];   /* virtual pages holding blocks (SFENCE.VMA) */
    void *interp;                /* the fallback interpreter's own state */
    jx *as;
    void *scratch;               /* translate.c's working state for one block */
    uint64_t gen;                /* bumped by every flush */
    uint64_t owner_key, sfences;   /* owner_key: rt.jc's blocks' rv_code_key */
    int pid;                     /* the process owning cm (see jit_exec: host fork) */
    bool no_code;                /* code memory lost: interpret everything */
    jit_cache *cache;            /* the persistent code cache, if the machine has one */
    bool cache_tried;            /* cache opened (or found unusable) */
    void *dump;                  /* FILE *: VMPY_JIT_DUMP, every compiled block (scripts/jitdump.py) */
    /* statistics (VMPY_JIT_STATS=1 prints them when the machine goes) */
    uint64_t ncompiled, nrefused, nflushes, compile_ns, code_bytes, nenter, ninterp, npatch;
    uint64_t nloaded, load_ns;   /* blocks whose code came from the code cache */
} jit_state;

/* Room for size bytes of code in code memory: the writable address, or NULL
 * (full).  The block's executable address is vm_codemem_exec(&st->cm, w). */
static inline uint8_t *jit_code_alloc(jit_state *st, size_t size)
{
    if (st->used + size > st->cm.size)
        return NULL;
    uint8_t *w = st->cm.rw + st->used;
    st->used = (st->used + size + 15) & ~(size_t)15;
    return w;
}

/* codecache.c: the persistent code cache (format described there).  open
 * reads DIR's file for this build, host and variant (the cpu's TLB mask,
 * baked into probes; a missing or invalid file is an
 * empty cache) and never fails but for memory; close frees it, without
 * saving.  lookup returns the code recorded for the guest block of n
 * instructions whose bytes are guest[0..glen) at pc, verified byte for byte
 * and by checksum, or NULL; add records a block just emitted; save merges
 * the records with the file's current ones and replaces it atomically. */
jit_cache *jit_cache_open(const char *dir, uint32_t variant);
void jit_cache_close(jit_cache *cc);
const uint8_t *jit_cache_lookup(jit_cache *cc, uint64_t pc, const uint8_t *guest, uint32_t glen, uint32_t n,
                                uint32_t *size, uint32_t *bail_off);
void jit_cache_add(jit_cache *cc, uint64_t pc, const uint8_t *guest, uint32_t glen, uint32_t n,
                   const uint8_t *code, uint32_t size, uint32_t bail_off);
int jit_cache_save(jit_cache *cc);
void jit_cache_forked(jit_cache *cc);          /* in a forked child: the parent saves its records */
bool jit_cache_warm(const jit_cache *cc);      /* holds records from an earlier run */
void jit_cache_stats(const jit_cache *cc, vm_jit_stats *out);

/* translate.c: compiles the block at pc, or copies its code from the code
 * cache.  Returns the executable entry, or NULL (nothing translatable at
 * pc, hooks or breakpoints on it, the code memory is full: *full is then
 * set, or cached_only and the cache has no such block). */
uint8_t *jit_translate(jit_state *st, rv_cpu *c, jit_block *b, bool *full, bool cached_only);
/* translate.c: the guest-physical address of host RAM, or ~0. */
uint64_t jit_host_to_phys(vm_machine *m, const uint8_t *p);
/* translate.c: the entry trampoline, at the start of code memory. */
int jit_emit_trampoline(jit_state *st);

/* helpers.c: out-of-line paths of generated code.  info packs
 * size | signed << 4 | len << 8 | idx << 16 (idx: instructions of the block
 * before this one).  Return 0 (go on), 1 (leave: pc, budget, trap done) or
 * 2 (done, but the cpu must leave now; pc and budget set). */
int jit_load_slow(rv_cpu *c, uint64_t addr, uint64_t info, uint64_t pc, uint64_t *out);
int jit_store_slow(rv_cpu *c, uint64_t addr, uint64_t info, uint64_t pc, uint64_t val);
/* F/D: op_reg = f register | raw encoding << 32. */
int jit_fp_load(rv_cpu *c, uint64_t addr, uint64_t info, uint64_t pc, uint64_t op_reg);
int jit_fp_store(rv_cpu *c, uint64_t addr, uint64_t info, uint64_t pc, uint64_t op_reg);
int jit_fp_op(rv_cpu *c, const rv_insn *in, uint64_t info, uint64_t pc);
int jit_csr(rv_cpu *c, const rv_insn *in, uint64_t info, uint64_t pc);
int jit_amo(rv_cpu *c, const rv_insn *in, uint64_t info, uint64_t pc);
int jit_raise(rv_cpu *c, uint64_t cause, uint64_t info, uint64_t pc, uint64_t tval);
uint64_t jit_h_div(uint64_t a, uint64_t b);
uint64_t jit_h_divu(uint64_t a, uint64_t b);
uint64_t jit_h_rem(uint64_t a, uint64_t b);
uint64_t jit_h_remu(uint64_t a, uint64_t b);
uint64_t jit_h_divw(uint64_t a, uint64_t b);
uint64_t jit_h_divuw(uint64_t a, uint64_t b);
uint64_t jit_h_remw(uint64_t a, uint64_t b);
uint64_t jit_h_remuw(uint64_t a, uint64_t b);
uint64_t jit_h_mulhsu(uint64_t a, uint64_t b);
uint64_t jit_h_clz(uint64_t a, uint64_t b);
uint64_t jit_h_clzw(uint64_t a, uint64_t b);
uint64_t jit_h_ctz(uint64_t a, uint64_t b);
uint64_t jit_h_ctzw(uint64_t a, uint64_t b);
uint64_t jit_h_cpop(uint64_t a, uint64_t b);
uint64_t jit_h_cpopw(uint64_t a, uint64_t b);
uint64_t jit_h_orc_b(uint64_t a, uint64_t b);

#endif
