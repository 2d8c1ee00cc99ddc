/* trace.h — instruction traces and block coverage recorded inside the core.
 *
 * A trace records, per executed instruction whose pc is in [begin, end), the
 * pc, the raw instruction bits and (optionally) the integer register the
 * instruction wrote with its new value; and, per data access made by such an
 * instruction, (pc, addr, size, value, is_write).  No callback runs per
 * event: the interpreter decodes blocks with a "trace" slot before each
 * covered instruction and calls vm_trace_insn() from it.
 *
 * Storage.  Each stream (pc, insn, rd, rd value, mem) is one mapping of
 * limit * itemsize bytes of address space reserved up front (MAP_NORESERVE,
 * committed page by page as the guest fills it; released streams are
 * recycled, see trace_mem.c), so a stream never moves and a pointer handed
 * to Python (buffer protocol) stays valid for the trace's lifetime.  When a stream is full the overflow policy applies:
 *   VM_TRACE_STOP   stop the run before the instruction (VM_STOP_REQUEST),
 *                   vm_trace_full() tells why; nothing is recorded for it;
 *   VM_TRACE_RING   keep the newest `limit` entries (ring buffer);
 *   VM_TRACE_ERROR  like STOP, but the run ends with VM_STOP_ERROR.
 *
 * Coverage is a separate, cheaper recorder: the interpreter calls
 * vm_cov_block() at each block start; blocks (start, size) and edges
 * (from block start, to block start) go into hash sets.
 *
 * Engines: an engine that cannot record inline must leave the machine to
 * the interpreter while vm_trace_active() is true (the JIT does so). */
#ifndef VM_TRACE_H
#define VM_TRACE_H

#include "machine.h"

enum { VM_TRACE_PC = 1, VM_TRACE_INSN = 2, VM_TRACE_MEM = 4, VM_TRACE_REGS = 8 };
typedef enum { VM_TRACE_STOP = 0, VM_TRACE_RING = 1, VM_TRACE_ERROR = 2 } vm_trace_policy;

/* One memory access, 32 bytes; Python sees it as a numpy structured dtype. */
typedef struct vm_trace_mem {
    uint64_t pc, addr, value;
    uint32_t size;
    uint8_t is_write;
    uint8_t pad[3];
} vm_trace_mem;

typedef struct vm_trace vm_trace;
typedef struct vm_coverage vm_coverage;

/* Streams a caller can read. */
typedef enum { VM_TS_PC, VM_TS_INSN, VM_TS_RD, VM_TS_RDVAL, VM_TS_MEM, VM_TS_COUNT } vm_trace_stream;

/* Creates and attaches a trace.  what: VM_TRACE_* bits; end 0 = top;
 * mem_end 0 = top (data addresses filter for memory events); limit: entries
 * per stream (>0).  NULL on failure (message in vm_machine_error). */
vm_trace *vm_trace_new(vm_machine *m, unsigned what, uint64_t begin, uint64_t end,
                       uint64_t mem_begin, uint64_t mem_end, uint64_t limit,
                       vm_trace_policy policy);
/* Detaches from the machine (recording stops); the data stays readable. */
void vm_trace_close(vm_trace *t);
/* Detaches if needed and frees the data. */
void vm_trace_free(vm_trace *t);
/* Forgets what was recorded (keeps recording). */
void vm_trace_clear(vm_trace *t);

/* Reading.  count: entries available (at most limit); total: ever recorded
 * (total > count means the ring dropped the oldest).  In ring mode the
 * oldest entry is at index total % limit once total > limit. */
void *vm_trace_data(vm_trace *t, vm_trace_stream s, size_t *itemsize);
uint64_t vm_trace_count(const vm_trace *t, vm_trace_stream s);
uint64_t vm_trace_total(const vm_trace *t, vm_trace_stream s);
uint64_t vm_trace_limit(const vm_trace *t);
unsigned vm_trace_what(const vm_trace *t);
bool vm_trace_full(const vm_trace *t);        /* a run stopped because a stream was full */
bool vm_trace_attached(const vm_trace *t);

/* Coverage.  [begin, end): block start filter (end 0 = top). */
vm_coverage *vm_cov_new(vm_machine *m, uint64_t begin, uint64_t end);
void vm_cov_close(vm_coverage *cv);
void vm_cov_free(vm_coverage *cv);
void vm_cov_clear(vm_coverage *cv);
/* Copies up to max blocks (start, size) / edges (from, to) sorted; returns the count. */
size_t vm_cov_blocks(const vm_coverage *cv, uint64_t *start, uint32_t *size, size_t max);
size_t vm_cov_edges(const vm_coverage *cv, uint64_t *from, uint64_t *to, size_t max);

