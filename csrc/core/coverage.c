/* coverage.c — basic-block and edge coverage: two open-addressing hash sets
 * filled from the interpreter's block-start slot.  A block is what the
 * engine executed as one unit starting at a pc (it ends at control flow,
 * page ends or the block size cap), recorded with its largest size seen. */
#include "trace.h"
#include <stdlib.h>
#include <string.h>

typedef struct cov_set {
    uint64_t *a, *b;      /* key pair (block: start, size; edge: from, to); a == ~0 empty */
    size_t n, cap;        /* cap is a power of two */
} cov_set;

struct vm_coverage {
    vm_machine *m;
    uint64_t begin, end;
    cov_set blocks, edges;
    uint64_t prev;        /* start of the previous block, ~0 at first */
};

#define EMPTY (~(uint64_t)0)

static size_t mix(uint64_t k) { k ^= k >> 31; k *= 0x9e3779b97f4a7c15ull; return (size_t)(k ^ (k >> 29)); }

static int set_init(cov_set *s, size_t cap)
{
    s->a = malloc(cap * sizeof *s->a);
    s->b = malloc(cap * sizeof *s->b);
    if (!s->a || !s->b) {
        free(s->a);
        free(s->b);
        return -1;
    }
    memset(s->a, 0xff, cap * sizeof *s->a);
    s->n = 0;
    s->cap = cap;
    return 0;
}

/* Blocks: key a, value b kept as the maximum.  Edges: key (a, b). */
static size_t slot_for(const cov_set *s, uint64_t a, uint64_t b, bool pair)
{
    size_t i = mix(a ^ (pair ? b * 0x100000001b3ull : 0)) & (s->cap - 1);
    while (s->a[i] != EMPTY && !(s->a[i] == a && (!pair || s->b[i] == b)))
        i = (i + 1) & (s->cap - 1);
    return i;
}

static void set_put(cov_set *s, uint64_t a, uint64_t b, bool pair);

static void set_grow(cov_set *s, bool pair)
{
    cov_set old = *s;
    if (set_init(s, old.cap * 2)) {
        *s = old;        /* out of memory: keep the old table (it still has room) */
        return;
    }
    for (size_t i = 0; i < old.cap; i++)
        if (old.a[i] != EMPTY)
            set_put(s, old.a[i], old.b[i], pair);
    free(old.a);
    free(old.b);
}

static void set_put(cov_set *s, uint64_t a, uint64_t b, bool pair)
{
    size_t i = slot_for(s, a, b, pair);
    if (s->a[i] == EMPTY) {
        if (s->n + 1 >= s->cap)   /* never let the table fill up completely */
            return;
        s->a[i] = a;
        s->b[i] = b;
        if (++s->n * 2 > s->cap)
            set_grow(s, pair);
    } else if (!pair && b > s->b[i]) {
        s->b[i] = b;
    }
}

vm_coverage *vm_cov_new(vm_machine *m, uint64_t begin, uint64_t end)
{
    if (end == 0)
        end = UINT64_MAX;
    if (end <= begin) {
        vm_set_error(m, VM_EINVAL, "coverage range is empty");
        return NULL;
    }
    vm_tracer *tr = m->tracer ? m->tracer : (m->tracer = calloc(1, sizeof *m->tracer));
    vm_coverage *cv = calloc(1, sizeof *cv);
    if (!tr || !cv || set_init(&cv->blocks, 1024) || set_init(&cv->edges, 1024) ||
        (tr->ncovs == tr->ccap && !(tr->covs = realloc(tr->covs, (tr->ccap = tr->ccap * 2 + 4) * sizeof *tr->covs)))) {
        if (cv) {
            free(cv->blocks.a); free(cv->blocks.b); free(cv->edges.a); free(cv->edges.b);
        }
        free(cv);
        vm_set_error(m, VM_ENOMEM, "out of memory");
        return NULL;
    }
    cv->m = m;
    cv->begin = begin;
    cv->end = end;
    cv->prev = EMPTY;
    tr->covs[tr->ncovs++] = cv;
    vm_code_invalidate(m, 0, UINT64_MAX);
    for (int i = 0; i < m->ncpus; i++)
        atomic_store(&m->cpus[i]->exit_request, 1);
    return cv;
}

