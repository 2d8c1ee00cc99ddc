/* snapshot_io.c — a snapshot as a self-contained byte payload and back.
 *
 * The payload is a sequence of records, all integers little-endian:
 *   tag[4] u32 zero u64 length body[length]
 * META first (version, ISA, cpu layout, clock, counts), then one CPU_ per
 * cpu, one RAM_ or MMIO per region in address order, one DEV_ per device
 * section and END_.  RAM_ bodies list their non-zero pages only.  The file
 * layer (vmpy/snapshot.py) adds the header, checksum and compression.
 *
 * The reader trusts nothing: every length, count, index and address is
 * checked against the buffer and against each other, and the snapshot is
 * built only from a payload that passed them all. */
#include "snapshot_int.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RAM ((uint64_t)1 << 40)      /* 1 TiB of guest RAM per snapshot */
#define MAX_REGIONS 65536u
#define MAX_SECTIONS 4096u

/* ---- writer --------------------------------------------------------------- */

typedef struct { uint8_t *p; size_t len, cap; bool oom; } wbuf;

static void put(wbuf *w, const void *src, size_t n)
{
    if (w->oom)
        return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n)
            cap *= 2;
        uint8_t *p = realloc(w->p, cap);
        if (!p) {
            w->oom = true;
            return;
        }
        w->p = p;
        w->cap = cap;
    }
    memcpy(w->p + w->len, src, n);
    w->len += n;
}

static void put_u(wbuf *w, uint64_t v, int bytes)
{
    uint8_t b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put(w, b, (size_t)bytes);
}

/* Starts a record; returns the offset of its length field. */
static size_t rec_begin(wbuf *w, const char tag[4])
{
    put(w, tag, 4);
    put_u(w, 0, 4);
    size_t at = w->len;
    put_u(w, 0, 8);
    return at;
}

static void rec_end(wbuf *w, size_t at)
{
    if (w->oom)
        return;
    uint64_t len = w->len - at - 8;
    for (int i = 0; i < 8; i++)
        w->p[at + i] = (uint8_t)(len >> (8 * i));
}

static void put_meta(wbuf *w, const vm_snapshot *s)
{
    size_t at = rec_begin(w, "META");
    size_t nisa = strlen(s->isa->name);
    put_u(w, VM_SNAPSHOT_PAYLOAD_VERSION, 4);
    put_u(w, (uint64_t)s->ncpus, 4);
    put_u(w, vm_snap_cpu_isa_size(s), 8);
    put_u(w, nisa, 2);
    put(w, s->isa->name, nisa);
    put_u(w, s->clock.deterministic, 1);
    put_u(w, s->clock.ns_per_insn, 8);
    put_u(w, s->clock.realtime_base_ns, 8);
    put_u(w, s->nregions, 4);
    put_u(w, s->nsections, 4);
    put_u(w, s->clock.warp_ns, 8);          /* version 2 */
    put_u(w, s->clock.rng_seed, 8);
    put_u(w, s->clock.rng_counter, 8);
    rec_end(w, at);
}

static void put_cpu(wbuf *w, const vm_snapshot *s, int i)
{
    const snap_cpu_head *h = &s->heads[i];
    size_t isz = vm_snap_cpu_isa_size(s), at = rec_begin(w, "CPU_");
    put_u(w, (uint64_t)i, 4);
    put_u(w, h->icount, 8);
    put_u(w, h->fault.addr, 8);
    put_u(w, h->fault.pc, 8);
    put_u(w, (uint32_t)h->fault.access, 4);
    put_u(w, (uint32_t)h->fault.size, 4);
    put_u(w, (uint32_t)h->fault.error, 4);
    put_u(w, h->trap_cause, 8);
    put_u(w, h->trap_tval, 8);
    put_u(w, h->watch_addr, 8);
    put_u(w, (uint32_t)h->watch_access, 4);
    put(w, s->cpus + (size_t)i * isz, isz);
    rec_end(w, at);
}

