/* pmp.c — physical memory protection (privileged spec 1.12, section 3.7).
 *
 * Sixteen entries with a granularity of 4 bytes (G = 0, as on QEMU's virt
 * harts), address-matching modes OFF, TOR, NA4 and NAPOT, and the L bit.
 * The lowest-numbered entry that matches any byte of an access decides it;
 * an access that matches only part of an entry fails.  M mode is allowed
 * by default (no match, or a match on an unlocked entry); S and U are
 * denied when nothing matches.
 *
 * The check runs only on soft-TLB misses.  To keep the fast path honest it
 * also tells memory.c whether one decision covers the whole 4 KiB page: if
 * not, the page is never cached and every access comes back here.  The TLB
 * is flushed on every pmpcfg/pmpaddr write (csr.c) and on privilege changes
 * (trap.c), so cached pages always reflect the current decision. */
#include "rv.h"

#define PMP_L 0x80
enum { PMP_OFF, PMP_TOR, PMP_NA4, PMP_NAPOT };

/* The byte range [*lo, *last] entry i matches; false if it matches nothing. */
static bool entry_range(const rv_cpu *c, unsigned i, uint64_t *lo, uint64_t *last)
{
    uint64_t a = c->pmpaddr[i];
    switch ((c->pmpcfg[i] >> 3) & 3) {
    case PMP_TOR: {
        uint64_t bottom = i ? c->pmpaddr[i - 1] << 2 : 0;
        uint64_t top = a << 2;
        if (top <= bottom)
            return false;
        *lo = bottom;
        *last = top - 1;
        return true;
    }
    case PMP_NA4:
        *lo = a << 2;
        *last = *lo + 3;
        return true;
    case PMP_NAPOT: {
        /* pmpaddr = base/4 with (size/8 - 1) in its low bits: the number of
         * trailing ones t gives a size of 2^(t+3).  pmpaddr has 54 bits, so
         * t <= 54 and the size fits in 64 bits. */
        unsigned t = (unsigned)__builtin_ctzll(~a);
        uint64_t size = 1ull << (t + 3);
        *lo = (a << 2) & ~(size - 1);
        *last = *lo + size - 1;
        return true;
    }
    default:
        return false;
    }
}

static uint8_t access_bit(int access)
{
    return access == VM_PROT_X ? 4 : access == VM_PROT_W ? 2 : 1;
}

int rv_pmp_check(rv_cpu *c, uint64_t pa, unsigned size, int access, int priv)
{
    uint64_t last = pa + size - 1;
    uint64_t page = pa & VM_PAGE_MASK, page_last = page + VM_PAGE_SIZE - 1;
    bool uniform = true;
    for (unsigned i = 0; i < 16; i++) {
        uint64_t lo, hi;
        if (!entry_range(c, i, &lo, &hi) || hi < page || lo > page_last)
            continue;
        if (lo > page || hi < page_last)
            uniform = false;           /* entry i splits this page */
        if (hi < pa || lo > last)
            continue;                  /* but not this access */
        if (lo > pa || hi < last)
            return VM_EPROT;           /* the access straddles the entry's edge */
        uint8_t cfg = c->pmpcfg[i];
        if (priv == RV_PRIV_M && !(cfg & PMP_L))
            return uniform ? 0 : 1;
        if (!(cfg & access_bit(access)))
            return VM_EPROT;
        return uniform ? 0 : 1;
    }
    if (priv != RV_PRIV_M)
        return VM_EPROT;
    return uniform ? 0 : 1;
}

/* The vm_isa phys_check hook: PMP for explicit accesses and fetches, with
 * the privilege that translated them (MPRV applies to loads and stores). */
int rv_pmp_phys_check(vm_cpu *vc, uint64_t pa, unsigned size, int access)
{
    rv_cpu *c = rv_cpu_of(vc);
    if (!vc->machine->system_mode)
        return 0;
    int priv = c->priv;
    if (access != VM_PROT_X && priv == RV_PRIV_M && ((c->mstatus >> 17) & 1))   /* MPRV */
        priv = (int)((c->mstatus >> 11) & 3);
    return rv_pmp_check(c, pa, size, access, priv);
}
