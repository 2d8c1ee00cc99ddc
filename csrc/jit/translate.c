/* translate.c — RISC-V block to x86-64 through asmjit's assembler.
 *
 * A block is a straight run of translatable instructions within one guest
 * page, ending at the first jump or CSR, at the MAX_BRANCHES-th conditional
 * branch (the ones before leave through side exits when taken, their
 * fall-through goes on: a loop whose body has a branch or two is still one
 * self-looping block), at the page end, at JIT_MAX_INSNS, or just before an
 * instruction we leave to the interpreter (ecall, ebreak, xRET, WFI,
 * SFENCE.VMA, FENCE.I: they trap or change what runs next, so the block
 * would end there anyway).  F/D, CSRs and atomics (LR/SC, AMOs) call C
 * helpers with the interpreter's exact semantics.
 *
 * Layout of the code of one block:
 *   entry:  charge ninsns to the budget (if they fit) and check for an
 *           exit request, else refund and bail (c->pc is already this
 *           block's pc: whoever jumps here sets it)
 *           load the cached guest registers (up to ten, by use count)
 *   body:   guest instructions computed in their cached host registers;
 *           exits: write back, and a patchable `jmp rel32` (first to a
 *           stub that sets pc and returns its own address so the
 *           dispatcher can chain it) or the jump-cache lookup
 *   bail/leave: the epilogue shared with the trampoline
 *   out of line: TLB-miss slow paths and the exit stubs. */
#ifdef VMPY_HAVE_ASMJIT
#include "jit.h"
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(vm_tlb_entry) == 32, "TLB entry size is baked into the probe");

#define OFF_X(r) ((int32_t)(offsetof(rv_cpu, x) + 8 * (r)))
#define OFF_PC ((int32_t)offsetof(rv_cpu, pc))
#define OFF_BUDGET ((int32_t)offsetof(rv_cpu, common.budget))
#define OFF_EXIT ((int32_t)offsetof(rv_cpu, common.exit_request))
#define OFF_TLB ((int32_t)offsetof(rv_cpu, common.tlb))
#define OFF_RT ((int32_t)offsetof(rv_cpu, common.engine_rt))
#define OFF_JC ((int32_t)offsetof(jit_rt, jc))
#define OFF_F(r) ((int32_t)(offsetof(rv_cpu, f) + 8 * (r)))
#define OFF_MSTATUS ((int32_t)offsetof(rv_cpu, mstatus))
#define NCACHE 9
#define BUDGET JX_R15            /* c->budget while in generated code */
#define MAX_SLOW (JIT_MAX_INSNS)
#define MAX_SITES 16             /* memory accesses of a loop body with a page cache slot */
#define FRAME 24                 /* scratch at [rsp] (a slow load's result), 16-byte aligned */
#define SLOT(k) (FRAME + 16 * (k)) /* [rsp + SLOT(k)]: page tag, then addend */
#define FRAME_SIZE (FRAME + 16 * MAX_SITES)
#define MAX_BRANCHES 8           /* conditional branches a block runs through */
#define MAX_EXITS (MAX_BRANCHES + 2)

/* Callee-saved registers first: only the caller-saved ones (rdi, r8..r11)
 * have to be spilled around a C call in the body. */
static const uint8_t cache_regs[NCACHE] = { JX_RBP, JX_R12, JX_R13, JX_R14,
                                            JX_RDI, JX_R8, JX_R9, JX_R10, JX_R11 };
static bool caller_saved(int h) { return h == JX_RDI || (h >= JX_R8 && h <= JX_R11); }

typedef struct slow_path {
    uint32_t label, done;
    uint32_t dirty;              /* registers to write back */
    const rv_insn *in;
    uint64_t pc;
    unsigned idx;
    bool store;
    unsigned size;               /* of the access, in bytes */
    int slot;                    /* page cache slot, or -1 */
    int areg;                    /* with a slot: the register holding the address */
    uint32_t refill, hit;        /* with a slot: TLB probe out of line, and back */
} slow_path;

typedef struct raise_site {      /* an F/D op reported an exception (cause in eax) */
    uint32_t label, dirty;
    uint64_t info, pc, tval;
} raise_site;

typedef struct side_exit {       /* a taken branch in the middle of a block */
    uint32_t label, dirty;
    uint64_t target;
    unsigned idx;
} side_exit;

typedef struct exit_site {
    uint64_t target;
    size_t jmp_off;              /* offset of the E9 byte */
    uint32_t at_jmp;             /* label there: the stub passes on its rel32's address */
    uint32_t stub;
} exit_site;

typedef struct data_site {       /* an rv_insn stored in the block for a helper */
    uint32_t label;
    rv_insn in;
} data_site;

typedef struct tctx {
    jx *a;
    int8_t host[33];             /* guest register -> host register, or -1 */
    uint32_t written;            /* cached guest registers the block writes (bit per reg) */
    uint32_t dirty;              /* ... and has written at the point being emitted */
    uint32_t noload;             /* cached registers written before read: not loaded at entry */
    unsigned tlb_mask;           /* the cpu's (fixed for the machine's life) */
    unsigned loop_end;           /* self-loop: instructions up to the last branch back */
    int nslots, slots_used;      /* page cache slots of the loop body: reserved, handed out */
    int ncached;
    uint8_t cached[NCACHE];
    uint32_t leave;              /* epilogue, returning rax */
    uint32_t leave0;             /* return 0 (c->pc already set) */
    uint32_t bail;               /* c->pc = this block, return 0 */
    uint32_t unbail;             /* refund the block's charge, then bail */
    uint32_t body;               /* after the entry checks and register loads */
    uint64_t pc;
    unsigned ninsns;
    slow_path slow[MAX_SLOW];
    int nslow;
    exit_site exits[MAX_EXITS];
    int nexits;
    side_exit sides[MAX_BRANCHES];
    int nsides;
    raise_site raises[JIT_MAX_INSNS];
    int nraises;
    data_site data[JIT_MAX_INSNS];
    int ndata;
} tctx;

typedef struct translate_scratch {
    rv_insn ins[JIT_MAX_INSNS];
    tctx t;
} translate_scratch;

/* ---- operands ------------------------------------------------------------- */
static jx_op R(int r, int size) { return (jx_op){ .kind = JX_REG, .reg = (uint8_t)r, .size = (uint8_t)size }; }
static jx_op M(int base, int32_t disp, int size)
{
    return (jx_op){ .kind = JX_MEM, .reg = (uint8_t)base, .index = 0xff, .disp = disp, .size = (uint8_t)size };
}
static jx_op MI(int base, int index, int32_t disp, int size)
{
    return (jx_op){ .kind = JX_MEM, .reg = (uint8_t)base, .index = (uint8_t)index, .disp = disp, .size = (uint8_t)size };
}
static jx_op I(int64_t v) { return (jx_op){ .kind = JX_IMM, .imm = v }; }
static jx_op L(uint32_t l) { return (jx_op){ .kind = JX_LABEL, .imm = l }; }

static void e0(tctx *t, int inst) { jx_emit(t->a, inst, NULL, NULL, NULL); }
static void e1(tctx *t, int inst, jx_op a) { jx_emit(t->a, inst, &a, NULL, NULL); }
static void e2(tctx *t, int inst, jx_op a, jx_op b) { jx_emit(t->a, inst, &a, &b, NULL); }

/* A guest register as an operand: its host register or its slot in the cpu. */
static jx_op G(tctx *t, unsigned r, int size)
{
    return t->host[r] >= 0 ? R(t->host[r], size) : M(JX_RBX, OFF_X(r), size);
}
static bool in_reg(const tctx *t, unsigned r) { return t->host[r] >= 0; }

static void load(tctx *t, int hreg, unsigned r)
{
    if (t->host[r] != hreg)
        e2(t, JX_MOV, R(hreg, 8), G(t, r, 8));
}
static void store(tctx *t, unsigned rd, int hreg)
{
    if (rd != 0 && t->host[rd] != hreg)
        e2(t, JX_MOV, G(t, rd, 8), R(hreg, 8));
}
/* Where an instruction computes rd: its host register, or rax (then store). */
static int dst(const tctx *t, unsigned rd) { return t->host[rd] >= 0 ? t->host[rd] : JX_RAX; }

/* The one place generated code calls C: through the table in jit_rt (via
 * rax), so that no host address is in the code (the code cache reuses it
 * in other processes). */
static void call_helper(tctx *t, int helper)
{
    e2(t, JX_MOV, R(JX_RAX, 8), M(JX_RBX, OFF_RT, 8));
    e1(t, JX_CALL, M(JX_RAX, (int32_t)(8 * helper), 8));
}