/* ---- inside the core --------------------------------------------------------- */
typedef struct vm_tracer {
    vm_trace **traces; size_t ntraces, cap;
    vm_coverage **covs; size_t ncovs, ccap;
    bool all_insns;      /* a trace records mem or regs: every instruction gets a slot */
    uint64_t cur_pc;     /* pc of the instruction executing (for memory events) */
    vm_trace *last;      /* the trace vm_trace_block() wrote last, and its count after */
    uint64_t last_end;
    /* Whole-block fast path (vm_trace_block_fast): one trace of pc/insn,
     * not a ring.  fast_n is NULL when it does not apply. */
    vm_trace *fast;
    uint64_t *fast_n, fast_limit;
    uint64_t *fast_pc;
    uint32_t *fast_insn;
} vm_tracer;

static inline bool vm_trace_active(const vm_machine *m)
{
    return m->tracer && (m->tracer->ntraces || m->tracer->ncovs);
}
/* Translation time: does the instruction at [pc, pc+len) need a trace slot,
 * does the block at pc need a coverage slot? */
bool vm_trace_wants_insn(const vm_machine *m, uint64_t pc, unsigned len);
bool vm_cov_wants_block(const vm_machine *m, uint64_t pc);
/* Execution: before the instruction at pc.  rd: integer register it writes
 * (0 for none).  Returns false if the run must stop before it (the cpu has
 * been asked to exit). */
bool vm_trace_insn(vm_cpu *c, uint64_t pc, uint32_t raw, unsigned rd);
void vm_cov_block(vm_cpu *c, uint64_t pc, uint32_t size);
/* Whole-block recording, for engines that know a block's pcs up front.
 * Possible while one trace of pcs/instruction words is attached; the engine
 * then asks, once its block is decoded, whether the trace covers all of
 * [pc, end) (1), none of it (0) or a part (-1: use vm_trace_insn).
 * vm_trace_block() records n instructions (false: a buffer is full and the
 * run must stop before the block); vm_trace_unwind() takes back the last
 * `not_run` of them when the block is left early. */
bool vm_trace_bulk_ok(const vm_machine *m);
/* Whole-block recording needs room for a whole block after a clear(): a
 * trace with fewer entries than this records instruction by instruction,
 * so that a run stopped by a full trace always makes progress.  Engines
 * record blocks of at most this many instructions. */
#define VM_TRACE_BULK_MIN_LIMIT 256
int vm_trace_bulk_covers(const vm_machine *m, uint64_t pc, uint64_t end);
bool vm_trace_block(vm_cpu *c, const uint64_t *pcs, const uint32_t *raws, unsigned n);
void vm_trace_unwind(vm_cpu *c, unsigned not_run);

/* Trace streams are written once and read later (by numpy, after the run):
 * non-temporal stores skip the read-for-ownership of every line and keep
 * the stream out of the cache.  vm_trace_flush() fences them. */
static inline void vm_stream_store64(uint64_t *p, uint64_t v)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_ia32_movnti64((long long *)p, (long long)v);
#else
    *p = v;
#endif
}

/* vm_trace_block with its common case inline: room left, no ring. */
static inline bool vm_trace_block_fast(vm_cpu *c, const uint64_t *pcs, const uint32_t *raws, unsigned n)
{
    vm_tracer *tr = c->machine->tracer;
    uint64_t *np = tr->fast_n;
    if (likely(np && *np + n <= tr->fast_limit)) {
        uint64_t i = *np;
        if (tr->fast_pc)
            for (unsigned k = 0; k < n; k++)
                vm_stream_store64(&tr->fast_pc[i + k], pcs[k]);
        if (tr->fast_insn)
            for (unsigned k = 0; k < n; k++)
                tr->fast_insn[i + k] = raws[k];
        *np = tr->last_end = i + n;
        tr->last = tr->fast;
        return true;
    }
    return vm_trace_block(c, pcs, raws, n);
}
/* After an engine's exec(): completes pending register values. */
void vm_trace_flush(vm_cpu *c);
/* vm_machine_free: detaches everything. */
void vm_tracer_free(vm_machine *m);
/* Stream memory (trace_mem.c): need bytes that never move; *map and *bytes
 * are for vm_trace_mem_put, which caches or unmaps it.  Contents are
 * undefined (a recycled stream keeps old entries past its count). */
void *vm_trace_mem_get(size_t need, void **map, size_t *bytes);
void vm_trace_mem_put(void *map, void *data, size_t bytes);

#endif
