/* snapshot.h — snapshots, device state sections and deterministic time: the
 * public C API beside vm.h.
 *
 * A snapshot holds everything that determines a machine's future execution:
 * every vCPU's architectural state and instruction count, the RAM layout with
 * permissions and contents, the deterministic clock and the state of every
 * device that registered a section.  Snapshots are immutable and reference
 * counted; an incremental snapshot keeps a reference to its base.
 *
 * Dirty-page tracking: taking or restoring a snapshot makes it the machine's
 * "mark" and starts write tracking (vm_region.dirty_pages).  Restoring a
 * snapshot related to the mark (the mark itself, its base chain, or a
 * snapshot derived from the same base) copies back only the pages written
 * since the mark plus the pages the snapshots in between changed; anything
 * else falls back to a full copy.  Host writes that bypass vm_mem_write must
 * call vm_mem_note_dirty() or the fast restore will miss them.
 *
 * Errors: functions returning int give 0 or a VM_E* code with the message in
 * vm_machine_error(m); the ones without a machine take an error buffer.
 */
#ifndef VM_SNAPSHOT_H
#define VM_SNAPSHOT_H

#include "vm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vm_snapshot vm_snapshot;

/* ---- taking and restoring ------------------------------------------------ */
/* Full snapshot (base == NULL) or incremental one holding only the pages that
 * differ from base (base must be of the same ISA and cpu count); *out gets
 * the new snapshot (one reference, the caller's). */
int vm_snapshot_take(vm_machine *m, vm_snapshot *base, vm_snapshot **out);
/* Puts the machine in the state s describes: cpus, RAM layout and contents,
 * clock, device sections.  Everything is validated before anything changes
 * (VM_EFORMAT: other ISA or cpu count, RAM over an MMIO region, a device
 * section without its device or the reverse). */
int vm_snapshot_restore(vm_machine *m, vm_snapshot *s);

void vm_snapshot_ref(vm_snapshot *s);
void vm_snapshot_unref(vm_snapshot *s);

/* ---- inspecting ------------------------------------------------------------ */
const char *vm_snapshot_isa(const vm_snapshot *s);
int vm_snapshot_ncpus(const vm_snapshot *s);
vm_snapshot *vm_snapshot_base(const vm_snapshot *s);   /* NULL for a full snapshot */
uint64_t vm_snapshot_stored_pages(const vm_snapshot *s); /* non-zero pages held by s itself */
uint64_t vm_snapshot_icount(const vm_snapshot *s, int cpu);
/* RAM regions of the snapshot (MMIO ones with is_mmio); same contract as vm_mem_regions. */
size_t vm_snapshot_regions(const vm_snapshot *s, vm_region_info *out, size_t max);
/* Reads guest RAM as the snapshot saw it; VM_EUNMAPPED if any byte is not RAM in s. */
int vm_snapshot_read(const vm_snapshot *s, uint64_t addr, void *buf, size_t len);

/* ---- serialization ------------------------------------------------------------
 * A self-contained little-endian payload (incremental snapshots are flattened
 * through their base chain; zero pages are skipped).  The file layer (header,
 * checksum, compression, atomic write) wraps it.  deserialize validates every
 * length, index and field before building anything and never returns a
 * partial snapshot. */
/* Version 2 added the clock's warp and random stream to META; version 1
 * payloads are still read. */
#define VM_SNAPSHOT_PAYLOAD_VERSION 2
int vm_snapshot_serialize(const vm_snapshot *s, uint8_t **out, size_t *len,
                          char *err, size_t errlen);          /* *out: free() it */
vm_snapshot *vm_snapshot_deserialize(const void *buf, size_t len, char *err, size_t errlen);

/* ---- device sections --------------------------------------------------------
 * A device model registers one named section per instance.  save returns a
 * malloc()ed blob; check validates a blob without applying it (restore calls
 * every check before any load); load must then succeed. */
typedef struct vm_snap_section_ops {
    int (*save)(void *opaque, uint8_t **data, size_t *len);
    int (*check)(void *opaque, const uint8_t *data, size_t len);
    void (*load)(void *opaque, const uint8_t *data, size_t len);
} vm_snap_section_ops;
int vm_snapshot_section_register(vm_machine *m, const char *name,
                                 const vm_snap_section_ops *ops, void *opaque);
void vm_snapshot_section_unregister(vm_machine *m, const char *name);

/* Host code that writes guest RAM through vm_mem_host_ptr() marks it here. */
void vm_mem_note_dirty(vm_machine *m, uint64_t addr, uint64_t len);

/* Forgets the machine's snapshot state (mark, sections, clock); call from
 * vm_machine_free() before the regions go. */
void vm_snapshot_machine_free(vm_machine *m);

/* ---- deterministic time (clock.c) ---------------------------------------------
 * Off: guest clocks follow the host.  On: guest time is a pure function of
 * instructions retired (all cpus), so two runs from the same snapshot with the
 * same inputs read the same times: ns = start_ns + insns * ns_per_insn. */
int vm_clock_set_deterministic(vm_machine *m, bool on);
bool vm_clock_deterministic(vm_machine *m);
/* ns_per_insn >= 1 (default 1: a 1 GHz guest); realtime_base_ns: wall-clock
 * time the guest sees at 0 ns (default 2024-01-01T00:00:00Z). */
int vm_clock_configure(vm_machine *m, uint64_t ns_per_insn, uint64_t realtime_base_ns);
/* Monotonic guest nanoseconds (the time CSR, mtime, CLOCK_MONOTONIC). */
uint64_t vm_clock_monotonic_ns(vm_machine *m);
/* Wall-clock guest nanoseconds since the Unix epoch (CLOCK_REALTIME, RTC). */
uint64_t vm_clock_realtime_ns(vm_machine *m);
/* Deterministic mode only: moves guest time forward to at least mono_ns
 * (monotonic) without retiring instructions, as a board does when every
 * hart sleeps until a timer.  A no-op otherwise or if mono_ns is past. */
void vm_clock_warp_to(vm_machine *m, uint64_t mono_ns);
/* Deterministic mode: instructions (all cpus) until monotonic time reaches
 * mono_ns, 0 if it has; UINT64_MAX when not deterministic. */
uint64_t vm_clock_insns_until(vm_machine *m, uint64_t mono_ns);
/* Random bytes for the guest (getrandom, AT_RANDOM, virtio-rng): the host's
 * in normal mode; in deterministic mode a stream that depends only on the
 * seed and on how many bytes were drawn before (and is part of snapshots). */
void vm_clock_random(vm_machine *m, void *buf, size_t len);
int vm_clock_seed(vm_machine *m, uint64_t seed);

#ifdef __cplusplus
}
#endif
#endif
