/* trap.c — where a RISC-V trap goes: the host (hooks, Linux syscalls, a
 * stopped run) or, in system mode, the guest's own trap vector. */
#include "rv.h"
#include "../linux_abi.h"

/* A slice retires 2^18 instructions; no real trap handler is this short. */
#define TRAPS_PER_EXEC (1u << 16)

static bool is_fault(uint64_t cause)
{
    switch (cause) {
    case RV_EXC_INSN_ACCESS: case RV_EXC_LOAD_ACCESS: case RV_EXC_STORE_ACCESS:
    case RV_EXC_INSN_PAGE: case RV_EXC_LOAD_PAGE: case RV_EXC_STORE_PAGE:
        return true;
    default:
        return false;
    }
}

/* Delivers an exception or interrupt to M or S mode as the privileged spec
 * says (interrupts use mideleg and the vectored mode of xtvec). */
static void enter_guest_trap(rv_cpu *c, uint64_t cause, uint64_t tval, bool irq)
{
    uint64_t deleg = irq ? c->mideleg : c->medeleg;
    bool to_s = c->priv <= RV_PRIV_S && ((deleg >> cause) & 1);
    uint64_t xcause = irq ? cause | (1ull << 63) : cause;
    if (to_s) {
        c->scause = xcause;
        c->sepc = c->pc;
        c->stval = tval;
        uint64_t ms = c->mstatus;
        ms = (ms & ~(1ull << 5)) | (((ms >> 1) & 1) << 5);     /* SPIE = SIE */
        ms &= ~(1ull << 1);                                    /* SIE = 0 */
        ms = (ms & ~(1ull << 8)) | ((uint64_t)(c->priv & 1) << 8); /* SPP */
        c->mstatus = ms;
        c->priv = RV_PRIV_S;
        c->pc = (c->stvec & ~3ull) + ((irq && (c->stvec & 1)) ? 4 * cause : 0);
    } else {
        c->mcause = xcause;
        c->mepc = c->pc;
        c->mtval = tval;
        uint64_t ms = c->mstatus;
        ms = (ms & ~(1ull << 7)) | (((ms >> 3) & 1) << 7);     /* MPIE = MIE */
        ms &= ~(1ull << 3);
        ms = (ms & ~(3ull << 11)) | ((uint64_t)c->priv << 11); /* MPP */
        c->mstatus = ms;
        c->priv = RV_PRIV_M;
        c->pc = (c->mtvec & ~3ull) + ((irq && (c->mtvec & 1)) ? 4 * cause : 0);
    }
    c->reservation = ~0ull;
    rv_tlb_sync(c);                 /* privilege changed: another TLB context */
}

void rv_take_interrupt(rv_cpu *c, unsigned irq)
{
    enter_guest_trap(c, irq, 0, true);
}

/* Ends the run at a trap the guest does not (or cannot) handle. */
static int stop_at_trap(rv_cpu *c, uint64_t cause, uint64_t tval)
{
    vm_cpu *vc = &c->common;
    vc->trap_cause = cause;
    vc->trap_tval = tval;
    vm_cpu_request_exit(vc, is_fault(cause) ? VM_STOP_FAULT
                            : cause == RV_EXC_ILLEGAL ? VM_STOP_INVALID : VM_STOP_TRAP);
    return RV_TRAP_STOP;
}

/* After a fetch fault at from was delivered: did its trap land on from
 * again, in the same mode?  Fetching depends only on the mode, satp and
 * PMP, which a trap leaves as they were, so the hart would take this trap
 * forever without retiring anything.  Says so in the machine's error. */
static bool vector_unfetchable(rv_cpu *c, uint64_t cause, uint64_t from, int from_priv)
{
    if ((cause != RV_EXC_INSN_ACCESS && cause != RV_EXC_INSN_PAGE) || c->pc != from || c->priv != from_priv)
        return false;
    static const char mode[4] = { 'U', 'S', 'H', 'M' };
    vm_set_error(c->common.machine, VM_EINVAL, "hart %d: its trap vector 0x%llx cannot be fetched in %c mode (%s)",
                 c->common.index, (unsigned long long)from, mode[c->priv & 3],
                 cause == RV_EXC_INSN_PAGE ? "instruction page fault" : "instruction access fault");
    return true;
}

/* A Linux process's fault: the signal Linux raises for it (riscv's
 * do_trap_* and page-fault paths), delivered if the guest handles it. */
