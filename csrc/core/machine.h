/* machine.h — layout of the machine, vCPU, address space and hooks, shared by
 * the layers inside csrc/core (memory, hooks, run loop, ISAs, engines).
 * Front ends (Python, REPL, gdb) use vm.h only. */
#ifndef VM_MACHINE_H
#define VM_MACHINE_H

#include "vm.h"
#include <stdatomic.h>
#include <string.h>

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Internal memory-access results, beside the VM_E* codes of vm.h. */
enum {
    VM_EPAGE = -100,     /* the ISA's MMU raised a page fault (cause recorded by the ISA) */
    VM_ESTOPPED = -101,  /* a hook or watchpoint stopped the run; c->stop_reason is set */
};

/* ---- soft TLB -------------------------------------------------------------
 * Direct mapped, one entry per virtual page.  A tag is the page address when
 * that kind of access may take the fast path, VM_TLB_INVALID otherwise.  The
 * fast path compares (addr & (VM_PAGE_MASK | (size - 1))) with the tag, which
 * also sends misaligned accesses to the slow path.  host = addr + addend. */
#define VM_TLB_BITS 12             /* entries each cpu has room for */
#define VM_TLB_SIZE (1u << VM_TLB_BITS)
/* System mode uses fewer of them (vm_tlb_set_bits): every trap and xRET
 * swaps the live TLB with a bank (tlb.c), which must stay cheap.  A Linux
 * user-mode process never switches, and a bigger TLB keeps the slow path
 * away from code that walks a few MiB of data. */
#define VM_TLB_SYS_BITS 8
#define VM_TLB_INVALID (~(uint64_t)0)

typedef struct vm_tlb_entry {
    uint64_t tag_r, tag_w, tag_x;
    uintptr_t addend;
} vm_tlb_entry;

/* mask: the cpu's tlb_mask (entries in use - 1). */
static inline vm_tlb_entry *vm_tlb_entry_for(vm_tlb_entry *tlb, unsigned mask, uint64_t addr)
{
    return &tlb[(addr >> VM_PAGE_SHIFT) & mask];
}

/* A 1/2/4/8-byte little-endian access to host memory (guest RAM through a
 * TLB addend or a region's host pointer; the host is little-endian). */
static inline uint64_t vm_host_load(const void *p, unsigned size)
{
    switch (size) {
    case 1: return *(const uint8_t *)p;
    case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
    case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
    default: { uint64_t v; memcpy(&v, p, 8); return v; }
    }
}

static inline void vm_host_store(void *p, unsigned size, uint64_t v)
{
    switch (size) {
    case 1: *(uint8_t *)p = (uint8_t)v; break;
    case 2: { uint16_t t = (uint16_t)v; memcpy(p, &t, 2); break; }
    case 4: { uint32_t t = (uint32_t)v; memcpy(p, &t, 4); break; }
    default: memcpy(p, &v, 8); break;
    }
}

/* ---- address space ------------------------------------------------------- */
typedef struct vm_region {
    uint64_t base, size;       /* page aligned */
    int prot;                  /* VM_PROT_* */
    uint8_t *host;             /* RAM: host memory for base..base+size */
    uint8_t *code_pages;       /* RAM: 1 byte per page, nonzero if decoded code came from it */
    uint8_t *dirty_pages;      /* RAM: 1 byte per page written since the last snapshot mark */
    struct vm_mmio *mmio;      /* MMIO: callbacks (shared by split pieces) */
    uint64_t mmio_offset;      /* MMIO: offset of base within the device */
} vm_region;

typedef struct vm_mmio {
    vm_mmio_read_fn read;
    vm_mmio_write_fn write;
    void *opaque;
    void (*free_opaque)(void *);
    int refs;
} vm_mmio;

/* ---- hooks ----------------------------------------------------------------- */
struct vm_hook {
    vm_hook_kind kind;
    uint64_t begin, end;       /* end is exclusive; UINT64_MAX for "to the top" */
    vm_hook_fn fn;
    void *opaque;
    void (*free_opaque)(void *);
    bool removed;              /* unlinked lazily so removal inside a callback is safe */
    struct vm_hook *next;
};

/* ---- engines ----------------------------------------------------------------
 * An engine runs one vCPU until c->exit_request is set.  Each ISA provides
 * its engines; the run loop in machine.c is ISA- and engine-neutral. */
typedef struct vm_engine {
    const char *name;
    void (*exec)(vm_cpu *c);
    /* Forget translations of guest code in [begin, end); (0, UINT64_MAX) = all. */
    void (*invalidate)(vm_machine *m, uint64_t begin, uint64_t end);
    void *(*create)(vm_machine *m);        /* per-machine engine state */
    void (*destroy)(vm_machine *m, void *state);
    /* Optional (JIT engines): m->code_cache_dir changed; save the cache now;
     * statistics. */
    void (*code_cache_changed)(vm_machine *m, void *state);
    int (*code_cache_save)(vm_machine *m, void *state);
    void (*stats)(vm_machine *m, void *state, vm_jit_stats *out);
} vm_engine;