/* hreg = the address of a copy of *in stored in the block (RIP-relative). */
static void lea_insn(tctx *t, int hreg, const rv_insn *in)
{
    data_site *d = &t->data[t->ndata++];
    d->label = jx_new_label(t->a);
    d->in = *in;
    e2(t, JX_LEA, R(hreg, 8), (jx_op){ .kind = JX_LMEM, .imm = d->label, .size = 8 });
}

/* Syncing the cached registers with their slots in the cpu: all of them,
 * or around a C call from the body only the caller-saved ones (rdi,
 * r8..r11; the call keeps the others). */
enum { ALL_REGS, CALLER_SAVED };
static void writeback(tctx *t, int which)
{
    for (int i = 0; i < t->ncached; i++) {
        unsigned r = t->cached[i];
        if (((t->dirty >> r) & 1) && (which == ALL_REGS || caller_saved(t->host[r])))
            e2(t, JX_MOV, M(JX_RBX, OFF_X(r), 8), R(t->host[r], 8));
    }
}
/* ... and back, but for the guest registers in skip. */
static void reload(tctx *t, int which, uint32_t skip)
{
    for (int i = 0; i < t->ncached; i++) {
        unsigned r = t->cached[i];
        if (!((skip >> r) & 1) && (which == ALL_REGS || caller_saved(t->host[r])))
            e2(t, JX_MOV, R(t->host[r], 8), M(JX_RBX, OFF_X(r), 8));
    }
}

/* ---- which instructions we compile -------------------------------------- */
static bool is_csr(unsigned op) { return op >= RV_OP_CSRRW && op <= RV_OP_CSRRCI; }
static bool is_fp(unsigned op) { return op >= RV_OP_FLW && op <= RV_OP_FMV_D_X; }
static bool is_atomic(unsigned op) { return op >= RV_OP_LR_W && op <= RV_OP_AMOMAXU_D; }
/* Done by a C helper that reads and writes the x registers in memory. */
static bool via_helper(unsigned op) { return is_fp(op) || is_csr(op) || is_atomic(op); }
static bool translatable(unsigned op)
{
    if (via_helper(op) || op == RV_OP_FENCE)
        return true;
    if (op >= RV_OP_LUI && op <= RV_OP_SRAW)
        return true;
    if (op >= RV_OP_MUL && op <= RV_OP_REMUW)
        return true;
    return op >= RV_OP_ADD_UW && op <= RV_OP_BSETI;
}
/* Instructions that end a block (CSRs: a write may change what follows). */
static bool is_jump(unsigned op) { return (op >= RV_OP_JAL && op <= RV_OP_BGEU) || is_csr(op); }
static bool is_branch(unsigned op) { return op >= RV_OP_BEQ && op <= RV_OP_BGEU; }

/* Register use counts decide which guest registers live in host registers:
 * in a block that loops on itself every register it touches is worth it
 * (loaded once, used every iteration), elsewhere those used at least twice.
 * Uses in the loop body (up to the branch back, loop_end) weigh most. */
static void choose_cache(tctx *t, const rv_insn *ins, unsigned n, unsigned loop_end)
{
    bool loops = loop_end > 0;
    unsigned uses[32] = { 0 };
    for (unsigned i = 0; i < n; i++) {
        if (via_helper(ins[i].op))
            continue;           /* synced around their helper calls anyway */
        unsigned w = i < loop_end ? 16 : 1;
        uses[ins[i].rs1 & 31] += w;
        uses[ins[i].rs2 & 31] += w;
        uses[ins[i].rd & 31] += 2 * w;
    }
    uses[0] = 0;
    memset(t->host, -1, sizeof t->host);
    t->ncached = 0;
    t->written = 0;
    for (int k = 0; k < NCACHE; k++) {
        unsigned best = 0;
        for (unsigned r = 1; r < 32; r++)
            if (uses[r] > uses[best] && t->host[r] < 0)
                best = r;
        if (uses[best] < (loops ? 1u : 2u))
            break;
        t->host[best] = (int8_t)cache_regs[k];
        t->cached[t->ncached++] = (uint8_t)best;
        uses[best] = 0;
    }
    for (unsigned i = 0; i < n; i++)
        if (ins[i].rd && t->host[ins[i].rd] >= 0 && !via_helper(ins[i].op))
            t->written |= 1u << ins[i].rd;
    /* A register written before it is read needs no load at entry; until
     * that write its slot stays the truth (dirty tracks this).  A loop's
     * second pass starts with everything written: it loads all. */
    uint32_t seen = 1, noload = 0;
    for (unsigned i = 0; i < n && !loops; i++) {
        const rv_insn *in = &ins[i];
        bool helper = via_helper(in->op);
        seen |= 1u << (in->rs1 & 31) | 1u << (in->rs2 & 31) | (helper ? 1u << (in->rd & 31) : 0);
        if (!((seen >> in->rd) & 1))
            noload |= 1u << in->rd;
        seen |= 1u << (in->rd & 31);
    }
    t->noload = noload;
    t->dirty = loops ? t->written : 0;
}

/* If the block jumps back to its own start: 1 + the index of the last
 * instruction that does; else 0. */
static unsigned self_loop(const rv_insn *ins, unsigned n, uint64_t pc)
{
    uint64_t a = pc;
    unsigned end = 0;
    for (unsigned i = 0; i < n; i++) {
        unsigned op = ins[i].op;
        if ((op == RV_OP_JAL || is_branch(op)) && a + (uint64_t)(int64_t)ins[i].imm == pc)
            end = i + 1;
        a += ins[i].len;
    }
    return end;
}

/* ---- budget and exits ------------------------------------------------------
 * The budget lives in r15 while generated code runs (the trampoline loads
 * it, the epilogue stores it): a chained block or a self-loop then counts
 * with one register sub instead of a read-modify-write of memory that every
 * iteration would wait on.  A block charges all its instructions at entry
 * (the sub's borrow says they do not fit).  Paths into C (slow paths, F/D,
 * CSRs) refund the charge and store the budget first, so helpers see it as
 * at block start, exactly as under the interpreter; they reload it after,
 * and charge again if the block goes on. */
static void charge(tctx *t) { e2(t, JX_SUB, R(BUDGET, 8), I(t->ninsns)); }
static void refund(tctx *t) { e2(t, JX_ADD, R(BUDGET, 8), I(t->ninsns)); }
static void budget_to_c(tctx *t)
{
    refund(t);
    e2(t, JX_MOV, M(JX_RBX, OFF_BUDGET, 8), R(BUDGET, 8));
}
static void budget_from_c(tctx *t) { e2(t, JX_MOV, R(BUDGET, 8), M(JX_RBX, OFF_BUDGET, 8)); }

/* Leaving after instruction idx: the budget charge for the rest of the
 * block refunded, cached registers written back, then a chainable jump
 * (c->pc is stored by the stub; a chained block needs none: its bail path
 * stores its own).  A block that jumps to itself loops in place, keeping
 * its registers, for as long as budget and exit requests allow: the next
 * pass is charged from the budget left after this one (idx + 1 retired). */
static void exit_direct(tctx *t, uint64_t target, unsigned idx)
{
    unsigned done = idx + 1;
    if (target == t->pc) {
        uint32_t out = jx_new_label(t->a);
        e2(t, JX_SUB, R(BUDGET, 8), I(done));
        e1(t, JX_JB, L(out));
        e2(t, JX_CMP, M(JX_RBX, OFF_EXIT, 4), I(0));
        e1(t, JX_JE, L(t->body));
        jx_bind(t->a, out);
        writeback(t, ALL_REGS);
        e1(t, JX_JMP, L(t->unbail));
        return;
    }
    if (t->ninsns > done)
        e2(t, JX_ADD, R(BUDGET, 8), I(t->ninsns - done));
    writeback(t, ALL_REGS);
    exit_site *x = &t->exits[t->nexits++];
    x->target = target;
    x->at_jmp = jx_new_label(t->a);
    jx_bind(t->a, x->at_jmp);
    x->jmp_off = jx_offset(t->a);
    static const uint8_t jmp[5] = { 0xe9, 0, 0, 0, 0 };
    jx_embed(t->a, jmp, 5);
    x->stub = jx_new_label(t->a);
}

