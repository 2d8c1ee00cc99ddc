/* tlb.c — flushing the soft TLB, and keeping it per translation context.
 *
 * The live TLB (vm_cpu.tlb, probed inline by the engines) holds the entries
 * of one context: an address space (RISC-V: satp, so the ASID and the root
 * table) and a mode (privilege and the status bits that change permission
 * checks).  A guest switches contexts all the time: every trap and its
 * return changes privilege, the kernel's uaccess helpers toggle SUM, and a
 * scheduler moves between a few address spaces.  Flushing at each switch
 * threw away entries that are valid again a moment later, so the live TLB is
 * saved into a small bank on a switch and reloaded when its context comes
 * back.  A bank is only ever a cache of what a page walk would give: every
 * flush (SFENCE.VMA, PMP and map changes, snapshots) empties the banks too,
 * so no translation can outlive the guest's fence.  Keying by the whole satp
 * (not the ASID alone) also keeps an ASID reused with another root apart. */
#include "machine.h"
#include <stdlib.h>
#include <string.h>

#define TLB_BANKS 4

typedef struct vm_tlb_bank {
    uint64_t space, mode, last_use;
    bool valid;
    vm_tlb_entry e[VM_TLB_SIZE];
} vm_tlb_bank;

static const vm_tlb_entry invalid_entry = { VM_TLB_INVALID, VM_TLB_INVALID, VM_TLB_INVALID, 0 };

static void invalidate(vm_tlb_entry *e, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        e[i] = invalid_entry;
}

/* Also forgets whose context the live TLB is: a caller that changed the
 * hart's state without switching contexts (a snapshot restore) must not have
 * the entries filled next saved under the old context's name.  The ISA
 * switches to the current context again when it next syncs. */
void vm_tlb_flush_cpu(vm_cpu *c)
{
    invalidate(c->tlb, c->tlb_mask + 1);
    c->tlb_ctx_space = c->tlb_ctx_mode = VM_TLB_INVALID;
    if (c->tlb_banks)
        for (int b = 0; b < TLB_BANKS; b++)
            c->tlb_banks[b].valid = false;
}

void vm_tlb_flush_all(vm_machine *m)
{
    for (int i = 0; i < m->ncpus; i++)
        vm_tlb_flush_cpu(m->cpus[i]);
}

void vm_tlb_set_bits(vm_machine *m, unsigned bits)
{
    for (int i = 0; i < m->ncpus; i++) {
        vm_cpu *c = m->cpus[i];
        invalidate(c->tlb, VM_TLB_SIZE);
        c->tlb_mask = (1u << (bits < VM_TLB_BITS ? bits : VM_TLB_BITS)) - 1;
        vm_tlb_flush_cpu(c);
    }
}

void vm_tlb_flush_page(vm_machine *m, uint64_t vaddr)
{
    for (int i = 0; i < m->ncpus; i++) {
        vm_cpu *c = m->cpus[i];
        *vm_tlb_entry_for(c->tlb, c->tlb_mask, vaddr) = invalid_entry;
        if (c->tlb_banks)
            for (int b = 0; b < TLB_BANKS; b++)
                *vm_tlb_entry_for(c->tlb_banks[b].e, c->tlb_mask, vaddr) = invalid_entry;
    }
}

static void drop_writes(vm_tlb_entry *e, unsigned n, uintptr_t host_page)
{
    for (unsigned i = 0; i < n; i++)
        if (e[i].tag_w != VM_TLB_INVALID && (uintptr_t)e[i].tag_w + e[i].addend == host_page)
            e[i].tag_w = VM_TLB_INVALID;
}

void vm_tlb_drop_host_writes(vm_machine *m, uintptr_t host_page)
{
    for (int i = 0; i < m->ncpus; i++) {
        vm_cpu *c = m->cpus[i];
        drop_writes(c->tlb, c->tlb_mask + 1, host_page);
        if (c->tlb_banks)
            for (int b = 0; b < TLB_BANKS; b++)
                if (c->tlb_banks[b].valid)
                    drop_writes(c->tlb_banks[b].e, c->tlb_mask + 1, host_page);
    }
}

void vm_tlb_free_banks(vm_cpu *c)
{
    free(c->tlb_banks);
    c->tlb_banks = NULL;
}

/* The bank to save the live TLB into: an invalid one, else the least
 * recently used. */
static vm_tlb_bank *victim(vm_tlb_bank *banks)
{
    vm_tlb_bank *v = &banks[0];
    for (int b = 0; b < TLB_BANKS; b++) {
        if (!banks[b].valid)
            return &banks[b];
        if (banks[b].last_use < v->last_use)
            v = &banks[b];
    }
    return v;
}

void vm_tlb_switch(vm_cpu *c, uint64_t space, uint64_t mode)
{
    if (c->tlb_ctx_space == space && c->tlb_ctx_mode == mode)
        return;
    unsigned n = c->tlb_mask + 1;
    if (!c->tlb_banks && !(c->tlb_banks = calloc(TLB_BANKS, sizeof *c->tlb_banks))) {
        invalidate(c->tlb, n);   /* no memory: a flush is always correct */
        c->tlb_ctx_space = space, c->tlb_ctx_mode = mode;
        return;
    }
    static _Thread_local uint64_t clock;   /* LRU order; a cpu runs on one thread at a time */
    vm_tlb_bank *banks = c->tlb_banks, *save = NULL;
    for (int b = 0; b < TLB_BANKS && !save; b++)
        if (banks[b].valid && banks[b].space == space && banks[b].mode == mode)
            save = &banks[b];
    if (save) {                             /* swap: the bank now holds the old context */
        for (unsigned i = 0; i < n; i++) {
            vm_tlb_entry t = c->tlb[i];
            c->tlb[i] = save->e[i];
            save->e[i] = t;
        }
    } else {
        save = victim(banks);
        memcpy(save->e, c->tlb, n * sizeof *c->tlb);
        invalidate(c->tlb, n);
    }
    save->space = c->tlb_ctx_space;
    save->mode = c->tlb_ctx_mode;
    save->valid = true;
    save->last_use = ++clock;
    c->tlb_ctx_space = space;
    c->tlb_ctx_mode = mode;
}
