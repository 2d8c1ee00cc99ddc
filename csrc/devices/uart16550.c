/* uart16550.c — an NS16550A UART: the registers Linux's 8250 driver and
 * OpenSBI use, a receive FIFO fed by the host, transmit straight to a
 * callback (the line is infinitely fast). */
#include "devices.h"
#include "devstate.h"
#include <stdlib.h>

#define RX_FIFO 256

enum { IER_RDI = 1, IER_THRI = 2 };
enum { LSR_DR = 0x01, LSR_THRE = 0x20, LSR_TEMT = 0x40 };
enum { IIR_NONE = 0x01, IIR_THRI = 0x02, IIR_RDI = 0x04 };
enum { LCR_DLAB = 0x80, MCR_LOOP = 0x10 };

struct uart16550 {
    vm_irq_line irq;
    void (*tx)(void *ctx, uint8_t byte);
    void *tx_ctx;
    uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
    bool thr_pending;            /* the "THR empty" interrupt is waiting to be seen */
    uint8_t rx[RX_FIFO];
    unsigned rx_head, rx_count;
};

uart16550 *uart16550_new(vm_irq_line irq, void (*tx)(void *ctx, uint8_t byte), void *tx_ctx)
{
    uart16550 *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->irq = irq;
    u->tx = tx;
    u->tx_ctx = tx_ctx;
    u->dll = 12;
    return u;
}

void uart16550_free(void *u) { free(u); }

static uint8_t iir(const uart16550 *u)
{
    uint8_t fifo = (u->fcr & 1) ? 0xc0 : 0;
    if ((u->ier & IER_RDI) && u->rx_count)
        return IIR_RDI | fifo;
    if ((u->ier & IER_THRI) && u->thr_pending)
        return IIR_THRI | fifo;
    return IIR_NONE | fifo;
}

static void update_irq(uart16550 *u)
{
    vm_irq_set(&u->irq, (iir(u) & 0x0f) != IIR_NONE);
}

size_t uart16550_rx_room(const uart16550 *u) { return RX_FIFO - u->rx_count; }

void uart16550_rx_push(uart16550 *u, const uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n && u->rx_count < RX_FIFO; i++)
        u->rx[(u->rx_head + u->rx_count++) % RX_FIFO] = buf[i];
    update_irq(u);
}

static uint8_t rx_pop(uart16550 *u)
{
    if (!u->rx_count)
        return 0;
    uint8_t b = u->rx[u->rx_head];
    u->rx_head = (u->rx_head + 1) % RX_FIFO;
    u->rx_count--;
    return b;
}

uint64_t uart16550_read(void *opaque, uint64_t off, unsigned size)
{
    uart16550 *u = opaque;
    uint8_t v = 0;
    switch (off) {
    case 0:
        if (u->lcr & LCR_DLAB)
            return u->dll;
        v = rx_pop(u);
        update_irq(u);
        return v;
    case 1: return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
    case 2:
        v = iir(u);
        if ((v & 0x0f) == IIR_THRI) {    /* reading IIR acknowledges THRE */
            u->thr_pending = false;
            update_irq(u);
        }
        return v;
    case 3: return u->lcr;
    case 4: return u->mcr;
    case 5: return LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0);
    case 6: return (u->mcr & MCR_LOOP) ? 0 : 0xb0;   /* DCD, DSR, CTS */
    case 7: return u->scr;
    default: return 0;
    }
}

void uart16550_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
    uart16550 *u = opaque;
    uint8_t v = (uint8_t)val;
    switch (off) {
    case 0:
        if (u->lcr & LCR_DLAB) {
            u->dll = v;
            return;
        }
        if (u->mcr & MCR_LOOP)
            uart16550_rx_push(u, &v, 1);
        else if (u->tx)
            u->tx(u->tx_ctx, v);
        u->thr_pending = true;           /* sent at once: THR is empty again */
        break;
    case 1:
        if (u->lcr & LCR_DLAB) {
            u->dlm = v;
            return;
        }
        /* Enabling THRI with THR empty raises the interrupt, as on the chip. */
        if ((v & IER_THRI) && !(u->ier & IER_THRI))
            u->thr_pending = true;
        u->ier = v & 0x0f;
        break;
    case 2:
        if (v & 2) {                     /* clear the receive FIFO */
            u->rx_head = u->rx_count = 0;
        }
        u->fcr = v & 0xc9;
        break;
    case 3: u->lcr = v; break;
    case 4: u->mcr = v & 0x1f; break;
    case 7: u->scr = v; break;
    default: break;
    }
    update_irq(u);
}

/* ---- snapshot section (devstate.h format, version 1) -------------------- */

int uart16550_save(void *opaque, uint8_t **data, size_t *len)
{
    const uart16550 *u = opaque;
    ds_writer w = { 0 };
    ds_put(&w, 1, 4);
    const uint8_t regs[] = { u->ier, u->lcr, u->mcr, u->scr, u->fcr, u->dll, u->dlm, u->thr_pending };
    for (size_t i = 0; i < sizeof regs; i++)
        ds_put(&w, regs[i], 1);
    ds_put(&w, u->rx_count, 2);
    for (unsigned i = 0; i < u->rx_count; i++)          /* the FIFO in order, unrolled */
        ds_put(&w, u->rx[(u->rx_head + i) % RX_FIFO], 1);
    return ds_finish(&w, data, len);
}

/* Parses a blob into *u (a copy of the live device). */
static bool parse(uart16550 *u, const uint8_t *data, size_t len)
{
    ds_reader r = ds_open(data, len);
    if (ds_get(&r, 4) != 1)
        return false;
    uint8_t *regs[] = { &u->ier, &u->lcr, &u->mcr, &u->scr, &u->fcr, &u->dll, &u->dlm };
    for (size_t i = 0; i < sizeof regs / sizeof *regs; i++)
        *regs[i] = (uint8_t)ds_get(&r, 1);
    u->thr_pending = ds_get(&r, 1) != 0;
    uint64_t n = ds_get(&r, 2);
    if (n > RX_FIFO)
        return false;
    u->rx_head = 0;
    u->rx_count = (unsigned)n;
    for (unsigned i = 0; i < n; i++)
        u->rx[i] = (uint8_t)ds_get(&r, 1);
    return ds_done(&r);
}

int uart16550_check(void *opaque, const uint8_t *data, size_t len)
{
    uart16550 tmp = *(uart16550 *)opaque;
    return parse(&tmp, data, len) ? 0 : -1;
}

void uart16550_load(void *opaque, const uint8_t *data, size_t len)
{
    uart16550 *u = opaque, tmp = *u;
    if (parse(&tmp, data, len))
        *u = tmp;       /* the PLIC's saved line level already matches */
}
