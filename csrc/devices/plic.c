/* plic.c — the RISC-V Platform-Level Interrupt Controller (the SiFive
 * layout QEMU's virt board uses): level-triggered sources with priorities,
 * per-context enables, thresholds and claim/complete. */
#include "devices.h"
#include "devstate.h"
#include <stdlib.h>
#include <string.h>

#define NWORDS ((PLIC_NSOURCES + 31) / 32)
#define PRIORITY_BASE 0x000000
#define PENDING_BASE 0x001000
#define ENABLE_BASE 0x002000
#define ENABLE_STRIDE 0x80
#define CONTEXT_BASE 0x200000
#define CONTEXT_STRIDE 0x1000

struct plic {
    int ncontexts;
    void (*ctx_out)(void *ctx, int context, bool level);
    void *ctx;
    uint32_t priority[PLIC_NSOURCES];
    uint32_t level[NWORDS];      /* input line levels */
    uint32_t pending[NWORDS];
    uint32_t claimed[NWORDS];    /* claimed, not yet completed */
    uint32_t (*enable)[NWORDS];  /* per context */
    uint32_t *threshold;
    bool *out;                   /* last level driven per context */
};

plic *plic_new(int ncontexts, void (*ctx_out)(void *ctx, int context, bool level), void *ctx)
{
    plic *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->enable = calloc((size_t)ncontexts, sizeof *p->enable);
    p->threshold = calloc((size_t)ncontexts, sizeof *p->threshold);
    p->out = calloc((size_t)ncontexts, sizeof *p->out);
    if (!p->enable || !p->threshold || !p->out) {
        plic_free(p);
        return NULL;
    }
    p->ncontexts = ncontexts;
    p->ctx_out = ctx_out;
    p->ctx = ctx;
    return p;
}

void plic_free(void *opaque)
{
    plic *p = opaque;
    if (!p)
        return;
    free(p->enable);
    free(p->threshold);
    free(p->out);
    free(p);
}

static bool bit(const uint32_t *w, int i) { return (w[i / 32] >> (i % 32)) & 1; }
static void set_bit(uint32_t *w, int i, bool v)
{
    if (v)
        w[i / 32] |= 1u << (i % 32);
    else
        w[i / 32] &= ~(1u << (i % 32));
}

/* Highest-priority source pending and enabled for context c above its
 * threshold (lowest id wins ties), or 0. */
static int best(const plic *p, int c)
{
    int id = 0;
    uint32_t prio = p->threshold[c];
    for (int w = 0; w < NWORDS; w++) {
        uint32_t cand = p->pending[w] & ~p->claimed[w] & p->enable[c][w];
        while (cand) {
            int s = w * 32 + __builtin_ctz(cand);
            cand &= cand - 1;
            if (p->priority[s] > prio) {
                prio = p->priority[s];
                id = s;
            }
        }
    }
    return id;
}

static void update(plic *p)
{
    for (int c = 0; c < p->ncontexts; c++) {
        bool lvl = best(p, c) != 0;
        if (lvl != p->out[c]) {
            p->out[c] = lvl;
            p->ctx_out(p->ctx, c, lvl);
        }
    }
}

void plic_set_irq(void *opaque, int s, bool level)
{
    plic *p = opaque;
    if (s <= 0 || s >= PLIC_NSOURCES)
        return;
    set_bit(p->level, s, level);
    if (level)
        set_bit(p->pending, s, true);
    else if (!bit(p->claimed, s))
        set_bit(p->pending, s, false);    /* a level interrupt that went away */
    update(p);
}

uint64_t plic_read(void *opaque, uint64_t off, unsigned size)
{
    plic *p = opaque;
    if (size != 4 || (off & 3))
        return 0;
    if (off < PENDING_BASE)
        return off / 4 < PLIC_NSOURCES ? p->priority[off / 4] : 0;
    if (off < PENDING_BASE + 4 * NWORDS)
        return p->pending[(off - PENDING_BASE) / 4];
    if (off >= ENABLE_BASE && off < ENABLE_BASE + ENABLE_STRIDE * (uint64_t)p->ncontexts) {
        uint64_t c = (off - ENABLE_BASE) / ENABLE_STRIDE, w = (off - ENABLE_BASE) % ENABLE_STRIDE / 4;
        return w < NWORDS ? p->enable[c][w] : 0;
    }
    if (off >= CONTEXT_BASE && off < CONTEXT_BASE + CONTEXT_STRIDE * (uint64_t)p->ncontexts) {
        int c = (int)((off - CONTEXT_BASE) / CONTEXT_STRIDE);
        uint64_t reg = (off - CONTEXT_BASE) % CONTEXT_STRIDE;
        if (reg == 0)
            return p->threshold[c];
        if (reg == 4) {                       /* claim */
            int s = best(p, c);
            if (s) {
                set_bit(p->pending, s, false);
                set_bit(p->claimed, s, true);
                update(p);
            }
            return (uint64_t)s;
        }
    }
    return 0;
}

