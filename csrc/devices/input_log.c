/* input_log.c — a queue of (instruction count, bytes) entries; see
 * input_log.h.  Entries are consumed from the front, so the queue keeps a
 * head index and compacts itself when the consumed part dominates. */
#include "input_log.h"
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    uint64_t at;
    size_t len, off;             /* off: bytes of it already consumed */
    uint8_t *data;
} entry;

struct vm_input_log {
    entry *e;
    size_t head, n, cap;
    size_t pending;
};

vm_input_log *vm_input_log_new(void) { return calloc(1, sizeof(vm_input_log)); }

void vm_input_log_free(vm_input_log *l)
{
    if (!l)
        return;
    for (size_t i = l->head; i < l->n; i++)
        free(l->e[i].data);
    free(l->e);
    free(l);
}

static int grow(vm_input_log *l)
{
    if (l->head && l->head * 2 >= l->n) {        /* reuse the consumed front */
        memmove(l->e, l->e + l->head, (l->n - l->head) * sizeof *l->e);
        l->n -= l->head;
        l->head = 0;
        if (l->n < l->cap)
            return 0;
    }
    size_t cap = l->cap ? l->cap * 2 : 16;
    entry *e = realloc(l->e, cap * sizeof *e);
    if (!e)
        return -1;
    l->e = e;
    l->cap = cap;
    return 0;
}

int vm_input_log_append(vm_input_log *l, uint64_t at, const uint8_t *data, size_t n)
{
    if (!n)
        return 0;
    entry *last = l->n > l->head ? &l->e[l->n - 1] : NULL;
    if (last && last->at == at) {
        uint8_t *d = realloc(last->data, last->len + n);
        if (!d)
            return -1;
        memcpy(d + last->len, data, n);
        last->data = d;
        last->len += n;
        l->pending += n;
        return 0;
    }
    if (l->n == l->cap && grow(l))
        return -1;
    uint8_t *d = malloc(n);
    if (!d)
        return -1;
    memcpy(d, data, n);
    l->e[l->n++] = (entry){ .at = at, .len = n, .data = d };
    l->pending += n;
    return 0;
}

static void drop_front(vm_input_log *l)
{
    free(l->e[l->head].data);
    l->head++;
    if (l->head == l->n)
        l->head = l->n = 0;
}

long vm_input_log_pop(vm_input_log *l, uint64_t *at, uint8_t *buf, size_t max)
{
    if (l->head == l->n)
        return -1;
    entry *e = &l->e[l->head];
    size_t len = e->len - e->off;
    memcpy(buf, e->data + e->off, len < max ? len : max);
    *at = e->at;
    l->pending -= len;
    drop_front(l);
    return (long)len;
}

size_t vm_input_log_due(vm_input_log *l, uint64_t now, uint8_t *out, size_t max)
{
    size_t done = 0;
    while (done < max && l->head < l->n && l->e[l->head].at <= now) {
        entry *e = &l->e[l->head];
        size_t k = e->len - e->off;
        if (k > max - done)
            k = max - done;
        memcpy(out + done, e->data + e->off, k);
        e->off += k;
        done += k;
        l->pending -= k;
        if (e->off == e->len)
            drop_front(l);
    }
    return done;
}

size_t vm_input_log_pending(const vm_input_log *l) { return l->pending; }

bool vm_input_log_next_at(const vm_input_log *l, uint64_t *at)
{
    if (l->head == l->n)
        return false;
    *at = l->e[l->head].at;
    return true;
}