/* ---- ISAs ------------------------------------------------------------------- */
struct vm_linux_abi;

typedef struct vm_isa {
    const char *name;
    size_t cpu_size;                         /* sizeof the ISA's cpu struct */
    void (*cpu_reset)(vm_cpu *c);
    int nregs;
    const char *(*reg_name)(int reg);
    int (*reg_lookup)(const char *name);
    int (*reg_read)(vm_cpu *c, int reg, uint64_t *v);
    int (*reg_write)(vm_cpu *c, int reg, uint64_t v);
    uint64_t (*get_pc)(const vm_cpu *c);
    void (*set_pc)(vm_cpu *c, uint64_t pc);
    /* Disassembles bytes[0..avail) at pc into buf; returns the length or 0. */
    int (*disasm)(uint64_t pc, const uint8_t *bytes, size_t avail, char *buf, size_t buflen);
    /* MMU: virtual to physical for one access (NULL: identity). */
    int (*translate)(vm_cpu *c, uint64_t vaddr, int access, uint64_t *paddr);
    /* Physical access check after translation (RISC-V PMP; NULL: none).
     * Returns 0 (allowed, and the same answer for the whole page, so the TLB
     * may cache it), 1 (allowed, but don't cache the page) or VM_EPROT. */
    int (*phys_check)(vm_cpu *c, uint64_t paddr, unsigned size, int access);
    const vm_engine *const *engines;         /* NULL-terminated, first is the default */
    const struct vm_linux_abi *linux_abi;    /* NULL if no Linux user mode */
} vm_isa;

/* ---- vCPU (ISA-neutral head of every ISA's cpu struct) -------------------- */
struct vm_cpu {
    vm_machine *machine;
    _Atomic int exit_request;   /* engines leave exec() at the next block boundary */
    vm_stop_reason stop_reason; /* why this cpu stopped (set together with exit_request) */
    int index;
    uint64_t icount;            /* instructions retired before the current exec() */
    uint64_t budget;            /* instructions this exec() may still retire; engines
                                   count by decrementing it and nothing else */
    uint64_t budget_start;      /* budget when exec() began: retired so far = icount + start - budget */
    uint64_t skip_bp_pc;        /* resuming at a breakpoint: don't stop on it again */
    bool skip_bp;
    vm_fault_info fault;
    uint64_t trap_cause, trap_tval;
    uint64_t watch_addr;
    int watch_access;
    unsigned tlb_mask;          /* entries of tlb in use - 1 (a power of two - 1) */
    vm_tlb_entry tlb[VM_TLB_SIZE];
    /* The live TLB above belongs to one translation context (tlb.c); the
     * TLBs of a few other recent contexts wait in tlb_banks (NULL until the
     * first switch), so that a trap and its return, or a switch back to a
     * recent address space, find their entries again. */
    uint64_t tlb_ctx_space, tlb_ctx_mode;
    struct vm_tlb_bank *tlb_banks;
    /* Tables an engine's generated code reaches from the cpu (the JIT's
     * helpers and jump cache: csrc/jit/jit.h), so that the code itself
     * holds no host address.  Host state: never in a snapshot. */
    void *engine_rt;
    /* Guest traps taken in this exec() (system mode): traps retire nothing,
     * so a hart trapping over and over never uses up its budget; past a
     * bound, the ISA ends the exec() so that the run loop looks at the
     * clock and stop requests (machine.c). */
    unsigned guest_traps;
};

#define VM_MAX_CPUS 64
#define VM_ERRLEN 256

struct vm_machine {
    const vm_isa *isa;
    const vm_engine *engine;
    void *engine_state;
    char *code_cache_dir;      /* vm_machine_set_code_cache, or NULL */
    int ncpus;
    vm_cpu *cpus[VM_MAX_CPUS];

    vm_region *regions;        /* sorted by base, non-overlapping */
    size_t nregions, cap_regions;

    vm_hook *hooks[VM_HOOK_KINDS];
    unsigned hook_mask;        /* bit per kind with at least one live hook */
    unsigned hooks_running;    /* callbacks on the stack: removed hooks are freed later */

    uint64_t *bps; size_t nbps, cap_bps;             /* breakpoints, sorted */
    struct vm_watch { uint64_t addr, len; int access; } *wps; size_t nwps, cap_wps;
    bool has_until; uint64_t until;

