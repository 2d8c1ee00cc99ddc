/* vm.h — the public C API of the vmpy core.
 *
 * Everything outside csrc/core (the Python binding, the Tcl REPL, the gdb
 * stub, the CLI) talks to a machine through these functions only.  The
 * structs are opaque here; csrc/core/machine.h has their layout for the
 * layers inside the core (memory, hooks, engines, ISAs).
 *
 * Conventions: functions that can fail return 0 on success and a negative
 * VM_E* code on failure, with a human-readable message available from
 * vm_machine_error().  Addresses are guest addresses (in a machine without
 * an MMU, guest virtual == guest physical).
 */
#ifndef VM_H
#define VM_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vm_machine vm_machine;
typedef struct vm_cpu vm_cpu;
typedef struct vm_hook vm_hook;

/* ---- errors ------------------------------------------------------------ */
enum {
    VM_OK = 0,
    VM_EINVAL = -1,     /* bad argument */
    VM_ENOMEM = -2,     /* host allocation failed */
    VM_EOVERLAP = -3,   /* map over an existing region */
    VM_EUNMAPPED = -4,  /* address not mapped */
    VM_EPROT = -5,      /* permission denied */
    VM_EFORMAT = -6,    /* malformed input (ELF, image, snapshot) */
    VM_EIO = -7,        /* host I/O error */
    VM_ENOTSUP = -8,    /* not supported on this ISA/engine */
};
const char *vm_machine_error(const vm_machine *m);
/* The host errno behind the last VM_EIO error, or 0 when it has none. */
int vm_machine_errno(const vm_machine *m);

/* ---- machines ------------------------------------------------------------ */
/* isa: "riscv64".  Returns NULL on failure (unknown ISA, out of memory). */
vm_machine *vm_machine_new(const char *isa, int ncpus);
void vm_machine_free(vm_machine *m);
const char *vm_machine_isa(const vm_machine *m);
int vm_machine_ncpus(const vm_machine *m);
vm_cpu *vm_machine_cpu(vm_machine *m, int index);

/* ---- memory ------------------------------------------------------------ */
enum { VM_PROT_R = 1, VM_PROT_W = 2, VM_PROT_X = 4, VM_PROT_RWX = 7 };
#define VM_PAGE_SHIFT 12
#define VM_PAGE_SIZE ((uint64_t)1 << VM_PAGE_SHIFT)
#define VM_PAGE_MASK (~(VM_PAGE_SIZE - 1))

/* RAM backed by anonymous host memory, zero-filled.  addr and size must be
 * multiples of VM_PAGE_SIZE; mapping over an existing region fails with
 * VM_EOVERLAP. */
int vm_mem_map(vm_machine *m, uint64_t addr, uint64_t size, int prot);
int vm_mem_unmap(vm_machine *m, uint64_t addr, uint64_t size);
int vm_mem_protect(vm_machine *m, uint64_t addr, uint64_t size, int prot);

/* MMIO: every guest access of 1, 2, 4 or 8 bytes reaches read/write as one
 * call with the offset from the region's base.  free_opaque (may be NULL) is
 * called when the region goes away. */
typedef uint64_t (*vm_mmio_read_fn)(void *opaque, uint64_t offset, unsigned size);
typedef void (*vm_mmio_write_fn)(void *opaque, uint64_t offset, unsigned size, uint64_t value);
int vm_mmio_map(vm_machine *m, uint64_t addr, uint64_t size,
                vm_mmio_read_fn read, vm_mmio_write_fn write,
                void *opaque, void (*free_opaque)(void *));

/* Debugger-view bulk access: ignores guest permissions, fails with
 * VM_EUNMAPPED if any byte is unmapped (and then copies nothing).  MMIO
 * regions are accessed through their callbacks, 1 byte at a time. */
int vm_mem_read(vm_machine *m, uint64_t addr, void *buf, size_t len);
int vm_mem_write(vm_machine *m, uint64_t addr, const void *buf, size_t len);

