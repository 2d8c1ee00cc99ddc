/* virtio_console.c — virtio console (device id 3) with a single port and
 * no optional features: Linux's virtio_console driver makes it /dev/hvc0.
 *
 * Queue 0 (receiveq) holds guest buffers for host input: they stay queued
 * (VIRTIO_DEFER) until the host writes something, then the board's run
 * thread fills them in virtio_console_poll.  Queue 1 (transmitq) carries
 * guest output into a ring the host reads with a timeout.  Both rings are
 * bounded: input beyond the ring is refused (the writer learns how much
 * went in), and a host that does not read loses the oldest output. */
#include "virtio.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RING 65536
#define Q_RX 0
#define Q_TX 1

typedef struct ring { uint8_t b[RING]; size_t head, len; } ring;

struct virtio_console {
    virtio_mmio *v;
    pthread_mutex_t lock;
    pthread_cond_t cond;          /* output arrived */
    ring in, out;
    uint8_t config[12];           /* cols, rows, max_nr_ports, emerg_wr: unused */
};

static size_t ring_put(ring *r, const uint8_t *p, size_t n, bool overwrite)
{
    size_t done = 0;
    for (; done < n; done++) {
        if (r->len == RING) {
            if (!overwrite)
                break;
            r->head = (r->head + 1) % RING;
            r->len--;
        }
        r->b[(r->head + r->len++) % RING] = p[done];
    }
    return done;
}

static size_t ring_get(ring *r, uint8_t *p, size_t max)
{
    size_t n = 0;
    while (n < max && r->len) {
        p[n++] = r->b[r->head];
        r->head = (r->head + 1) % RING;
        r->len--;
    }
    return n;
}

static uint32_t rx_request(virtio_console *vc, const virtio_chain *ch)
{
    uint8_t buf[4096];
    size_t room = virtio_chain_writable(ch);
    pthread_mutex_lock(&vc->lock);
    if (!vc->in.len) {
        pthread_mutex_unlock(&vc->lock);
        return VIRTIO_DEFER;
    }
    size_t n = ring_get(&vc->in, buf, room < sizeof buf ? room : sizeof buf);
    pthread_mutex_unlock(&vc->lock);
    return (uint32_t)virtio_chain_write(ch, 0, buf, n);
}

static uint32_t tx_request(virtio_console *vc, const virtio_chain *ch)
{
    uint8_t buf[4096];
    size_t off = 0, n;
    pthread_mutex_lock(&vc->lock);
    while ((n = virtio_chain_read(ch, off, buf, sizeof buf)) > 0) {
        ring_put(&vc->out, buf, n, true);
        off += n;
    }
    pthread_cond_broadcast(&vc->cond);
    pthread_mutex_unlock(&vc->lock);
    return 0;
}

static uint32_t con_request(void *dev, int q, const virtio_chain *ch)
{
    return q == Q_RX ? rx_request(dev, ch) : tx_request(dev, ch);
}

static void con_free(void *dev)
{
    virtio_console *vc = dev;
    pthread_mutex_destroy(&vc->lock);
    pthread_cond_destroy(&vc->cond);
    free(vc);
}

virtio_mmio *virtio_console_new(vm_machine *m, vm_irq_line irq, virtio_console **out)
{
    virtio_console *vc = calloc(1, sizeof *vc);
    if (!vc)
        return NULL;
    pthread_mutex_init(&vc->lock, NULL);
    pthread_cond_init(&vc->cond, NULL);
    virtio_device d = { .device_id = 3, .nqueues = 2, .config = vc->config,
                        .config_size = sizeof vc->config, .request = con_request,
                        .free = con_free, .dev = vc };
    virtio_mmio *v = virtio_mmio_new(m, irq, d);   /* frees vc on failure */
    if (!v)
        return NULL;
    vc->v = v;
    if (out)
        *out = vc;
    return v;
}

bool virtio_console_input_pending(virtio_console *vc)
{
    pthread_mutex_lock(&vc->lock);
    bool any = vc->in.len != 0;
    pthread_mutex_unlock(&vc->lock);
    return any;
}

void virtio_console_poll(virtio_console *vc)
{
    if (vc && virtio_console_input_pending(vc))
        virtio_mmio_notify(vc->v, Q_RX);
}

size_t virtio_console_host_write(virtio_console *vc, const uint8_t *buf, size_t n)
{
    pthread_mutex_lock(&vc->lock);
    size_t done = ring_put(&vc->in, buf, n, false);
    pthread_mutex_unlock(&vc->lock);
    return done;
}

size_t virtio_console_host_read(virtio_console *vc, uint8_t *buf, size_t max, double timeout)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)((timeout > 0 ? timeout : 0) * 1e9);
    ts.tv_sec += (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    pthread_mutex_lock(&vc->lock);
    while (!vc->out.len && timeout > 0)
        if (pthread_cond_timedwait(&vc->cond, &vc->lock, &ts) == ETIMEDOUT)
            break;
    size_t n = ring_get(&vc->out, buf, max);
    pthread_mutex_unlock(&vc->lock);
    return n;
}