/* Indirect: target in rsi; look it up in the jump cache (in jit_rt). */
static void exit_indirect(tctx *t)
{
    e2(t, JX_MOV, M(JX_RBX, OFF_PC, 8), R(JX_RSI, 8));
    e2(t, JX_MOV, R(JX_RDX, 8), M(JX_RBX, OFF_RT, 8));
    e2(t, JX_MOV, R(JX_RAX, 4), R(JX_RSI, 4));
    e2(t, JX_SHR, R(JX_RAX, 4), I(1));
    e2(t, JX_AND, R(JX_RAX, 4), I((1 << JIT_JC_BITS) - 1));
    e2(t, JX_SHL, R(JX_RAX, 4), I(4));
    e2(t, JX_ADD, R(JX_RDX, 8), R(JX_RAX, 8));
    e2(t, JX_CMP, M(JX_RDX, OFF_JC, 8), R(JX_RSI, 8));
    e1(t, JX_JNE, L(t->leave0));
    e1(t, JX_JMP, M(JX_RDX, OFF_JC + 8, 8));
}

/* ---- loads and stores ------------------------------------------------------ */
/* rsi = the guest address of a load or store. */
static void guest_addr(tctx *t, const rv_insn *in)
{
    if (in_reg(t, in->rs1) && in->imm) {
        e2(t, JX_LEA, R(JX_RSI, 8), M(t->host[in->rs1], in->imm, 8));
    } else {
        load(t, JX_RSI, in->rs1);
        if (in->imm)
            e2(t, JX_ADD, R(JX_RSI, 8), I(in->imm));
    }
}

/* The register holding the guest address rs1 + imm: rs1's own when imm is
 * 0, else rsi. */
static int addr_reg(tctx *t, const rv_insn *in)
{
    if (in_reg(t, in->rs1) && !in->imm)
        return t->host[in->rs1];
    guest_addr(t, in);
    return JX_RSI;
}

/* rax = the offset of areg's TLB entry: ((addr >> 12) & tlb_mask) * 32 in
 * two steps; then the entry's fields as operands. */
static void tlb_index(tctx *t, int areg)
{
    e2(t, JX_MOV, R(JX_RAX, 4), R(areg, 4));
    e2(t, JX_SHR, R(JX_RAX, 4), I(VM_PAGE_SHIFT - 5));
    e2(t, JX_AND, R(JX_RAX, 4), I((int64_t)t->tlb_mask << 5));
}
static jx_op tlb_tag(bool st_)
{
    size_t f = st_ ? offsetof(vm_tlb_entry, tag_w) : offsetof(vm_tlb_entry, tag_r);
    return MI(JX_RBX, JX_RAX, OFF_TLB + (int32_t)f, 8);
}
static jx_op tlb_addend(void) { return MI(JX_RBX, JX_RAX, OFF_TLB + (int32_t)offsetof(vm_tlb_entry, addend), 8); }

/* rdx = the address in areg as a TLB tag: page bits, plus the low bits
 * that make a misaligned access miss. */
static void tag_of(tctx *t, int areg, unsigned size)
{
    e2(t, JX_MOV, R(JX_RDX, 8), R(areg, 8));
    e2(t, JX_AND, R(JX_RDX, 8), I((int64_t)(VM_PAGE_MASK | (size - 1))));
}

static slow_path *new_slow(tctx *t, const rv_insn *in, uint64_t pc, unsigned idx, bool st_, unsigned size)
{
    slow_path *sp = &t->slow[t->nslow++];
    *sp = (slow_path){ .label = jx_new_label(t->a), .done = jx_new_label(t->a), .in = in, .pc = pc,
                       .idx = idx, .store = st_, .size = size, .dirty = t->dirty, .slot = -1 };
    return sp;
}

/* The inline soft-TLB probe for an access through rs1 + imm: returns the
 * register holding the guest address, with the entry's addend in rdx; a miss
 * goes out of line to a new slow path (which computes the address again
 * into rsi). */
static int probe(tctx *t, const rv_insn *in, uint64_t pc, unsigned idx, bool st_, unsigned size, slow_path **spp)
{
    int a = addr_reg(t, in);
    tlb_index(t, a);
    tag_of(t, a, size);
    e2(t, JX_CMP, R(JX_RDX, 8), tlb_tag(st_));
    slow_path *sp = new_slow(t, in, pc, idx, st_, size);
    e1(t, JX_JNE, L(sp->label));
    e2(t, JX_MOV, R(JX_RDX, 8), tlb_addend());
    *spp = sp;
    return a;
}

/* In a loop body, an access first compares its page with the one its slot
 * remembers (a register compare against the stack, no TLB index to
 * compute) and takes the addend from the slot: the host address then does
 * not wait for a TLB load.  A slot only caches a TLB hit of the same access
 * type, so it is exactly as valid as the entry was: it is emptied at block
 * entry and after every call into C from the block (the only points where
 * the TLB can change under running code).  A slot miss probes the TLB out
 * of line and refills the slot. */
static int probe_slot(tctx *t, const rv_insn *in, uint64_t pc, unsigned idx, bool st_, unsigned size, slow_path **spp)
{
    int a = addr_reg(t, in), k = t->slots_used++;
    slow_path *sp = new_slow(t, in, pc, idx, st_, size);
    sp->slot = k;
    sp->areg = a;
    sp->refill = jx_new_label(t->a);
    sp->hit = jx_new_label(t->a);
    tag_of(t, a, size);
    e2(t, JX_CMP, R(JX_RDX, 8), M(JX_RSP, SLOT(k), 8));
    e1(t, JX_JNE, L(sp->refill));
    jx_bind(t->a, sp->hit);
    e2(t, JX_MOV, R(JX_RDX, 8), M(JX_RSP, SLOT(k) + 8, 8));
    *spp = sp;
    return a;
}

/* rdx = the masked address; the entry's tag is compared again here. */
static void emit_refill(tctx *t, const slow_path *sp)
{
    jx_bind(t->a, sp->refill);
    tlb_index(t, sp->areg);
    e2(t, JX_CMP, R(JX_RDX, 8), tlb_tag(sp->store));
    e1(t, JX_JNE, L(sp->label));
    e2(t, JX_MOV, M(JX_RSP, SLOT(sp->slot), 8), R(JX_RDX, 8));
    e2(t, JX_MOV, R(JX_RAX, 8), tlb_addend());
    e2(t, JX_MOV, M(JX_RSP, SLOT(sp->slot) + 8, 8), R(JX_RAX, 8));
    e1(t, JX_JMP, L(sp->hit));
}

static void empty_slots(tctx *t)
{
    for (int k = 0; k < t->nslots; k++)
        e2(t, JX_MOV, M(JX_RSP, SLOT(k), 8), I(-1));    /* matches no masked address */
}

static void mem_access(tctx *t, const rv_insn *in, uint64_t pc, unsigned idx, bool st_, unsigned size)
{
    slow_path *sp;
    int a = idx < t->loop_end && t->slots_used < t->nslots ? probe_slot(t, in, pc, idx, st_, size, &sp)
                                                           : probe(t, in, pc, idx, st_, size, &sp);
    jx_op host = MI(JX_RDX, a, 0, (int)size);     /* host = addr + addend */
    if (st_) {
        if (in->rs2 == 0) {
            e2(t, JX_MOV, host, I(0));
        } else if (in_reg(t, in->rs2)) {
            e2(t, JX_MOV, host, R(t->host[in->rs2], (int)size));
        } else {
            load(t, JX_RCX, in->rs2);
            e2(t, JX_MOV, host, R(JX_RCX, (int)size));
        }
        jx_bind(t->a, sp->done);
        return;
    }
    int d = dst(t, in->rd);
    switch (in->op) {
    case RV_OP_LB: case RV_OP_LH: e2(t, JX_MOVSX, R(d, 8), host); break;
    case RV_OP_LBU: case RV_OP_LHU: e2(t, JX_MOVZX, R(d, 4), host); break;
    case RV_OP_LW: e2(t, JX_MOVSXD, R(d, 8), host); break;
    case RV_OP_LWU: e2(t, JX_MOV, R(d, 4), host); break;
    default: e2(t, JX_MOV, R(d, 8), host); break;
    }
    store(t, in->rd, d);
    jx_bind(t->a, sp->done);
}

static uint64_t info_of(const rv_insn *in, unsigned size, unsigned idx);
static void fp_call(tctx *t, int helper, uint64_t info, uint64_t pc, uint64_t r8);

/* The F/D load/store helpers redo the whole access (FS checks included). */
static void emit_fp_slow(tctx *t, const slow_path *sp)
{
    const rv_insn *in = sp->in;
    bool store = sp->store;
    jx_bind(t->a, sp->label);
    guest_addr(t, in);
    t->dirty = sp->dirty;
    uint64_t r = (store ? in->rs2 : in->rd) | (uint64_t)in->raw << 32;
    fp_call(t, store ? JH_jit_fp_store : JH_jit_fp_load, info_of(in, sp->size, sp->idx), sp->pc, r);
    e1(t, JX_JMP, L(sp->done));
}

