/* virtio.h — virtio 1.x over MMIO (virtio_mmio.c): the transport and split
 * virtqueues, and the device back ends that plug into it (virtio_blk.c,
 * virtio_rng.c).  Buffers are guest RAM reached through host pointers. */
#ifndef VM_VIRTIO_H
#define VM_VIRTIO_H

#include "devices.h"
#include "core/vm.h"

#define VIRTIO_MAX_SEGS 130
#define VIRTIO_DEFER 0xffffffffu

/* One request: the descriptor chain as host memory segments. */
typedef struct virtio_chain {
    struct { uint8_t *p; uint32_t len; bool write; } seg[VIRTIO_MAX_SEGS];
    int nseg;
} virtio_chain;

/* Copies up to n bytes out of the readable part of a chain starting at
 * byte off of it; returns the count. */
size_t virtio_chain_read(const virtio_chain *ch, size_t off, void *dst, size_t n);
/* Copies into the writable part starting at byte off of it. */
size_t virtio_chain_write(const virtio_chain *ch, size_t off, const void *src, size_t n);
size_t virtio_chain_readable(const virtio_chain *ch);
size_t virtio_chain_writable(const virtio_chain *ch);

typedef struct virtio_device {
    uint32_t device_id;          /* 0: an empty slot */
    uint64_t features;           /* device features besides VIRTIO_F_VERSION_1 */
    int nqueues;
    uint8_t *config;             /* device configuration space */
    uint32_t config_size;
    /* Handles one chain from queue q; returns the bytes written into it,
     * or VIRTIO_DEFER to leave the chain queued (a receive queue with
     * nothing to deliver yet; virtio_mmio_notify retries later). */
    uint32_t (*request)(void *dev, int q, const virtio_chain *ch);
    void (*flush)(void *dev);    /* make writes durable (may be NULL) */
    void (*free)(void *dev);
    void *dev;
} virtio_device;

typedef struct virtio_mmio virtio_mmio;
virtio_mmio *virtio_mmio_new(vm_machine *m, vm_irq_line irq, virtio_device d);
virtio_mmio *virtio_mmio_new_empty(vm_machine *m, vm_irq_line irq);
void virtio_mmio_free(virtio_mmio *v);
void virtio_mmio_flush(virtio_mmio *v);
/* Processes queue q as if the guest had notified it (run thread only):
 * devices call it when host data arrives for deferred buffers. */
void virtio_mmio_notify(virtio_mmio *v, int q);
uint64_t virtio_mmio_read(void *v, uint64_t off, unsigned size);
void virtio_mmio_write(void *v, uint64_t off, unsigned size, uint64_t val);
VM_DEVICE_SNAP_DECL(virtio_mmio)

/* Back ends: NULL (message in err) on failure. */
virtio_mmio *virtio_blk_new(vm_machine *m, vm_irq_line irq, const char *path, bool readonly,
                            char *err, size_t errlen);
virtio_mmio *virtio_rng_new(vm_machine *m, vm_irq_line irq);

/* virtio-console (virtio_console.c): one port, /dev/hvc0 in Linux.  The
 * host side is thread-safe; the board calls virtio_console_poll from its
 * run thread to deliver pending input. */
typedef struct virtio_console virtio_console;
virtio_mmio *virtio_console_new(vm_machine *m, vm_irq_line irq, virtio_console **out);
void virtio_console_poll(virtio_console *vc);
bool virtio_console_input_pending(virtio_console *vc);
size_t virtio_console_host_read(virtio_console *vc, uint8_t *buf, size_t max, double timeout);
size_t virtio_console_host_write(virtio_console *vc, const uint8_t *buf, size_t n);

/* virtio-net with libslirp user networking (virtio_net.c).  hostfwd:
 * "tcp:HOSTPORT:GUESTPORT[,...]" or NULL.  virtio_net_poll runs on the
 * board's run thread between slices. */
typedef struct virtio_net virtio_net;
virtio_mmio *virtio_net_new(vm_machine *m, vm_irq_line irq, const char *hostfwd, virtio_net **out,
                            char *err, size_t errlen);
void virtio_net_poll(virtio_net *n);
bool virtio_net_available(void);             /* built with libslirp? */

#endif
