/* virtio_rng.c — virtio entropy device (id 4): fills each buffer from the
 * machine's random source (vm_clock_random: the host's getrandom, or a
 * seeded stream in deterministic mode). */
#include "virtio.h"
#include "core/snapshot.h"

static uint32_t rng_request(void *dev, int q, const virtio_chain *ch)
{
    uint32_t total = 0;
    for (int i = 0; i < ch->nseg; i++) {
        if (!ch->seg[i].write)
            continue;
        vm_clock_random(dev, ch->seg[i].p, ch->seg[i].len);
        total += ch->seg[i].len;
    }
    return total;
}

virtio_mmio *virtio_rng_new(vm_machine *m, vm_irq_line irq)
{
    virtio_device d = { .device_id = 4, .nqueues = 1, .request = rng_request, .dev = m };
    return virtio_mmio_new(m, irq, d);
}