    _Atomic int stop_requested;
    void (*slice_cb)(void *);
    void *slice_arg;
    uint64_t (*budget_cap)(void *, vm_cpu *);   /* see vm_machine_set_budget_cap */
    void *budget_cap_arg;
    uint64_t run_deadline_ns;  /* 0 = none */

    struct vm_linux_process *linux;   /* Linux user mode, or NULL */
    struct vm_tracer *tracer;  /* traces and coverage (trace.h), or NULL */
    bool system_mode;          /* traps go to the guest's trap vectors (boards), not to the host */
    char error[VM_ERRLEN];
    int error_errno;           /* the host errno behind a VM_EIO error, or 0 */
};

/* ---- inside the core ------------------------------------------------------- */
int vm_set_error(vm_machine *m, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A VM_EIO error caused by a failed host call: keeps err (an errno) so that
 * Python raises the matching OSError subclass (FileNotFoundError, ...). */
int vm_set_os_error(vm_machine *m, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Memory slow paths for engines.  Return 0, or VM_EUNMAPPED/VM_EPROT/VM_EPAGE
 * (c->fault filled in, the ISA turns it into a trap), or VM_ESTOPPED. */
int vm_mem_load_slow(vm_cpu *c, uint64_t addr, unsigned size, uint64_t *val);
int vm_mem_store_slow(vm_cpu *c, uint64_t addr, unsigned size, uint64_t val);
/* Instruction fetch for decoders: reads size bytes at a pc (fetch hooks are
 * not called here; engines call them per instruction). On success returns 0
 * and marks the page as holding code. */
int vm_mem_fetch(vm_cpu *c, uint64_t addr, unsigned size, uint32_t *out);
/* Host pointer to the start of pc's page for executing, or NULL (fault info
 * filled in).  Fills the exec tag of the TLB. */
uint8_t *vm_mem_fetch_page(vm_cpu *c, uint64_t pc, int *err);

vm_region *vm_region_find(vm_machine *m, uint64_t addr);
void vm_tlb_flush_all(vm_machine *m);
void vm_tlb_flush_cpu(vm_cpu *c);
/* Uses 1 << bits entries of every cpu's TLB from now on (and flushes). */
void vm_tlb_set_bits(vm_machine *m, unsigned bits);
void vm_tlb_flush_page(vm_machine *m, uint64_t vaddr);
/* Make (space, mode) the live translation context of c: the ISA's address
 * space id (RISC-V: satp, which holds the ASID) and everything else that
 * decides translations and permissions (RISC-V: privilege, SUM, MXR, MPRV,
 * MPP).  Cheap when nothing changed. */
void vm_tlb_switch(vm_cpu *c, uint64_t space, uint64_t mode);
/* A page became code: no TLB entry of any context may keep a fast write
 * path to the host page (whatever virtual address maps it). */
void vm_tlb_drop_host_writes(vm_machine *m, uintptr_t host_page);
void vm_tlb_free_banks(vm_cpu *c);
/* Engines: code at [begin,end) changed; drop translations and tell cpus. */
void vm_code_invalidate(vm_machine *m, uint64_t begin, uint64_t end);

/* Instructions retired, exact also while an engine runs (hooks, CSRs). */
static inline uint64_t vm_cpu_retired(const vm_cpu *c)
{
    return c->icount + (c->budget_start - c->budget);
}

/* Stop one cpu / the whole run with a reason (first reason wins). */
void vm_cpu_request_exit(vm_cpu *c, vm_stop_reason why);

/* Hooks. */
static inline bool vm_hooks_any(const vm_machine *m, vm_hook_kind k)
{
    return (m->hook_mask >> k) & 1;
}
void vm_hooks_free_all(vm_machine *m);
bool vm_hooks_cover(const vm_machine *m, vm_hook_kind k, uint64_t begin, uint64_t end);
/* Calls every live hook of kind k whose range contains addr.  For code,
 * block and memory hooks returns VM_HOOK_CONTINUE or a stop code (the cpu
 * has been asked to exit).  For trap/invalid/fault returns VM_HOOK_HANDLED
 * as soon as one hook handles it. */
int vm_hooks_call(vm_cpu *c, vm_hook_kind k, uint64_t addr, unsigned size, uint64_t value);

/* Breakpoints: is there one at pc (including the run's `until`)? */
bool vm_bp_at(const vm_machine *m, uint64_t pc);
bool vm_bp_in(const vm_machine *m, uint64_t begin, uint64_t end);

/* Platform (csrc/platform). */
void *vm_host_alloc_ram(uint64_t size);
void vm_host_free_ram(void *p, uint64_t size);
uint64_t vm_host_now_ns(void);

/* ISAs known to the core. */
extern const vm_isa vm_isa_riscv64;

#endif