static void emit_slow(tctx *t, const slow_path *sp)
{
    const rv_insn *in = sp->in;
    if (is_fp(in->op)) {
        emit_fp_slow(t, sp);
        return;
    }
    if (sp->slot >= 0)
        emit_refill(t, sp);
    bool sgn = in->op == RV_OP_LB || in->op == RV_OP_LH || in->op == RV_OP_LW;
    uint64_t info = info_of(in, sp->size, sp->idx) | (uint64_t)sgn << 4;
    jx_bind(t->a, sp->label);
    guest_addr(t, in);
    t->dirty = sp->dirty;
    writeback(t, ALL_REGS);
    budget_to_c(t);
    if (sp->store)
        load(t, JX_R8, in->rs2);
    else
        e2(t, JX_MOV, R(JX_R8, 8), R(JX_RSP, 8));
    /* c->pc is the block's start while it runs, as under the interpreter
     * (memory hooks may look at it). */
    e2(t, JX_MOV, R(JX_RAX, 8), I((int64_t)t->pc));
    e2(t, JX_MOV, M(JX_RBX, OFF_PC, 8), R(JX_RAX, 8));
    e2(t, JX_MOV, R(JX_RDI, 8), R(JX_RBX, 8));
    e2(t, JX_MOV, R(JX_RDX, 8), I((int64_t)info));
    e2(t, JX_MOV, R(JX_RCX, 8), I((int64_t)sp->pc));
    call_helper(t, sp->store ? JH_jit_store_slow : JH_jit_load_slow);
    budget_from_c(t);
    if (!sp->store)
        e2(t, JX_MOV, R(JX_RDX, 8), M(JX_RSP, 0, 8));
    e2(t, JX_TEST, R(JX_RAX, 4), R(JX_RAX, 4));
    uint32_t out = jx_new_label(t->a);
    e1(t, JX_JNE, L(out));
    charge(t);
    reload(t, ALL_REGS, 0);
    empty_slots(t);
    if (!sp->store && in->rd != 0)
        e2(t, JX_MOV, G(t, in->rd, 8), R(JX_RDX, 8));
    e1(t, JX_JMP, L(sp->done));
    jx_bind(t->a, out);
    if (!sp->store && in->rd != 0) {
        /* 2: the load completed, then the cpu must leave: rd goes to memory
         * (the cached copies are already written back). */
        e2(t, JX_CMP, R(JX_RAX, 4), I(2));
        e1(t, JX_JNE, L(t->leave0));
        e2(t, JX_MOV, M(JX_RBX, OFF_X(in->rd), 8), R(JX_RDX, 8));
    }
    e1(t, JX_JMP, L(t->leave0));
}

/* ---- F and D: C helpers, with the cached registers synced around ------- */
static uint64_t info_of(const rv_insn *in, unsigned size, unsigned idx)
{
    return size | (uint64_t)in->len << 8 | (uint64_t)idx << 16;
}

/* Calls fn(c, rsi, rdx = info, rcx = pc, r8) with rsi set by the caller;
 * leaves the block if it returns nonzero. */
static void fp_call(tctx *t, int helper, uint64_t info, uint64_t pc, uint64_t r8)
{
    writeback(t, ALL_REGS);
    budget_to_c(t);
    e2(t, JX_MOV, R(JX_RDI, 8), R(JX_RBX, 8));
    e2(t, JX_MOV, R(JX_RDX, 8), I((int64_t)info));
    e2(t, JX_MOV, R(JX_RCX, 8), I((int64_t)pc));
    e2(t, JX_MOV, R(JX_R8, 8), I((int64_t)r8));
    e2(t, JX_MOV, R(JX_RAX, 8), I((int64_t)t->pc));
    e2(t, JX_MOV, M(JX_RBX, OFF_PC, 8), R(JX_RAX, 8));   /* as under the interpreter */
    call_helper(t, helper);
    budget_from_c(t);
    e2(t, JX_TEST, R(JX_RAX, 4), R(JX_RAX, 4));
    e1(t, JX_JNE, L(t->leave0));
    charge(t);
    reload(t, ALL_REGS, 0);
    empty_slots(t);
}

/* F/D loads and stores inline when the TLB hits and the FPU is on (for a
 * load: FS already dirty, which the load would make it); otherwise the
 * helpers do all of it (FS checks, faults) out of line.  The FS test comes
 * after the probe: rcx is free there, and the slow path does not care
 * which check failed. */
static void fp_mem(tctx *t, const rv_insn *in, uint64_t pc, unsigned idx, bool store, unsigned size)
{
    slow_path *sp;
    int a = probe(t, in, pc, idx, store, size, &sp);
    if (store) {
        e2(t, JX_TEST, M(JX_RBX, OFF_MSTATUS, 4), I(RV_MSTATUS_FS));     /* FS off */
        e1(t, JX_JE, L(sp->label));
        e2(t, JX_MOV, R(JX_RAX, 8), M(JX_RBX, OFF_F(in->rs2), 8));
        e2(t, JX_MOV, MI(JX_RDX, a, 0, (int)size), R(JX_RAX, (int)size));
    } else {
        e2(t, JX_MOV, R(JX_RCX, 4), M(JX_RBX, OFF_MSTATUS, 4));
        e2(t, JX_AND, R(JX_RCX, 4), I(RV_MSTATUS_FS));
        e2(t, JX_CMP, R(JX_RCX, 4), I(RV_MSTATUS_FS));                  /* FS not dirty */
        e1(t, JX_JNE, L(sp->label));
        e2(t, JX_MOV, R(JX_RAX, (int)size), MI(JX_RDX, a, 0, (int)size));
        if (size == 4) {    /* NaN-boxed */
            e2(t, JX_MOV, R(JX_RCX, 8), I((int64_t)0xffffffff00000000ull));
            e2(t, JX_OR, R(JX_RAX, 8), R(JX_RCX, 8));
        }
        e2(t, JX_MOV, M(JX_RBX, OFF_F(in->rd), 8), R(JX_RAX, 8));
    }
    jx_bind(t->a, sp->done);
}

static bool fp_reads_x(unsigned op)
{
    switch (op) {
    case RV_OP_FCVT_S_W: case RV_OP_FCVT_S_WU: case RV_OP_FCVT_S_L: case RV_OP_FCVT_S_LU:
    case RV_OP_FMV_W_X: case RV_OP_FCVT_D_W: case RV_OP_FCVT_D_WU: case RV_OP_FCVT_D_L:
    case RV_OP_FCVT_D_LU: case RV_OP_FMV_D_X:
        return true;
    default:
        return false;
    }
}

static bool fp_writes_x(unsigned op)
{
    switch (op) {
    case RV_OP_FCVT_W_S: case RV_OP_FCVT_WU_S: case RV_OP_FCVT_L_S: case RV_OP_FCVT_LU_S:
    case RV_OP_FMV_X_W: case RV_OP_FEQ_S: case RV_OP_FLT_S: case RV_OP_FLE_S: case RV_OP_FCLASS_S:
    case RV_OP_FEQ_D: case RV_OP_FLT_D: case RV_OP_FLE_D: case RV_OP_FCLASS_D:
    case RV_OP_FCVT_W_D: case RV_OP_FCVT_WU_D: case RV_OP_FCVT_L_D: case RV_OP_FCVT_LU_D:
    case RV_OP_FMV_X_D:
        return true;
    default:
        return false;
    }
}

static void fp_insn(tctx *t, const rv_insn *in, uint64_t pc, unsigned idx)
{
    unsigned op = in->op;
    if (op == RV_OP_FLW || op == RV_OP_FLD || op == RV_OP_FSW || op == RV_OP_FSD) {
        fp_mem(t, in, pc, idx, op == RV_OP_FSW || op == RV_OP_FSD, op == RV_OP_FLW || op == RV_OP_FSW ? 4 : 8);
        return;
    }
    if (is_csr(op)) {
        lea_insn(t, JX_RSI, in);
        fp_call(t, JH_jit_csr, info_of(in, 0, idx), pc, 0);
        /* Never chained: a CSR write may switch the address space (satp),
         * and blocks belong to one. */
        writeback(t, ALL_REGS);
        e2(t, JX_MOV, R(JX_RAX, 8), I((int64_t)(pc + in->len)));
        e2(t, JX_MOV, M(JX_RBX, OFF_PC, 8), R(JX_RAX, 8));
        e1(t, JX_JMP, L(t->leave0));
        return;
    }
    /* F/D compute: rv_fp_exec straight; the x registers are synced only for
     * the ops that read or write them, and an exception is raised out of
     * line (after a write-back, so trap hooks see exact registers). */
    bool reads_x = fp_reads_x(op), writes_x = fp_writes_x(op);
    if (reads_x)
        writeback(t, ALL_REGS);
    else
        writeback(t, CALLER_SAVED);
    e2(t, JX_MOV, R(JX_RDI, 8), R(JX_RBX, 8));
    lea_insn(t, JX_RSI, in);
    call_helper(t, JH_rv_fp_exec);
    reload(t, CALLER_SAVED, 0);
    if (writes_x && in->rd && t->host[in->rd] >= 0 && !caller_saved(t->host[in->rd]))
        e2(t, JX_MOV, R(t->host[in->rd], 8), M(JX_RBX, OFF_X(in->rd), 8));
    raise_site *r = &t->raises[t->nraises++];
    *r = (raise_site){ .label = jx_new_label(t->a), .info = info_of(in, 0, idx), .pc = pc, .tval = in->raw,
                       .dirty = t->dirty };
    e2(t, JX_TEST, R(JX_RAX, 4), R(JX_RAX, 4));
    e1(t, JX_JNE, L(r->label));
}

