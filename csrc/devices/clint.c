/* clint.c — the CLINT (ACLINT MSWI + MTIMER at one base, as on QEMU's virt
 * board): msip per hart at 0x0, mtimecmp per hart at 0x4000, mtime at
 * 0xbff8.  Compare registers live in the harts (the board's callbacks), so
 * the cpu loop checks deadlines without calling into the device. */
#include "devices.h"
#include "devstate.h"
#include <stdlib.h>

#define MSIP_BASE 0x0000
#define MTIMECMP_BASE 0x4000
#define MTIME 0xbff8

struct clint {
    int nharts;
    clint_ops ops;
    uint32_t *msip;
};

clint *clint_new(int nharts, clint_ops ops)
{
    clint *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->msip = calloc((size_t)nharts, sizeof *c->msip);
    if (!c->msip) {
        free(c);
        return NULL;
    }
    c->nharts = nharts;
    c->ops = ops;
    return c;
}

void clint_free(void *p)
{
    clint *c = p;
    if (c)
        free(c->msip);
    free(c);
}

/* 32-bit halves of 64-bit registers are reachable with 4-byte accesses. */
static uint64_t part(uint64_t v, uint64_t off, unsigned size)
{
    if (size >= 8)
        return v;
    return (v >> (8 * (off & 7))) & ((1ull << (8 * size)) - 1);
}

static uint64_t merge(uint64_t old, uint64_t off, unsigned size, uint64_t val)
{
    if (size >= 8)
        return val;
    unsigned sh = 8 * (unsigned)(off & 7);
    uint64_t mask = ((1ull << (8 * size)) - 1) << sh;
    return (old & ~mask) | ((val << sh) & mask);
}

uint64_t clint_read(void *p, uint64_t off, unsigned size)
{
    clint *c = p;
    if (off < MSIP_BASE + 4u * (unsigned)c->nharts && size == 4 && !(off & 3))
        return c->msip[off / 4];
    if (off >= MTIMECMP_BASE && off < MTIMECMP_BASE + 8u * (unsigned)c->nharts)
        return part(c->ops.get_mtimecmp(c->ops.ctx, (int)((off - MTIMECMP_BASE) / 8)), off, size);
    if (off >= MTIME && off < MTIME + 8)
        return part(c->ops.mtime(c->ops.ctx), off, size);
    return 0;
}

void clint_write(void *p, uint64_t off, unsigned size, uint64_t val)
{
    clint *c = p;
    if (off < MSIP_BASE + 4u * (unsigned)c->nharts && !(off & 3)) {
        int hart = (int)(off / 4);
        c->msip[hart] = (uint32_t)val & 1;
        c->ops.set_msip(c->ops.ctx, hart, c->msip[hart]);
    } else if (off >= MTIMECMP_BASE && off < MTIMECMP_BASE + 8u * (unsigned)c->nharts) {
        int hart = (int)((off - MTIMECMP_BASE) / 8);
        uint64_t old = c->ops.get_mtimecmp(c->ops.ctx, hart);
        c->ops.set_mtimecmp(c->ops.ctx, hart, merge(old, off, size, val));
    }
    /* mtime is read-only here: it follows the host clock. */
}

/* ---- snapshot section (version 1): msip per hart.  mtime is the machine's
 * clock and mtimecmp lives in the harts, so both travel with the core. ---- */

int clint_save(void *p, uint8_t **data, size_t *len)
{
    const clint *c = p;
    ds_writer w = { 0 };
    ds_put(&w, 1, 4);
    ds_put(&w, (uint64_t)c->nharts, 4);
    for (int i = 0; i < c->nharts; i++)
        ds_put(&w, c->msip[i], 1);
    return ds_finish(&w, data, len);
}

/* Parses a blob; msip_out (nharts bytes) may be NULL. */
static bool parse(const clint *c, const uint8_t *data, size_t len, uint32_t *msip_out)
{
    ds_reader r = ds_open(data, len);
    if (ds_get(&r, 4) != 1 || ds_get(&r, 4) != (uint64_t)c->nharts)
        return false;
    for (int i = 0; i < c->nharts; i++) {
        uint32_t v = (uint32_t)ds_get(&r, 1) & 1;
        if (msip_out)
            msip_out[i] = v;
    }
    return ds_done(&r);
}

int clint_check(void *p, const uint8_t *data, size_t len)
{
    return parse(p, data, len, NULL) ? 0 : -1;
}

void clint_load(void *p, const uint8_t *data, size_t len)
{
    clint *c = p;
    parse(c, data, len, c->msip);    /* the harts' MSIP bits come back with their mip */
}