typedef struct vm_region_info {
    uint64_t base, size;
    int prot;
    bool is_mmio;
} vm_region_info;
/* Fills up to max entries sorted by address; returns the total count. */
size_t vm_mem_regions(const vm_machine *m, vm_region_info *out, size_t max);

/* One device register access as a guest load/store would make it (size 1,
 * 2, 4 or 8, within one MMIO region): for debuggers (`dev read|write`).
 * Device side effects happen as for the guest.  0, or VM_EUNMAPPED when
 * addr is no MMIO, VM_EINVAL for a bad size or a range leaving the region. */
int vm_mmio_access(vm_machine *m, uint64_t addr, unsigned size, bool write, uint64_t *value);

/* The valid entries of a vCPU's soft TLB, for debuggers (`info tlb`):
 * virtual page, the guest physical page it caches (the RAM region holding
 * its host memory; ~0 if none), the host address of the page, and which
 * accesses take the fast path (VM_PROT_R|W|X).  Fills at most max entries
 * and returns the number of valid ones.  Call it while the cpu is stopped. */
typedef struct vm_tlb_info {
    uint64_t vaddr, paddr;
    uintptr_t host;
    int prot;
} vm_tlb_info;
size_t vm_cpu_tlb(const vm_cpu *c, vm_tlb_info *out, size_t max);
/* Host pointer for len bytes of RAM at addr, or NULL (unmapped, MMIO, or
 * crossing a region boundary).  Valid until the region is unmapped. */
void *vm_mem_host_ptr(vm_machine *m, uint64_t addr, size_t len);

/* ---- registers --------------------------------------------------------- */
/* Registers are numbered by the ISA (see vm_reg_lookup).  Values up to 64
 * bits; FP registers read as their raw bit pattern. */
int vm_reg_lookup(const vm_machine *m, const char *name);   /* <0: unknown */
const char *vm_reg_name(const vm_machine *m, int reg);      /* NULL past the end */
int vm_reg_count(const vm_machine *m);
int vm_cpu_reg_read(vm_cpu *c, int reg, uint64_t *value);
int vm_cpu_reg_write(vm_cpu *c, int reg, uint64_t value);
uint64_t vm_cpu_pc(const vm_cpu *c);
void vm_cpu_set_pc(vm_cpu *c, uint64_t pc);
int vm_cpu_index(const vm_cpu *c);
vm_machine *vm_cpu_machine(vm_cpu *c);
uint64_t vm_cpu_icount(const vm_cpu *c);    /* instructions retired */

/* ---- running ----------------------------------------------------------- */
typedef enum vm_stop_reason {
    VM_STOP_NONE = 0,
    VM_STOP_UNTIL,       /* pc reached the `until` address */
    VM_STOP_COUNT,       /* instruction budget used up */
    VM_STOP_TIMEOUT,     /* wall-clock timeout */
    VM_STOP_REQUEST,     /* vm_machine_stop() or a hook asked to stop */
    VM_STOP_FAULT,       /* unhandled memory fault (see vm_cpu_fault) */
    VM_STOP_TRAP,        /* unhandled trap: ecall, ebreak, exception */
    VM_STOP_INVALID,     /* unhandled invalid instruction */
    VM_STOP_EXIT,        /* the guest exited (Linux user mode, poweroff) */
    VM_STOP_BREAKPOINT,  /* a breakpoint (vm_bp_*) was hit */
    VM_STOP_WATCHPOINT,  /* a watchpoint was hit */
    VM_STOP_ERROR,       /* a callback failed (e.g. raised a Python exception) */
    VM_STOP_WFI,         /* all harts wait for an interrupt that cannot come */
} vm_stop_reason;
const char *vm_stop_reason_name(vm_stop_reason r);

typedef struct vm_run_opts {
    bool has_until;
    uint64_t until;      /* stop before executing this address */
    uint64_t count;      /* max instructions, 0 = unlimited */
    double timeout;      /* seconds, 0 = none */
    int cpu;             /* 0: all cpus take turns; n: run only cpu n-1 (a debugger
                            single-stepping one hart) */
} vm_run_opts;

