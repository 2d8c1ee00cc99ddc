/* devstate.h — the byte format of device snapshot sections: a little-endian
 * stream that starts with a u32 format version, written and read field by
 * field so that struct padding and host layout never reach a file.
 *
 * Readers never trust a blob: a short or long blob, or a version the device
 * does not know, sets `bad`; a device's check function parses the whole blob
 * into a scratch state and applies nothing, its load function parses it
 * again (after every check of a restore passed) and applies it. */
#ifndef VM_DEVSTATE_H
#define VM_DEVSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct ds_writer {
    uint8_t *p;
    size_t len, cap;
    bool oom;
} ds_writer;

static inline void ds_put(ds_writer *w, uint64_t v, int bytes)
{
    if (w->oom)
        return;
    if (w->len + (size_t)bytes > w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 256;
        uint8_t *p = realloc(w->p, cap);
        if (!p) {
            w->oom = true;
            return;
        }
        w->p = p;
        w->cap = cap;
    }
    for (int i = 0; i < bytes; i++)
        w->p[w->len++] = (uint8_t)(v >> (8 * i));
}

/* Hands the blob to the snapshot layer (vm_snap_section_ops.save). */
static inline int ds_finish(ds_writer *w, uint8_t **data, size_t *len)
{
    if (w->oom) {
        free(w->p);
        return -1;
    }
    *data = w->p;
    *len = w->len;
    return 0;
}

typedef struct ds_reader {
    const uint8_t *p;
    size_t len, pos;
    bool bad;
} ds_reader;

static inline ds_reader ds_open(const uint8_t *p, size_t len) { return (ds_reader){ p, len, 0, false }; }

static inline uint64_t ds_get(ds_reader *r, int bytes)
{
    if (r->bad || r->len - r->pos < (size_t)bytes) {
        r->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)r->p[r->pos++] << (8 * i);
    return v;
}

/* True when the whole blob was consumed without error. */
static inline bool ds_done(const ds_reader *r) { return !r->bad && r->pos == r->len; }

#endif
