/* helpers.c — C code that generated blocks call: the memory slow paths with
 * the interpreter's exact fault and stop semantics, and the arithmetic that
 * is not worth inlining. */
#ifdef VMPY_HAVE_ASMJIT
#include "jit.h"
#include <string.h>

static unsigned fault_cause(int err, int access)
{
    if (err == VM_EPAGE)
        return access == VM_PROT_R ? RV_EXC_LOAD_PAGE : RV_EXC_STORE_PAGE;
    return access == VM_PROT_R ? RV_EXC_LOAD_ACCESS : RV_EXC_STORE_ACCESS;
}

/* As the interpreter's mem_error/exception paths: the instruction at pc has
 * not retired; the ones before it in the block have. */
static int mem_fault(rv_cpu *c, int err, int access, uint64_t addr, uint64_t info, uint64_t pc)
{
    vm_cpu *vc = &c->common;
    unsigned idx = (unsigned)(info >> 16), len = (unsigned)(info >> 8) & 0xff;
    c->pc = pc;
    vc->budget -= idx;
    if (err == VM_ESTOPPED)
        return 1;
    if (rv_take_trap(c, fault_cause(err, access), addr, len) == RV_TRAP_NEXT)
        vc->budget--;
    return 1;
}

/* After a successful slow access: an invalidation or stop request makes the
 * cpu leave right after this instruction. */
static int after_access(rv_cpu *c, uint64_t info, uint64_t pc)
{
    vm_cpu *vc = &c->common;
    if (!atomic_load_explicit(&vc->exit_request, memory_order_relaxed))
        return 0;
    c->pc = pc + ((info >> 8) & 0xff);
    vc->budget -= (info >> 16) + 1;
    return 2;
}

int jit_load_slow(rv_cpu *c, uint64_t addr, uint64_t info, uint64_t pc, uint64_t *out)
{
    unsigned size = info & 0xf;
    uint64_t v;
    int err = vm_mem_load_slow(&c->common, addr, size, &v);
    if (err)
        return mem_fault(c, err, VM_PROT_R, addr, info, pc);
    if ((info >> 4) & 1) {
        unsigned sh = 64 - 8 * size;
        v = (uint64_t)((int64_t)(v << sh) >> sh);
    }
    *out = v;
    return after_access(c, info, pc);
}

int jit_store_slow(rv_cpu *c, uint64_t addr, uint64_t info, uint64_t pc, uint64_t val)
{
    unsigned size = info & 0xf;
    if (size < 8)
        val &= (1ull << (8 * size)) - 1;
    int err = vm_mem_store_slow(&c->common, addr, size, val);
    if (err)
        return mem_fault(c, err, VM_PROT_W, addr, info, pc);
    return after_access(c, info, pc);
}

/* An exception at the instruction (as the interpreter's `exception`). */
static int raise(rv_cpu *c, uint64_t cause, uint64_t tval, uint64_t info, uint64_t pc)
{
    vm_cpu *vc = &c->common;
    c->pc = pc;
    vc->budget -= info >> 16;
    if (rv_take_trap(c, cause, tval, (unsigned)(info >> 8) & 0xff) == RV_TRAP_NEXT)
        vc->budget--;
    return 1;
}

int jit_fp_load(rv_cpu *c, uint64_t addr, uint64_t info, uint64_t pc, uint64_t op_reg)
{
    unsigned size = info & 0xf, rd = op_reg & 31;
    if (!(c->mstatus & RV_MSTATUS_FS))
        return raise(c, RV_EXC_ILLEGAL, op_reg >> 32, info, pc);
    vm_tlb_entry *e = vm_tlb_entry_for(c->common.tlb, c->common.tlb_mask, addr);
    uint64_t v;
    bool slow = e->tag_r != (addr & (VM_PAGE_MASK | (size - 1)));
    if (!slow) {
        if (size == 4) {
            uint32_t w;
            memcpy(&w, (const void *)(uintptr_t)(addr + e->addend), 4);
            v = w;
        } else {
            memcpy(&v, (const void *)(uintptr_t)(addr + e->addend), 8);
        }
    } else {
        int err = vm_mem_load_slow(&c->common, addr, size, &v);
        if (err)
            return mem_fault(c, err, VM_PROT_R, addr, info, pc);
    }
    c->f[rd] = size == 4 ? 0xffffffff00000000ull | (uint32_t)v : v;
    c->mstatus |= RV_MSTATUS_FS;
    return slow ? after_access(c, info, pc) : 0;
}

