/* virtio_rng.c — virtio entropy device (id 4): fills each buffer from the
 * host's getrandom. */
#include "virtio.h"
#include <sys/random.h>

static uint32_t rng_request(void *dev, int q, const virtio_chain *ch)
{
    uint32_t total = 0;
    for (int i = 0; i < ch->nseg; i++) {
        if (!ch->seg[i].write)
            continue;
        size_t done = 0;
        while (done < ch->seg[i].len) {
            ssize_t n = getrandom(ch->seg[i].p + done, ch->seg[i].len - done, 0);
            if (n <= 0)
                return total;
            done += (size_t)n;
        }
        total += ch->seg[i].len;
    }
    return total;
}

virtio_mmio *virtio_rng_new(vm_machine *m, vm_irq_line irq)
{
    virtio_device d = { .device_id = 4, .nqueues = 1, .request = rng_request };
    return virtio_mmio_new(m, irq, d);
}