/* Runs the machine's cpus from their current pcs.  Thread-safe with respect
 * to vm_machine_stop() only.  Returns why it stopped. */
vm_stop_reason vm_machine_run(vm_machine *m, const vm_run_opts *opts);
/* Called by the run loop on its own thread between slices of a few hundred
 * thousand instructions (the binding drops the GIL there). */
void vm_machine_set_slice_callback(vm_machine *m, void (*fn)(void *), void *arg);
/* Called before each slice of cpu c: at most that many instructions run in
 * it (0 counts as 1).  A board uses it to end slices exactly at timer
 * deadlines and scheduled inputs in deterministic mode, so that when an
 * interrupt is taken does not depend on how runs are split. */
void vm_machine_set_budget_cap(vm_machine *m, uint64_t (*fn)(void *arg, vm_cpu *c), void *arg);
/* Asynchronous stop: from a hook, another thread or a signal handler. */
void vm_machine_stop(vm_machine *m);

/* After VM_STOP_FAULT: what faulted. */
typedef struct vm_fault_info {
    uint64_t addr;       /* guest address accessed */
    uint64_t pc;         /* instruction that accessed it */
    int access;          /* VM_PROT_R, VM_PROT_W or VM_PROT_X */
    int size;
    int error;           /* VM_EUNMAPPED or VM_EPROT */
} vm_fault_info;
void vm_cpu_fault(const vm_cpu *c, vm_fault_info *out);
/* After VM_STOP_TRAP: the ISA's cause code and trap value. */
void vm_cpu_trap(const vm_cpu *c, uint64_t *cause, uint64_t *tval);

/* ---- engines ------------------------------------------------------------- */
/* "interp" (always), later "jit", "auto". */
int vm_machine_set_engine(vm_machine *m, const char *engine);
const char *vm_machine_engine(const vm_machine *m);

/* The JIT's persistent code cache (engines "jit" and "auto"): blocks
 * compiled by this machine are saved in dir (when the engine goes, or on
 * vm_machine_code_cache_save) and later machines with the same dir copy
 * them instead of compiling.  NULL turns it off.  Other engines keep the
 * setting for a later switch to a JIT engine. */
int vm_machine_set_code_cache(vm_machine *m, const char *dir);
const char *vm_machine_code_cache(const vm_machine *m);
int vm_machine_code_cache_save(vm_machine *m);

/* The JIT's counters, all uint64_t: X(name, meaning). */
#define VM_JIT_STATS(X) \
    X(compiled, "blocks translated by the code generator") \
    X(loaded, "blocks whose code came from the code cache") \
    X(refused, "blocks left to the interpreter") \
    X(code_bytes, "bytes of code generated (not loaded)") \
    X(flushes, "times code memory was dropped all at once") \
    X(compile_ns, "time spent compiling or loading blocks") \
    X(entries, "times the dispatcher entered compiled code") \
    X(interp_blocks, "blocks run by the fallback interpreter") \
    X(cache_records, "records found in the code cache file at open") \
    X(cache_rejected, "records that failed validation (never run)") \
    X(cache_files_rejected, "cache files ignored: magic, version, key or header") \
    X(cache_saved, "records in the file the last save wrote") \
    X(cache_saved_bytes, "its size in bytes") \
    X(cache_save_errors, "saves that failed")
typedef struct vm_jit_stats {
#define VM_JIT_STAT_FIELD(name, doc) uint64_t name;
    VM_JIT_STATS(VM_JIT_STAT_FIELD)
#undef VM_JIT_STAT_FIELD
} vm_jit_stats;
/* VM_ENOTSUP unless the engine is a JIT. */
int vm_machine_jit_stats(vm_machine *m, vm_jit_stats *out);