/* LR/SC and AMOs: one helper call (jit_amo) with the interpreter's
 * semantics; rd comes back through memory (fp_call reloads). */
static void atomic_insn(tctx *t, const rv_insn *in, uint64_t pc, unsigned idx)
{
    lea_insn(t, JX_RSI, in);
    fp_call(t, JH_jit_amo, info_of(in, 0, idx), pc, 0);
}

/* ---- arithmetic ------------------------------------------------------------- */
/* rd = helper(rs1, rs2): a uint64_t (*)(uint64_t, uint64_t) of jit_rt. */
static void call2(tctx *t, const rv_insn *in, int helper)
{
    writeback(t, CALLER_SAVED);
    load(t, JX_RSI, in->rs2);           /* rsi first: rdi may cache rs2 */
    load(t, JX_RDI, in->rs1);
    call_helper(t, helper);
    reload(t, CALLER_SAVED, 0);
    store(t, in->rd, JX_RAX);
}

/* d = rs1 (a no-op when rs1 already lives in d). */
static void mov_in(tctx *t, int d, unsigned rs1, int sz)
{
    if (rs1 == 0)
        e2(t, JX_XOR, R(d, 4), R(d, 4));
    else if (t->host[rs1] != d)
        e2(t, JX_MOV, R(d, sz), G(t, rs1, sz));
}
static bool commutes(int inst) { return inst == JX_ADD || inst == JX_AND || inst == JX_OR || inst == JX_XOR || inst == JX_IMUL; }

/* rd = rs1 OP rs2 (or imm), computed in rd's host register when it has one;
 * w: 32-bit op, sign-extended. */
static void binop(tctx *t, const rv_insn *in, int inst, bool imm, bool w)
{
    int sz = w ? 4 : 8, d = dst(t, in->rd);
    bool with0 = inst == JX_ADD || inst == JX_OR || inst == JX_XOR || (inst == JX_SUB && in->rs2 == 0);
    if (!imm && with0 && (in->rs1 == 0 || in->rs2 == 0)) {
        unsigned src = in->rs1 == 0 ? in->rs2 : in->rs1;      /* mv (c.mv is add rd, x0, rs2) */
        if (w)
            e2(t, JX_MOVSXD, R(d, 8), G(t, src, 4));
        else if (src == 0)
            e2(t, JX_XOR, R(d, 4), R(d, 4));
        else if (t->host[src] != d)
            e2(t, JX_MOV, R(d, 8), G(t, src, 8));
        w = false;
    } else if (imm && inst == JX_ADD && in->rs1 == 0) {
        e2(t, JX_MOV, R(d, 8), I(in->imm));               /* li */
    } else if (imm && inst == JX_ADD && in->imm == 0 && w) {
        e2(t, JX_MOVSXD, R(d, 8), G(t, in->rs1, 4));      /* sext.w */
        w = false;
    } else if (imm && inst == JX_ADD && in_reg(t, in->rs1) && t->host[in->rs1] != d) {
        e2(t, JX_LEA, R(d, sz), M(t->host[in->rs1], in->imm, 8));
    } else if (imm) {
        mov_in(t, d, in->rs1, sz);
        e2(t, inst, R(d, sz), I(in->imm));
    } else if (inst == JX_ADD && !w && in_reg(t, in->rs1) && in_reg(t, in->rs2) && t->host[in->rs1] != d &&
               t->host[in->rs2] != d) {
        e2(t, JX_LEA, R(d, 8), MI(t->host[in->rs1], t->host[in->rs2], 0, 8));   /* three-operand add */
    } else if (in->rs2 != in->rs1 && in_reg(t, in->rs2) && t->host[in->rs2] == d) {
        if (commutes(inst)) {
            e2(t, inst, R(d, sz), G(t, in->rs1, sz));     /* rd == rs2 */
        } else {
            mov_in(t, JX_RAX, in->rs1, sz);
            e2(t, inst, R(JX_RAX, sz), R(d, sz));
            e2(t, JX_MOV, R(d, 8), R(JX_RAX, 8));
        }
    } else {
        mov_in(t, d, in->rs1, sz);
        e2(t, inst, R(d, sz), G(t, in->rs2, sz));
    }
    if (w)
        e2(t, JX_MOVSXD, R(d, 8), R(d, 4));
    store(t, in->rd, d);
}

/* Shifts and rotates: x86 masks a register count like RISC-V does. */
static void shiftop(tctx *t, const rv_insn *in, int inst, bool imm, bool w)
{
    int sz = w ? 4 : 8, d = dst(t, in->rd);
    if (!imm)
        e2(t, JX_MOV, R(JX_RCX, 4), G(t, in->rs2, 4));    /* before d is written */
    mov_in(t, d, in->rs1, sz);
    if (imm)
        e2(t, inst, R(d, sz), I(in->imm & (w ? 31 : 63)));
    else
        e2(t, inst, R(d, sz), R(JX_RCX, 1));
    if (w)
        e2(t, JX_MOVSXD, R(d, 8), R(d, 4));
    store(t, in->rd, d);
}

/* Flags = rs1 - src (src: a register operand or an immediate). */
static void compare(tctx *t, unsigned rs1, jx_op src)
{
    if (src.kind == JX_IMM && src.imm == 0 && in_reg(t, rs1)) {
        e2(t, JX_TEST, G(t, rs1, 8), G(t, rs1, 8));
    } else if (in_reg(t, rs1) || src.kind != JX_MEM) {
        e2(t, JX_CMP, G(t, rs1, 8), src);
    } else {
        load(t, JX_RAX, rs1);
        e2(t, JX_CMP, R(JX_RAX, 8), src);
    }
}
static jx_op src2(tctx *t, const rv_insn *in, bool imm)
{
    return imm ? I(in->imm) : in->rs2 == 0 ? I(0) : G(t, in->rs2, 8);
}

static void setcc(tctx *t, const rv_insn *in, int inst, bool imm)
{
    int d = dst(t, in->rd);
    bool clash = d == JX_RAX || t->host[in->rs1] == d || (!imm && t->host[in->rs2] == d);
    int r = clash ? JX_RDX : d;
    e2(t, JX_XOR, R(r, 4), R(r, 4));                      /* before the flags are set */
    compare(t, in->rs1, src2(t, in, imm));
    e1(t, inst, R(r, 1));
    if (r != d)
        e2(t, JX_MOV, R(d, 8), R(r, 8));
    store(t, in->rd, d);
}

static void shadd(tctx *t, const rv_insn *in, int sh, bool uw)
{
    int d = dst(t, in->rd);
    if (uw)
        e2(t, JX_MOV, R(JX_RAX, 4), G(t, in->rs1, 4));
    else
        load(t, JX_RAX, in->rs1);
    if (in_reg(t, in->rs2)) {
        jx_op m = MI(t->host[in->rs2], JX_RAX, 0, 8);     /* d = rs2 + (rax << sh) */
        m.shift = (uint8_t)sh;
        e2(t, JX_LEA, R(d, 8), m);
    } else {
        if (sh)
            e2(t, JX_SHL, R(JX_RAX, 8), I(sh));
        e2(t, JX_ADD, R(JX_RAX, 8), G(t, in->rs2, 8));
    }
    store(t, in->rd, in_reg(t, in->rs2) ? d : JX_RAX);
}

static void minmax(tctx *t, const rv_insn *in, int cmov)
{
    load(t, JX_RAX, in->rs1);
    load(t, JX_RDX, in->rs2);
    e2(t, JX_CMP, R(JX_RAX, 8), R(JX_RDX, 8));
    e2(t, cmov, R(JX_RAX, 8), R(JX_RDX, 8));
    store(t, in->rd, JX_RAX);
}

