/* csr.c — control and status registers (Zicsr, the F/D fcsr, counters and
 * the machine/supervisor CSRs of the privileged spec). */
#include "rv.h"
#include <string.h>

static const struct { unsigned num; const char *name; } csr_names[] = {
    { 0x001, "fflags" }, { 0x002, "frm" }, { 0x003, "fcsr" },
    { 0xC00, "cycle" }, { 0xC01, "time" }, { 0xC02, "instret" },
    { 0x100, "sstatus" }, { 0x104, "sie" }, { 0x105, "stvec" }, { 0x106, "scounteren" },
    { 0x10A, "senvcfg" }, { 0x140, "sscratch" }, { 0x141, "sepc" }, { 0x142, "scause" },
    { 0x143, "stval" }, { 0x144, "sip" }, { 0x14D, "stimecmp" }, { 0x180, "satp" },
    { 0x300, "mstatus" }, { 0x301, "misa" }, { 0x302, "medeleg" }, { 0x303, "mideleg" },
    { 0x304, "mie" }, { 0x305, "mtvec" }, { 0x306, "mcounteren" }, { 0x30A, "menvcfg" },
    { 0x340, "mscratch" }, { 0x341, "mepc" }, { 0x342, "mcause" }, { 0x343, "mtval" },
    { 0x344, "mip" }, { 0xB00, "mcycle" }, { 0xB02, "minstret" },
    { 0x3A0, "pmpcfg0" }, { 0x3A2, "pmpcfg2" },
    { 0x3B0, "pmpaddr0" }, { 0x3B1, "pmpaddr1" }, { 0x3B2, "pmpaddr2" }, { 0x3B3, "pmpaddr3" },
    { 0x3B4, "pmpaddr4" }, { 0x3B5, "pmpaddr5" }, { 0x3B6, "pmpaddr6" }, { 0x3B7, "pmpaddr7" },
    { 0x3B8, "pmpaddr8" }, { 0x3B9, "pmpaddr9" }, { 0x3BA, "pmpaddr10" }, { 0x3BB, "pmpaddr11" },
    { 0x3BC, "pmpaddr12" }, { 0x3BD, "pmpaddr13" }, { 0x3BE, "pmpaddr14" }, { 0x3BF, "pmpaddr15" },
    { 0xF11, "mvendorid" }, { 0xF12, "marchid" }, { 0xF13, "mimpid" }, { 0xF14, "mhartid" },
    { 0xF15, "mconfigptr" }, { 0x320, "mcountinhibit" },
};

const char *rv_csr_name(unsigned csr)
{
    for (size_t i = 0; i < sizeof csr_names / sizeof *csr_names; i++)
        if (csr_names[i].num == csr)
            return csr_names[i].name;
    return NULL;
}

int rv_csr_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof csr_names / sizeof *csr_names; i++)
        if (!strcmp(csr_names[i].name, name))
            return (int)csr_names[i].num;
    return -1;
}

/* sstatus is a view of mstatus: SIE SPIE UBE SPP VS FS XS SUM MXR UXL SD. */
#define SSTATUS_MASK ((1ull << 1) | (1ull << 5) | (1ull << 6) | (1ull << 8) | (3ull << 9) | \
                      (3ull << 13) | (3ull << 15) | (1ull << 18) | (1ull << 19) | (3ull << 32) | (1ull << 63))
/* Writable mstatus bits: SIE MIE SPIE MPIE SPP MPP FS SUM MXR MPRV TVM TW TSR. */
#define MSTATUS_WMASK ((1ull << 1) | (1ull << 3) | (1ull << 5) | (1ull << 7) | (1ull << 8) | (3ull << 11) | \
                       (3ull << 13) | (1ull << 17) | (1ull << 18) | (1ull << 19) | (1ull << 20) | \
                       (1ull << 21) | (1ull << 22))
#define SIP_MASK ((1ull << 1) | (1ull << 5) | (1ull << 9))