static void put_ram(wbuf *w, const vm_snapshot *s, const snap_region *r)
{
    uint64_t n = r->size >> VM_PAGE_SHIFT, count = 0;
    for (uint64_t p = 0; p < n; p++)
        count += !vm_snap_page_is_zero(vm_snap_page(s, r->base + (p << VM_PAGE_SHIFT)));
    size_t at = rec_begin(w, "RAM_");
    put_u(w, r->base, 8);
    put_u(w, r->size, 8);
    put_u(w, (uint32_t)r->prot, 4);
    put_u(w, 0, 4);
    put_u(w, count, 8);
    for (uint64_t p = 0; p < n; p++)
        if (!vm_snap_page_is_zero(vm_snap_page(s, r->base + (p << VM_PAGE_SHIFT))))
            put_u(w, p, 4);
    for (uint64_t p = 0; p < n; p++) {
        const uint8_t *pg = vm_snap_page(s, r->base + (p << VM_PAGE_SHIFT));
        if (!vm_snap_page_is_zero(pg))
            put(w, pg, SNAP_PAGE);
    }
    rec_end(w, at);
}

int vm_snapshot_serialize(const vm_snapshot *s, uint8_t **out, size_t *len, char *err, size_t errlen)
{
    wbuf w = { 0 };
    put_meta(&w, s);
    for (int i = 0; i < s->ncpus; i++)
        put_cpu(&w, s, i);
    for (size_t i = 0; i < s->nregions; i++) {
        const snap_region *r = &s->regions[i];
        if (r->is_mmio) {
            size_t at = rec_begin(&w, "MMIO");
            put_u(&w, r->base, 8);
            put_u(&w, r->size, 8);
            rec_end(&w, at);
        } else {
            put_ram(&w, s, r);
        }
    }
    for (size_t i = 0; i < s->nsections; i++) {
        const snap_section *sec = &s->sections[i];
        size_t at = rec_begin(&w, "DEV_"), nn = strlen(sec->name);
        put_u(&w, nn, 2);
        put(&w, sec->name, nn);
        put_u(&w, sec->len, 8);
        put(&w, sec->data, sec->len);
        rec_end(&w, at);
    }
    rec_end(&w, rec_begin(&w, "END_"));
    if (w.oom) {
        free(w.p);
        snprintf(err, errlen, "out of memory serializing the snapshot");
        return VM_ENOMEM;
    }
    *out = w.p;
    *len = w.len;
    return 0;
}

/* ---- reader ------------------------------------------------------------------ */

typedef struct { const uint8_t *p; size_t len, pos; bool bad; } rbuf;

static const uint8_t *take(rbuf *r, uint64_t n)
{
    if (r->bad || n > r->len - r->pos) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p + r->pos;
    r->pos += n;
    return p;
}

