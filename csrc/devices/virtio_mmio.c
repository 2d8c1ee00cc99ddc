/* virtio_mmio.c — the virtio-mmio transport (version 2, virtio 1.x) with
 * split virtqueues.  A notify processes the queue at once on the run
 * thread; completions go to the used ring and raise the interrupt.  Bad
 * guest input (descriptors outside RAM, loops, oversized chains) marks the
 * device as needing a reset instead of touching host memory. */
#include "virtio.h"
#include "devstate.h"
#include "core/snapshot.h"
#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX 256
#define MAX_QUEUES 4
#define VIRTIO_F_VERSION_1 (1ull << 32)
#define STATUS_NEEDS_RESET 0x40
#define DESC_F_NEXT 1
#define DESC_F_WRITE 2

typedef struct vq {
    uint32_t num, ready;
    uint64_t desc, avail, used;
    uint16_t last_avail;
} vq;

struct virtio_mmio {
    vm_machine *m;
    vm_irq_line irq;
    virtio_device d;
    uint32_t status, dev_features_sel, drv_features_sel, queue_sel, int_status;
    uint64_t drv_features;
    vq q[MAX_QUEUES];
};

virtio_mmio *virtio_mmio_new(vm_machine *m, vm_irq_line irq, virtio_device d)
{
    virtio_mmio *v = calloc(1, sizeof *v);
    if (!v) {
        if (d.free)
            d.free(d.dev);
        return NULL;
    }
    v->m = m;
    v->irq = irq;
    v->d = d;
    if (v->d.nqueues > MAX_QUEUES)
        v->d.nqueues = MAX_QUEUES;
    return v;
}

virtio_mmio *virtio_mmio_new_empty(vm_machine *m, vm_irq_line irq)
{
    return virtio_mmio_new(m, irq, (virtio_device){ 0 });
}

void virtio_mmio_flush(virtio_mmio *v)
{
    if (v && v->d.flush)
        v->d.flush(v->d.dev);
}

void virtio_mmio_free(virtio_mmio *v)
{
    if (!v)
        return;
    virtio_mmio_flush(v);
    if (v->d.free)
        v->d.free(v->d.dev);
    free(v);
}

/* ---- chains ------------------------------------------------------------- */

size_t virtio_chain_readable(const virtio_chain *ch)
{
    size_t n = 0;
    for (int i = 0; i < ch->nseg; i++)
        if (!ch->seg[i].write)
            n += ch->seg[i].len;
    return n;
}

size_t virtio_chain_writable(const virtio_chain *ch)
{
    size_t n = 0;
    for (int i = 0; i < ch->nseg; i++)
        if (ch->seg[i].write)
            n += ch->seg[i].len;
    return n;
}

static size_t chain_copy(const virtio_chain *ch, bool write, size_t off, uint8_t *buf, size_t n)
{
    size_t done = 0;
    for (int i = 0; i < ch->nseg && done < n; i++) {
        if (ch->seg[i].write != write)
            continue;
        size_t len = ch->seg[i].len;
        if (off >= len) {
            off -= len;
            continue;
        }
        size_t k = len - off < n - done ? len - off : n - done;
        if (write)
            memcpy(ch->seg[i].p + off, buf + done, k);
        else
            memcpy(buf + done, ch->seg[i].p + off, k);
        done += k;
        off = 0;
    }
    return done;
}

size_t virtio_chain_read(const virtio_chain *ch, size_t off, void *dst, size_t n)
{
    return chain_copy(ch, false, off, dst, n);
}

size_t virtio_chain_write(const virtio_chain *ch, size_t off, const void *src, size_t n)
{
    return chain_copy(ch, true, off, (uint8_t *)src, n);
}

/* ---- queues ------------------------------------------------------------- */

static void *ram(virtio_mmio *v, uint64_t addr, size_t len)
{
    return len ? vm_mem_host_ptr(v->m, addr, len) : NULL;
}

static int build_chain(virtio_mmio *v, vq *q, uint16_t head, virtio_chain *ch)
{
    ch->nseg = 0;
    uint16_t i = head;
    for (unsigned steps = 0; steps < q->num; steps++) {
        uint8_t *d = ram(v, q->desc + 16ull * i, 16);
        if (!d || i >= q->num || ch->nseg == VIRTIO_MAX_SEGS)
            return -1;
        uint64_t addr;
        uint32_t len;
        uint16_t flags, next;
        memcpy(&addr, d, 8);
        memcpy(&len, d + 8, 4);
        memcpy(&flags, d + 12, 2);
        memcpy(&next, d + 14, 2);
        uint8_t *p = ram(v, addr, len);
        if (len && !p)
            return -1;
        if (flags & DESC_F_WRITE)       /* the back end writes it: incremental snapshots must know */
            vm_mem_note_dirty(v->m, addr, len);
        ch->seg[ch->nseg].p = p;
        ch->seg[ch->nseg].len = len;
        ch->seg[ch->nseg].write = flags & DESC_F_WRITE;
        ch->nseg++;
        if (!(flags & DESC_F_NEXT))
            return 0;
        i = next;
    }
    return -1;                                  /* a loop */
}