static uint64_t with_sd(uint64_t ms)
{
    return ((ms & RV_MSTATUS_FS) == RV_MSTATUS_FS) ? ms | RV_MSTATUS_SD : ms & ~RV_MSTATUS_SD;
}

/* Wall-clock time base for the time CSR: 10 MHz, like QEMU's virt board
 * (irq.c; the CLINT's mtime reads the same clock). */
static uint64_t time_now(rv_cpu *c)
{
    return rv_time_now(c->common.machine);
}

/* System mode: cycle/time/instret below M need mcounteren (and scounteren
 * for U).  Linux user mode runs in U without firmware, so no check there. */
static bool counter_denied(const rv_cpu *c, unsigned csr)
{
    if (!c->common.machine->system_mode || c->priv == RV_PRIV_M)
        return false;
    uint64_t bit = 1ull << (csr & 31);
    if (!(c->mcounteren & bit))
        return true;
    return c->priv == RV_PRIV_U && !(c->scounteren & bit);
}

#define MENVCFG_STCE (1ull << 63)

/* PMP registers (the checks are in pmp.c).  OpenSBI probes their count
 * and granularity by read-back. */
static uint64_t pmpcfg_read(const rv_cpu *c, unsigned first)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++)
        v |= (uint64_t)c->pmpcfg[first + i] << (8 * i);
    return v;
}

static void pmpcfg_write(rv_cpu *c, unsigned first, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++) {
        if (c->pmpcfg[first + i] & 0x80)
            continue;                             /* locked */
        uint8_t b = (uint8_t)(v >> (8 * i)) & 0x9f;
        if ((b & 3) == 2)                         /* R=0 W=1 is reserved */
            b &= (uint8_t)~3;
        c->pmpcfg[first + i] = b;
    }
}

static bool pmpaddr_locked(const rv_cpu *c, unsigned i)
{
    if (c->pmpcfg[i] & 0x80)
        return true;
    /* A locked TOR entry above also locks this address. */
    return i + 1 < 16 && (c->pmpcfg[i + 1] & 0x80) && ((c->pmpcfg[i + 1] >> 3) & 3) == 1;
}

static bool fpu_off(const rv_cpu *c) { return (c->mstatus & RV_MSTATUS_FS) == 0; }