static void bitop(tctx *t, const rv_insn *in, int inst, bool imm)
{
    load(t, JX_RAX, in->rs1);
    if (imm) {
        e2(t, inst, R(JX_RAX, 8), I(in->imm & 63));
    } else {
        load(t, JX_RCX, in->rs2);
        e2(t, inst, R(JX_RAX, 8), R(JX_RCX, 8));
    }
    if (inst == JX_BT) {
        e2(t, JX_MOV, R(JX_RAX, 4), I(0));    /* mov keeps the carry flag */
        e1(t, JX_SETC, R(JX_RAX, 1));
    }
    store(t, in->rd, JX_RAX);
}

/* A conditional branch ends the block, or (in the middle of one) leaves
 * it through an out-of-line side exit when taken. */
static void branch(tctx *t, const rv_insn *in, uint64_t pc, unsigned idx, int jcc_taken)
{
    uint64_t target = pc + (uint64_t)(int64_t)in->imm;
    compare(t, in->rs1, src2(t, in, false));
    if (idx + 1 < t->ninsns) {
        side_exit *x = &t->sides[t->nsides++];
        *x = (side_exit){ .label = jx_new_label(t->a), .dirty = t->dirty, .target = target, .idx = idx };
        e1(t, jcc_taken, L(x->label));
        return;
    }
    uint32_t taken = jx_new_label(t->a);
    e1(t, jcc_taken, L(taken));
    exit_direct(t, pc + in->len, idx);
    jx_bind(t->a, taken);
    exit_direct(t, target, idx);
}

/* Instructions whose only effect is writing rd (nothing to do for x0). */
static bool pure(unsigned op)
{
    return !(op >= RV_OP_JAL && op <= RV_OP_SD) && op != RV_OP_FENCE;
}

/* One instruction of the body (not the block's last jump). */
static void emit_insn(tctx *t, const rv_insn *in, uint64_t pc, unsigned idx)
{
    if (in->rd == 0 && pure(in->op))
        return;
    int d = dst(t, in->rd);
    switch (in->op) {
    case RV_OP_LUI:
        e2(t, JX_MOV, G(t, in->rd, 8), I(in->imm));
        break;
    case RV_OP_AUIPC:
        e2(t, JX_MOV, R(d, 8), I((int64_t)(pc + (uint64_t)(int64_t)in->imm)));
        store(t, in->rd, d);
        break;
    case RV_OP_JAL:
        if (in->rd) {
            e2(t, JX_MOV, R(d, 8), I((int64_t)(pc + in->len)));
            store(t, in->rd, d);
        }
        exit_direct(t, pc + (uint64_t)(int64_t)in->imm, idx);
        break;
    case RV_OP_JALR:
        load(t, JX_RSI, in->rs1);
        e2(t, JX_ADD, R(JX_RSI, 8), I(in->imm));
        e2(t, JX_AND, R(JX_RSI, 8), I(-2));
        if (in->rd) {
            e2(t, JX_MOV, R(d, 8), I((int64_t)(pc + in->len)));
            store(t, in->rd, d);
        }
        writeback(t, ALL_REGS);
        exit_indirect(t);
        break;
    case RV_OP_BEQ: branch(t, in, pc, idx, JX_JE); break;
    case RV_OP_BNE: branch(t, in, pc, idx, JX_JNE); break;
    case RV_OP_BLT: branch(t, in, pc, idx, JX_JL); break;
    case RV_OP_BGE: branch(t, in, pc, idx, JX_JGE); break;
    case RV_OP_BLTU: branch(t, in, pc, idx, JX_JB); break;
    case RV_OP_BGEU: branch(t, in, pc, idx, JX_JAE); break;
    case RV_OP_LB: case RV_OP_LBU: mem_access(t, in, pc, idx, false, 1); break;
    case RV_OP_LH: case RV_OP_LHU: mem_access(t, in, pc, idx, false, 2); break;
    case RV_OP_LW: case RV_OP_LWU: mem_access(t, in, pc, idx, false, 4); break;
    case RV_OP_LD: mem_access(t, in, pc, idx, false, 8); break;
    case RV_OP_SB: mem_access(t, in, pc, idx, true, 1); break;
    case RV_OP_SH: mem_access(t, in, pc, idx, true, 2); break;
    case RV_OP_SW: mem_access(t, in, pc, idx, true, 4); break;
    case RV_OP_SD: mem_access(t, in, pc, idx, true, 8); break;
    case RV_OP_ADDI: binop(t, in, JX_ADD, true, false); break;
    case RV_OP_SLTI: setcc(t, in, JX_SETL, true); break;
    case RV_OP_SLTIU: setcc(t, in, JX_SETB, true); break;
    case RV_OP_XORI: binop(t, in, JX_XOR, true, false); break;
    case RV_OP_ORI: binop(t, in, JX_OR, true, false); break;
    case RV_OP_ANDI: binop(t, in, JX_AND, true, false); break;
    case RV_OP_SLLI: shiftop(t, in, JX_SHL, true, false); break;
    case RV_OP_SRLI: shiftop(t, in, JX_SHR, true, false); break;
    case RV_OP_SRAI: shiftop(t, in, JX_SAR, true, false); break;
    case RV_OP_ADD: binop(t, in, JX_ADD, false, false); break;
    case RV_OP_SUB: binop(t, in, JX_SUB, false, false); break;
    case RV_OP_SLL: shiftop(t, in, JX_SHL, false, false); break;
    case RV_OP_SLT: setcc(t, in, JX_SETL, false); break;
    case RV_OP_SLTU: setcc(t, in, JX_SETB, false); break;
    case RV_OP_XOR: binop(t, in, JX_XOR, false, false); break;
    case RV_OP_SRL: shiftop(t, in, JX_SHR, false, false); break;
    case RV_OP_SRA: shiftop(t, in, JX_SAR, false, false); break;
    case RV_OP_OR: binop(t, in, JX_OR, false, false); break;
    case RV_OP_AND: binop(t, in, JX_AND, false, false); break;
    case RV_OP_ADDIW: binop(t, in, JX_ADD, true, true); break;
    case RV_OP_SLLIW: shiftop(t, in, JX_SHL, true, true); break;
    case RV_OP_SRLIW: shiftop(t, in, JX_SHR, true, true); break;
    case RV_OP_SRAIW: shiftop(t, in, JX_SAR, true, true); break;
    case RV_OP_ADDW: binop(t, in, JX_ADD, false, true); break;
    case RV_OP_SUBW: binop(t, in, JX_SUB, false, true); break;
    case RV_OP_SLLW: shiftop(t, in, JX_SHL, false, true); break;
    case RV_OP_SRLW: shiftop(t, in, JX_SHR, false, true); break;
    case RV_OP_SRAW: shiftop(t, in, JX_SAR, false, true); break;
    case RV_OP_FENCE: break;
    case RV_OP_MUL: binop(t, in, JX_IMUL, false, false); break;
    case RV_OP_MULW: binop(t, in, JX_IMUL, false, true); break;
    case RV_OP_MULH: case RV_OP_MULHU:
        load(t, JX_RAX, in->rs1);
        e1(t, in->op == RV_OP_MULH ? JX_IMUL : JX_MUL, G(t, in->rs2, 8));
        store(t, in->rd, JX_RDX);
        break;
    case RV_OP_MULHSU: call2(t, in, JH_jit_h_mulhsu); break;
    case RV_OP_DIV: call2(t, in, JH_jit_h_div); break;
    case RV_OP_DIVU: call2(t, in, JH_jit_h_divu); break;
    case RV_OP_REM: call2(t, in, JH_jit_h_rem); break;
    case RV_OP_REMU: call2(t, in, JH_jit_h_remu); break;
    case RV_OP_DIVW: call2(t, in, JH_jit_h_divw); break;
    case RV_OP_DIVUW: call2(t, in, JH_jit_h_divuw); break;
    case RV_OP_REMW: call2(t, in, JH_jit_h_remw); break;
    case RV_OP_REMUW: call2(t, in, JH_jit_h_remuw); break;
    case RV_OP_ADD_UW: shadd(t, in, 0, true); break;
    case RV_OP_SH1ADD: shadd(t, in, 1, false); break;
    case RV_OP_SH2ADD: shadd(t, in, 2, false); break;
    case RV_OP_SH3ADD: shadd(t, in, 3, false); break;
    case RV_OP_SH1ADD_UW: shadd(t, in, 1, true); break;
    case RV_OP_SH2ADD_UW: shadd(t, in, 2, true); break;
    case RV_OP_SH3ADD_UW: shadd(t, in, 3, true); break;
    case RV_OP_SLLI_UW:
        e2(t, JX_MOV, R(JX_RAX, 4), G(t, in->rs1, 4));
        e2(t, JX_SHL, R(JX_RAX, 8), I(in->imm & 63));
        store(t, in->rd, JX_RAX);
        break;
    case RV_OP_ANDN: case RV_OP_ORN: case RV_OP_XNOR:
        load(t, JX_RAX, in->rs2);
        if (in->op != RV_OP_XNOR)
            e1(t, JX_NOT, R(JX_RAX, 8));
        e2(t, in->op == RV_OP_ANDN ? JX_AND : in->op == RV_OP_ORN ? JX_OR : JX_XOR, R(JX_RAX, 8), G(t, in->rs1, 8));
        if (in->op == RV_OP_XNOR)
            e1(t, JX_NOT, R(JX_RAX, 8));
        store(t, in->rd, JX_RAX);
        break;
    case RV_OP_CLZ: call2(t, in, JH_jit_h_clz); break;
    case RV_OP_CLZW: call2(t, in, JH_jit_h_clzw); break;
    case RV_OP_CTZ: call2(t, in, JH_jit_h_ctz); break;
    case RV_OP_CTZW: call2(t, in, JH_jit_h_ctzw); break;
    case RV_OP_CPOP: call2(t, in, JH_jit_h_cpop); break;
    case RV_OP_CPOPW: call2(t, in, JH_jit_h_cpopw); break;
    case RV_OP_ORC_B: call2(t, in, JH_jit_h_orc_b); break;
    case RV_OP_MAX: minmax(t, in, JX_CMOVL); break;
    case RV_OP_MAXU: minmax(t, in, JX_CMOVB); break;
    case RV_OP_MIN: minmax(t, in, JX_CMOVG); break;
    case RV_OP_MINU: minmax(t, in, JX_CMOVA); break;
    case RV_OP_SEXT_B: case RV_OP_SEXT_H:
        e2(t, JX_MOVSX, R(d, 8), G(t, in->rs1, in->op == RV_OP_SEXT_B ? 1 : 2));
        store(t, in->rd, d);
        break;
    case RV_OP_ZEXT_H:
        e2(t, JX_MOVZX, R(d, 4), G(t, in->rs1, 2));
        store(t, in->rd, d);
        break;
    case RV_OP_ROL: shiftop(t, in, JX_ROL, false, false); break;
    case RV_OP_ROLW: shiftop(t, in, JX_ROL, false, true); break;
    case RV_OP_ROR: shiftop(t, in, JX_ROR, false, false); break;
    case RV_OP_RORW: shiftop(t, in, JX_ROR, false, true); break;
    case RV_OP_RORI: shiftop(t, in, JX_ROR, true, false); break;
    case RV_OP_RORIW: shiftop(t, in, JX_ROR, true, true); break;
    case RV_OP_REV8:
        load(t, JX_RAX, in->rs1);
        e1(t, JX_BSWAP, R(JX_RAX, 8));
        store(t, in->rd, JX_RAX);
        break;
    case RV_OP_BCLR: bitop(t, in, JX_BTR, false); break;
    case RV_OP_BCLRI: bitop(t, in, JX_BTR, true); break;
    case RV_OP_BEXT: bitop(t, in, JX_BT, false); break;
    case RV_OP_BEXTI: bitop(t, in, JX_BT, true); break;
    case RV_OP_BINV: bitop(t, in, JX_BTC, false); break;
    case RV_OP_BINVI: bitop(t, in, JX_BTC, true); break;
    case RV_OP_BSET: bitop(t, in, JX_BTS, false); break;
    case RV_OP_BSETI: bitop(t, in, JX_BTS, true); break;
    default:
        break;
    }
}

