/* clock.c — the guest's sense of time.
 *
 * By default guest clocks follow the host.  In deterministic mode they are a
 * pure function of the instructions retired by all cpus, so nothing about
 * host speed, load or thread timing reaches the guest: two runs from the
 * same snapshot read the same times at the same instructions.  The clock
 * settings are part of every snapshot. */
#include "snapshot_int.h"
#include <string.h>
#include <sys/random.h>
#include <time.h>

int vm_clock_set_deterministic(vm_machine *m, bool on)
{
    snap_machine *sm = vm_snap_machine(m, true);
    if (!sm)
        return vm_set_error(m, VM_ENOMEM, "out of memory");
    sm->clock.deterministic = on;
    return 0;
}

bool vm_clock_deterministic(vm_machine *m)
{
    snap_clock c;
    vm_snap_clock_get(m, &c);
    return c.deterministic;
}

int vm_clock_configure(vm_machine *m, uint64_t ns_per_insn, uint64_t realtime_base_ns)
{
    if (ns_per_insn < 1 || ns_per_insn > 1000000)
        return vm_set_error(m, VM_EINVAL, "ns_per_insn must be 1..1000000");
    snap_machine *sm = vm_snap_machine(m, true);
    if (!sm)
        return vm_set_error(m, VM_ENOMEM, "out of memory");
    sm->clock.ns_per_insn = ns_per_insn;
    sm->clock.realtime_base_ns = realtime_base_ns;
    return 0;
}

/* Instructions retired by the whole machine: with several harts the run
 * loop interleaves them in fixed slices, so the sum is deterministic too. */
static uint64_t machine_insns(vm_machine *m)
{
    uint64_t n = 0;
    for (int i = 0; i < m->ncpus; i++)
        n += vm_cpu_retired(m->cpus[i]);
    return n;
}

/* Host time counts from the first use in the process, so guest clocks start
 * near zero as on a freshly powered board. */
static uint64_t host_ns_since_start(void)
{
    static _Atomic uint64_t start;
    uint64_t now = vm_host_now_ns(), expected = 0;
    if (!atomic_compare_exchange_strong(&start, &expected, now))
        return now - expected;
    return 0;
}

uint64_t vm_clock_monotonic_ns(vm_machine *m)
{
    snap_clock c;
    vm_snap_clock_get(m, &c);
    if (c.deterministic)
        return machine_insns(m) * c.ns_per_insn + c.warp_ns;
    return host_ns_since_start();
}

uint64_t vm_clock_realtime_ns(vm_machine *m)
{
    snap_clock c;
    vm_snap_clock_get(m, &c);
    if (c.deterministic)
        return c.realtime_base_ns + machine_insns(m) * c.ns_per_insn + c.warp_ns;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void vm_clock_warp_to(vm_machine *m, uint64_t mono_ns)
{
    snap_machine *sm = vm_snap_machine(m, true);
    if (!sm || !sm->clock.deterministic)
        return;
    uint64_t now = machine_insns(m) * sm->clock.ns_per_insn + sm->clock.warp_ns;
    if (mono_ns > now)
        sm->clock.warp_ns += mono_ns - now;
}

uint64_t vm_clock_insns_until(vm_machine *m, uint64_t mono_ns)
{
    snap_clock c;
    vm_snap_clock_get(m, &c);
    if (!c.deterministic)
        return UINT64_MAX;
    uint64_t now = machine_insns(m) * c.ns_per_insn + c.warp_ns;
    if (mono_ns <= now)
        return 0;
    return (mono_ns - now + c.ns_per_insn - 1) / c.ns_per_insn;
}

int vm_clock_seed(vm_machine *m, uint64_t seed)
{
    snap_machine *sm = vm_snap_machine(m, true);
    if (!sm)
        return vm_set_error(m, VM_ENOMEM, "out of memory");
    sm->clock.rng_seed = seed;
    sm->clock.rng_counter = 0;
    return 0;
}

/* SplitMix64 over (seed, block number): a counter-based generator, so the
 * stream's position is one integer that snapshots carry.  Not for secrets:
 * a deterministic guest wants reproducibility, not unpredictability. */
static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void vm_clock_random(vm_machine *m, void *buf, size_t len)
{
    uint8_t *out = buf;
    snap_machine *sm = vm_snap_machine(m, true);
    if (!sm || !sm->clock.deterministic) {
        while (len) {
            ssize_t n = getrandom(out, len, 0);
            if (n <= 0)
                break;              /* only EINTR-like failures: left as is */
            out += n;
            len -= (size_t)n;
        }
        return;
    }
    while (len) {
        uint64_t v = mix(sm->clock.rng_seed + 0x9e3779b97f4a7c15ull * ++sm->clock.rng_counter);
        size_t k = len < 8 ? len : 8;
        memcpy(out, &v, k);
        out += k;
        len -= k;
    }
}