int rv_csr_read(rv_cpu *c, unsigned csr, uint64_t *val)
{
    if (((csr >> 8) & 3) > (unsigned)c->priv)
        return RV_EXC_ILLEGAL;
    switch (csr) {
    case 0x001: if (fpu_off(c)) return RV_EXC_ILLEGAL; *val = c->fflags; break;
    case 0x002: if (fpu_off(c)) return RV_EXC_ILLEGAL; *val = c->frm; break;
    case 0x003: if (fpu_off(c)) return RV_EXC_ILLEGAL; *val = c->fflags | (c->frm << 5); break;
    case 0xC00: case 0xC01: case 0xC02:
        if (counter_denied(c, csr))
            return RV_EXC_ILLEGAL;
        *val = csr == 0xC01 ? time_now(c) : vm_cpu_retired(&c->common);
        break;
    case 0xB00: case 0xB02: *val = vm_cpu_retired(&c->common); break;
    case 0x3A0: *val = pmpcfg_read(c, 0); break;
    case 0x3A2: *val = pmpcfg_read(c, 8); break;
    case 0x3B0: case 0x3B1: case 0x3B2: case 0x3B3: case 0x3B4: case 0x3B5: case 0x3B6: case 0x3B7:
    case 0x3B8: case 0x3B9: case 0x3BA: case 0x3BB: case 0x3BC: case 0x3BD: case 0x3BE: case 0x3BF:
        *val = c->pmpaddr[csr - 0x3B0];
        break;
    case 0x100: *val = with_sd(c->mstatus) & SSTATUS_MASK; break;
    case 0x104: *val = c->mie & c->mideleg; break;
    case 0x105: *val = c->stvec; break;
    case 0x106: *val = c->scounteren; break;
    case 0x10A: *val = c->senvcfg; break;
    case 0x140: *val = c->sscratch; break;
    case 0x141: *val = c->sepc; break;
    case 0x142: *val = c->scause; break;
    case 0x143: *val = c->stval; break;
    case 0x144: *val = c->mip & c->mideleg; break;
    case 0x14D:
        if (c->priv < RV_PRIV_M && !(c->menvcfg & MENVCFG_STCE))
            return RV_EXC_ILLEGAL;
        *val = c->stimecmp;
        break;
    case 0x180:
        if (c->priv == RV_PRIV_S && ((c->mstatus >> 20) & 1))   /* TVM */
            return RV_EXC_ILLEGAL;
        *val = c->satp;
        break;
    case 0x300: *val = with_sd(c->mstatus); break;
    case 0x301: *val = c->misa; break;
    case 0x302: *val = c->medeleg; break;
    case 0x303: *val = c->mideleg; break;
    case 0x304: *val = c->mie; break;
    case 0x305: *val = c->mtvec; break;
    case 0x306: *val = c->mcounteren; break;
    case 0x30A: *val = c->menvcfg; break;
    case 0x340: *val = c->mscratch; break;
    case 0x341: *val = c->mepc; break;
    case 0x342: *val = c->mcause; break;
    case 0x343: *val = c->mtval; break;
    case 0x344: *val = c->mip; break;
    case 0xF11: case 0xF12: case 0xF13: case 0xF15: *val = 0; break;
    case 0x320: *val = 0; break;             /* mcountinhibit: counters always count */
    case 0xF14: *val = c->mhartid; break;
    default: return RV_EXC_ILLEGAL;
    }
    return 0;
}