static void process(virtio_mmio *v, int qi)
{
    vq *q = &v->q[qi];
    if (!q->ready || !q->num || !v->d.request)
        return;
    uint8_t *avail = ram(v, q->avail, 4 + 2ull * q->num);
    uint8_t *used = ram(v, q->used, 4 + 8ull * q->num);
    if (!avail || !used) {
        v->status |= STATUS_NEEDS_RESET;
        return;
    }
    vm_mem_note_dirty(v->m, q->used, 4 + 8ull * q->num);
    virtio_chain *ch = malloc(sizeof *ch);
    if (!ch)
        return;
    bool any = false;
    for (;;) {
        uint16_t avail_idx;
        memcpy(&avail_idx, avail + 2, 2);
        if (q->last_avail == avail_idx)
            break;
        uint16_t head;
        memcpy(&head, avail + 4 + 2 * (q->last_avail % q->num), 2);
        q->last_avail++;
        uint32_t written = 0;
        if (build_chain(v, q, head, ch)) {
            v->status |= STATUS_NEEDS_RESET;
            break;
        }
        written = v->d.request(v->d.dev, qi, ch);
        if (written == VIRTIO_DEFER) {         /* no data yet: keep the buffer */
            q->last_avail--;
            break;
        }
        uint16_t used_idx;
        memcpy(&used_idx, used + 2, 2);
        uint32_t elem[2] = { head, written };
        memcpy(used + 4 + 8 * (used_idx % q->num), elem, 8);
        used_idx++;
        __atomic_thread_fence(__ATOMIC_RELEASE);
        memcpy(used + 2, &used_idx, 2);
        any = true;
    }
    free(ch);
    if (any) {
        v->int_status |= 1;
        vm_irq_set(&v->irq, true);
    }
}

static void reset(virtio_mmio *v)
{
    v->status = v->int_status = 0;
    v->drv_features = 0;
    v->queue_sel = v->dev_features_sel = v->drv_features_sel = 0;
    memset(v->q, 0, sizeof v->q);
    vm_irq_set(&v->irq, false);
}

/* ---- registers ---------------------------------------------------------- */

uint64_t virtio_mmio_read(void *opaque, uint64_t off, unsigned size)
{
    virtio_mmio *v = opaque;
    if (off >= 0x100) {
        uint64_t o = off - 0x100, val = 0;
        if (o + size <= v->d.config_size)
            memcpy(&val, v->d.config + o, size);
        return val;
    }
    if (size != 4)
        return 0;
    uint64_t feats = v->d.features | VIRTIO_F_VERSION_1;
    vq *q = v->queue_sel < MAX_QUEUES ? &v->q[v->queue_sel] : NULL;
    bool qok = q && (int)v->queue_sel < v->d.nqueues;
    switch (off) {
    case 0x000: return 0x74726976;              /* "virt" */
    case 0x004: return 2;
    case 0x008: return v->d.device_id;
    case 0x00c: return 0x554d4551;
    case 0x010: return v->dev_features_sel == 0 ? (uint32_t)feats : v->dev_features_sel == 1 ? feats >> 32 : 0;
    case 0x034: return qok ? QUEUE_MAX : 0;
    case 0x044: return qok ? q->ready : 0;
    case 0x060: return v->int_status;
    case 0x070: return v->status;
    case 0x0fc: return 0;
    default: return 0;
    }
}

static void set_half(uint64_t *r, bool high, uint64_t val)
{
    *r = high ? (*r & 0xffffffffull) | (val << 32) : (*r & ~0xffffffffull) | (uint32_t)val;
}

