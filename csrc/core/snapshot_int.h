/* snapshot_int.h — layout of snapshots and of the per-machine snapshot state,
 * shared by snapshot.c (take/restore), snapshot_io.c (serialization),
 * snapshot_state.c (per-machine state, sections) and clock.c. */
#ifndef VM_SNAPSHOT_INT_H
#define VM_SNAPSHOT_INT_H

#include "machine.h"
#include "snapshot.h"

/* One region as a snapshot saw it.  RAM is held either in full (data spans
 * the whole region in an anonymous mapping; present[p] says page p is
 * non-zero and was copied) or as a delta against the snapshot's base (pages
 * listed in idx, sorted, their contents packed in data). */
typedef struct snap_region {
    uint64_t base, size;
    int prot;
    bool is_mmio;
    bool is_delta;
    uint8_t *data;
    uint8_t *present;        /* full: 1 byte per page */
    uint32_t *idx;           /* delta: page indices */
    uint64_t ndelta;
} snap_region;

typedef struct snap_section {
    char *name;
    uint8_t *data;
    size_t len;
} snap_section;

/* The head fields of vm_cpu that are machine state rather than run-loop
 * bookkeeping or host pointers. */
typedef struct snap_cpu_head {
    uint64_t icount;
    vm_fault_info fault;
    uint64_t trap_cause, trap_tval;
    uint64_t watch_addr;
    int32_t watch_access;
} snap_cpu_head;

typedef struct snap_clock {
    bool deterministic;
    uint64_t ns_per_insn;
    uint64_t realtime_base_ns;
    uint64_t warp_ns;             /* time skipped while every hart slept (deterministic) */
    uint64_t rng_seed;            /* deterministic random stream: seed and blocks used */
    uint64_t rng_counter;
} snap_clock;

struct vm_snapshot {
    int refs;
    uint64_t id;                  /* unique in this process: lineage checks */
    const vm_isa *isa;
    int ncpus;
    size_t cpu_size;              /* the ISA's cpu struct size when taken */
    snap_cpu_head *heads;         /* ncpus */
    uint8_t *cpus;                /* ncpus * (cpu_size - sizeof(vm_cpu)): the ISA part */
    vm_snapshot *base;            /* incremental: strong reference */
    snap_region *regions;         /* sorted by base */
    size_t nregions;
    snap_section *sections;
    size_t nsections;
    snap_clock clock;
};

/* ---- per-machine state (snapshot_state.c) ------------------------------------ */
typedef struct snap_dev {
    char *name;
    vm_snap_section_ops ops;
    void *opaque;
} snap_dev;

typedef struct snap_machine {
    vm_machine *m;
    vm_snapshot *mark;            /* dirty_pages are relative to it (strong ref) */
    snap_clock clock;
    snap_dev *devs;
    size_t ndevs;
} snap_machine;

/* The machine's state; created on first use when create is set (NULL only
 * then on allocation failure). */
snap_machine *vm_snap_machine(vm_machine *m, bool create);
/* Runs fn on the machine's state under the table lock (for the clock, which
 * is read from the run thread while other threads may add machines). */
void vm_snap_clock_get(vm_machine *m, snap_clock *out);

/* ---- helpers shared by the snapshot files ------------------------------------ */
#define SNAP_PAGE VM_PAGE_SIZE
vm_snapshot *vm_snap_alloc(const vm_isa *isa, int ncpus, size_t cpu_size);
void vm_snap_region_free(snap_region *r);
size_t vm_snap_cpu_isa_size(const vm_snapshot *s);
/* Contents of the page at guest address addr (page aligned) as s saw it,
 * resolving incremental snapshots through their bases; NULL if s has no RAM
 * there.  Zero pages come back as a shared zero page. */
const uint8_t *vm_snap_page(const vm_snapshot *s, uint64_t addr);
const snap_region *vm_snap_region_at(const vm_snapshot *s, uint64_t addr);
bool vm_snap_page_is_zero(const uint8_t *p);
const vm_isa *vm_snap_isa_by_name(const char *name);

#endif