int rv_csr_write(rv_cpu *c, unsigned csr, uint64_t v)
{
    if (((csr >> 8) & 3) > (unsigned)c->priv || (csr >> 10) == 3)
        return RV_EXC_ILLEGAL;
    switch (csr) {
    case 0x001: if (fpu_off(c)) return RV_EXC_ILLEGAL; c->fflags = v & 0x1f; c->mstatus |= RV_MSTATUS_FS; break;
    case 0x002: if (fpu_off(c)) return RV_EXC_ILLEGAL; c->frm = v & 7; c->mstatus |= RV_MSTATUS_FS; break;
    case 0x003:
        if (fpu_off(c))
            return RV_EXC_ILLEGAL;
        c->fflags = v & 0x1f;
        c->frm = (v >> 5) & 7;
        c->mstatus |= RV_MSTATUS_FS;
        break;
    case 0xB00: case 0xB02: c->common.icount = v - (c->common.budget_start - c->common.budget); break;
    case 0x100:
        c->mstatus = (c->mstatus & ~(SSTATUS_MASK & MSTATUS_WMASK)) | (v & SSTATUS_MASK & MSTATUS_WMASK);
        rv_tlb_sync(c);                     /* SUM, MXR change permissions */
        break;
    case 0x104: c->mie = (c->mie & ~c->mideleg) | (v & c->mideleg); break;
    case 0x105: c->stvec = v & ~2ull; break;
    case 0x106: c->scounteren = v & 7; break;
    case 0x10A: c->senvcfg = v; break;
    case 0x140: c->sscratch = v; break;
    case 0x141: c->sepc = v & ~1ull; break;
    case 0x142: c->scause = v; break;
    case 0x143: c->stval = v; break;
    case 0x144: c->mip = (c->mip & ~(c->mideleg & (1ull << 1))) | (v & c->mideleg & (1ull << 1)); break;
    case 0x14D:
        if (c->priv < RV_PRIV_M && !(c->menvcfg & MENVCFG_STCE))
            return RV_EXC_ILLEGAL;
        c->stimecmp = v;
        rv_irq_wfi_wakes(c);                /* refreshes STIP now */
        /* A new deadline: leave, so that the run loop plans its slices
         * around it (exact timer interrupts in deterministic mode). */
        atomic_store_explicit(&c->common.exit_request, 1, memory_order_relaxed);
        break;
    case 0x180: {
        if (c->priv == RV_PRIV_S && ((c->mstatus >> 20) & 1))   /* TVM */
            return RV_EXC_ILLEGAL;
        uint64_t mode = v >> 60;
        /* Bare, Sv39, Sv48, Sv57; an unsupported mode leaves satp alone. */
        if (mode == 0)
            v = 0;
        if ((mode == 0 || mode == 8 || mode == 9 || mode == 10) && v != c->satp) {
            c->satp = v;
            /* Blocks are keyed by virtual PC: the engine drops them when it
             * re-enters with another satp, so make it re-enter. */
            atomic_store(&c->common.exit_request, 1);
        }
        rv_tlb_sync(c);                     /* the ASID and root are part of the context */
        break;
    }
    case 0x300: {
        uint64_t ms = (c->mstatus & ~MSTATUS_WMASK) | (v & MSTATUS_WMASK);
        if (((ms >> 11) & 3) == 2)          /* MPP = 2 is reserved: keep the old value */
            ms = (ms & ~(3ull << 11)) | (c->mstatus & (3ull << 11));
        c->mstatus = ms;
        rv_tlb_sync(c);                     /* MPRV, SUM, MXR change translations */
        break;
    }
    case 0x301: break;                       /* misa is read-only here (WARL) */
    case 0x320: break;                       /* mcountinhibit (WARL, reads 0) */
    case 0x302: c->medeleg = v & 0xb3ff; break;
    case 0x303: c->mideleg = v & SIP_MASK; break;
    case 0x304: c->mie = v & 0xaaa; break;
    case 0x305: c->mtvec = v & ~2ull; break;
    case 0x306: c->mcounteren = v & 7; break;
    case 0x30A:
        c->menvcfg = v & (MENVCFG_STCE | 0xf1);   /* STCE, CBZE CBCFE CBIE, FIOM */
        rv_irq_wfi_wakes(c);
        break;
    case 0x3A0: case 0x3A2:
        pmpcfg_write(c, csr == 0x3A0 ? 0 : 8, v);
        vm_tlb_flush_cpu(&c->common);
        rv_tlb_sync(c);
        atomic_store(&c->common.exit_request, 1);   /* re-check execute permission */
        break;
    case 0x3B0: case 0x3B1: case 0x3B2: case 0x3B3: case 0x3B4: case 0x3B5: case 0x3B6: case 0x3B7:
    case 0x3B8: case 0x3B9: case 0x3BA: case 0x3BB: case 0x3BC: case 0x3BD: case 0x3BE: case 0x3BF:
        if (!pmpaddr_locked(c, csr - 0x3B0))
            c->pmpaddr[csr - 0x3B0] = v & ((1ull << 54) - 1);
        vm_tlb_flush_cpu(&c->common);       /* cached pages carry PMP decisions */
        rv_tlb_sync(c);
        atomic_store(&c->common.exit_request, 1);   /* re-check execute permission */
        break;
    case 0x340: c->mscratch = v; break;
    case 0x341: c->mepc = v & ~1ull; break;
    case 0x342: c->mcause = v; break;
    case 0x343: c->mtval = v; break;
    case 0x344:
        c->mip = (c->mip & ~SIP_MASK) | (v & SIP_MASK);
        rv_irq_wfi_wakes(c);                /* with Sstc, STIP follows stimecmp only */
        break;
    default: return RV_EXC_ILLEGAL;
    }
    /* Changes to mstatus, mie, mip, mideleg, sie or sip may make an
     * interrupt takeable right away. */
    if (c->common.machine->system_mode)
        rv_irq_update(c);
    return 0;
}
