/* hooks.c — hook lists, breakpoints and watchpoints.
 *
 * Hooks cost nothing when absent: engines ask vm_hooks_cover() while they
 * translate and emit call-outs only where a hook applies.  So adding or
 * removing a hook of a kind that engines bake into translations (code, block,
 * fetch) drops every translation, and memory hooks flush the TLBs so that
 * covered pages leave the fast path.  Either way the running cpu is asked to
 * leave its block: a hook added inside a callback fires from the next
 * instruction on. */
#include "machine.h"
#include <stdlib.h>

static void hooks_changed(vm_machine *m, vm_hook_kind kind)
{
    switch (kind) {
    case VM_HOOK_CODE:
    case VM_HOOK_BLOCK:
    case VM_HOOK_MEM_FETCH:
        vm_code_invalidate(m, 0, UINT64_MAX);
        break;
    case VM_HOOK_MEM_READ:
    case VM_HOOK_MEM_WRITE:
        vm_tlb_flush_all(m);
        for (int i = 0; i < m->ncpus; i++)
            atomic_store(&m->cpus[i]->exit_request, 1);
        break;
    default:
        break;
    }
}

static void recompute_mask(vm_machine *m)
{
    unsigned mask = 0;
    for (int k = 0; k < VM_HOOK_KINDS; k++)
        for (vm_hook *h = m->hooks[k]; h; h = h->next)
            if (!h->removed) {
                mask |= 1u << k;
                break;
            }
    m->hook_mask = mask;
}

vm_hook *vm_hook_add(vm_machine *m, vm_hook_kind kind, uint64_t begin, uint64_t end,
                     vm_hook_fn fn, void *opaque, void (*free_opaque)(void *))
{
    if ((unsigned)kind >= VM_HOOK_KINDS || !fn) {
        vm_set_error(m, VM_EINVAL, "bad hook kind or callback");
        return NULL;
    }
    if (end == 0)
        end = UINT64_MAX;
    if (end <= begin) {
        vm_set_error(m, VM_EINVAL, "hook range is empty: begin 0x%llx >= end 0x%llx",
                     (unsigned long long)begin, (unsigned long long)end);
        return NULL;
    }
    vm_hook *h = calloc(1, sizeof *h);
    if (!h) {
        vm_set_error(m, VM_ENOMEM, "out of memory");
        return NULL;
    }
    *h = (vm_hook){ .kind = kind, .begin = begin, .end = end, .fn = fn,
                    .opaque = opaque, .free_opaque = free_opaque };
    /* Append: hooks fire in the order they were added. */
    vm_hook **pp = &m->hooks[kind];
    while (*pp)
        pp = &(*pp)->next;
    *pp = h;
    m->hook_mask |= 1u << kind;
    hooks_changed(m, kind);
    return h;
}

static void hook_free(vm_hook *h)
{
    if (h->free_opaque)
        h->free_opaque(h->opaque);
    free(h);
}

/* Unlinks removed hooks; only when no callback is on the stack. */
static void hooks_collect(vm_machine *m)
{
    if (m->hooks_running)
        return;
    for (int k = 0; k < VM_HOOK_KINDS; k++) {
        vm_hook **pp = &m->hooks[k];
        while (*pp) {
            vm_hook *h = *pp;
            if (h->removed) {
                *pp = h->next;
                hook_free(h);
            } else {
                pp = &h->next;
            }
        }
    }
}

void vm_hook_remove(vm_machine *m, vm_hook *h)
{
    if (!h || h->removed)
        return;
    h->removed = true;
    recompute_mask(m);
    hooks_changed(m, h->kind);
    hooks_collect(m);
}

void vm_hooks_free_all(vm_machine *m)
{
    for (int k = 0; k < VM_HOOK_KINDS; k++) {
        while (m->hooks[k]) {
            vm_hook *h = m->hooks[k];
            m->hooks[k] = h->next;
            hook_free(h);
        }
    }
    m->hook_mask = 0;
}

bool vm_hooks_cover(const vm_machine *m, vm_hook_kind k, uint64_t begin, uint64_t end)
{
    if (!vm_hooks_any(m, k))
        return false;
    for (const vm_hook *h = m->hooks[k]; h; h = h->next)
        if (!h->removed && h->begin < end && begin < h->end)
            return true;
    return false;
}