void plic_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
    plic *p = opaque;
    if (size != 4 || (off & 3))
        return;
    if (off < PENDING_BASE) {
        if (off / 4 > 0 && off / 4 < PLIC_NSOURCES)
            p->priority[off / 4] = (uint32_t)val & 7;
    } else if (off >= ENABLE_BASE && off < ENABLE_BASE + ENABLE_STRIDE * (uint64_t)p->ncontexts) {
        uint64_t c = (off - ENABLE_BASE) / ENABLE_STRIDE, w = (off - ENABLE_BASE) % ENABLE_STRIDE / 4;
        if (w < NWORDS)
            p->enable[c][w] = (uint32_t)val & (w == 0 ? ~1u : ~0u);   /* source 0 does not exist */
    } else if (off >= CONTEXT_BASE && off < CONTEXT_BASE + CONTEXT_STRIDE * (uint64_t)p->ncontexts) {
        int c = (int)((off - CONTEXT_BASE) / CONTEXT_STRIDE);
        uint64_t reg = (off - CONTEXT_BASE) % CONTEXT_STRIDE;
        if (reg == 0) {
            p->threshold[c] = (uint32_t)val & 7;
        } else if (reg == 4) {                /* complete */
            int s = (int)val;
            if (s > 0 && s < PLIC_NSOURCES && bit(p->claimed, s)) {
                set_bit(p->claimed, s, false);
                if (bit(p->level, s))         /* still asserted: pending again */
                    set_bit(p->pending, s, true);
            }
        }
    }
    update(p);
}

/* ---- snapshot section (version 1) ---------------------------------------
 * Everything: priorities, line levels, pending, claimed, and per context the
 * enables, threshold and the level last driven into the hart (whose mip bit
 * is restored with the hart, so load drives nothing). */

int plic_save(void *opaque, uint8_t **data, size_t *len)
{
    const plic *p = opaque;
    ds_writer w = { 0 };
    ds_put(&w, 1, 4);
    ds_put(&w, (uint64_t)p->ncontexts, 4);
    ds_put(&w, PLIC_NSOURCES, 4);
    for (int s = 0; s < PLIC_NSOURCES; s++)
        ds_put(&w, p->priority[s], 4);
    for (int i = 0; i < NWORDS; i++) {
        ds_put(&w, p->level[i], 4);
        ds_put(&w, p->pending[i], 4);
        ds_put(&w, p->claimed[i], 4);
    }
    for (int c = 0; c < p->ncontexts; c++) {
        for (int i = 0; i < NWORDS; i++)
            ds_put(&w, p->enable[c][i], 4);
        ds_put(&w, p->threshold[c], 4);
        ds_put(&w, p->out[c], 1);
    }
    return ds_finish(&w, data, len);
}

/* Parses a blob; with apply, into the live device (the arrays are sized by
 * ncontexts, which must match). */
static bool parse(plic *p, const uint8_t *data, size_t len, bool apply)
{
    ds_reader r = ds_open(data, len);
    if (ds_get(&r, 4) != 1 || ds_get(&r, 4) != (uint64_t)p->ncontexts || ds_get(&r, 4) != PLIC_NSOURCES)
        return false;
    /* Two passes over the same reader logic: validate the length first so
     * that a bad blob never leaves a half-written device. */
    size_t need = r.pos + 4u * PLIC_NSOURCES + 12u * NWORDS + (size_t)p->ncontexts * (4u * NWORDS + 5u);
    if (need != len)
        return false;
    if (!apply)
        return true;
    for (int s = 0; s < PLIC_NSOURCES; s++)
        p->priority[s] = (uint32_t)ds_get(&r, 4) & 7;
    for (int i = 0; i < NWORDS; i++) {
        p->level[i] = (uint32_t)ds_get(&r, 4);
        p->pending[i] = (uint32_t)ds_get(&r, 4);
        p->claimed[i] = (uint32_t)ds_get(&r, 4);
    }
    for (int c = 0; c < p->ncontexts; c++) {
        for (int i = 0; i < NWORDS; i++)
            p->enable[c][i] = (uint32_t)ds_get(&r, 4);
        p->threshold[c] = (uint32_t)ds_get(&r, 4) & 7;
        p->out[c] = ds_get(&r, 1) != 0;
    }
    return ds_done(&r);
}

int plic_check(void *opaque, const uint8_t *data, size_t len)
{
    return parse(opaque, data, len, false) ? 0 : -1;
}

void plic_load(void *opaque, const uint8_t *data, size_t len)
{
    parse(opaque, data, len, true);
}
