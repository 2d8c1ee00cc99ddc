/* fdt.c — a writer for flattened device trees (devicetree specification
 * v0.4, blob version 17): a structure block of tokens, a strings block with
 * property names shared, an empty memory reservation map. */
#include "devices.h"
#include <stdlib.h>
#include <string.h>

enum { FDT_BEGIN_NODE = 1, FDT_END_NODE = 2, FDT_PROP = 3, FDT_END = 9 };

typedef struct buf { uint8_t *p; size_t len, cap; bool failed; } buf;

struct fdt {
    buf st, str, out;
    int depth;
};

static void put(buf *b, const void *data, size_t n)
{
    if (b->failed || n == 0)          /* n == 0: empty properties pass data = NULL */
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_be32(buf *b, uint32_t v)
{
    uint8_t x[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    put(b, x, 4);
}

static void pad4(buf *b)
{
    static const uint8_t z[4];
    put(b, z, (4 - b->len % 4) % 4);
}

fdt *fdt_new(void) { return calloc(1, sizeof(fdt)); }

void fdt_free(fdt *f)
{
    if (!f)
        return;
    free(f->st.p);
    free(f->str.p);
    free(f->out.p);
    free(f);
}

void fdt_begin_node(fdt *f, const char *name)
{
    put_be32(&f->st, FDT_BEGIN_NODE);
    put(&f->st, name, strlen(name) + 1);
    pad4(&f->st);
    f->depth++;
}

void fdt_end_node(fdt *f)
{
    put_be32(&f->st, FDT_END_NODE);
    f->depth--;
}

/* Offset of name in the strings block, adding it if new. */
static uint32_t string_off(fdt *f, const char *name)
{
    size_t n = strlen(name) + 1;
    for (size_t i = 0; f->str.p && i + n <= f->str.len;) {
        if (!memcmp(f->str.p + i, name, n))
            return (uint32_t)i;
        i += strlen((const char *)f->str.p + i) + 1;
    }
    uint32_t off = (uint32_t)f->str.len;
    put(&f->str, name, n);
    return off;
}

void fdt_prop(fdt *f, const char *name, const void *data, size_t len)
{
    put_be32(&f->st, FDT_PROP);
    put_be32(&f->st, (uint32_t)len);
    put_be32(&f->st, string_off(f, name));
    put(&f->st, data, len);
    pad4(&f->st);
}

void fdt_prop_cells(fdt *f, const char *name, const uint32_t *cells, size_t n)
{
    uint8_t *tmp = malloc(4 * n + 1);
    if (!tmp) {
        f->st.failed = true;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        tmp[4 * i] = (uint8_t)(cells[i] >> 24);
        tmp[4 * i + 1] = (uint8_t)(cells[i] >> 16);
        tmp[4 * i + 2] = (uint8_t)(cells[i] >> 8);
        tmp[4 * i + 3] = (uint8_t)cells[i];
    }
    fdt_prop(f, name, tmp, 4 * n);
    free(tmp);
}

void fdt_prop_u32(fdt *f, const char *name, uint32_t v) { fdt_prop_cells(f, name, &v, 1); }

void fdt_prop_u64(fdt *f, const char *name, uint64_t v)
{
    uint32_t c[2] = { (uint32_t)(v >> 32), (uint32_t)v };
    fdt_prop_cells(f, name, c, 2);
}

void fdt_prop_str(fdt *f, const char *name, const char *s) { fdt_prop(f, name, s, strlen(s) + 1); }

void fdt_prop_strs(fdt *f, const char *name, const char *const *strs, size_t n)
{
    buf b = { 0 };
    for (size_t i = 0; i < n; i++)
        put(&b, strs[i], strlen(strs[i]) + 1);
    if (b.failed)
        f->st.failed = true;
    else
        fdt_prop(f, name, b.p, b.len);
    free(b.p);
}

void fdt_prop_empty(fdt *f, const char *name) { fdt_prop(f, name, NULL, 0); }

const uint8_t *fdt_finish(fdt *f, size_t *size)
{
    if (f->depth != 0)
        return NULL;
    put_be32(&f->st, FDT_END);
    if (f->st.failed || f->str.failed)
        return NULL;
    const uint32_t hdr = 40, rsv = 16;        /* header, then one empty reservation entry */
    uint32_t off_struct = hdr + rsv, off_strings = off_struct + (uint32_t)f->st.len;
    uint32_t total = off_strings + (uint32_t)f->str.len;
    buf *o = &f->out;
    o->len = 0;
    uint32_t fields[10] = { 0xd00dfeed, total, off_struct, off_strings, hdr, 17, 16, 0,
                            (uint32_t)f->str.len, (uint32_t)f->st.len };
    for (int i = 0; i < 10; i++)
        put_be32(o, fields[i]);
    for (int i = 0; i < 4; i++)
        put_be32(o, 0);
    put(o, f->st.p, f->st.len);
    put(o, f->str.p, f->str.len);
    if (o->failed)
        return NULL;
    *size = o->len;
    return o->p;
}