int jit_fp_store(rv_cpu *c, uint64_t addr, uint64_t info, uint64_t pc, uint64_t op_reg)
{
    unsigned size = info & 0xf;
    if (!(c->mstatus & RV_MSTATUS_FS))
        return raise(c, RV_EXC_ILLEGAL, op_reg >> 32, info, pc);
    uint64_t v = c->f[op_reg & 31];
    if (size == 4)
        v = (uint32_t)v;
    vm_tlb_entry *e = vm_tlb_entry_for(c->common.tlb, c->common.tlb_mask, addr);
    if (e->tag_w == (addr & (VM_PAGE_MASK | (size - 1)))) {
        memcpy((void *)(uintptr_t)(addr + e->addend), &v, size);
        return 0;
    }
    int err = vm_mem_store_slow(&c->common, addr, size, v);
    if (err)
        return mem_fault(c, err, VM_PROT_W, addr, info, pc);
    return after_access(c, info, pc);
}

int jit_fp_op(rv_cpu *c, const rv_insn *in, uint64_t info, uint64_t pc)
{
    int e = rv_fp_exec(c, in);
    return e ? raise(c, (uint64_t)e, in->raw, info, pc) : 0;
}

/* Zicsr, as the interpreter's CSR_OP: counters see the exact count. */
int jit_csr(rv_cpu *c, const rv_insn *in, uint64_t info, uint64_t pc)
{
    vm_cpu *vc = &c->common;
    unsigned csr = (unsigned)in->imm & 0xfff, op = in->op;
    bool imm = op == RV_OP_CSRRWI || op == RV_OP_CSRRSI || op == RV_OP_CSRRCI;
    bool swap = op == RV_OP_CSRRW || op == RV_OP_CSRRWI;
    uint64_t src = imm ? in->rs1 : c->x[in->rs1], old = 0;
    vc->budget -= info >> 16;
    int e = 0;
    if (!swap || in->rd != 0)
        e = rv_csr_read(c, csr, &old);
    if (!e && (swap || in->rs1 != 0)) {
        uint64_t nv = swap ? src : (op == RV_OP_CSRRS || op == RV_OP_CSRRSI) ? old | src : old & ~src;
        e = rv_csr_write(c, csr, nv);
    }
    vc->budget += info >> 16;
    if (e)
        return raise(c, RV_EXC_ILLEGAL, in->raw, info, pc);
    if (in->rd != 0)
        c->x[in->rd] = old;
    return 0;
}

/* LR/SC and the AMOs, as the interpreter does them: through the TLB when it
 * maps the page for this access, else the slow paths (both halves of an AMO
 * fault as a store).  Registers are read and written in c->x (the block
 * wrote its cached ones back before the call). */
int jit_amo(rv_cpu *c, const rv_insn *in, uint64_t info, uint64_t pc)
{
    unsigned op = in->op;
    bool lr = op == RV_OP_LR_W || op == RV_OP_LR_D, sc = op == RV_OP_SC_W || op == RV_OP_SC_D;
    bool word = op <= RV_OP_AMOMAXU_W;
    unsigned size = word ? 4 : 8;
    uint64_t a = c->x[in->rs1], src = c->x[in->rs2], mask = word ? 0xffffffffull : ~0ull, v = 0;
    if (a & (size - 1))
        return raise(c, lr ? RV_EXC_LOAD_MISALIGNED : RV_EXC_STORE_MISALIGNED, a, info, pc);
    vm_tlb_entry *e = vm_tlb_entry_for(c->common.tlb, c->common.tlb_mask, a);
    uint64_t page = a & VM_PAGE_MASK;
    uint8_t *p = (uint8_t *)(uintptr_t)(a + e->addend);
    int err = 0;
    bool slow;
    if (sc) {
        bool held = c->reservation == a;
        c->reservation = ~0ull;
        if (!held) {
            if (in->rd)
                c->x[in->rd] = 1;
            return 0;
        }
        slow = e->tag_w != page;
        if (!slow)
            memcpy(p, &src, size);       /* little-endian host: the low bytes */
        else
            err = vm_mem_store_slow(&c->common, a, size, src & mask);
    } else if (lr) {
        slow = e->tag_r != page;
        if (!slow)
            memcpy(&v, p, size);
        else
            err = vm_mem_load_slow(&c->common, a, size, &v);
    } else {
        slow = e->tag_w != page || e->tag_r != page;
        if (!slow) {
            memcpy(&v, p, size);
            uint64_t nv = rv_amo_apply(op, v, src, word);
            memcpy(p, &nv, size);
        } else {
            err = vm_mem_load_slow(&c->common, a, size, &v);
            if (!err)
                err = vm_mem_store_slow(&c->common, a, size, rv_amo_apply(op, v, src, word) & mask);
        }
    }
    if (err)
        return mem_fault(c, err, lr ? VM_PROT_R : VM_PROT_W, a, info, pc);
    if (lr)
        c->reservation = a;
    if (in->rd)
        c->x[in->rd] = sc ? 0 : word ? (uint64_t)(int64_t)(int32_t)v : v;
    return slow ? after_access(c, info, pc) : 0;
}