/* ---- the block -------------------------------------------------------------- */

/* The guest-physical address of host RAM (the page a block came from). */
uint64_t jit_host_to_phys(vm_machine *m, const uint8_t *p)
{
    for (size_t i = 0; i < m->nregions; i++) {
        vm_region *r = &m->regions[i];
        if (r->host && p >= r->host && (uint64_t)(p - r->host) < r->size)
            return r->base + (uint64_t)(p - r->host);
    }
    return ~0ull;
}

/* Decodes up to JIT_MAX_INSNS translatable instructions at pc (same page);
 * *guest = the host address of their bytes. */
static unsigned scan(rv_cpu *c, uint64_t pc, rv_insn *ins, uint64_t *end, uint64_t *ppage, const uint8_t **guest)
{
    vm_cpu *vc = &c->common;
    int err;
    uint8_t *page = vm_mem_fetch_page(vc, pc, &err);
    if (!page)
        return 0;
    *ppage = jit_host_to_phys(vc->machine, page);
    *guest = page + (pc & ~VM_PAGE_MASK);
    uint64_t a = pc;
    unsigned n = 0, branches = 0;
    while (n < JIT_MAX_INSNS) {
        unsigned off = (unsigned)(a & ~VM_PAGE_MASK);
        uint32_t bits;
        if (off > VM_PAGE_SIZE - 4) {
            uint16_t half;
            memcpy(&half, page + off, 2);
            if ((half & 3) == 3)
                break;           /* straddles two pages: the interpreter's job */
            bits = half;
        } else {
            memcpy(&bits, page + off, 4);
        }
        rv_insn in;
        unsigned len = (unsigned)rv_decode(bits, &in);
        if (!translatable(in.op))
            break;
        ins[n++] = in;
        a += len;
        /* a conditional branch's fall-through path goes on in the block */
        bool goes_on = is_branch(in.op) && ++branches < MAX_BRANCHES;
        if ((is_jump(in.op) && !goes_on) || (a & VM_PAGE_MASK) != (pc & VM_PAGE_MASK))
            break;
    }
    *end = a;
    return n;
}

static bool hooked(vm_machine *m, uint64_t pc, uint64_t end)
{
    if ((m->nbps || m->has_until) && vm_bp_in(m, pc, end))
        return true;
    if (vm_hooks_any(m, VM_HOOK_BLOCK) && vm_hooks_cover(m, VM_HOOK_BLOCK, pc, end))
        return true;
    return (vm_hooks_any(m, VM_HOOK_CODE) && vm_hooks_cover(m, VM_HOOK_CODE, pc, end)) ||
           (vm_hooks_any(m, VM_HOOK_MEM_FETCH) && vm_hooks_cover(m, VM_HOOK_MEM_FETCH, pc, end));
}

static void emit_epilogue(tctx *t)
{
    e2(t, JX_MOV, M(JX_RBX, OFF_BUDGET, 8), R(BUDGET, 8));
    e2(t, JX_ADD, R(JX_RSP, 8), I(FRAME_SIZE));
    e1(t, JX_POP, R(JX_R15, 8));
    e1(t, JX_POP, R(JX_R14, 8));
    e1(t, JX_POP, R(JX_R13, 8));
    e1(t, JX_POP, R(JX_R12, 8));
    e1(t, JX_POP, R(JX_RBP, 8));
    e1(t, JX_POP, R(JX_RBX, 8));
    e0(t, JX_RET);
}

int jit_emit_trampoline(jit_state *st)
{
    tctx t = { .a = st->as };
    if (jx_begin(t.a))
        return -1;
    static const int saved[6] = { JX_RBX, JX_RBP, JX_R12, JX_R13, JX_R14, JX_R15 };
    for (int i = 0; i < 6; i++)
        e1(&t, JX_PUSH, R(saved[i], 8));
    e2(&t, JX_SUB, R(JX_RSP, 8), I(FRAME_SIZE));
    e2(&t, JX_MOV, R(JX_RBX, 8), R(JX_RDI, 8));
    e2(&t, JX_MOV, R(BUDGET, 8), M(JX_RBX, OFF_BUDGET, 8));
    e1(&t, JX_JMP, R(JX_RSI, 8));
    size_t size;
    const uint8_t *code = jx_code(t.a, &size);
    if (!code || size > st->cm.size)
        return -1;
    memcpy(st->cm.rw, code, size);
    st->enter = (uint64_t (*)(rv_cpu *, const uint8_t *))(void *)st->cm.rx;
    st->used = st->base_used = (size + 63) & ~(size_t)63;
    return 0;
}

/* VMPY_JIT_DUMP: the block's guest instructions and host bytes, with its
 * offset in code memory (perf reports addresses in the memfd by offset). */
static void dump_block(jit_state *st, uint64_t pc, const rv_insn *ins, unsigned n, const uint8_t *code,
                       size_t size, size_t off)
{
    FILE *f = st->dump;
    fprintf(f, "block pc=%#llx off=%#zx size=%zu n=%u\n", (unsigned long long)pc, off, size, n);
    for (unsigned i = 0; i < n; i++) {
        char buf[96];
        rv_disasm(pc, ins[i].raw, buf, sizeof buf);
        fprintf(f, "  %#llx: %s\n", (unsigned long long)pc, buf);
        pc += ins[i].len;
    }
    fputs("host ", f);
    for (size_t i = 0; i < size; i++)
        fprintf(f, "%02x", code[i]);
    fputs("\n", f);
    fflush(f);
}