int vm_hooks_call(vm_cpu *c, vm_hook_kind k, uint64_t addr, unsigned size, uint64_t value)
{
    vm_machine *m = c->machine;
    int result = VM_HOOK_CONTINUE;
    bool ranged = k <= VM_HOOK_MEM_FAULT;
    m->hooks_running++;
    for (vm_hook *h = m->hooks[k]; h; h = h->next) {
        if (h->removed || (ranged && (addr < h->begin || addr >= h->end)))
            continue;
        int r = h->fn(c, addr, size, value, h->opaque);
        if (r == VM_HOOK_STOP) {
            vm_cpu_request_exit(c, VM_STOP_REQUEST);
            result = r;
            break;
        }
        if (r == VM_HOOK_ERROR) {
            vm_cpu_request_exit(c, VM_STOP_ERROR);
            result = r;
            break;
        }
        if (r == VM_HOOK_HANDLED && k >= VM_HOOK_MEM_FAULT) {
            result = r;
            break;
        }
    }
    m->hooks_running--;
    hooks_collect(m);
    return result;
}

/* ---- breakpoints -------------------------------------------------------- */

static size_t bp_lower_bound(const vm_machine *m, uint64_t addr)
{
    size_t lo = 0, hi = m->nbps;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->bps[mid] < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int vm_bp_add(vm_machine *m, uint64_t addr)
{
    size_t i = bp_lower_bound(m, addr);
    if (i < m->nbps && m->bps[i] == addr)
        return 0;
    if (m->nbps == m->cap_bps) {
        size_t cap = m->cap_bps ? m->cap_bps * 2 : 16;
        uint64_t *b = realloc(m->bps, cap * sizeof *b);
        if (!b)
            return vm_set_error(m, VM_ENOMEM, "out of memory");
        m->bps = b;
        m->cap_bps = cap;
    }
    for (size_t j = m->nbps; j > i; j--)
        m->bps[j] = m->bps[j - 1];
    m->bps[i] = addr;
    m->nbps++;
    vm_code_invalidate(m, addr, addr + 1);
    return 0;
}

int vm_bp_remove(vm_machine *m, uint64_t addr)
{
    size_t i = bp_lower_bound(m, addr);
    if (i >= m->nbps || m->bps[i] != addr)
        return vm_set_error(m, VM_EINVAL, "no breakpoint at 0x%llx", (unsigned long long)addr);
    for (size_t j = i; j + 1 < m->nbps; j++)
        m->bps[j] = m->bps[j + 1];
    m->nbps--;
    vm_code_invalidate(m, addr, addr + 1);
    return 0;
}

bool vm_bp_at(const vm_machine *m, uint64_t pc)
{
    if (m->has_until && m->until == pc)
        return true;
    size_t i = bp_lower_bound(m, pc);
    return i < m->nbps && m->bps[i] == pc;
}

bool vm_bp_in(const vm_machine *m, uint64_t begin, uint64_t end)
{
    if (m->has_until && m->until >= begin && m->until < end)
        return true;
    size_t i = bp_lower_bound(m, begin);
    return i < m->nbps && m->bps[i] < end;
}

int vm_wp_add(vm_machine *m, uint64_t addr, uint64_t len, int access)
{
    if (!len || (access & ~(VM_PROT_R | VM_PROT_W)) || !access)
        return vm_set_error(m, VM_EINVAL, "bad watchpoint");
    if (m->nwps == m->cap_wps) {
        size_t cap = m->cap_wps ? m->cap_wps * 2 : 8;
        struct vm_watch *w = realloc(m->wps, cap * sizeof *w);
        if (!w)
            return vm_set_error(m, VM_ENOMEM, "out of memory");
        m->wps = w;
        m->cap_wps = cap;
    }
    m->wps[m->nwps++] = (struct vm_watch){ addr, len, access };
    vm_tlb_flush_all(m);
    return 0;
}

int vm_wp_remove(vm_machine *m, uint64_t addr, uint64_t len, int access)
{
    for (size_t i = 0; i < m->nwps; i++) {
        if (m->wps[i].addr == addr && m->wps[i].len == len && m->wps[i].access == access) {
            m->wps[i] = m->wps[--m->nwps];
            vm_tlb_flush_all(m);
            return 0;
        }
    }
    return vm_set_error(m, VM_EINVAL, "no such watchpoint");
}

void vm_cpu_watch_hit(const vm_cpu *c, uint64_t *addr, int *access)
{
    *addr = c->watch_addr;
    *access = c->watch_access;
}