void vm_cov_close(vm_coverage *cv)
{
    vm_machine *m = cv ? cv->m : NULL;
    if (!m)
        return;
    vm_tracer *tr = m->tracer;
    for (size_t i = 0; i < tr->ncovs; i++)
        if (tr->covs[i] == cv) {
            memmove(&tr->covs[i], &tr->covs[i + 1], (tr->ncovs - i - 1) * sizeof *tr->covs);
            tr->ncovs--;
            break;
        }
    vm_code_invalidate(m, 0, UINT64_MAX);
    cv->m = NULL;
}

void vm_cov_free(vm_coverage *cv)
{
    if (!cv)
        return;
    vm_cov_close(cv);
    free(cv->blocks.a); free(cv->blocks.b);
    free(cv->edges.a); free(cv->edges.b);
    free(cv);
}

void vm_cov_clear(vm_coverage *cv)
{
    memset(cv->blocks.a, 0xff, cv->blocks.cap * sizeof *cv->blocks.a);
    memset(cv->edges.a, 0xff, cv->edges.cap * sizeof *cv->edges.a);
    cv->blocks.n = cv->edges.n = 0;
    cv->prev = EMPTY;
}

bool vm_cov_wants_block(const vm_machine *m, uint64_t pc)
{
    const vm_tracer *tr = m->tracer;
    if (!tr)
        return false;
    for (size_t i = 0; i < tr->ncovs; i++)
        if (pc >= tr->covs[i]->begin && pc < tr->covs[i]->end)
            return true;
    return false;
}

void vm_cov_block(vm_cpu *c, uint64_t pc, uint32_t size)
{
    vm_tracer *tr = c->machine->tracer;
    for (size_t i = 0; i < tr->ncovs; i++) {
        vm_coverage *cv = tr->covs[i];
        if (pc < cv->begin || pc >= cv->end)
            continue;
        set_put(&cv->blocks, pc, size, false);
        if (cv->prev != EMPTY)
            set_put(&cv->edges, cv->prev, pc, true);
        cv->prev = pc;
    }
}

static int cmp_pair(const void *x, const void *y)
{
    const uint64_t *p = x, *q = y;
    return p[0] != q[0] ? (p[0] < q[0] ? -1 : 1) : p[1] != q[1] ? (p[1] < q[1] ? -1 : 1) : 0;
}

/* Sorted (a, b) pairs of a set, into a malloc'd array of 2*n. */
static uint64_t *set_sorted(const cov_set *s)
{
    uint64_t *v = malloc((s->n ? s->n : 1) * 2 * sizeof *v);
    if (!v)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < s->cap; i++)
        if (s->a[i] != EMPTY) {
            v[2 * k] = s->a[i];
            v[2 * k + 1] = s->b[i];
            k++;
        }
    qsort(v, k, 2 * sizeof *v, cmp_pair);
    return v;
}

size_t vm_cov_blocks(const vm_coverage *cv, uint64_t *start, uint32_t *size, size_t max)
{
    if (!start)
        return cv->blocks.n;
    uint64_t *v = set_sorted(&cv->blocks);
    size_t n = cv->blocks.n < max ? cv->blocks.n : max;
    for (size_t i = 0; v && i < n; i++) {
        start[i] = v[2 * i];
        size[i] = (uint32_t)v[2 * i + 1];
    }
    bool ok = v != NULL;
    free(v);
    return ok ? n : 0;
}

size_t vm_cov_edges(const vm_coverage *cv, uint64_t *from, uint64_t *to, size_t max)
{
    if (!from)
        return cv->edges.n;
    uint64_t *v = set_sorted(&cv->edges);
    size_t n = cv->edges.n < max ? cv->edges.n : max;
    for (size_t i = 0; v && i < n; i++) {
        from[i] = v[2 * i];
        to[i] = v[2 * i + 1];
    }
    bool ok = v != NULL;
    free(v);
    return ok ? n : 0;
}