int jit_raise(rv_cpu *c, uint64_t cause, uint64_t info, uint64_t pc, uint64_t tval)
{
    return raise(c, cause, tval, info, pc);
}

static uint64_t sext32(uint64_t v) { return (uint64_t)(int64_t)(int32_t)v; }

uint64_t jit_h_div(uint64_t a, uint64_t b)
{
    if (b == 0) return ~0ull;
    if ((int64_t)a == INT64_MIN && (int64_t)b == -1) return a;
    return (uint64_t)((int64_t)a / (int64_t)b);
}
uint64_t jit_h_rem(uint64_t a, uint64_t b)
{
    if (b == 0) return a;
    if ((int64_t)a == INT64_MIN && (int64_t)b == -1) return 0;
    return (uint64_t)((int64_t)a % (int64_t)b);
}
uint64_t jit_h_divu(uint64_t a, uint64_t b) { return b ? a / b : ~0ull; }
uint64_t jit_h_remu(uint64_t a, uint64_t b) { return b ? a % b : a; }
uint64_t jit_h_divw(uint64_t a, uint64_t b)
{
    int32_t x = (int32_t)a, d = (int32_t)b;
    return (uint64_t)(int64_t)(d == 0 ? -1 : (x == INT32_MIN && d == -1) ? x : x / d);
}
uint64_t jit_h_remw(uint64_t a, uint64_t b)
{
    int32_t x = (int32_t)a, d = (int32_t)b;
    return (uint64_t)(int64_t)(d == 0 ? x : (x == INT32_MIN && d == -1) ? 0 : x % d);
}
uint64_t jit_h_divuw(uint64_t a, uint64_t b)
{
    uint32_t x = (uint32_t)a, d = (uint32_t)b;
    return sext32(d ? x / d : ~0u);
}
uint64_t jit_h_remuw(uint64_t a, uint64_t b)
{
    uint32_t x = (uint32_t)a, d = (uint32_t)b;
    return sext32(d ? x % d : x);
}
uint64_t jit_h_mulhsu(uint64_t a, uint64_t b)
{
    return (uint64_t)(((__int128)(int64_t)a * (unsigned __int128)b) >> 64);
}
uint64_t jit_h_clz(uint64_t a, uint64_t b) { return a ? (uint64_t)__builtin_clzll(a) : 64; }
uint64_t jit_h_clzw(uint64_t a, uint64_t b) { return (uint32_t)a ? (uint64_t)__builtin_clz((uint32_t)a) : 32; }
uint64_t jit_h_ctz(uint64_t a, uint64_t b) { return a ? (uint64_t)__builtin_ctzll(a) : 64; }
uint64_t jit_h_ctzw(uint64_t a, uint64_t b) { return (uint32_t)a ? (uint64_t)__builtin_ctz((uint32_t)a) : 32; }
uint64_t jit_h_cpop(uint64_t a, uint64_t b) { return (uint64_t)__builtin_popcountll(a); }
uint64_t jit_h_cpopw(uint64_t a, uint64_t b) { return (uint64_t)__builtin_popcount((uint32_t)a); }
uint64_t jit_h_orc_b(uint64_t a, uint64_t b)
{
    uint64_t r = 0;
    for (int i = 0; i < 64; i += 8)
        if ((a >> i) & 0xff)
            r |= 0xffull << i;
    return r;
}
#endif
