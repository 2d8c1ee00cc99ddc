/* irq.c — interrupt delivery for system mode: which pending interrupt is
 * taken, when, and the timer bits of mip.
 *
 * Every change to mip, mie, mideleg, mstatus or the privilege runs on the
 * cpu's own thread (devices raise lines from the board's run loop), so no
 * locking is needed.  Interrupts are taken only when an engine (re)enters a
 * cpu: a change that makes one takeable sets exit_request, the engine leaves
 * at the next block boundary, and the run loop re-enters it. */
#include "rv.h"
#include "../snapshot.h"

#define MSTATUS_SIE (1ull << 1)
#define MSTATUS_MIE (1ull << 3)
#define MENVCFG_STCE (1ull << 63)

uint64_t rv_time_now(vm_machine *m)
{
    /* 10 MHz like QEMU's virt board.  The machine's clock (clock.c) is host
     * time, or instructions retired in deterministic mode. */
    return vm_clock_monotonic_ns(m) / 100;
}

/* Refreshes MTIP and (with Sstc enabled) STIP from the compare registers. */
static void update_timers(rv_cpu *c)
{
    uint64_t t = rv_time_now(c->common.machine);
    uint64_t mip = c->mip;
    mip = t >= c->mtimecmp ? mip | (1ull << RV_IRQ_MTI) : mip & ~(1ull << RV_IRQ_MTI);
    if (c->menvcfg & MENVCFG_STCE)
        mip = t >= c->stimecmp ? mip | (1ull << RV_IRQ_STI) : mip & ~(1ull << RV_IRQ_STI);
    c->mip = mip;
}

/* The interrupt to take now, or -1.  Priority order of the privileged spec:
 * MEI, MSI, MTI, SEI, SSI, STI; M-level ones before S-level ones. */
static int pick(const rv_cpu *c)
{
    uint64_t pending = c->mip & c->mie;
    if (!pending)
        return -1;
    uint64_t m_en = (c->priv < RV_PRIV_M || (c->mstatus & MSTATUS_MIE)) ? ~c->mideleg : 0;
    uint64_t s_en = (c->priv < RV_PRIV_S || (c->priv == RV_PRIV_S && (c->mstatus & MSTATUS_SIE)))
                        ? c->mideleg : 0;
    static const int order[] = { RV_IRQ_MEI, RV_IRQ_MSI, RV_IRQ_MTI, RV_IRQ_SEI, RV_IRQ_SSI, RV_IRQ_STI };
    uint64_t m = pending & m_en;
    uint64_t s = pending & s_en;
    for (int i = 0; i < 6; i++)
        if ((m >> order[i]) & 1)
            return order[i];
    for (int i = 0; i < 6; i++)
        if ((s >> order[i]) & 1)
            return order[i];
    return -1;
}

bool rv_irq_wfi_wakes(rv_cpu *c)
{
    update_timers(c);
    return (c->mip & c->mie) != 0;
}

bool rv_irq_enter(rv_cpu *c)
{
    update_timers(c);
    if (c->wfi) {
        if (!(c->mip & c->mie))
            return true;
        c->wfi = false;               /* WFI completes; the trap (if any) follows */
    }
    int irq = pick(c);
    if (irq >= 0)
        rv_take_interrupt(c, (unsigned)irq);
    return false;
}

void rv_irq_update(rv_cpu *c)
{
    if (c->common.machine->system_mode && pick(c) >= 0)
        atomic_store_explicit(&c->common.exit_request, 1, memory_order_relaxed);
}

void rv_irq_set_line(rv_cpu *c, int irq, bool level)
{
    uint64_t bit = 1ull << irq;
    uint64_t old = c->mip;
    c->mip = level ? old | bit : old & ~bit;
    if (c->mip != old) {
        if (level && c->wfi)
            atomic_store_explicit(&c->common.exit_request, 1, memory_order_relaxed);
        rv_irq_update(c);
    }
}