static bool linux_fault_signal(rv_cpu *c, uint64_t cause, uint64_t tval)
{
    enum { SEGV_MAPERR = 1, SEGV_ACCERR = 2, ILL_ILLOPC = 1, TRAP_BRKPT = 1, BUS_ADRALN = 1 };
    enum { SIGILL_ = 4, SIGTRAP_ = 5, SIGBUS_ = 7, SIGSEGV_ = 11 };   /* Linux's numbers, not the host's */
    vm_cpu *vc = &c->common;
    if (is_fault(cause))
        return vm_linux_fault_signal(vc, SIGSEGV_, vc->fault.error == VM_EPROT ? SEGV_ACCERR : SEGV_MAPERR, tval);
    switch (cause) {
    case RV_EXC_ILLEGAL: return vm_linux_fault_signal(vc, SIGILL_, ILL_ILLOPC, c->pc);
    case RV_EXC_BREAKPOINT: return vm_linux_fault_signal(vc, SIGTRAP_, TRAP_BRKPT, c->pc);
    case RV_EXC_INSN_MISALIGNED: case RV_EXC_LOAD_MISALIGNED: case RV_EXC_STORE_MISALIGNED:
        return vm_linux_fault_signal(vc, SIGBUS_, BUS_ADRALN, tval);
    default: return false;
    }
}

int rv_take_trap(rv_cpu *c, uint64_t cause, uint64_t tval, unsigned len)
{
    vm_cpu *vc = &c->common;
    vm_machine *m = vc->machine;
    int h;
    if (cause == RV_EXC_ILLEGAL && vm_hooks_any(m, VM_HOOK_INVALID)) {
        h = vm_hooks_call(vc, VM_HOOK_INVALID, c->pc, len, tval);
        if (h < 0)
            return RV_TRAP_STOP;
        if (h == VM_HOOK_HANDLED)
            goto next;
    }
    if (vm_hooks_any(m, VM_HOOK_TRAP)) {
        h = vm_hooks_call(vc, VM_HOOK_TRAP, cause, len, tval);
        if (h < 0)
            return RV_TRAP_STOP;
        if (h == VM_HOOK_HANDLED)
            goto next;
    }
    if (m->linux && (cause == RV_EXC_ECALL_U || cause == RV_EXC_ECALL_S || cause == RV_EXC_ECALL_M)) {
        h = vm_linux_syscall(vc, len);
        if (h == VM_HOOK_HANDLED)
            goto next;
        if (h == VM_LINUX_JUMPED)
            return RV_TRAP_NEXT;        /* the ecall retired; the pc is set */
        return RV_TRAP_STOP;
    }
    if (m->system_mode) {
        uint64_t from = c->pc;
        int from_priv = c->priv;
        enter_guest_trap(c, cause, tval, false);
        if (vector_unfetchable(c, cause, from, from_priv))
            return stop_at_trap(c, cause, tval);
        if (++vc->guest_traps >= TRAPS_PER_EXEC)
            vm_cpu_request_exit(vc, VM_STOP_NONE);    /* see vm_cpu.guest_traps */
        return RV_TRAP_GUEST;
    }
    if (m->linux && linux_fault_signal(c, cause, tval))
        return RV_TRAP_GUEST;
    return stop_at_trap(c, cause, tval);
next:
    c->pc += len;
    return RV_TRAP_NEXT;
}

int rv_xret(rv_cpu *c, bool machine)
{
    uint64_t ms = c->mstatus;
    if (machine) {
        if (c->priv < RV_PRIV_M)
            return RV_EXC_ILLEGAL;
        int mpp = (int)((ms >> 11) & 3);
        ms = (ms & ~(1ull << 3)) | (((ms >> 7) & 1) << 3);   /* MIE = MPIE */
        ms |= 1ull << 7;                                    /* MPIE = 1 */
        ms &= ~(3ull << 11);                                /* MPP = U */
        if (mpp != RV_PRIV_M)
            ms &= ~(1ull << 17);                            /* MPRV = 0 */
        c->mstatus = ms;
        c->priv = mpp;
        c->pc = c->mepc;
    } else {
        if (c->priv < RV_PRIV_S || (c->priv == RV_PRIV_S && (ms >> 22) & 1))   /* TSR */
            return RV_EXC_ILLEGAL;
        int spp = (int)((ms >> 8) & 1);
        ms = (ms & ~(1ull << 1)) | (((ms >> 5) & 1) << 1);   /* SIE = SPIE */
        ms |= 1ull << 5;
        ms &= ~(1ull << 8);
        ms &= ~(1ull << 17);                                /* MPRV = 0 (spp < M) */
        c->mstatus = ms;
        c->priv = spp;
        c->pc = c->sepc;
    }
    rv_tlb_sync(c);
    rv_irq_update(c);               /* xIE restored: a pending interrupt may be takeable */
    return 0;
}
