/* mmu.c — RISC-V virtual memory: Sv39, Sv48 and Sv57 page-table walks with
 * hardware A/D update, as the isa->translate hook.
 *
 * The soft TLB (memory.c) caches what this returns per 4 KiB page and per
 * access kind, so a walk happens only on a TLB miss.  The TLB is flushed on
 * every change that alters translations: satp, SFENCE.VMA, privilege changes
 * (traps, xRET) and mstatus writes (MPRV/MPP, SUM, MXR). */
#include "rv.h"
#include <string.h>

#define PTE_V (1ull << 0)
#define PTE_R (1ull << 1)
#define PTE_W (1ull << 2)
#define PTE_X (1ull << 3)
#define PTE_U (1ull << 4)
#define PTE_A (1ull << 6)
#define PTE_D (1ull << 7)
#define PTE_PPN_SHIFT 10
#define PTE_PPN_MASK ((1ull << 44) - 1)
/* Bits 54..63: reserved, PBMT and N.  We implement neither Svpbmt nor
 * Svnapot (the device tree does not list them), so any of them set faults. */
#define PTE_HIGH_MASK (0x3ffull << 54)

#define MSTATUS_MPRV (1ull << 17)
#define MSTATUS_SUM (1ull << 18)
#define MSTATUS_MXR (1ull << 19)

/* Privilege that data accesses are checked with (MPRV makes M-mode loads
 * and stores use MPP's translation and protection). */
static int effective_priv(const rv_cpu *c, int access)
{
    if (access != VM_PROT_X && c->priv == RV_PRIV_M && (c->mstatus & MSTATUS_MPRV))
        return (int)((c->mstatus >> 11) & 3);
    return c->priv;
}

/* A PTE in guest RAM; NULL if the address is not RAM or PMP denies the
 * walk's implicit access (checked as S mode, section 3.7.1). */
static uint64_t *pte_ptr(rv_cpu *c, uint64_t pa)
{
    if (c->common.machine->system_mode && rv_pmp_check(c, pa, 8, VM_PROT_R, RV_PRIV_S) < 0)
        return NULL;
    return vm_mem_host_ptr(c->common.machine, pa, 8);
}

static bool leaf_allows(const rv_cpu *c, uint64_t pte, int access, int priv)
{
    if (priv == RV_PRIV_U && !(pte & PTE_U))
        return false;
    if (priv == RV_PRIV_S && (pte & PTE_U)) {
        if (access == VM_PROT_X || !(c->mstatus & MSTATUS_SUM))
            return false;
    }
    switch (access) {
    case VM_PROT_X: return (pte & PTE_X) != 0;
    case VM_PROT_W: return (pte & PTE_W) != 0;
    default: return (pte & PTE_R) || ((c->mstatus & MSTATUS_MXR) && (pte & PTE_X));
    }
}

int rv_mmu_translate(vm_cpu *vc, uint64_t va, int access, uint64_t *pa)
{
    rv_cpu *c = rv_cpu_of(vc);
    unsigned mode = (unsigned)(c->satp >> 60);
    int priv = effective_priv(c, access);
    if (likely(mode == 0 || priv == RV_PRIV_M)) {
        *pa = va;
        return 0;
    }
    unsigned levels = mode - 5;                     /* 8: Sv39, 9: Sv48, 10: Sv57 */
    unsigned vabits = 12 + 9 * levels;
    /* The address must be the sign extension of its low vabits bits. */
    if ((uint64_t)((int64_t)(va << (64 - vabits)) >> (64 - vabits)) != va)
        return VM_EPAGE;
    uint64_t table = (c->satp & ((1ull << 44) - 1)) << 12;
    for (int i = (int)levels - 1; i >= 0; i--) {
        uint64_t vpn = (va >> (12 + 9 * i)) & 0x1ff;
        uint64_t *p = pte_ptr(c, table + vpn * 8);
        if (!p)
            return VM_EUNMAPPED;                    /* access fault on the walk */
        uint64_t pte = __atomic_load_n(p, __ATOMIC_RELAXED);
        if (!(pte & PTE_V) || (!(pte & PTE_R) && (pte & PTE_W)) || (pte & PTE_HIGH_MASK))
            return VM_EPAGE;
        uint64_t ppn = (pte >> PTE_PPN_SHIFT) & PTE_PPN_MASK;
        if (!(pte & (PTE_R | PTE_X))) {             /* pointer to the next level */
            if (pte & (PTE_U | PTE_A | PTE_D))
                return VM_EPAGE;                    /* reserved for future use */
            table = ppn << 12;
            continue;
        }
        if (!leaf_allows(c, pte, access, priv))
            return VM_EPAGE;
        uint64_t low_mask = (1ull << (9 * i)) - 1;  /* superpage: low PPN bits must be 0 */
        if (ppn & low_mask)
            return VM_EPAGE;
        uint64_t need = PTE_A | (access == VM_PROT_W ? PTE_D : 0);
        if ((pte & need) != need) {
            if (vc->machine->system_mode &&
                rv_pmp_check(c, table + vpn * 8, 8, VM_PROT_W, RV_PRIV_S) < 0)
                return VM_EUNMAPPED;                /* the A/D update is an access too */
            __atomic_fetch_or(p, need, __ATOMIC_RELAXED);
        }
        uint64_t page = (ppn & ~low_mask) | ((va >> 12) & low_mask);
        *pa = (page << 12) | (va & 0xfff);
        return 0;
    }
    return VM_EPAGE;                                /* no leaf at level 0 */
}

/* The bits of mstatus that change what a translation allows: SUM and MXR,
 * and MPRV with MPP (an M-mode access made as another mode). */
void rv_tlb_sync(rv_cpu *c)
{
    uint64_t ms = c->mstatus, mode = (uint64_t)c->priv | (ms & ((1ull << 18) | (1ull << 19)));
    if (ms & (1ull << 17))
        mode |= ms & ((1ull << 17) | (3ull << 11));
    vm_tlb_switch(&c->common, c->satp, mode);
}