void virtio_mmio_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
    virtio_mmio *v = opaque;
    if (off >= 0x100 || size != 4 || !v->d.device_id)
        return;
    vq *q = v->queue_sel < MAX_QUEUES && (int)v->queue_sel < v->d.nqueues ? &v->q[v->queue_sel] : NULL;
    switch (off) {
    case 0x014: v->dev_features_sel = (uint32_t)val; break;
    case 0x020:
        if (v->drv_features_sel < 2)
            set_half(&v->drv_features, v->drv_features_sel == 1, val);
        break;
    case 0x024: v->drv_features_sel = (uint32_t)val; break;
    case 0x030: v->queue_sel = (uint32_t)val; break;
    case 0x038: if (q) q->num = val <= QUEUE_MAX && val && !(val & (val - 1)) ? (uint32_t)val : 0; break;
    case 0x044: if (q) q->ready = val & 1; break;
    case 0x050: if (val < (uint64_t)v->d.nqueues) process(v, (int)val); break;
    case 0x064:
        v->int_status &= ~(uint32_t)val;
        if (!v->int_status)
            vm_irq_set(&v->irq, false);
        break;
    case 0x070:
        if (val == 0)
            reset(v);
        else
            v->status = (uint32_t)val;
        break;
    case 0x080: if (q) set_half(&q->desc, false, val); break;
    case 0x084: if (q) set_half(&q->desc, true, val); break;
    case 0x090: if (q) set_half(&q->avail, false, val); break;
    case 0x094: if (q) set_half(&q->avail, true, val); break;
    case 0x0a0: if (q) set_half(&q->used, false, val); break;
    case 0x0a4: if (q) set_half(&q->used, true, val); break;
    default: break;
    }
}

void virtio_mmio_notify(virtio_mmio *v, int q)
{
    if (v && q >= 0 && q < v->d.nqueues)
        process(v, q);
}

/* ---- snapshot section (version 1) ----------------------------------------
 * The transport and its queues: status, feature selections, interrupt
 * status and each queue's size, addresses and next available index.  The
 * rings themselves are guest RAM.  The back end's own state is not here: a
 * disk image's contents stay in its file (take snapshots with the disk
 * read-only, or copy the file alongside). */

int virtio_mmio_save(void *opaque, uint8_t **data, size_t *len)
{
    const virtio_mmio *v = opaque;
    ds_writer w = { 0 };
    ds_put(&w, 1, 4);
    ds_put(&w, v->d.device_id, 4);
    ds_put(&w, v->status, 4);
    ds_put(&w, v->dev_features_sel, 4);
    ds_put(&w, v->drv_features_sel, 4);
    ds_put(&w, v->queue_sel, 4);
    ds_put(&w, v->int_status, 4);
    ds_put(&w, v->drv_features, 8);
    ds_put(&w, MAX_QUEUES, 4);
    for (int i = 0; i < MAX_QUEUES; i++) {
        const vq *q = &v->q[i];
        ds_put(&w, q->num, 4);
        ds_put(&w, q->ready, 4);
        ds_put(&w, q->desc, 8);
        ds_put(&w, q->avail, 8);
        ds_put(&w, q->used, 8);
        ds_put(&w, q->last_avail, 2);
    }
    return ds_finish(&w, data, len);
}

/* Parses into *v (a copy of the live device); the device behind the slot
 * must be the same kind. */
static bool parse(virtio_mmio *v, const uint8_t *data, size_t len)
{
    ds_reader r = ds_open(data, len);
    if (ds_get(&r, 4) != 1 || ds_get(&r, 4) != v->d.device_id)
        return false;
    v->status = (uint32_t)ds_get(&r, 4);
    v->dev_features_sel = (uint32_t)ds_get(&r, 4);
    v->drv_features_sel = (uint32_t)ds_get(&r, 4);
    v->queue_sel = (uint32_t)ds_get(&r, 4);
    v->int_status = (uint32_t)ds_get(&r, 4);
    v->drv_features = ds_get(&r, 8);
    if (ds_get(&r, 4) != MAX_QUEUES)
        return false;
    for (int i = 0; i < MAX_QUEUES; i++) {
        vq *q = &v->q[i];
        q->num = (uint32_t)ds_get(&r, 4);
        q->ready = (uint32_t)ds_get(&r, 4);
        q->desc = ds_get(&r, 8);
        q->avail = ds_get(&r, 8);
        q->used = ds_get(&r, 8);
        q->last_avail = (uint16_t)ds_get(&r, 2);
        if (q->num > QUEUE_MAX || (q->num & (q->num - 1)))
            return false;          /* process() relies on a power of two */
    }
    return ds_done(&r);
}

int virtio_mmio_check(void *opaque, const uint8_t *data, size_t len)
{
    virtio_mmio tmp = *(virtio_mmio *)opaque;
    return parse(&tmp, data, len) ? 0 : -1;
}

void virtio_mmio_load(void *opaque, const uint8_t *data, size_t len)
{
    virtio_mmio *v = opaque, tmp = *v;
    if (parse(&tmp, data, len))
        *v = tmp;
}