/* ---- hooks ------------------------------------------------------------- */
typedef enum vm_hook_kind {
    VM_HOOK_CODE,        /* before each instruction in [begin, end) */
    VM_HOOK_BLOCK,       /* at each block start in [begin, end) */
    VM_HOOK_MEM_READ,    /* data reads in [begin, end) */
    VM_HOOK_MEM_WRITE,   /* data writes in [begin, end) */
    VM_HOOK_MEM_FETCH,   /* instruction fetches in [begin, end) */
    VM_HOOK_MEM_FAULT,   /* unmapped or permission faults in [begin, end) */
    VM_HOOK_TRAP,        /* traps (ecall, ebreak, exceptions) */
    VM_HOOK_INVALID,     /* invalid instructions */
    VM_HOOK_KINDS
} vm_hook_kind;

/* Callback return values. */
enum {
    VM_HOOK_CONTINUE = 0,   /* go on (trap/invalid: not handled) */
    VM_HOOK_HANDLED = 1,    /* trap/invalid: handled, resume after the insn;
                               fault: memory was fixed up, retry the access */
    VM_HOOK_STOP = -1,      /* stop the run with VM_STOP_REQUEST */
    VM_HOOK_ERROR = -2,     /* stop the run with VM_STOP_ERROR */
};

/* code/block: size = instruction or block length in bytes, value unused.
 * mem read/write/fetch: value is the data (for reads, the value read).
 * fault: access in value (VM_PROT_*).  trap: addr = cause, value = tval,
 * size = length of the trapping instruction.  invalid: value = raw bits. */
typedef int (*vm_hook_fn)(vm_cpu *c, uint64_t addr, unsigned size,
                          uint64_t value, void *opaque);

/* begin/end: half-open range, end = 0 means "to the top of the address
 * space".  The hook takes effect at once, also when added from inside a
 * callback while the machine runs. */
vm_hook *vm_hook_add(vm_machine *m, vm_hook_kind kind, uint64_t begin, uint64_t end,
                     vm_hook_fn fn, void *opaque, void (*free_opaque)(void *));
void vm_hook_remove(vm_machine *m, vm_hook *h);

/* ---- breakpoints (gdb, REPL) -------------------------------------------- */
int vm_bp_add(vm_machine *m, uint64_t addr);
int vm_bp_remove(vm_machine *m, uint64_t addr);
int vm_wp_add(vm_machine *m, uint64_t addr, uint64_t len, int access);
int vm_wp_remove(vm_machine *m, uint64_t addr, uint64_t len, int access);
/* After VM_STOP_WATCHPOINT: which address and access. */
void vm_cpu_watch_hit(const vm_cpu *c, uint64_t *addr, int *access);

/* ---- code ------------------------------------------------------------- */
/* Disassembles one instruction at addr (read from guest memory).  Returns
 * its length in bytes (0 if unreadable). */
int vm_disasm(vm_machine *m, uint64_t addr, char *buf, size_t buflen);

/* ---- ELF and Linux user mode ---------------------------------------------- */
typedef struct vm_elf_info {
    uint64_t entry;
    uint64_t phdr_addr;      /* guest address of the program headers, or 0 */
    uint64_t phnum, phent;
    uint64_t lo, hi;         /* lowest and highest loaded address */
    uint64_t brk;            /* end of the highest segment, page aligned */
} vm_elf_info;
/* Maps and loads PT_LOAD segments (bias added to every address). */
int vm_elf_load(vm_machine *m, const void *image, size_t len, uint64_t bias,
                vm_elf_info *info);

/* Sets the machine up as a Linux process (like qemu-user): loads the static
 * ELF at path, builds the stack with argv/envp/auxv.  Syscalls go to the
 * host; the run stops with VM_STOP_EXIT when the guest exits. */
int vm_linux_exec(vm_machine *m, const char *path, int argc, char *const argv[],
                  char *const envp[]);
int vm_linux_exit_code(const vm_machine *m);
void vm_linux_set_verbose(vm_machine *m, bool verbose);

#ifdef __cplusplus
}
#endif
#endif