static uint64_t get_u(rbuf *r, int bytes)
{
    const uint8_t *b = take(r, (uint64_t)bytes);
    uint64_t v = 0;
    for (int i = 0; b && i < bytes; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

typedef struct { char tag[5]; rbuf body; } record;

static bool next_record(rbuf *r, record *rec)
{
    const uint8_t *tag = take(r, 4);
    uint64_t zero = get_u(r, 4), len = get_u(r, 8);
    const uint8_t *body = take(r, len);
    if (!tag || !body || zero)
        return false;
    memcpy(rec->tag, tag, 4);
    rec->tag[4] = 0;
    rec->body = (rbuf){ body, len, 0, false };
    return true;
}

typedef struct {
    char *err;
    size_t errlen;
} errbuf;

static vm_snapshot *fail(errbuf *e, vm_snapshot *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->err, e->errlen, fmt, ap);
    va_end(ap);
    vm_snapshot_unref(s);
    return NULL;
}

static vm_snapshot *parse_meta(rbuf *r, errbuf *e, uint32_t *nregions, uint32_t *nsections)
{
    record rec;
    if (!next_record(r, &rec) || strcmp(rec.tag, "META"))
        return fail(e, NULL, "snapshot payload does not start with its META record");
    rbuf *b = &rec.body;
    uint64_t version = get_u(b, 4), ncpus = get_u(b, 4), isz = get_u(b, 8), nisa = get_u(b, 2);
    const uint8_t *isa_name = take(b, nisa);
    char name[64] = "";
    if (isa_name && nisa < sizeof name)
        memcpy(name, isa_name, nisa);
    snap_clock clk = { .deterministic = get_u(b, 1) != 0 };
    clk.ns_per_insn = get_u(b, 8);
    clk.realtime_base_ns = get_u(b, 8);
    *nregions = (uint32_t)get_u(b, 4);
    *nsections = (uint32_t)get_u(b, 4);
    if (version >= 2) {                      /* the clock's warp and random stream */
        clk.warp_ns = get_u(b, 8);
        clk.rng_seed = get_u(b, 8);
        clk.rng_counter = get_u(b, 8);
    }
    if (b->bad || b->pos != b->len)
        return fail(e, NULL, "snapshot META record is malformed");
    if (version < 1 || version > VM_SNAPSHOT_PAYLOAD_VERSION)
        return fail(e, NULL, "snapshot payload version %llu is not supported (this vmpy reads %d)",
                    (unsigned long long)version, VM_SNAPSHOT_PAYLOAD_VERSION);
    const vm_isa *isa = vm_snap_isa_by_name(name);
    if (!isa)
        return fail(e, NULL, "snapshot is of an unknown ISA '%.32s'", name);
    if (isz != isa->cpu_size - sizeof(vm_cpu))
        return fail(e, NULL, "snapshot's %s cpu state is %llu bytes, this vmpy's is %zu: made by another version",
                    name, (unsigned long long)isz, isa->cpu_size - sizeof(vm_cpu));
    if (ncpus < 1 || ncpus > VM_MAX_CPUS || *nregions > MAX_REGIONS || *nsections > MAX_SECTIONS ||
        clk.ns_per_insn < 1 || clk.ns_per_insn > 1000000)
        return fail(e, NULL, "snapshot META record has out-of-range values");
    vm_snapshot *s = vm_snap_alloc(isa, (int)ncpus, isa->cpu_size);
    if (!s)
        return fail(e, NULL, "out of memory");
    s->clock = clk;
    return s;
}

static bool parse_cpu(rbuf *b, vm_snapshot *s, int expect)
{
    size_t isz = vm_snap_cpu_isa_size(s);
    if (get_u(b, 4) != (uint64_t)expect)
        return false;
    snap_cpu_head *h = &s->heads[expect];
    h->icount = get_u(b, 8);
    h->fault.addr = get_u(b, 8);
    h->fault.pc = get_u(b, 8);
    h->fault.access = (int)(uint32_t)get_u(b, 4);
    h->fault.size = (int)(uint32_t)get_u(b, 4);
    h->fault.error = (int)(uint32_t)get_u(b, 4);
    h->trap_cause = get_u(b, 8);
    h->trap_tval = get_u(b, 8);
    h->watch_addr = get_u(b, 8);
    h->watch_access = (int32_t)(uint32_t)get_u(b, 4);
    const uint8_t *isa_part = take(b, isz);
    if (!isa_part || b->pos != b->len)
        return false;
    memcpy(s->cpus + (size_t)expect * isz, isa_part, isz);
    return true;
}

/* Region header checks shared by RAM_ and MMIO: aligned, non-empty, no wrap,
 * above the previous region. */
static bool region_ok(uint64_t base, uint64_t size, uint64_t *next_free, bool first)
{
    if (!size || (base | size) & ~VM_PAGE_MASK || base + size - 1 < base)
        return false;
    if (!first && base < *next_free)
        return false;
    *next_free = base + size;
    return true;
}

static const char *parse_ram(rbuf *b, snap_region *sr, uint64_t *ram_total)
{
    sr->base = get_u(b, 8);
    sr->size = get_u(b, 8);
    sr->prot = (int)get_u(b, 4);
    uint64_t pad = get_u(b, 4), count = get_u(b, 8), n = sr->size >> VM_PAGE_SHIFT;
    if (b->bad || pad || sr->prot & ~VM_PROT_RWX)
        return "a RAM record is malformed";
    if (sr->size > MAX_RAM || (*ram_total += sr->size) > MAX_RAM)
        return "the snapshot's RAM is larger than 1 TiB";
    if (count > n || b->len - b->pos != count * (4 + SNAP_PAGE))
        return "a RAM record's page count does not match its length";
    const uint8_t *idx = take(b, count * 4), *pages = take(b, count * SNAP_PAGE);
    sr->present = calloc(n ? n : 1, 1);
    sr->data = vm_host_alloc_ram(sr->size);
    if (!sr->present || !sr->data)
        return "out of memory for the snapshot's RAM";
    int64_t prev = -1;
    for (uint64_t k = 0; k < count; k++) {
        uint64_t p = idx[4 * k] | (uint64_t)idx[4 * k + 1] << 8 | (uint64_t)idx[4 * k + 2] << 16 |
                     (uint64_t)idx[4 * k + 3] << 24;
        if (p >= n || (int64_t)p <= prev)
            return "a RAM record's page list is out of order or out of range";
        prev = (int64_t)p;
        sr->present[p] = 1;
        memcpy(sr->data + (p << VM_PAGE_SHIFT), pages + k * SNAP_PAGE, SNAP_PAGE);
    }
    return NULL;
}

static const char *parse_dev(rbuf *b, snap_section *sec)
{
    uint64_t nn = get_u(b, 2);
    const uint8_t *name = take(b, nn);
    uint64_t len = get_u(b, 8);
    const uint8_t *data = take(b, len);
    if (!name || !data || !nn || memchr(name, 0, nn) || b->pos != b->len)
        return "a device record is malformed";
    sec->name = strndup((const char *)name, nn);
    sec->data = malloc(len ? len : 1);
    if (!sec->name || !sec->data)
        return "out of memory";
    memcpy(sec->data, data, len);
    sec->len = len;
    return NULL;
}

static const char *parse_body(rbuf *r, vm_snapshot *s, uint32_t nregions, uint32_t nsections)
{
    s->regions = calloc(nregions + 1, sizeof *s->regions);
    s->sections = calloc(nsections + 1, sizeof *s->sections);
    if (!s->regions || !s->sections)
        return "out of memory";
    record rec;
    int cpus = 0;
    uint64_t next_free = 0, ram_total = 0;
    for (;;) {
        if (!next_record(r, &rec))
            return "the snapshot payload is truncated";
        const char *why = NULL;
        if (!strcmp(rec.tag, "END_")) {
            break;
        } else if (!strcmp(rec.tag, "CPU_")) {
            if (cpus >= s->ncpus || s->nregions || !parse_cpu(&rec.body, s, cpus++))
                why = "a CPU record is malformed or out of place";
        } else if (!strcmp(rec.tag, "RAM_") || !strcmp(rec.tag, "MMIO")) {
            if (s->nregions == nregions || cpus != s->ncpus || s->nsections)
                return "a region record is out of place or one too many";
            snap_region *sr = &s->regions[s->nregions++];
            if (!strcmp(rec.tag, "MMIO")) {
                *sr = (snap_region){ .base = get_u(&rec.body, 8), .size = get_u(&rec.body, 8),
                                     .prot = VM_PROT_R | VM_PROT_W, .is_mmio = true };
                if (rec.body.bad || rec.body.pos != rec.body.len)
                    why = "an MMIO record is malformed";
            } else {
                why = parse_ram(&rec.body, sr, &ram_total);
            }
            if (!why && !region_ok(sr->base, sr->size, &next_free, s->nregions == 1))
                why = "the snapshot's regions are misaligned, empty or overlapping";
        } else if (!strcmp(rec.tag, "DEV_")) {
            if (s->nsections == nsections)
                return "one device record too many";
            why = parse_dev(&rec.body, &s->sections[s->nsections++]);
        } else {
            why = "the snapshot payload has an unknown record";
        }
        if (why)
            return why;
    }
    if (r->pos != r->len)
        return "the snapshot payload has bytes after its END record";
    if (cpus != s->ncpus || s->nregions != nregions || s->nsections != nsections)
        return "the snapshot payload is missing records";
    for (size_t i = 0; i < s->nsections; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(s->sections[i].name, s->sections[j].name))
                return "the snapshot has two states for one device";
    return NULL;
}

vm_snapshot *vm_snapshot_deserialize(const void *buf, size_t len, char *err, size_t errlen)
{
    errbuf e = { err, errlen };
    rbuf r = { buf, len, 0, false };
    uint32_t nregions = 0, nsections = 0;
    vm_snapshot *s = parse_meta(&r, &e, &nregions, &nsections);
    if (!s)
        return NULL;
    const char *why = parse_body(&r, s, nregions, nsections);
    if (why)
        return fail(&e, s, "%s", why);
    return s;
}