/* The out-of-line tail of a block: slow paths, raise sites, exit stubs and
 * the rv_insn copies helpers read. */
static void emit_tail(tctx *t)
{
    for (int i = 0; i < t->nslow; i++)
        emit_slow(t, &t->slow[i]);
    for (int i = 0; i < t->nraises; i++) {
        raise_site *r = &t->raises[i];
        jx_bind(t->a, r->label);
        t->dirty = r->dirty;
        writeback(t, ALL_REGS);
        budget_to_c(t);
        e2(t, JX_MOV, R(JX_RSI, 4), R(JX_RAX, 4));
        e2(t, JX_MOV, R(JX_RDI, 8), R(JX_RBX, 8));
        e2(t, JX_MOV, R(JX_RDX, 8), I((int64_t)r->info));
        e2(t, JX_MOV, R(JX_RCX, 8), I((int64_t)r->pc));
        e2(t, JX_MOV, R(JX_R8, 8), I((int64_t)r->tval));
        call_helper(t, JH_jit_raise);
        budget_from_c(t);
        e1(t, JX_JMP, L(t->leave0));
    }
    /* An exit stub returns the executable address of its jump's rel32, for
     * the dispatcher to patch (RIP-relative: the code may move). */
    for (int i = 0; i < t->nexits; i++) {
        jx_bind(t->a, t->exits[i].stub);
        e2(t, JX_MOV, R(JX_RAX, 8), I((int64_t)t->exits[i].target));
        e2(t, JX_MOV, M(JX_RBX, OFF_PC, 8), R(JX_RAX, 8));
        e2(t, JX_LEA, R(JX_RAX, 8), (jx_op){ .kind = JX_LMEM, .imm = t->exits[i].at_jmp, .disp = 1, .size = 8 });
        e1(t, JX_JMP, L(t->leave));
    }
    /* The rv_insns helpers read, 8-byte aligned (blocks start 16-aligned). */
    static const uint8_t int3[8] = { 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc };
    if (t->ndata && (jx_offset(t->a) & 7))
        jx_embed(t->a, int3, 8 - (jx_offset(t->a) & 7));
    for (int i = 0; i < t->ndata; i++) {
        jx_bind(t->a, t->data[i].label);
        jx_embed(t->a, &t->data[i].in, sizeof t->data[i].in);
    }
}

/* Emits the block ins[0..n) at pc into t->a (t->a and t->tlb_mask set): the
 * code (finished but for the exits' jumps to their stubs) or NULL. */
static const uint8_t *emit_block(tctx *t, const rv_insn *ins, unsigned n, uint64_t pc, size_t *size,
                                 size_t *bail_off)
{
    t->nslow = t->nexits = t->nraises = t->nsides = t->ndata = 0;
    t->ninsns = n;
    if (jx_begin(t->a))
        return NULL;
    t->loop_end = self_loop(ins, n, pc);
    choose_cache(t, ins, n, t->loop_end);
    t->nslots = t->slots_used = 0;
    for (unsigned i = 0; i < t->loop_end; i++)
        if (ins[i].op >= RV_OP_LB && ins[i].op <= RV_OP_SD && t->nslots < MAX_SITES)
            t->nslots++;
    t->pc = pc;
    t->bail = jx_new_label(t->a);
    t->unbail = jx_new_label(t->a);
    t->leave = jx_new_label(t->a);
    t->leave0 = jx_new_label(t->a);
    t->body = jx_new_label(t->a);
    /* The kill switch: a 5-byte nop, overwritten by a jmp to bail. */
    static const uint8_t nop5[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
    jx_embed(t->a, nop5, 5);
    charge(t);
    e1(t, JX_JB, L(t->unbail));
    e2(t, JX_CMP, M(JX_RBX, OFF_EXIT, 4), I(0));
    e1(t, JX_JNE, L(t->unbail));
    reload(t, ALL_REGS, t->noload);
    empty_slots(t);
    jx_bind(t->a, t->body);
    uint64_t a = pc;
    for (unsigned i = 0; i < n; i++) {
        if (is_fp(ins[i].op) || is_csr(ins[i].op)) {
            fp_insn(t, &ins[i], a, i);
        } else if (is_atomic(ins[i].op)) {
            atomic_insn(t, &ins[i], a, i);
        } else {
            /* jumps write rd before they leave; a load only once it cannot fault */
            uint32_t rd = ins[i].rd && in_reg(t, ins[i].rd) ? 1u << ins[i].rd : 0;
            if (ins[i].op == RV_OP_JAL || ins[i].op == RV_OP_JALR)
                t->dirty |= rd;
            emit_insn(t, &ins[i], a, i);
            t->dirty |= rd;
        }
        a += ins[i].len;
    }
    if (!is_jump(ins[n - 1].op))
        exit_direct(t, a, n - 1);
    for (int i = 0; i < t->nsides; i++) {
        jx_bind(t->a, t->sides[i].label);
        t->dirty = t->sides[i].dirty;
        exit_direct(t, t->sides[i].target, t->sides[i].idx);
    }
    jx_bind(t->a, t->unbail);
    refund(t);
    jx_bind(t->a, t->bail);
    *bail_off = jx_offset(t->a);
    e2(t, JX_MOV, R(JX_RAX, 8), I((int64_t)pc));
    e2(t, JX_MOV, M(JX_RBX, OFF_PC, 8), R(JX_RAX, 8));
    jx_bind(t->a, t->leave0);
    e2(t, JX_XOR, R(JX_RAX, 4), R(JX_RAX, 4));
    jx_bind(t->a, t->leave);
    emit_epilogue(t);
    emit_tail(t);
    return jx_code(t->a, size);
}

static void put32(uint8_t *p, int32_t v) { memcpy(p, &v, 4); }

uint8_t *jit_translate(jit_state *st, rv_cpu *c, jit_block *b, bool *full, bool cached_only)
{
    /* Scratch per JIT state (a cpu compiles on one thread at a time), not
     * thread-local: big TLS would keep the module off the initial-exec TLS
     * model that fpu.c's per-thread host-mode flag needs to be cheap. */
    if (!st->scratch && !(st->scratch = calloc(1, sizeof(translate_scratch))))
        return NULL;
    rv_insn *ins = ((translate_scratch *)st->scratch)->ins;
    tctx *t = &((translate_scratch *)st->scratch)->t;
    uint64_t end, pc = b->pc;
    const uint8_t *guest = NULL;
    *full = false;
    unsigned n = scan(c, pc, ins, &end, &b->ppage, &guest);
    if (!n || b->ppage == ~0ull || hooked(c->common.machine, pc, end))
        return NULL;
    uint32_t glen = (uint32_t)(end - pc), csize, cbail;
    const uint8_t *cached = st->cache ? jit_cache_lookup(st->cache, pc, guest, glen, n, &csize, &cbail) : NULL;
    if (cached) {
        uint8_t *w = jit_code_alloc(st, csize);
        if (!w) {
            *full = true;
            return NULL;
        }
        memcpy(w, cached, csize);
        st->nloaded++;
        b->ninsns = n;
        b->bail_off = cbail;
        return vm_codemem_exec(&st->cm, w);
    }
    if (cached_only)
        return NULL;
    t->a = st->as;
    t->tlb_mask = c->common.tlb_mask;
    size_t size, bail_off;
    const uint8_t *code = emit_block(t, ins, n, pc, &size, &bail_off);
    if (!code)
        return NULL;
    uint8_t *w = jit_code_alloc(st, size);
    if (!w) {
        *full = true;
        return NULL;
    }
    memcpy(w, code, size);
    for (int i = 0; i < t->nexits; i++) {     /* each exit's jmp goes to its stub until chained */
        exit_site *e = &t->exits[i];
        size_t stub = jx_label_offset(t->a, e->stub);
        put32(w + e->jmp_off + 1, (int32_t)((int64_t)stub - (int64_t)(e->jmp_off + 5)));
    }
    /* Recorded now, before the dispatcher chains (patches) any of it. */
    if (st->cache)
        jit_cache_add(st->cache, pc, guest, glen, n, w, (uint32_t)size, (uint32_t)bail_off);
    if (st->dump)
        dump_block(st, pc, ins, n, w, size, (size_t)(w - st->cm.rw));
    st->ncompiled++;
    st->code_bytes += size;
    b->ninsns = n;
    b->bail_off = (uint32_t)bail_off;
    return vm_codemem_exec(&st->cm, w);
}
#endif
