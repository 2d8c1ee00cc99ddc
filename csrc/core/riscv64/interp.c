/* interp.c — the RISC-V interpreter engine.
 *
 * Guest code is decoded once into blocks of slots (one per instruction, plus
 * call-out slots where hooks apply) and executed by direct-threaded dispatch:
 * each slot holds the address of its handler label, and every handler ends by
 * jumping straight to the next slot's handler.  Blocks end at control flow,
 * CSR and system instructions, page ends and breakpoints, so between blocks
 * is the only place the run loop's conditions (stop requests, the
 * instruction budget, breakpoints) need checking.  Instruction counts are
 * added per block; a fault inside a block adds the slot's index, so counts
 * stay exact. */
#include "rv.h"
#include "../trace.h"
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define BLOCK_MAX_INSNS 64
_Static_assert(BLOCK_MAX_INSNS <= VM_TRACE_BULK_MIN_LIMIT, "a traced block fits an empty trace");
#define HASH_BITS 14
#define JCACHE_BITS 12
#define ARENA_SIZE (32u << 20)

typedef struct rv_slot {
    const void *handler;
    rv_insn in;
    uint16_t pc_off;     /* byte offset of the instruction from the block start */
    uint16_t idx : 15;   /* instructions before it in the block */
    uint16_t is_insn : 1;   /* 1 for an instruction's own slot, 0 for call-outs */
    /* Integer loads and stores: the byte offset from the cpu (vm_cpu) of the
     * TLB entry of this instruction's last access (see LOAD_AT); from the
     * cpu rather than its TLB, so that the host addressing mode absorbs
     * the TLB's own offset. */
    uint32_t tlb_off;
} rv_slot;
_Static_assert(sizeof(rv_slot) == 32, "slots stay at 32 bytes (cache footprint)");

enum { BLK_BREAKPOINT = 1, BLK_TRACED = 2 };
#define GATE_CLOSED (1ull << 62)
#define BUDGET_MAX (1ull << 61)

typedef struct rv_block {
    uint64_t pc;
    uint32_t ninsns, size, nslots, flags;
    struct rv_block *hash_next;
    /* The blocks its last instruction went to, taken [0] and not taken [1]
     * (no_block until known; JUMP_VIA), on the same page.  Their targets are
     * static, so a link once set stays right for the block's life; blocks
     * live until a flush, and every invalidation sets exit_request, which
     * whatever caused it on this cpu (a store's slow path, an AMO, a hook,
     * FENCE.I) checks before the block ends, so a stale block is not
     * chained from.  An invalidation by another thread is seen within a
     * slice (see JUMP_VIA); until then the old blocks stay readable, since
     * the arena is only reused by this thread's translations, which start
     * after the check in next_block. */
    const struct rv_block *next[2];
    /* The same for successors on another page, which chain_slow enters
     * after checking their pc and that their page is still executable. */
    const struct rv_block *far[2];
    /* ninsns, or GATE_CLOSED for a block that must not be chained to on the
     * fast path (a breakpoint or a trace at its start, or no_block).  The
     * budget is below BUDGET_MAX (see run_capped), so "gate <= budget", or
     * "budget - gate is not negative" (one subtraction that also charges
     * the block), says both that the budget covers the block and that it
     * may run. */
    uint64_t gate;
    uint32_t bytes;      /* arena bytes used, slots and trace arrays included */
    /* The jump cache of the block's fetch regime (translated or not, see
     * rv_code_key): JUMP_TO looks its targets up there, so a block decoded
     * where M-mode ran physical address P never stands in for S/U's
     * virtual address P under the same satp.  Successor links need no
     * such check: the regime only changes through next_block (traps,
     * xRET, CSR writes), so a block links only to its own regime's. */
    struct rv_block **jc;
    rv_slot slots[];
} rv_block;

/* Pseudo-operations beside enum rv_op. */
enum {
    PSEUDO_HOOK_CODE = RV_OP_COUNT,   /* code and fetch hooks before an instruction */
    PSEUDO_HOOK_BLOCK,                /* block hooks at the block start */
    PSEUDO_END,                       /* fall through to the next block */
    PSEUDO_FP,                        /* any F/D operation but loads and stores */
    PSEUDO_TRACE,                     /* trace recording before an instruction (trace.h) */
    PSEUDO_COV,                       /* coverage at the block start */
    NHANDLERS_BASE
};

/* Integer operations by operand shape.  E_<op> computes rd from A (rs1),
 * B (rs2) and I (the immediate); T_<op> is the C type a load or store moves.
 * The interpreter's handlers for these ops are generated from the lists. */
/* two register sources */
#define E_ADD (A + B)
#define E_SUB (A - B)
#define E_SLL (A << (B & 63))
#define E_SLT ((int64_t)A < (int64_t)B)
#define E_SLTU (A < B)
#define E_XOR (A ^ B)
#define E_SRL (A >> (B & 63))
#define E_SRA ((uint64_t)((int64_t)A >> (B & 63)))
#define E_OR (A | B)
#define E_AND (A & B)
#define E_ADDW (sext32(A + B))
#define E_SUBW (sext32(A - B))
#define E_SLLW (sext32((uint32_t)A << (B & 31)))
#define E_SRLW (sext32((uint32_t)A >> (B & 31)))
#define E_SRAW ((uint64_t)(int64_t)((int32_t)A >> (B & 31)))
#define E_MUL (A * B)
#define E_MULH (mulh64((int64_t)A, (int64_t)B))
#define E_MULHSU (mulhsu64((int64_t)A, B))
#define E_MULHU (mulhu64(A, B))
#define E_DIV ((uint64_t)div64((int64_t)A, (int64_t)B))
#define E_DIVU (B ? A / B : ~0ull)
#define E_REM ((uint64_t)rem64((int64_t)A, (int64_t)B))
#define E_REMU (B ? A % B : A)
#define E_MULW (sext32((uint64_t)((uint32_t)A * (uint32_t)B)))
#define E_DIVW (divw(A, B))
#define E_DIVUW (divuw(A, B))
#define E_REMW (remw(A, B))
#define E_REMUW (remuw(A, B))
#define E_ADD_UW (B + (uint32_t)A)
#define E_SH1ADD (B + (A << 1))
#define E_SH2ADD (B + (A << 2))
#define E_SH3ADD (B + (A << 3))
#define E_SH1ADD_UW (B + ((uint64_t)(uint32_t)A << 1))
#define E_SH2ADD_UW (B + ((uint64_t)(uint32_t)A << 2))
#define E_SH3ADD_UW (B + ((uint64_t)(uint32_t)A << 3))
#define E_ANDN (A & ~B)
#define E_ORN (A | ~B)
#define E_XNOR (~(A ^ B))
#define E_MAX ((int64_t)A > (int64_t)B ? A : B)
#define E_MAXU (A > B ? A : B)
#define E_MIN ((int64_t)A < (int64_t)B ? A : B)
#define E_MINU (A < B ? A : B)
#define E_ROL (rol64(A, (unsigned)B))
#define E_ROLW (sext32(rol32((uint32_t)A, (unsigned)B)))
#define E_ROR (ror64(A, (unsigned)B))
#define E_RORW (sext32(ror32((uint32_t)A, (unsigned)B)))
#define E_BCLR (A & ~(1ull << (B & 63)))
#define E_BEXT ((A >> (B & 63)) & 1)
#define E_BINV (A ^ (1ull << (B & 63)))
#define E_BSET (A | (1ull << (B & 63)))
#define RR_OPS(X) \
    X(ADD) X(SUB) X(SLL) X(SLT) X(SLTU) X(XOR) X(SRL) X(SRA) X(OR) X(AND) X(ADDW) X(SUBW) \
    X(SLLW) X(SRLW) X(SRAW) X(MUL) X(MULH) X(MULHSU) X(MULHU) X(DIV) X(DIVU) X(REM) \
    X(REMU) X(MULW) X(DIVW) X(DIVUW) X(REMW) X(REMUW) X(ADD_UW) X(SH1ADD) X(SH2ADD) \
    X(SH3ADD) X(SH1ADD_UW) X(SH2ADD_UW) X(SH3ADD_UW) X(ANDN) X(ORN) X(XNOR) X(MAX) X(MAXU) \
    X(MIN) X(MINU) X(ROL) X(ROLW) X(ROR) X(RORW) X(BCLR) X(BEXT) X(BINV) X(BSET)
/* rs1 and an immediate (or rs1 alone) */
#define E_ADDI (A + (uint64_t)I)
#define E_SLTI ((int64_t)A < I)
#define E_SLTIU (A < (uint64_t)I)
#define E_XORI (A ^ (uint64_t)I)
#define E_ORI (A | (uint64_t)I)
#define E_ANDI (A & (uint64_t)I)
#define E_SLLI (A << (I & 63))
#define E_SRLI (A >> (I & 63))
#define E_SRAI ((uint64_t)((int64_t)A >> (I & 63)))
#define E_ADDIW (sext32(A + (uint64_t)I))
#define E_SLLIW (sext32((uint32_t)A << (I & 31)))
#define E_SRLIW (sext32((uint32_t)A >> (I & 31)))
#define E_SRAIW ((uint64_t)(int64_t)((int32_t)A >> (I & 31)))
#define E_SLLI_UW ((uint64_t)(uint32_t)A << (I & 63))
#define E_RORI (ror64(A, (unsigned)I))
#define E_RORIW (sext32(ror32((uint32_t)A, (unsigned)I)))
#define E_BCLRI (A & ~(1ull << (I & 63)))
#define E_BEXTI ((A >> (I & 63)) & 1)
#define E_BINVI (A ^ (1ull << (I & 63)))
#define E_BSETI (A | (1ull << (I & 63)))
#define E_CLZ (A ? (uint64_t)__builtin_clzll(A) : 64)
#define E_CLZW ((uint32_t)A ? (uint64_t)__builtin_clz((uint32_t)A) : 32)
#define E_CTZ (A ? (uint64_t)__builtin_ctzll(A) : 64)
#define E_CTZW ((uint32_t)A ? (uint64_t)__builtin_ctz((uint32_t)A) : 32)
#define E_CPOP ((uint64_t)__builtin_popcountll(A))
#define E_CPOPW ((uint64_t)__builtin_popcount((uint32_t)A))
#define E_SEXT_B ((uint64_t)(int64_t)(int8_t)A)
#define E_SEXT_H ((uint64_t)(int64_t)(int16_t)A)
#define E_ZEXT_H ((uint16_t)A)
#define E_ORC_B (orc_b(A))
#define E_REV8 (__builtin_bswap64(A))
#define RI_OPS(X) \
    X(ADDI) X(SLTI) X(SLTIU) X(XORI) X(ORI) X(ANDI) X(SLLI) X(SRLI) X(SRAI) X(ADDIW) \
    X(SLLIW) X(SRLIW) X(SRAIW) X(SLLI_UW) X(RORI) X(RORIW) X(BCLRI) X(BEXTI) X(BINVI) \
    X(BSETI) X(CLZ) X(CLZW) X(CTZ) X(CTZW) X(CPOP) X(CPOPW) X(SEXT_B) X(SEXT_H) X(ZEXT_H) \
    X(ORC_B) X(REV8)
/* integer loads and stores */
#define T_LB int8_t
#define T_LH int16_t
#define T_LW int32_t
#define T_LD uint64_t
#define T_LBU uint8_t
#define T_LHU uint16_t
#define T_LWU uint32_t
#define LOAD_OPS(X) \
    X(LB) X(LH) X(LW) X(LD) X(LBU) X(LHU) X(LWU)
#define T_SB uint8_t
#define T_SH uint16_t
#define T_SW uint32_t
#define T_SD uint64_t
#define STORE_OPS(X) \
    X(SB) X(SH) X(SW) X(SD)
/* conditional branches: E_ is the condition */
#define E_BEQ (A == B)
#define E_BNE (A != B)
#define E_BLT ((int64_t)A < (int64_t)B)
#define E_BGE ((int64_t)A >= (int64_t)B)
#define E_BLTU (A < B)
#define E_BGEU (A >= B)
#define BRANCH_OPS(X) \
    X(BEQ) X(BNE) X(BLT) X(BGE) X(BLTU) X(BGEU)

/* Superinstructions: some pairs of instructions that follow each other in a
 * block run as one handler, saving a dispatch (an indirect jump, the main
 * cost of a simple instruction).  X(op, kind): kind says how the op
 * executes (DO_<kind> in interp_run); LP is a branch back to its block's
 * start (see LOOP_AGAIN).  When the first op sets acc, the second
 * instruction may take rs1 (variant 1) or rs2 (variant 2) from it, like
 * a1_/a2_ handlers.
 *
 * The pairs are every op of FUSE_BASE_FIRST followed by every op of
 * FUSE_BASE_SECOND, and the FUSE_EXTRA pairs.  The extra pairs were chosen
 * greedily, by how many dispatches each saved on top of the ones before,
 * from instruction traces of CoreMark, Debian's busybox (sh, gzip, sort)
 * and bench/'s workloads: 0.82 dispatches per instruction on CoreMark went
 * to 0.66, on busybox 0.86 to 0.68.  A whole cross product of 17 x 29 ops
 * instead (0.60 on CoreMark) made GCC spill acc and the budget in the hot
 * handlers and ran int.c 8-15% slower. */
#define FUSE_BASE_FIRST(X, ...) \
    X(ADD, RR, __VA_ARGS__) X(ADDI, RI, __VA_ARGS__) X(ADDIW, RI, __VA_ARGS__) \
    X(SLLI, RI, __VA_ARGS__) X(SRLI, RI, __VA_ARGS__) X(LBU, LD, __VA_ARGS__) X(LW, LD, __VA_ARGS__)
#define FUSE_BASE_SECOND(X, ...) \
    X(ADD, RR, __VA_ARGS__) X(ADDIW, RI, __VA_ARGS__) X(SRLI, RI, __VA_ARGS__) \
    X(LBU, LD, __VA_ARGS__) X(LW, LD, __VA_ARGS__) X(SB, ST, __VA_ARGS__) \
    X(BEQ, BR, __VA_ARGS__) X(BNE, BR, __VA_ARGS__) X(BLT, BR, __VA_ARGS__) \
    X(BGE, BR, __VA_ARGS__) X(BLTU, BR, __VA_ARGS__) X(BGEU, BR, __VA_ARGS__) \
    X(BEQ, LP, __VA_ARGS__) X(BNE, LP, __VA_ARGS__) X(BLT, LP, __VA_ARGS__) \
    X(BGE, LP, __VA_ARGS__) X(BLTU, LP, __VA_ARGS__) X(BGEU, LP, __VA_ARGS__)
/* X(first op, its kind, second op, its kind, ...), in the order chosen. */
#define FUSE_EXTRA(X, ...) \
    X(SW, ST, ADDIW, RI, __VA_ARGS__) X(ADDI, RI, XOR, RR, __VA_ARGS__) \
    X(ANDI, RI, SLLI, RI, __VA_ARGS__) X(LBU, LD, SRLIW, RI, __VA_ARGS__) \
    X(LD, LD, LD, LD, __VA_ARGS__) X(SD, ST, SD, ST, __VA_ARGS__) \
    X(SLLI, RI, XOR, RR, __VA_ARGS__) X(ADDI, RI, ADDI, RI, __VA_ARGS__) \
    X(SLLI, RI, ADDI, RI, __VA_ARGS__) X(LD, LD, SD, ST, __VA_ARGS__) \
    X(SW, ST, BNE, BR, __VA_ARGS__) X(SW, ST, BNE, LP, __VA_ARGS__) \
    X(SLLI, RI, SLLI, RI, __VA_ARGS__) X(LBU, LD, ADDI, RI, __VA_ARGS__) \
    X(SRLI, RI, XOR, RR, __VA_ARGS__) X(REMU, RR, LW, LD, __VA_ARGS__) \
    X(LW, LD, SW, ST, __VA_ARGS__) X(ANDI, RI, ANDI, RI, __VA_ARGS__) \
    X(LD, LD, BEQ, BR, __VA_ARGS__) X(LD, LD, BEQ, LP, __VA_ARGS__) \
    X(ADDIW, RI, ADDW, RR, __VA_ARGS__) X(ADDI, RI, SD, ST, __VA_ARGS__) \
    X(ADD, RR, ADDI, RI, __VA_ARGS__) X(LH, LD, LH, LD, __VA_ARGS__) \
    X(ADDW, RR, BNE, BR, __VA_ARGS__) X(ADDW, RR, BNE, LP, __VA_ARGS__) \
    X(LD, LD, ADDI, RI, __VA_ARGS__) X(ADD, RR, LD, LD, __VA_ARGS__) \
    X(LD, LD, ADD, RR, __VA_ARGS__) X(ADDIW, RI, SLLI, RI, __VA_ARGS__) \
    X(ADDIW, RI, ANDI, RI, __VA_ARGS__) X(SD, ST, ADDIW, RI, __VA_ARGS__) \
    X(LD, LD, ADDIW, RI, __VA_ARGS__)
/* The first and second ops of all pairs, each once. */
#define FUSE_FIRST(X, ...) FUSE_BASE_FIRST(X, __VA_ARGS__) \
    X(SW, ST, __VA_ARGS__) X(ANDI, RI, __VA_ARGS__) X(LD, LD, __VA_ARGS__) X(SD, ST, __VA_ARGS__) \
    X(REMU, RR, __VA_ARGS__) X(LH, LD, __VA_ARGS__) X(ADDW, RR, __VA_ARGS__)
#define FUSE_SECOND(X, ...) FUSE_BASE_SECOND(X, __VA_ARGS__) \
    X(XOR, RR, __VA_ARGS__) X(SLLI, RI, __VA_ARGS__) X(SRLIW, RI, __VA_ARGS__) X(LD, LD, __VA_ARGS__) \
    X(SD, ST, __VA_ARGS__) X(ADDI, RI, __VA_ARGS__) X(SW, ST, __VA_ARGS__) X(ANDI, RI, __VA_ARGS__) \
    X(ADDW, RR, __VA_ARGS__) X(LH, LD, __VA_ARGS__)
/* The operand variants each kind has (0: both sources from x[]). */
#define FUSE_VARIANTS_RR(Y, ...) Y(0, __VA_ARGS__) Y(1, __VA_ARGS__) Y(2, __VA_ARGS__)
#define FUSE_VARIANTS_RI(Y, ...) Y(0, __VA_ARGS__) Y(1, __VA_ARGS__)
#define FUSE_VARIANTS_LD(Y, ...) Y(0, __VA_ARGS__) Y(1, __VA_ARGS__)
#define FUSE_VARIANTS_ST FUSE_VARIANTS_RR
#define FUSE_VARIANTS_BR FUSE_VARIANTS_RR
#define FUSE_VARIANTS_LP FUSE_VARIANTS_RR
/* Every fused handler: X(first op, its kind, second op, its kind, variant). */
#define FUSED_ALL(X) FUSE_BASE_FIRST(FUSED_ALL1_, X) FUSE_EXTRA(FUSED_EXTRA_, X)
#define FUSED_ALL1_(n1, k1, X) FUSE_BASE_SECOND(FUSED_ALL2_, n1, k1, X)
#define FUSED_ALL2_(n2, k2, n1, k1, X) FUSE_VARIANTS_##k2(FUSED_ALL3_, n1, k1, n2, k2, X)
#define FUSED_ALL3_(v, n1, k1, n2, k2, X) X(n1, k1, n2, k2, v)
/* A first op that leaves no result in acc (a store) has variant 0 only. */
#define FUSED_EXTRA_(n1, k1, n2, k2, X) FUSE_APPLY_(FUSE_FIRST_VARIANTS_##k1(k2), FUSED_ALL3_, n1, k1, n2, k2, X)
#define FUSE_APPLY_(V, ...) V(__VA_ARGS__)
#define FUSE_VARIANTS_NO_ACC(Y, ...) Y(0, __VA_ARGS__)
#define FUSE_FIRST_VARIANTS_RR(k2) FUSE_VARIANTS_##k2
#define FUSE_FIRST_VARIANTS_RI(k2) FUSE_VARIANTS_##k2
#define FUSE_FIRST_VARIANTS_LD(k2) FUSE_VARIANTS_##k2
#define FUSE_FIRST_VARIANTS_ST(k2) FUSE_VARIANTS_NO_ACC

/* Triples: a fused pair and the conditional branch that ends its block, in
 * one handler.  The branch's dispatch is what they save; in a short loop
 * that is a large share of the work (the loop `i++; sext.w; bltu` of a
 * 32-bit counter, or `p = base + i; lbu; bnez`).  Chosen like FUSE_EXTRA,
 * from the same traces, among pairs already fused.  X(first op, kind,
 * second op, kind, branch).  Each comes as a forward branch (BR) and as a
 * loop back to the block's start (LP); the branch may take rs1 (variant 1)
 * or rs2 (2) from acc when the second op sets it. */
#define FUSE_TRIPLE(X, ...) \
    X(ADD, RR, LBU, LD, BNE, __VA_ARGS__) X(ADDI, RI, ADDIW, RI, BLTU, __VA_ARGS__) \
    X(ADDIW, RI, ADD, RR, BLTU, __VA_ARGS__) X(LBU, LD, ADDI, RI, BEQ, __VA_ARGS__) \
    X(ADD, RR, SB, ST, BNE, __VA_ARGS__) X(ADDI, RI, ADD, RR, BLTU, __VA_ARGS__) \
    X(LBU, LD, ADDI, RI, BNE, __VA_ARGS__) X(LBU, LD, LBU, LD, BEQ, __VA_ARGS__) \
    X(SLLI, RI, SRLI, RI, BNE, __VA_ARGS__) X(ADDI, RI, LBU, LD, BNE, __VA_ARGS__)
/* Every triple handler: X(n1, k1, n2, k2, branch, BR or LP, pair variant,
 * branch variant). */
#define TRIPLE_ALL(X) FUSE_TRIPLE(TRIPLE_ALL1_, X)
#define TRIPLE_ALL1_(n1, k1, n2, k2, n3, X) \
    TRIPLE_APPLY_(FUSE_FIRST_VARIANTS_##k1(k2), TRIPLE_ALL2_, n1, k1, n2, k2, n3, X)
#define TRIPLE_APPLY_(V, ...) V(__VA_ARGS__)
#define TRIPLE_ALL2_(v, n1, k1, n2, k2, n3, X) \
    TRIPLE_BRANCH_VARIANTS_##k2(TRIPLE_ALL3_, v, n1, k1, n2, k2, n3, BR, X) \
    TRIPLE_BRANCH_VARIANTS_##k2(TRIPLE_ALL3_, v, n1, k1, n2, k2, n3, LP, X)
/* (Not FUSE_VARIANTS_*: those are mid-expansion here, and a macro does not
 * expand inside itself.) */
#define TRIPLE_BRANCH_VARIANTS_RR(Y, ...) Y(0, __VA_ARGS__) Y(1, __VA_ARGS__) Y(2, __VA_ARGS__)
#define TRIPLE_BRANCH_VARIANTS_RI TRIPLE_BRANCH_VARIANTS_RR
#define TRIPLE_BRANCH_VARIANTS_LD TRIPLE_BRANCH_VARIANTS_RR
#define TRIPLE_BRANCH_VARIANTS_ST(Y, ...) Y(0, __VA_ARGS__)   /* a store sets no acc */
#define TRIPLE_ALL3_(w, v, n1, k1, n2, k2, n3, K, X) X(n1, k1, n2, k2, n3, K, v, w)
/* Quads: a fused pair, then a fused pair that ends the block with a loop
 * branch, in one handler: a counted store loop (`p = base + i; *p = v;
 * i += step; loop while i <= n`, as in array initialisation and a sieve's
 * marking) in one dispatch per pass instead of two; int.c 6-9% faster.
 * X(n1, k1, n2, k2, n3, k3, branch, BR or LP, first pair's variant, branch
 * variant: 1 or 2 if it reads the third op's result as rs1 or rs2).  The
 * third op reads x[].  Each is listed in the one variant that the hot loops
 * use, not every variant: GCC's register allocation of interp_run is at a
 * tipping point here.  All variants (36 handlers), the BR forms of these two,
 * or a third quad for mem.c's `a[i] = i` loop each made it keep acc on the
 * stack in every handler: 6,000 stack references instead of 180, int.c 25%
 * and mem.c 20% slower (tests/test_codegen.py watches for this).  A quad
 * that is a whole block runs its passes in quad_loop_* (below), out of
 * interp_run. */
#define FUSE_QUAD(X) \
    X(ADD, RR, SB, ST, ADD, RR, BGEU, LP, 1, 2) X(ADD, RR, SB, ST, ADDIW, RI, BGEU, LP, 1, 2)
/* Positions in the lists (from 1; 0: not in the list). */
enum {
    F1_NONE,
#define F1_ENUM(n1, k1, unused) F1_##n1,
    FUSE_FIRST(F1_ENUM, _)
#undef F1_ENUM
    F1_COUNT
};
enum {
    F2_NONE,
#define F2_ENUM(n2, k2, unused) F2_##k2##_##n2,
    FUSE_SECOND(F2_ENUM, _)
#undef F2_ENUM
    F2_COUNT
};
static const uint8_t fuse1_index[RV_OP_COUNT] = {
#define F1_MAP(n1, k1, unused) [RV_OP_##n1] = F1_##n1,
    FUSE_FIRST(F1_MAP, _)
#undef F1_MAP
};
/* Branches appear twice in FUSE_SECOND: fuse2_index has the BR entries,
 * fuse2_loop_index the LP ones. */
#define F2_PICK_RR(n) [RV_OP_##n] = F2_RR_##n,
#define F2_PICK_RI(n) [RV_OP_##n] = F2_RI_##n,
#define F2_PICK_LD(n) [RV_OP_##n] = F2_LD_##n,
#define F2_PICK_ST(n) [RV_OP_##n] = F2_ST_##n,
#define F2_PICK_BR(n) [RV_OP_##n] = F2_BR_##n,
#define F2_PICK_LP(n)
static const uint8_t fuse2_index[RV_OP_COUNT] = {
#define F2_MAP(n2, k2, unused) F2_PICK_##k2(n2)
    FUSE_SECOND(F2_MAP, _)
#undef F2_MAP
};
static const uint8_t fuse2_loop_index[RV_OP_COUNT] = {
#define F2_MAP(n2, k2, unused) F2_PICK_LOOP_##k2(n2)
#define F2_PICK_LOOP_RR(n)
#define F2_PICK_LOOP_RI(n)
#define F2_PICK_LOOP_LD(n)
#define F2_PICK_LOOP_ST(n)
#define F2_PICK_LOOP_BR(n)
#define F2_PICK_LOOP_LP(n) [RV_OP_##n] = F2_LP_##n,
    FUSE_SECOND(F2_MAP, _)
#undef F2_MAP
};

/* Register caching.  The handlers of these ops leave their result in a host
 * register (`acc`) as well as in x[rd].  An instruction that reads the
 * previous instruction's rd runs a variant of its handler that takes that
 * operand from acc: in the common chains of dependent instructions the value
 * then travels in a register instead of through x[] in memory, which costs a
 * store-to-load forwarding delay per instruction. */
#define ACC_WRITER_OPS(X) RR_OPS(X) RI_OPS(X) LOAD_OPS(X) X(LUI) X(AUIPC)
/* Variants: A1 takes rs1 from acc, A2 takes rs2 from acc. */
#define A1_OPS(X) RR_OPS(X) RI_OPS(X) LOAD_OPS(X) STORE_OPS(X) BRANCH_OPS(X)
#define A2_OPS(X) RR_OPS(X) STORE_OPS(X) BRANCH_OPS(X)

enum {
    A1_BASE = NHANDLERS_BASE - 1,
#define A1_ENUM(name) H_A1_##name,
    A1_OPS(A1_ENUM)
#undef A1_ENUM
#define A2_ENUM(name) H_A2_##name,
    A2_OPS(A2_ENUM)
#undef A2_ENUM
#define F_ENUM(n1, k1, n2, k2, v) H_F##v##_##n1##_##k2##_##n2,
    FUSED_ALL(F_ENUM)
#undef F_ENUM
#define T_ENUM(n1, k1, n2, k2, n3, K, v, w) H_T##v##w##_##n1##_##n2##_##K##_##n3,
    TRIPLE_ALL(T_ENUM)
#undef T_ENUM
#define Q_ENUM(n1, k1, n2, k2, n3, k3, n4, K, v, w) H_Q##v##w##_##n1##_##n2##_##n3##_##K##_##n4,
    FUSE_QUAD(Q_ENUM)
#undef Q_ENUM
    /* A conditional branch back to its own block's start (a loop of one
     * block) re-enters the block without the jump cache: H_LP* variants. */
#define LP_ENUM(name) H_LP_##name, H_LPA1_##name, H_LPA2_##name,
    BRANCH_OPS(LP_ENUM)
#undef LP_ENUM
    NHANDLERS
};
static const uint16_t loop_handler[NHANDLERS] = {
#define LP_MAP(name) [RV_OP_##name] = H_LP_##name, [H_A1_##name] = H_LPA1_##name, \
                        [H_A2_##name] = H_LPA2_##name,
    BRANCH_OPS(LP_MAP)
#undef LP_MAP
};

static const uint16_t a1_handler[RV_OP_COUNT] = {
#define A1_MAP(name) [RV_OP_##name] = H_A1_##name,
    A1_OPS(A1_MAP)
#undef A1_MAP
};
static const uint16_t a2_handler[RV_OP_COUNT] = {
#define A2_MAP(name) [RV_OP_##name] = H_A2_##name,
    A2_OPS(A2_MAP)
#undef A2_MAP
};
static const uint16_t fused_handler[F1_COUNT][F2_COUNT][3] = {
#define FH_MAP(n1, k1, n2, k2, v) [F1_##n1][F2_##k2##_##n2][v] = H_F##v##_##n1##_##k2##_##n2,
    FUSED_ALL(FH_MAP)
#undef FH_MAP
};
static const struct triple {
    uint16_t pair;       /* the fused pair's handler */
    uint8_t branch;      /* the branch's op */
    uint8_t loop;        /* LP: back to the block's start */
    uint8_t variant;     /* 1: the branch's rs1 from acc, 2: its rs2 */
    uint16_t handler;
} triples[] = {
#define TRIPLE_LOOP_BR 0
#define TRIPLE_LOOP_LP 1
#define TH_MAP(n1, k1, n2, k2, n3, K, v, w) \
    { H_F##v##_##n1##_##k2##_##n2, RV_OP_##n3, TRIPLE_LOOP_##K, w, H_T##v##w##_##n1##_##n2##_##K##_##n3 },
    TRIPLE_ALL(TH_MAP)
#undef TH_MAP
};
static const struct quad {
    uint16_t pair;       /* the first fused pair's handler */
    uint8_t third, branch;
    uint8_t loop;        /* LP: back to the block's start */
    uint8_t variant;     /* 1: the branch's rs1 from the third op's result, 2: its rs2 */
    uint16_t handler;
} quads[] = {
#define QH_MAP(n1, k1, n2, k2, n3, k3, n4, K, v, w) \
    { H_F##v##_##n1##_##k2##_##n2, RV_OP_##n3, RV_OP_##n4, TRIPLE_LOOP_##K, w, H_Q##v##w##_##n1##_##n2##_##n3##_##K##_##n4 },
    FUSE_QUAD(QH_MAP)
#undef QH_MAP
};
static const uint8_t acc_writer[RV_OP_COUNT] = {
#define W_MAP(name) [RV_OP_##name] = 1,
    ACC_WRITER_OPS(W_MAP)
#undef W_MAP
};

/* A slot's operands, rv_insn's first eight bytes (rd, rs1, rs2, rs3, imm),
 * as one host load.  A handler needs three or four of them; read one byte
 * at a time, they made simple handlers wait on the host's load ports,
 * which also serve every guest register, the TLB entry and the next
 * handler's address (Zen 3 does three loads a cycle).  One load and a few
 * shifts, which go to the ALUs instead, is what this does.  The empty asm
 * keeps GCC from turning the shifts back into byte loads. */
static inline uint64_t operand_word(const rv_slot *s)
{
    uint64_t w;
    memcpy(&w, &s->in, sizeof w);
#if defined(__GNUC__)
    __asm__("" : "+r"(w));
#endif
    return w;
}
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define OPERAND_rd(S) ((unsigned)operand_word(S) & 0xff)
#define OPERAND_rs1(S) ((unsigned)(operand_word(S) >> 8) & 0xff)
#define OPERAND_rs2(S) ((unsigned)(operand_word(S) >> 16) & 0xff)
#define OPERAND_imm(S) ((int64_t)operand_word(S) >> 32)
#else
#define OPERAND_rd(S) ((S)->in.rd)
#define OPERAND_rs1(S) ((S)->in.rs1)
#define OPERAND_rs2(S) ((S)->in.rs2)
#define OPERAND_imm(S) ((int64_t)(S)->in.imm)
#endif

typedef struct rv_interp {
    uint8_t *arena;
    size_t used;
    rv_block *hash[1u << HASH_BITS];
    /* Untranslated fetch, translated (rv_block.jc).  Empty entries hold
     * no_block, never NULL, so that JUMP_TO needs no null check. */
    rv_block *jcache[2][1u << JCACHE_BITS];
    /* System mode: blocks are keyed by virtual PC, so they belong to one
     * address space (satp); and a bit per hashed virtual page holding
     * blocks, so that SFENCE.VMA of a data page keeps them. */
    uint64_t owner_satp;
    uint64_t vpage_bits[64];
    uint64_t sfences;                 /* SFENCE.VMAs executed (read by the JIT) */
    uint64_t sfence_va;               /* the last one's address, or all pages */
    bool sfence_all;
    _Alignas(16) uint8_t scratch[sizeof(rv_block) + (3 * BLOCK_MAX_INSNS + 2) * sizeof(rv_slot)];
} rv_interp;

/* A successor that matches no pc (pcs are even). */
static const rv_block no_block = { .pc = 1, .gate = GATE_CLOSED };

static unsigned hash_pc(uint64_t pc) { return (unsigned)((pc >> 1) ^ (pc >> 15)) & ((1u << HASH_BITS) - 1); }
static unsigned jcache_pc(uint64_t pc) { return (unsigned)(pc >> 1) & ((1u << JCACHE_BITS) - 1); }

static void jcache_clear(rv_interp *st)
{
    for (size_t i = 0; i < 2; i++)
        for (size_t k = 0; k < (1u << JCACHE_BITS); k++)
            st->jcache[i][k] = (rv_block *)&no_block;
}

static void *interp_create(vm_machine *m)
{
    rv_interp *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->arena = mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (st->arena == MAP_FAILED) {
        free(st);
        return NULL;
    }
    jcache_clear(st);
    return st;
}

static void interp_destroy(vm_machine *m, void *state)
{
    rv_interp *st = state;
    if (!st)
        return;
    munmap(st->arena, ARENA_SIZE);
    free(st);
}

/* Drops every block.  Precise per-page invalidation is not worth its
 * bookkeeping for an interpreter: decoding is cheap and invalidation rare.
 * The arena is only rewound, never unmapped, so a block that is executing
 * when its code is invalidated stays readable until it exits. */
static void interp_flush(rv_interp *st)
{
    st->used = 0;
    memset(st->hash, 0, sizeof st->hash);
    jcache_clear(st);
    memset(st->vpage_bits, 0, sizeof st->vpage_bits);
}

static unsigned vpage_bit(uint64_t va) { return (unsigned)(va >> VM_PAGE_SHIFT) & 4095; }

/* System mode, at engine entry: interrupts, WFI sleep, and dropping blocks
 * decoded under another address space.  Returns true if the cpu is idle. */
static bool system_enter(rv_interp *st, rv_cpu *c, bool fresh)
{
    if (rv_irq_enter(c))
        return true;
    if (fresh && c->common.machine->ncpus > 1)
        c->reservation = ~0ull;   /* another hart ran since: SC may fail, as allowed */
    if (unlikely(c->satp != st->owner_satp)) {
        interp_flush(st);
        st->owner_satp = c->satp;
    }
    return false;
}

/* SFENCE.VMA: vaddr 0 with rs1 = x0 means every page. */
static void system_sfence(rv_interp *st, rv_cpu *c, bool all, uint64_t va)
{
    vm_tlb_flush_cpu(&c->common);   /* also drops every piece of a superpage */
    rv_tlb_sync(c);                   /* the emptied live TLB is the current context's */
    st->sfences++;                    /* tells the JIT to drop its blocks */
    st->sfence_all = all;
    st->sfence_va = va;
    unsigned b = vpage_bit(va);
    if (all || ((st->vpage_bits[b / 64] >> (b % 64)) & 1))
        interp_flush(st);
}

static void interp_invalidate(vm_machine *m, uint64_t begin, uint64_t end)
{
    if (m->engine_state && m->engine && m->engine->invalidate == interp_invalidate)
        interp_flush(m->engine_state);
}

static bool ends_block(unsigned op)
{
    switch (op) {
    case RV_OP_JAL: case RV_OP_JALR: case RV_OP_BEQ: case RV_OP_BNE: case RV_OP_BLT:
    case RV_OP_BGE: case RV_OP_BLTU: case RV_OP_BGEU: case RV_OP_ECALL: case RV_OP_EBREAK:
    case RV_OP_FENCE_I: case RV_OP_CSRRW: case RV_OP_CSRRS: case RV_OP_CSRRC:
    case RV_OP_CSRRWI: case RV_OP_CSRRSI: case RV_OP_CSRRCI: case RV_OP_MRET: case RV_OP_SRET:
    case RV_OP_WFI: case RV_OP_SFENCE_VMA: case RV_OP_ILLEGAL:
        return true;
    default:
        return false;
    }
}

static bool is_fp_compute(unsigned op)
{
    return op >= RV_OP_FMADD_S && op <= RV_OP_FMV_D_X;
}

/* Ops whose rd is a floating-point register (so x0 remapping must not apply). */
static bool rd_is_fp(unsigned op)
{
    switch (op) {
    case RV_OP_FLW: case RV_OP_FLD:
        return true;
    default:
        return is_fp_compute(op);     /* rv_fp_exec handles rd itself */
    }
}

/* Fetches the instruction bits at pc.  Returns 0 or a memory error. */
static int fetch_bits(vm_cpu *vc, const uint8_t *page, uint64_t pc, uint32_t *bits)
{
    unsigned off = (unsigned)(pc & ~VM_PAGE_MASK);
    if (off <= VM_PAGE_SIZE - 4) {
        memcpy(bits, page + off, 4);
        return 0;
    }
    uint16_t half;
    memcpy(&half, page + off, 2);
    if ((half & 3) != 3) {
        *bits = half;
        return 0;
    }
    return vm_mem_fetch(vc, pc, 4, bits);   /* a 32-bit instruction straddling two pages */
}

/* Tracing.  A trace of pcs and instruction words only (the common, fast
 * case) records a whole block when the block is entered (BLK_TRACED), from
 * arrays stored after its slots, and takes back the instructions that did
 * not start when the block is left early (TRACE_UNWIND).  Other traces
 * (memory, registers, ranges that cut a block, several traces) get a
 * PSEUDO_TRACE slot before each instruction. */
static void put_trace_arrays(rv_block *b, rv_slot *end)
{
    uint64_t *pcs = (uint64_t *)end;
    uint32_t *raws = (uint32_t *)(pcs + b->ninsns);
    unsigned k = 0;
    for (rv_slot *s = b->slots; s < end; s++)
        if (s->is_insn)
            pcs[k] = b->pc + s->pc_off, raws[k++] = s->in.raw;
    b->flags |= BLK_TRACED;
    b->bytes += b->ninsns * 12;
}

static rv_block *translate_as(vm_cpu *vc, uint64_t pc, unsigned max, void *mem,
                              const void *const *labels, int *err, bool per_insn);

/* The fused handler for first and in, run one after the other (0: none);
 * loop: in is a branch back to its block's start. */
static unsigned fused_for(const rv_insn *first, const rv_insn *in, bool loop)
{
    const uint16_t *v = fused_handler[fuse1_index[first->op]]
                                     [loop ? fuse2_loop_index[in->op] : fuse2_index[in->op]];
    if (!acc_writer[first->op])
        return v[0];
    if (in->rs1 == first->rd && a1_handler[in->op] && v[1])
        return v[1];
    if (in->rs2 == first->rd && a2_handler[in->op] && v[2])
        return v[2];
    return v[0];
}

/* The triple handler for the fused pair pair_h (whose second instruction
 * is second) followed by the branch in (0: none). */
static unsigned triple_for(unsigned pair_h, const rv_insn *second, const rv_insn *in, bool loop)
{
    unsigned variant = 0;
    if (acc_writer[second->op])
        variant = in->rs1 == second->rd ? 1 : in->rs2 == second->rd ? 2 : 0;
    for (size_t i = 0; i < sizeof triples / sizeof triples[0]; i++)
        if (triples[i].pair == pair_h && triples[i].branch == in->op && triples[i].loop == loop &&
            triples[i].variant == variant)
            return triples[i].handler;
    return 0;
}

/* The quad handler for the fused pair pair_h followed by the pair of
 * third and the branch in (0: none). */
static unsigned quad_for(unsigned pair_h, const rv_insn *third, const rv_insn *in, bool loop)
{
    unsigned variant = in->rs1 == third->rd ? 1 : in->rs2 == third->rd ? 2 : 0;
    for (size_t i = 0; i < sizeof quads / sizeof quads[0]; i++)
        if (quads[i].pair == pair_h && quads[i].third == third->op && quads[i].branch == in->op &&
            quads[i].loop == loop && quads[i].variant == variant)
            return quads[i].handler;
    return 0;
}

/* The handler for in when prev is the instruction run right before it:
 * a variant reading prev's result from acc if in reads prev's rd. */
static unsigned acc_variant(const rv_insn *prev, const rv_insn *in, unsigned h)
{
    if (!acc_writer[prev->op])
        return h;
    if (in->rs1 == prev->rd && a1_handler[in->op])
        return a1_handler[in->op];
    if (in->rs2 == prev->rd && a2_handler[in->op])
        return a2_handler[in->op];
    return h;
}

/* Decodes a block at pc into mem (room for 3 * max + 2 slots). */
static rv_block *translate(vm_cpu *vc, uint64_t pc, unsigned max, void *mem,
                           const void *const *labels, int *err)
{
    return translate_as(vc, pc, max, mem, labels, err, false);
}

static rv_block *translate_as(vm_cpu *vc, uint64_t pc, unsigned max, void *mem,
                              const void *const *labels, int *err, bool per_insn)
{
    vm_machine *m = vc->machine;
    uint8_t *page = vm_mem_fetch_page(vc, pc, err);
    if (!page)
        return NULL;
    rv_block *b = mem;
    *b = (rv_block){ .pc = pc, .next = { &no_block, &no_block }, .far = { &no_block, &no_block } };
    rv_slot *s = b->slots;
    bool code_hooks = vm_hooks_any(m, VM_HOOK_CODE) || vm_hooks_any(m, VM_HOOK_MEM_FETCH);
    bool bps = m->nbps || m->has_until;
    if (bps && vm_bp_at(m, pc))
        b->flags |= BLK_BREAKPOINT;
    if (vm_hooks_any(m, VM_HOOK_BLOCK) && vm_hooks_cover(m, VM_HOOK_BLOCK, pc, pc + 1))
        *s++ = (rv_slot){ .handler = labels[PSEUDO_HOOK_BLOCK] };
    bool tracing = vm_trace_active(m);
    rv_slot *cov_slot = NULL;
    if (tracing && vm_cov_wants_block(m, pc))
        *(cov_slot = s++) = (rv_slot){ .handler = labels[PSEUDO_COV] };
    bool bulk = tracing && !per_insn && vm_trace_bulk_ok(m);
    /* Loop handlers re-enter their block directly, past the checks of
     * breakpoints and trace recording at block entry. */
    bool loops = !tracing && !(b->flags & BLK_BREAKPOINT);
    rv_slot *pair_first = NULL;      /* an unpaired FUSE_FIRST instruction's slot */
    rv_slot *pair_at = NULL;         /* the last fused pair's first slot */
    unsigned pair_h = 0;             /* and its handler */
    uint64_t a = pc;
    unsigned n = 0;
    while (n < max) {
        if (n && bps && vm_bp_at(m, a))
            break;
        uint32_t bits;
        int e = fetch_bits(vc, page, a, &bits);
        if (e) {
            if (n)
                break;          /* fault when execution gets there */
            *err = e;
            return NULL;
        }
        rv_insn in;
        unsigned len = (unsigned)rv_decode(bits, &in);
        uint16_t off = (uint16_t)(a - pc);
        if (code_hooks && (vm_hooks_cover(m, VM_HOOK_CODE, a, a + len) ||
                           vm_hooks_cover(m, VM_HOOK_MEM_FETCH, a, a + len)))
            *s++ = (rv_slot){ .handler = labels[PSEUDO_HOOK_CODE], .in = in, .pc_off = off, .idx = (uint16_t)n };
        if (tracing && !bulk && vm_trace_wants_insn(m, a, len))
            *s++ = (rv_slot){ .handler = labels[PSEUDO_TRACE], .in = in, .pc_off = off, .idx = (uint16_t)n };
        if (in.rd == 0 && !rd_is_fp(in.op))
            in.rd = 32;
        unsigned h = is_fp_compute(in.op) ? PSEUDO_FP : in.op;
        if (s > b->slots && s[-1].is_insn)    /* the slot before ran just before this one */
            h = acc_variant(&s[-1].in, &in, h);
        bool loop = loop_handler[h] && a + (uint64_t)(int64_t)in.imm == pc && loops;
        if (loop)
            h = loop_handler[h];
        /* Pairs: fuse with the instruction just before if the two have a
         * FUSE handler; an instruction is in one pair at most. */
        rv_slot *first = pair_first;
        pair_first = NULL;
        unsigned f = first == s - 1 ? fused_for(&first->in, &in, loop) : 0;
        if (f) {
            unsigned q = pair_at && first - pair_at == 2 && loop_handler[in.op]
                       ? quad_for(pair_h, &first->in, &in, loop) : 0;
            first->handler = labels[f];
            if (q)
                pair_at->handler = labels[q];
            pair_at = first;
            pair_h = f;
        } else if (fuse1_index[in.op]) {
            pair_first = s;
        } else if (pair_at && pair_at == s - 2 && loop_handler[in.op]) {   /* a conditional branch (pair_at first: s - 2 may lie before the slots) */
            unsigned t = triple_for(pair_h, &s[-1].in, &in, loop);
            if (t)
                pair_at->handler = labels[t];
        }
        *s++ = (rv_slot){ .handler = labels[h], .in = in, .pc_off = off, .idx = (uint16_t)n, .is_insn = 1,
                          .tlb_off = (uint32_t)offsetof(vm_cpu, tlb) };
        n++;
        a += len;
        if (ends_block(in.op) || !(a & ~VM_PAGE_MASK) || (a & VM_PAGE_MASK) != (pc & VM_PAGE_MASK))
            break;
    }
    *s++ = (rv_slot){ .handler = labels[PSEUDO_END], .pc_off = (uint16_t)(a - pc), .idx = (uint16_t)n };
    b->ninsns = n;
    b->size = (uint32_t)(a - pc);
    if (cov_slot)
        cov_slot->in.imm = (int32_t)b->size;   /* the block's size, for coverage */
    b->nslots = (uint32_t)(s - b->slots);
    b->bytes = (uint32_t)(sizeof(rv_block) + b->nslots * sizeof(rv_slot));
    if (bulk) {
        int cover = vm_trace_bulk_covers(m, pc, a);
        if (cover < 0)          /* the range cuts this block: per-instruction slots */
            return translate_as(vc, pc, max, mem, labels, err, true);
        if (cover > 0)
            put_trace_arrays(b, s);
    }
    b->gate = b->flags & (BLK_BREAKPOINT | BLK_TRACED) ? GATE_CLOSED : b->ninsns;
    return b;
}

/* May cached blocks of pc's page run?  Permission to execute depends on
 * privilege, page tables and PMP; all of these flush the TLB when they
 * change, so a valid exec tag means the last check still holds.  Branches
 * within the running block's page skip the check: only traps, xRET,
 * SFENCE.VMA and satp/PMP writes change that page's permission, and those
 * all leave through next_block, which checks. */
static inline bool exec_ok(const vm_tlb_entry *tlb, unsigned mask, uint64_t pc)
{
    return vm_tlb_entry_for((vm_tlb_entry *)tlb, mask, pc)->tag_x == (pc & VM_PAGE_MASK);
}

/* The jump cache half of the cpu's current fetch regime. */
static rv_block **regime_jcache(rv_interp *st, vm_cpu *vc)
{
    return st->jcache[vc->machine->system_mode && rv_code_key(rv_cpu_of(vc)) != 0];
}

static rv_block *lookup(rv_interp *st, vm_cpu *vc, uint64_t pc, const void *const *labels, int *err)
{
    rv_block **jc = regime_jcache(st, vc);
    for (rv_block *b = st->hash[hash_pc(pc)]; b; b = b->hash_next)
        if (b->pc == pc && b->jc == jc) {
            if (!exec_ok(vc->tlb, vc->tlb_mask, pc) && !vm_mem_fetch_page(vc, pc, err))
                return NULL;           /* no longer executable here: fault */
            return jc[jcache_pc(pc)] = b;
        }
    size_t need = sizeof(rv_block) + (3 * BLOCK_MAX_INSNS + 2) * sizeof(rv_slot);
    if (st->used + need > ARENA_SIZE)
        interp_flush(st);
    rv_block *b = translate(vc, pc, BLOCK_MAX_INSNS, st->arena + st->used, labels, err);
    if (!b)
        return NULL;
    b->jc = jc;
    st->used += (b->bytes + 15) & ~(size_t)15;
    unsigned vb = vpage_bit(pc);
    st->vpage_bits[vb / 64] |= 1ull << (vb % 64);
    vb = vpage_bit(pc + b->size - 1);
    st->vpage_bits[vb / 64] |= 1ull << (vb % 64);
    b->hash_next = st->hash[hash_pc(pc)];
    st->hash[hash_pc(pc)] = b;
    return jc[jcache_pc(pc)] = b;
}

static unsigned fault_cause(int err, int access)
{
    if (err == VM_EPAGE)
        return access == VM_PROT_X ? RV_EXC_INSN_PAGE : access == VM_PROT_R ? RV_EXC_LOAD_PAGE : RV_EXC_STORE_PAGE;
    return access == VM_PROT_X ? RV_EXC_INSN_ACCESS : access == VM_PROT_R ? RV_EXC_LOAD_ACCESS : RV_EXC_STORE_ACCESS;
}

static inline int64_t div64(int64_t a, int64_t b)
{
    if (b == 0) return -1;
    if (a == INT64_MIN && b == -1) return a;
    return a / b;
}
static inline int64_t rem64(int64_t a, int64_t b)
{
    if (b == 0) return a;
    if (a == INT64_MIN && b == -1) return 0;
    return a % b;
}
static inline uint64_t mulhu64(uint64_t a, uint64_t b) { return (uint64_t)(((unsigned __int128)a * b) >> 64); }
static inline uint64_t mulh64(int64_t a, int64_t b) { return (uint64_t)(((__int128)a * b) >> 64); }
static inline uint64_t mulhsu64(int64_t a, uint64_t b) { return (uint64_t)(((__int128)a * (unsigned __int128)b) >> 64); }
static inline uint64_t sext32(uint64_t v) { return (uint64_t)(int64_t)(int32_t)v; }
static inline uint64_t rol64(uint64_t v, unsigned s) { s &= 63; return s ? (v << s) | (v >> (64 - s)) : v; }
static inline uint64_t ror64(uint64_t v, unsigned s) { s &= 63; return s ? (v >> s) | (v << (64 - s)) : v; }
static inline uint32_t rol32(uint32_t v, unsigned s) { s &= 31; return s ? (v << s) | (v >> (32 - s)) : v; }
static inline uint32_t ror32(uint32_t v, unsigned s) { s &= 31; return s ? (v >> s) | (v << (32 - s)) : v; }

static inline uint64_t divw(uint64_t x, uint64_t y)
{
    int32_t a = (int32_t)x, d = (int32_t)y;
    return (uint64_t)(int64_t)(d == 0 ? -1 : (a == INT32_MIN && d == -1) ? a : a / d);
}
static inline uint64_t divuw(uint64_t x, uint64_t y)
{
    uint32_t a = (uint32_t)x, d = (uint32_t)y;
    return sext32(d ? a / d : ~0u);
}
static inline uint64_t remw(uint64_t x, uint64_t y)
{
    int32_t a = (int32_t)x, d = (int32_t)y;
    return (uint64_t)(int64_t)(d == 0 ? a : (a == INT32_MIN && d == -1) ? 0 : a % d);
}
static inline uint64_t remuw(uint64_t x, uint64_t y)
{
    uint32_t a = (uint32_t)x, d = (uint32_t)y;
    return sext32(d ? a % d : a);
}

static uint64_t orc_b(uint64_t v)
{
    uint64_t r = 0;
    for (int i = 0; i < 64; i += 8)
        if ((v >> i) & 0xff)
            r |= 0xffull << i;
    return r;
}

/* Integer loads' and stores' access sizes, and the loads that sign-extend
 * (load_slow, store_slow). */
static const uint8_t access_size[RV_OP_COUNT] = {
    [RV_OP_LB] = 1, [RV_OP_LBU] = 1, [RV_OP_SB] = 1, [RV_OP_LH] = 2, [RV_OP_LHU] = 2, [RV_OP_SH] = 2,
    [RV_OP_LW] = 4, [RV_OP_LWU] = 4, [RV_OP_SW] = 4, [RV_OP_LD] = 8, [RV_OP_SD] = 8,
};

static inline uint64_t load_extend(unsigned op, uint64_t v)
{
    switch (op) {
    case RV_OP_LB: return (uint64_t)(int64_t)(int8_t)v;
    case RV_OP_LH: return (uint64_t)(int64_t)(int16_t)v;
    case RV_OP_LW: return sext32(v);
    default: return v;
    }
}

/* A quad that is its block's whole body (a counted store loop: FUSE_QUAD)
 * runs here, pass after pass, for as long as each pass takes the fast path.
 * The handler reloads every operand and register from its slots and x[] on
 * every pass, and the induction variable goes through memory, a
 * store-to-load forwarding delay per pass; here the operands are decoded
 * once, and the two registers the loop writes, the address (the first op's
 * rd) and the induction variable (the third op's), stay in host registers
 * until the loop ends.  This takes the loop's usual shape: the first and
 * third ops each read the induction variable once, and none of the other
 * sources is either written register, so they keep their value throughout
 * (the store's base is the first op's result: that is what variant 1
 * means).  Any other shape runs the usual way.
 *
 * The caller has charged the budget for the pass about to start, as a
 * block entry does.  A pass begins only once its store is known to take
 * the TLB's fast path (STORE_AT's check: a code page, a hook or a
 * watchpoint makes it miss), so a pass runs here whole or not at all. */
typedef struct { uint64_t budget, how; } quad_exit;
enum {
    QUAD_RUN_SLOWLY,   /* the paid pass has not started: run it the usual way */
    QUAD_FELL_OUT,     /* the last pass's branch fell through: leave the block */
    QUAD_UNPAID,       /* the branch was taken, the budget does not cover another pass */
};
/* Which source of an op is the induction variable j (rd2): 1 rs1, 2 rs2,
 * 0 neither or both (not the loop's shape).  An immediate op's rs2 is 0. */
#define QUAD_J_RR(S, rd2) ((OPERAND_rs1(S) == (rd2)) + 2 * (OPERAND_rs2(S) == (rd2)))
#define QUAD_J_RI(S, rd2) (OPERAND_rs1(S) == (rd2) ? 1 : 0)
#define QUAD_INV_RR(S, jpos) (jpos == 1 ? OPERAND_rs2(S) : OPERAND_rs1(S))
#define QUAD_INV_RI(S, jpos) 0u
/* The passes, for j at source position AJ of the first op, CJ of the third
 * (constants, so that each shape compiles to its own straight loop). */
#define QUAD_PASSES(n1, n2, n3, n4, w, AJ, CJ) \
    for (;;) { \
        { uint64_t A = AJ == 1 ? j : a_inv, B = AJ == 1 ? a_inv : j; int64_t I = imm0; \
          (void)B; (void)I; p = E_##n1; } \
        uint64_t a_ = p + (uint64_t)imm1; \
        if ((a_ & (VM_PAGE_MASK | (sizeof(T_##n2) - 1))) != tag) { how = QUAD_RUN_SLOWLY; break; } \
        *(T_##n2 *)(uintptr_t)(a_ + addend) = (T_##n2)val; \
        p_done = p; \
        { uint64_t A = CJ == 1 ? j : c_inv, B = CJ == 1 ? c_inv : j; int64_t I = imm2; \
          (void)B; (void)I; j = E_##n3; } \
        bool taken_; \
        { uint64_t A = w == 2 ? other : j, B = w == 2 ? j : other; taken_ = E_##n4; } \
        if (!taken_) { how = QUAD_FELL_OUT; break; } \
        if (budget < gate) { how = QUAD_UNPAID; break; } \
        budget -= gate; \
    }
#define DEF_QUAD_LOOP(n1, k1, n2, k2, n3, k3, n4, K, v, w) \
static __attribute__((noinline)) quad_exit \
quad_loop_##n1##_##n2##_##n3##_##n4(uint64_t *x, const rv_slot *s, const vm_tlb_entry *e, \
                                    uint64_t budget, uint64_t gate) \
{ \
    _Static_assert(v == 1 && (w == 1 || w == 2), "the store's base is the first op's result, the branch reads the third's"); \
    const unsigned rd0 = OPERAND_rd(s), rd2 = OPERAND_rd(s + 2); \
    const unsigned aj = QUAD_J_##k1(s, rd2), cj = QUAD_J_##k3(s + 2, rd2); \
    const unsigned a_src = QUAD_INV_##k1(s, aj), c_src = QUAD_INV_##k3(s + 2, cj); \
    const unsigned val_src = OPERAND_rs2(s + 1), other_src = w == 2 ? OPERAND_rs1(s + 3) : OPERAND_rs2(s + 3); \
    if (rd0 == rd2 || !aj || aj == 3 || !cj || cj == 3 || \
        a_src == rd0 || a_src == rd2 || c_src == rd0 || c_src == rd2 || \
        val_src == rd0 || val_src == rd2 || other_src == rd0 || other_src == rd2) \
        return (quad_exit){ budget, QUAD_RUN_SLOWLY }; \
    const uint64_t a_inv = x[a_src], c_inv = x[c_src], val = x[val_src], other = x[other_src]; \
    const int64_t imm0 = OPERAND_imm(s), imm1 = OPERAND_imm(s + 1), imm2 = OPERAND_imm(s + 2); \
    const uint64_t tag = e->tag_w, addend = e->addend; \
    uint64_t j = x[rd2], p, p_done = x[rd0], how; \
    (void)imm0; (void)imm2; \
    if (aj == 1 && cj == 1) QUAD_PASSES(n1, n2, n3, n4, w, 1, 1) \
    else if (aj == 1) QUAD_PASSES(n1, n2, n3, n4, w, 1, 2) \
    else if (cj == 1) QUAD_PASSES(n1, n2, n3, n4, w, 2, 1) \
    else QUAD_PASSES(n1, n2, n3, n4, w, 2, 2) \
    x[rd0] = p_done; \
    x[rd2] = j; \
    return (quad_exit){ budget, how }; \
}
FUSE_QUAD(DEF_QUAD_LOOP)

/* Runs the cpu until it must exit.  one_block (the JIT's fallback): run at
 * most one block, with the budget cut to that block's length meanwhile so
 * that no chaining happens; the cut part is returned in *held. */
__attribute__((optimize("no-gcse", "no-crossjumping")))
static void interp_run(vm_cpu *vc, rv_interp *st, bool one_block, uint64_t *held)
{
    static const void *labels[NHANDLERS];
    if (!labels[RV_OP_ILLEGAL]) {
#define RV_LABEL(name, mnem) labels[RV_OP_##name] = &&op_##name;
        RV_OPS(RV_LABEL)
#undef RV_LABEL
        labels[PSEUDO_HOOK_CODE] = &&hook_code;
        labels[PSEUDO_HOOK_BLOCK] = &&hook_block;
        labels[PSEUDO_END] = &&end;
        labels[PSEUDO_FP] = &&fp;
        labels[PSEUDO_TRACE] = &&trace_insn;
        labels[PSEUDO_COV] = &&cov_block;
#define A1_LABEL(name) labels[H_A1_##name] = &&a1_##name;
        A1_OPS(A1_LABEL)
#undef A1_LABEL
#define A2_LABEL(name) labels[H_A2_##name] = &&a2_##name;
        A2_OPS(A2_LABEL)
#undef A2_LABEL
#define F_LABEL(n1, k1, n2, k2, v) labels[H_F##v##_##n1##_##k2##_##n2] = &&f##v##_##n1##_##k2##_##n2;
        FUSED_ALL(F_LABEL)
#undef F_LABEL
#define T_LABEL(n1, k1, n2, k2, n3, K, v, w) \
        labels[H_T##v##w##_##n1##_##n2##_##K##_##n3] = &&t##v##w##_##n1##_##n2##_##K##_##n3;
        TRIPLE_ALL(T_LABEL)
#undef T_LABEL
#define Q_LABEL(n1, k1, n2, k2, n3, k3, n4, K, v, w) \
        labels[H_Q##v##w##_##n1##_##n2##_##n3##_##K##_##n4] = &&q##v##w##_##n1##_##n2##_##n3##_##K##_##n4;
        FUSE_QUAD(Q_LABEL)
#undef Q_LABEL
#define LP_LABEL(name) labels[H_LP_##name] = &&lp_##name; labels[H_LPA1_##name] = &&lpa1_##name; \
                          labels[H_LPA2_##name] = &&lpa2_##name;
        BRANCH_OPS(LP_LABEL)
#undef LP_LABEL
    }
    rv_cpu *c = rv_cpu_of(vc);
    vm_machine *m = vc->machine;
    bool ran = false;
    rv_block *b;
    const rv_slot *s;
    unsigned jdir = 0;                /* for chain_slow */
    uint64_t cause = 0, tval = 0;
    /* The last ACC_WRITER_OPS result.  Not pinned to a host register: with
     * operand_word's temporaries a pin made GCC spill the cpu pointer in
     * every handler (docs/ARCHITECTURE.md, "Interpreter fast paths"). */
    uint64_t acc = 0;
    /* The budget left after the running block b: a block is charged when it
     * is entered, and the count stays in this register from block to block.
     * vc->budget is the budget at b's start (what the slow paths count
     * from, and what the run's callers read) only after SYNC_BUDGET(), which
     * every path leaving the handlers runs first; budget is reloaded from
     * it wherever anything else may have changed vc->budget. */
    uint64_t budget = 0;
    int merr = 0, maccess = 0;
    uint64_t maddr = 0, mval = 0;     /* for load_slow and store_slow */
    if (m->system_mode && system_enter(st, c, !one_block))
        return;

#define NEXT goto *(++s)->handler
#define RD c->x[OPERAND_rd(s)]
#define RS1 c->x[OPERAND_rs1(s)]
#define RS2 c->x[OPERAND_rs2(s)]
#define IMM OPERAND_imm(s)
#define PC (b->pc + s->pc_off)
#define LEN (s->in.len)
/* Control transfer at a block end.  The common case — successor known,
 * budget left — dispatches right here, so that every branch handler has its
 * own indirect jump for the host's predictor (hence no-crossjumping below);
 * anything else goes to chain_slow (c->pc set, jdir says which successor
 * link applies), which finds the block, links it and enters it, or takes
 * the full path through next_block.  A block's gate (see rv_block) folds
 * "budget covers it", "no breakpoint or trace" and "is a real block" into
 * one subtraction.
 *
 * Stop requests are not checked here.  The run loop gives the interpreter
 * at most SLICE instructions at a time (machine.c), which bounds how long a
 * request from another thread (stop(), a timeout, a device interrupt)
 * waits; and whatever this thread does that may raise one — a hook, a
 * syscall, an MMIO or slow-path access, a CSR write, a trap — leaves
 * through a path that checks it (exit_after, next_block).  Skipping the
 * check saves a load and a branch at every block end. */
#define EXIT_REQUESTED() atomic_load_explicit(&vc->exit_request, memory_order_relaxed)
#define SYNC_BUDGET() (vc->budget = budget + b->ninsns)
/* jdir: 0 and 1 are the successor links (next, far), 2 the jump cache.
 * The fast paths charge the budget before they check it; CHARGED says that
 * chain_slow must give the charge back (the gate is read again from the
 * link, or from b for a loop), so that the fast path need not keep the old
 * budget in a second register. */
enum { JDIR_CHARGED = 4, JDIR_LOOP_CHARGED = 2 | JDIR_CHARGED };
/* budget -= gate, true if that went below zero.  On x86-64 one `sub` from
 * memory that sets the sign flag: GCC, left to itself, loads the gate into
 * a register first, an instruction more at every block end. */
#if defined(__GNUC__) && defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
#define OVERDRAWN(gate) __extension__ ({ \
        bool neg_; \
        __asm__("subq %2, %0" : "+r"(budget), "=@ccs"(neg_) : "m"(gate)); \
        neg_; })
#else
#define OVERDRAWN(gate) ((int64_t)(budget -= (gate)) < 0)
#endif
#define CHAIN_SLOW(target, dir) do { c->pc = (target); jdir = (dir); goto chain_slow; } while (0)
/* A conditional branch, JAL or a block's fall-through: the target is
 * static, so the successor link for way dir (set by chain_slow, which links
 * only blocks on the same page: see exec_ok) needs no check but its gate. */
#define JUMP_VIA(target, dir) do { \
        const rv_block *nb_ = b->next[dir]; \
        if (unlikely(OVERDRAWN(nb_->gate))) \
            CHAIN_SLOW(target, dir | JDIR_CHARGED); \
        b = (rv_block *)nb_; \
        s = b->slots; \
        goto *s->handler; \
    } while (0)
/* A computed target: the jump cache, checked. */
#define JUMP_TO(target) do { \
        uint64_t t_ = (target); \
        const rv_block *nb_ = b->jc[jcache_pc(t_)]; \
        if (likely(nb_->pc == t_ && nb_->gate <= budget && \
                   (!((t_ ^ b->pc) & VM_PAGE_MASK) || exec_ok(vc->tlb, vc->tlb_mask, t_)))) { \
            budget -= nb_->gate; \
            b = (rv_block *)nb_; \
            s = b->slots; \
            goto *s->handler; \
        } \
        CHAIN_SLOW(t_, 2); \
    } while (0)

/* A branch taken back to the start of its own block (see loop_handler):
 * the block is known, on this page, with no breakpoint and no trace. */
#define LOOP_AGAIN() do { \
        if (unlikely(OVERDRAWN(b->gate))) \
            CHAIN_SLOW(b->pc, JDIR_LOOP_CHARGED); \
        s = b->slots; \
        goto *s->handler; \
    } while (0)

/* The fast path: a TLB tag compare and one host access. */
#define SET_RD(v) do { acc = (v); RD = acc; } while (0)
/* Integer loads and stores: the fast path is a TLB tag compare and one host
 * access; everything else goes to load_slow/store_slow, shared by all
 * handlers (so that no call sits in a hot handler), which finish the
 * instruction at s and go on with the next slot's own handler.
 *
 * The TLB entry checked is the one the slot's last access used (tlb_off),
 * not one computed from the address: a valid entry only ever sits at its
 * page's index (entries are filled there, and banks are swapped in whole),
 * so a tag that matches the address proves it is the right entry, as the
 * usual lookup would; that saves the index arithmetic.  tlb_off always holds
 * the offset of one of the entries (the first, until the slot's first
 * access), and it indexes this cpu's TLB (blocks are shared by the harts of
 * a machine; the TLBs are not).  The entry's tag and addend
 * depend on the slot only, not on the guest address, so they load early
 * (the dispatch runs ahead of the data): the access waits for the guest
 * address alone, and the tag check is a predicted branch. */
#define TLB_AT(off) ((const vm_tlb_entry *)((const char *)vc + (off)))
/* S is the instruction's slot: s, or s + 1 for a fused pair's second
 * half, whose slow paths (load_slow_2nd, store_slow_2nd) step s first, so
 * that the fast path need not keep s + 1 in a register. */
#define LOAD_AT(S, SLOW, T, dst, base) do { \
        uint64_t a_ = (base) + OPERAND_imm(S); \
        const vm_tlb_entry *e_ = TLB_AT((S)->tlb_off); \
        if (unlikely(e_->tag_r != (a_ & (VM_PAGE_MASK | (sizeof(T) - 1))))) { \
            maddr = a_; \
            goto SLOW; \
        } \
        dst = *(const T *)(uintptr_t)(a_ + e_->addend); \
    } while (0)
#define STORE_AT(S, SLOW, T, base, val) do { \
        uint64_t a_ = (base) + OPERAND_imm(S); \
        const vm_tlb_entry *e_ = TLB_AT((S)->tlb_off); \
        if (unlikely(e_->tag_w != (a_ & (VM_PAGE_MASK | (sizeof(T) - 1))))) { \
            maddr = a_; \
            mval = (uint64_t)(T)(val); \
            goto SLOW; \
        } \
        *(T *)(uintptr_t)(a_ + e_->addend) = (T)(val); \
    } while (0)
/* F/D loads and stores keep their slow paths inline. */
#define LOAD(T, dst) do { \
        uint64_t a_ = RS1 + IMM; \
        vm_tlb_entry *e_ = vm_tlb_entry_for(vc->tlb, vc->tlb_mask, a_); \
        if (likely(e_->tag_r == (a_ & (VM_PAGE_MASK | (sizeof(T) - 1))))) { \
            dst = *(const T *)(uintptr_t)(a_ + e_->addend); \
        } else { \
            uint64_t v_; \
            SYNC_BUDGET(); \
            merr = vm_mem_load_slow(vc, a_, sizeof(T), &v_); \
            if (merr) { maccess = VM_PROT_R; tval = a_; goto mem_error; } \
            dst = (T)v_; \
            if (atomic_load_explicit(&vc->exit_request, memory_order_relaxed)) goto exit_after; \
        } \
    } while (0)
#define STORE(T, val) do { \
        uint64_t a_ = RS1 + IMM; \
        vm_tlb_entry *e_ = vm_tlb_entry_for(vc->tlb, vc->tlb_mask, a_); \
        if (likely(e_->tag_w == (a_ & (VM_PAGE_MASK | (sizeof(T) - 1))))) { \
            *(T *)(uintptr_t)(a_ + e_->addend) = (T)(val); \
        } else { \
            SYNC_BUDGET(); \
            merr = vm_mem_store_slow(vc, a_, sizeof(T), (uint64_t)(T)(val)); \
            if (merr) { maccess = VM_PROT_W; tval = a_; goto mem_error; } \
            if (atomic_load_explicit(&vc->exit_request, memory_order_relaxed)) goto exit_after; \
        } \
    } while (0)

/* Leaving a block that was recorded up front after `started` instructions
 * began: the rest did not run. */
#define TRACE_UNWIND(started) do { \
        if (unlikely(b->flags & BLK_TRACED)) vm_trace_unwind(vc, b->ninsns - (started)); \
    } while (0)
/* Entering a BLK_TRACED block b: records it, or returns (c->pc is its start)
 * if a buffer is full. */
#define TRACE_BLOCK() do { \
        const uint64_t *pcs_ = (const uint64_t *)&b->slots[b->nslots]; \
        if (unlikely(!vm_trace_block_fast(vc, pcs_, (const uint32_t *)(pcs_ + b->ninsns), b->ninsns))) \
            return; \
    } while (0)

next_block:
    if (unlikely(atomic_load_explicit(&vc->exit_request, memory_order_relaxed)))
        return;
    if (unlikely(one_block)) {
        if (ran)
            return;
        ran = true;
    }
    {
        uint64_t pc = c->pc;
        b = regime_jcache(st, vc)[jcache_pc(pc)];
        if (unlikely(!b || b->pc != pc || !exec_ok(vc->tlb, vc->tlb_mask, pc))) {
            int err = 0;
            b = lookup(st, vc, pc, labels, &err);
            if (!b) {
                if (err == VM_ESTOPPED)
                    return;
                cause = fault_cause(err, VM_PROT_X);
                tval = vc->fault.addr;
                goto trap_at_pc;
            }
        }
        if (unlikely(b->ninsns > vc->budget)) {
            /* Exact counts: the last stretch of a budget runs a shortened,
             * uncached copy of the block. */
            if (vc->budget == 0)
                return;
            int err = 0;
            b = translate(vc, pc, (unsigned)vc->budget, st->scratch, labels, &err);
            if (!b)
                return;
            b->jc = regime_jcache(st, vc);
        }
        if (unlikely(b->flags & BLK_BREAKPOINT)) {
            if (!(vc->skip_bp && vc->skip_bp_pc == pc)) {
                vm_cpu_request_exit(vc, m->has_until && m->until == pc ? VM_STOP_UNTIL : VM_STOP_BREAKPOINT);
                return;
            }
            vc->skip_bp = false;
        }
        if (unlikely(b->flags & BLK_TRACED))
            TRACE_BLOCK();
        if (unlikely(one_block) && vc->budget > b->ninsns) {
            *held = vc->budget - b->ninsns;
            vc->budget -= *held;
            vc->budget_start -= *held;     /* keeps vm_cpu_retired() exact */
        }
        budget = vc->budget - b->ninsns;
        s = b->slots;
        goto *s->handler;
    }

/* A block ended (JUMP_VIA, JUMP_TO, LOOP_AGAIN) and its fast path did not
 * chain: c->pc is the target and budget what is left after the block (from
 * here on also in vc->budget, as next_block expects).  Enters a linked block
 * on another page first (far), else finds the target block (successor link
 * jdir < 2, else the jump cache), links it (next or far) and enters it if
 * nothing needs the full path; a chained block with a trace is recorded and
 * entered right here, so that a trace does not send every block through
 * next_block. */
chain_slow: {
        uint64_t t = c->pc;
        if (jdir & JDIR_CHARGED) {
            jdir &= ~(unsigned)JDIR_CHARGED;
            budget += jdir < 2 ? b->next[jdir]->gate : b->gate;
        }
        const rv_block *nb = jdir < 2 ? b->far[jdir] : &no_block;
        if (likely(nb->pc == t && nb->gate <= budget && exec_ok(vc->tlb, vc->tlb_mask, t))) {
            budget -= nb->gate;
            b = (rv_block *)nb;      /* the common case here: a linked block on another page */
            s = b->slots;
            goto *s->handler;
        }
        vc->budget = budget;         /* b is done: this is the next block's start */
        nb = jdir < 2 ? b->next[jdir] : &no_block;
        if (nb->pc != t) {
            nb = b->jc[jcache_pc(t)];
            if (!nb || nb->pc != t)
                goto next_block;
            if (jdir < 2) {
                if (!((t ^ b->pc) & VM_PAGE_MASK))
                    b->next[jdir] = nb;
                else
                    b->far[jdir] = nb;
            }
        }
        if (nb->ninsns <= budget && !(nb->flags & BLK_BREAKPOINT) &&
            (!((t ^ b->pc) & VM_PAGE_MASK) || exec_ok(vc->tlb, vc->tlb_mask, t)) && !EXIT_REQUESTED()) {
            b = (rv_block *)nb;
            if (b->flags & BLK_TRACED)
                TRACE_BLOCK();
            budget -= b->ninsns;
            s = b->slots;
            goto *s->handler;
        }
        goto next_block;
    }

end:
    JUMP_VIA(b->pc + b->size, 1);

    /* ---- call-outs -------------------------------------------------------- */
hook_code: {
        uint64_t pc = PC;
        c->pc = pc;
        SYNC_BUDGET();
        vc->budget -= s->idx;        /* so that hooks see the exact count */
        int r = VM_HOOK_CONTINUE;
        if (vm_hooks_any(m, VM_HOOK_MEM_FETCH))
            r = vm_hooks_call(vc, VM_HOOK_MEM_FETCH, pc, LEN, s->in.raw);
        if (r >= 0 && vm_hooks_any(m, VM_HOOK_CODE))
            r = vm_hooks_call(vc, VM_HOOK_CODE, pc, LEN, 0);
        if (unlikely(r < 0 || c->pc != pc || atomic_load_explicit(&vc->exit_request, memory_order_relaxed))) {
            TRACE_UNWIND(s->idx);
            return;      /* stopped, redirected, or hooks changed: this instruction has not run */
        }
        vc->budget += s->idx;
        budget = vc->budget - b->ninsns;
        NEXT;
    }
hook_block: {
        c->pc = b->pc;
        SYNC_BUDGET();
        int r = vm_hooks_call(vc, VM_HOOK_BLOCK, b->pc, b->size, 0);
        if (unlikely(r < 0 || c->pc != b->pc || atomic_load_explicit(&vc->exit_request, memory_order_relaxed))) {
            TRACE_UNWIND(0);
            return;
        }
        budget = vc->budget - b->ninsns;
        NEXT;
    }

    /* ---- recording (trace.h): no Python, no hook list walk ---------------- */
trace_insn:
        SYNC_BUDGET();
        if (unlikely(!vm_trace_insn(vc, PC, s->in.raw, rd_is_fp(s->in.op) ? 0 : s->in.rd))) {
            c->pc = PC;                  /* a buffer is full: stop before the instruction */
            vc->budget -= s->idx;
            return;
        }
        NEXT;
cov_block:
        SYNC_BUDGET();
        vm_cov_block(vc, b->pc, (uint32_t)s->in.imm);
        NEXT;

    /* ---- integer load/store slow paths (LOAD_AT, STORE_AT) ------------------ */
load_slow: {
        /* The slot's entry was another page's, or the TLB misses.  The
         * first is common (a load that walks memory), so it stays short:
         * no budget sync, size and sign from tables. */
        unsigned op = s->in.op;
        unsigned size = access_size[op];
        vm_tlb_entry *e = vm_tlb_entry_for(vc->tlb, vc->tlb_mask, maddr);
        ((rv_slot *)s)->tlb_off = (uint32_t)((char *)e - (char *)vc);   /* where the page's entry is */
        if (likely(e->tag_r == (maddr & (VM_PAGE_MASK | (size - 1))))) {
            SET_RD(load_extend(op, vm_host_load((const void *)(uintptr_t)(maddr + e->addend), size)));
            NEXT;
        }
        SYNC_BUDGET();
        uint64_t got = 0;
        merr = vm_mem_load_slow(vc, maddr, size, &got);
        if (merr) { maccess = VM_PROT_R; tval = maddr; goto mem_error; }
        SET_RD(load_extend(op, got));
        if (atomic_load_explicit(&vc->exit_request, memory_order_relaxed))
            goto exit_after;
        NEXT;
    }
load_slow_2nd:   /* a fused pair's second half */
    s++;
    goto load_slow;
store_slow_2nd:
    s++;
    goto store_slow;
store_slow: {
        unsigned size = access_size[s->in.op];
        vm_tlb_entry *e = vm_tlb_entry_for(vc->tlb, vc->tlb_mask, maddr);
        ((rv_slot *)s)->tlb_off = (uint32_t)((char *)e - (char *)vc);   /* where the page's entry is */
        if (likely(e->tag_w == (maddr & (VM_PAGE_MASK | (size - 1))))) {
            vm_host_store((void *)(uintptr_t)(maddr + e->addend), size, mval);
            NEXT;
        }
        SYNC_BUDGET();
        merr = vm_mem_store_slow(vc, maddr, size, mval);
        if (merr) { maccess = VM_PROT_W; tval = maddr; goto mem_error; }
        if (atomic_load_explicit(&vc->exit_request, memory_order_relaxed))
            goto exit_after;
        NEXT;
    }

    /* ---- leaving a block in the middle -------------------------------------- */
exit_after:      /* the instruction completed, but the cpu must leave now */
    SYNC_BUDGET();
    TRACE_UNWIND(s->idx + 1u);
    c->pc = PC + LEN;
    vc->budget -= s->idx + 1u;
    return;

mem_error:
    SYNC_BUDGET();
    if (merr == VM_ESTOPPED) {
        TRACE_UNWIND(s->idx + 1u);   /* like per-instruction slots: a started instruction is recorded */
        c->pc = PC;
        vc->budget -= s->idx;
        return;
    }
    cause = fault_cause(merr, maccess);
    goto exception;

exception:       /* the instruction at s raised cause/tval */
    SYNC_BUDGET();
    TRACE_UNWIND(s->idx + 1u);
    c->pc = PC;
    vc->budget -= s->idx;
    {
        int t = rv_take_trap(c, cause, tval, LEN);
        if (t == RV_TRAP_NEXT)
            vc->budget--;
        goto next_block;
    }

trap_at_pc:      /* a fetch fault before any instruction of the block */
    {
        int t = rv_take_trap(c, cause, tval, 2);
        if (t == RV_TRAP_NEXT && vc->budget)
            vc->budget--;
        goto next_block;
    }

    /* ---- RV64I ---------------------------------------------------------------- */
op_ILLEGAL: cause = RV_EXC_ILLEGAL; tval = s->in.raw; goto exception;
op_LUI: SET_RD((uint64_t)IMM); NEXT;
op_AUIPC: SET_RD(PC + (uint64_t)IMM); NEXT;
op_JAL: { uint64_t link = PC + LEN; uint64_t t = PC + (uint64_t)IMM; RD = link; JUMP_VIA(t, 0); }
op_JALR: { uint64_t t = (RS1 + (uint64_t)IMM) & ~1ull; RD = PC + LEN; JUMP_TO(t); }

    /* Generated handlers: op_X reads its sources from x[], a1_X takes rs1
     * and a2_X rs2 from acc (see ACC_WRITER_OPS).  DO_<kind>(slot, op,
     * rs1 value, rs2 value) executes the instruction in slot (s, or S2 or S3
     * inside a pair or triple; see LOAD_AT) without dispatching. */
#define X_AT(S, r) c->x[OPERAND_##r(S)]
#define DO_RR(S, name, S1, S2) { uint64_t A = (S1), B = (S2); acc = E_##name; X_AT(S, rd) = acc; }
#define DO_RI(S, name, S1, S2) { uint64_t A = (S1); int64_t I = OPERAND_imm(S); (void)I; \
        acc = E_##name; X_AT(S, rd) = acc; }
#define DO_LD(S, name, S1, S2) { T_##name v; LOAD_AT(S, LOAD_SLOW_##S, T_##name, v, S1); \
        acc = (uint64_t)v; X_AT(S, rd) = acc; }
#define DO_ST(S, name, S1, S2) STORE_AT(S, STORE_SLOW_##S, T_##name, S1, S2);
/* (The targets are only computed on chain_slow's path.) */
#define PC_AT(S) (b->pc + (S)->pc_off)
#define DO_BR(S, name, S1, S2) { uint64_t A = (S1), B = (S2); \
        if (E_##name) JUMP_VIA(PC_AT(S) + (uint64_t)OPERAND_imm(S), 0); \
        else JUMP_VIA(PC_AT(S) + (S)->in.len, 1); }
#define DO_LP(S, name, S1, S2) { uint64_t A = (S1), B = (S2); if (E_##name) LOOP_AGAIN(); \
        JUMP_VIA(PC_AT(S) + (S)->in.len, 1); }
#define LOAD_SLOW_s load_slow
#define STORE_SLOW_s store_slow
#define LOAD_SLOW_S2 load_slow_2nd
#define STORE_SLOW_S2 store_slow_2nd
#define S2 (s + 1)
#define DEF_RR(name) \
    op_##name: DO_RR(s, name, RS1, RS2) NEXT; \
    a1_##name: DO_RR(s, name, acc, RS2) NEXT; \
    a2_##name: DO_RR(s, name, RS1, acc) NEXT;
#define DEF_RI(name) \
    op_##name: DO_RI(s, name, RS1, 0) NEXT; \
    a1_##name: DO_RI(s, name, acc, 0) NEXT;
#define DEF_LOAD(name) \
    op_##name: DO_LD(s, name, RS1, 0) NEXT; \
    a1_##name: DO_LD(s, name, acc, 0) NEXT;
#define DEF_STORE(name) \
    op_##name: DO_ST(s, name, RS1, RS2) NEXT; \
    a1_##name: DO_ST(s, name, acc, RS2) NEXT; \
    a2_##name: DO_ST(s, name, RS1, acc) NEXT;
#define DEF_BRANCH(name) \
    op_##name: DO_BR(s, name, RS1, RS2) \
    a1_##name: DO_BR(s, name, acc, RS2) \
    a2_##name: DO_BR(s, name, RS1, acc) \
    lp_##name: DO_LP(s, name, RS1, RS2) \
    lpa1_##name: DO_LP(s, name, acc, RS2) \
    lpa2_##name: DO_LP(s, name, RS1, acc)
    RR_OPS(DEF_RR)
    RI_OPS(DEF_RI)
    LOAD_OPS(DEF_LOAD)
    STORE_OPS(DEF_STORE)
    BRANCH_OPS(DEF_BRANCH)
    /* The sources of the instruction in slot S of a pair, triple or quad,
     * by its variant: 0 both from x[], 1 rs1 from acc, 2 rs2 from acc. */
#define SRC1_0(S) X_AT(S, rs1)
#define SRC2_0(S) X_AT(S, rs2)
#define SRC1_1(S) acc
#define SRC2_1(S) X_AT(S, rs2)
#define SRC1_2(S) X_AT(S, rs1)
#define SRC2_2(S) acc
    /* Fused pairs (FUSED_ALL): two instructions, one dispatch. */
#define DEF_FUSED(n1, k1, n2, k2, v) \
    f##v##_##n1##_##k2##_##n2: DO_##k1(s, n1, RS1, RS2) DO_##k2(S2, n2, SRC1_##v(S2), SRC2_##v(S2)) \
        s += 2; goto *s->handler;
    FUSED_ALL(DEF_FUSED)
    /* Triples (TRIPLE_ALL): a fused pair and its block's branch. */
#define S3 (s + 2)
#define DEF_TRIPLE(n1, k1, n2, k2, n3, K, v, w) \
    t##v##w##_##n1##_##n2##_##K##_##n3: \
        DO_##k1(s, n1, RS1, RS2) DO_##k2(S2, n2, SRC1_##v(S2), SRC2_##v(S2)) \
        DO_##K(S3, n3, SRC1_##w(S3), SRC2_##w(S3))
    TRIPLE_ALL(DEF_TRIPLE)
    /* Quads (FUSE_QUAD): two fused pairs, the second ending the block. */
#define S4 (s + 3)
#define DEF_QUAD(n1, k1, n2, k2, n3, k3, n4, K, v, w) \
    q##v##w##_##n1##_##n2##_##n3##_##K##_##n4: \
        if (s == b->slots) {    /* the whole block: see quad_loop */ \
            quad_exit r_ = quad_loop_##n1##_##n2##_##n3##_##n4(c->x, s, TLB_AT(S2->tlb_off), budget, b->gate); \
            budget = r_.budget; \
            if (r_.how == QUAD_FELL_OUT) \
                JUMP_VIA(PC_AT(S4) + S4->in.len, 1); \
            if (r_.how == QUAD_UNPAID) \
                LOOP_AGAIN(); \
        } \
        DO_##k1(s, n1, RS1, RS2) DO_##k2(S2, n2, SRC1_##v(S2), SRC2_##v(S2)) \
        DO_##k3(S3, n3, SRC1_0(S3), SRC2_0(S3)) \
        DO_##K(S4, n4, SRC1_##w(S4), SRC2_##w(S4))
    FUSE_QUAD(DEF_QUAD)
op_FENCE: NEXT;
op_FENCE_I:                /* stores to code pages already invalidated their blocks, */
    if (EXIT_REQUESTED())   /* and asked this cpu to leave them */
        goto exit_after;
    NEXT;
op_ECALL:
    cause = c->priv == RV_PRIV_U ? RV_EXC_ECALL_U : c->priv == RV_PRIV_S ? RV_EXC_ECALL_S : RV_EXC_ECALL_M;
    tval = 0;
    goto exception;
op_EBREAK: cause = RV_EXC_BREAKPOINT; tval = PC; goto exception;

    /* ---- Zicsr: counters must see the exact count, so sync it around ---- */
#define CSR_OP(src, do_write, newval) do { \
        unsigned csr_ = (unsigned)s->in.imm & 0xfff; \
        uint64_t old_ = 0, src_ = (src); \
        SYNC_BUDGET(); \
        vc->budget -= s->idx; \
        int e_ = 0; \
        if (s->in.op != RV_OP_CSRRW && s->in.op != RV_OP_CSRRWI) e_ = rv_csr_read(c, csr_, &old_); \
        else if (s->in.rd != 32) e_ = rv_csr_read(c, csr_, &old_); \
        if (!e_ && (do_write)) e_ = rv_csr_write(c, csr_, (newval)); \
        vc->budget += s->idx; \
        budget = vc->budget - b->ninsns; \
        if (e_) { cause = RV_EXC_ILLEGAL; tval = s->in.raw; goto exception; } \
        RD = old_; \
        if (EXIT_REQUESTED()) goto exit_after;   /* e.g. satp, or an interrupt enabled */ \
        JUMP_TO(PC + LEN); \
    } while (0)
op_CSRRW: CSR_OP(RS1, true, src_);
op_CSRRS: CSR_OP(RS1, s->in.rs1 != 0, old_ | src_);
op_CSRRC: CSR_OP(RS1, s->in.rs1 != 0, old_ & ~src_);
op_CSRRWI: CSR_OP(s->in.rs1, true, src_);
op_CSRRSI: CSR_OP(s->in.rs1, s->in.rs1 != 0, old_ | src_);
op_CSRRCI: CSR_OP(s->in.rs1, s->in.rs1 != 0, old_ & ~src_);

    /* ---- privileged ------------------------------------------------------- */
op_MRET:
op_SRET: {
        c->pc = PC;
        if (rv_xret(c, s->in.op == RV_OP_MRET)) {
            cause = RV_EXC_ILLEGAL;
            tval = s->in.raw;
            goto exception;
        }
        SYNC_BUDGET();
        vc->budget -= s->idx + 1u;
        goto next_block;
    }
op_WFI:
    if (c->priv < RV_PRIV_M && ((c->mstatus >> 21) & 1)) {   /* TW */
        cause = RV_EXC_ILLEGAL;
        tval = s->in.raw;
        goto exception;
    }
    if (m->system_mode && !rv_irq_wfi_wakes(c)) {
        /* Sleep: the cpu leaves; the board's loop idles the host thread
         * until an interrupt or the next timer deadline. */
        c->wfi = true;
        c->pc = PC + LEN;
        SYNC_BUDGET();
        vc->budget -= s->idx + 1u;
        return;
    }
    JUMP_TO(PC + LEN);
op_SFENCE_VMA:
    if (c->priv == RV_PRIV_U || (c->priv == RV_PRIV_S && ((c->mstatus >> 20) & 1))) {   /* TVM */
        cause = RV_EXC_ILLEGAL;
        tval = s->in.raw;
        goto exception;
    }
    if (m->system_mode)
        system_sfence(st, c, s->in.rs1 == 0, RS1);
    else
        vm_tlb_flush_cpu(vc);
    c->pc = PC + LEN;               /* next_block re-checks execute permission */
    SYNC_BUDGET();
    vc->budget -= s->idx + 1u;
    goto next_block;

    /* ---- A ---------------------------------------------------------------- */
op_LR_W:
op_LR_D: {
        unsigned size = s->in.op == RV_OP_LR_W ? 4 : 8;
        uint64_t a = RS1, v;
        bool slow = false;            /* a slow path (MMIO, a hook) may ask the cpu to leave */
        if (a & (size - 1)) { cause = RV_EXC_LOAD_MISALIGNED; tval = a; goto exception; }
        vm_tlb_entry *e = vm_tlb_entry_for(vc->tlb, vc->tlb_mask, a);
        if (likely(e->tag_r == (a & VM_PAGE_MASK))) {
            const uint8_t *p = (const uint8_t *)(uintptr_t)(a + e->addend);
            v = size == 4 ? *(const uint32_t *)p : *(const uint64_t *)p;
        } else {
            slow = true;
            SYNC_BUDGET();
            merr = vm_mem_load_slow(vc, a, size, &v);
            if (merr) { maccess = VM_PROT_R; tval = a; goto mem_error; }
        }
        RD = size == 4 ? sext32(v) : v;
        c->reservation = a;
        if (slow && EXIT_REQUESTED())
            goto exit_after;
        NEXT;
    }
op_SC_W:
op_SC_D: {
        unsigned size = s->in.op == RV_OP_SC_W ? 4 : 8;
        uint64_t a = RS1;
        if (a & (size - 1)) { cause = RV_EXC_STORE_MISALIGNED; tval = a; goto exception; }
        if (c->reservation != a) {
            c->reservation = ~0ull;
            RD = 1;
            NEXT;
        }
        c->reservation = ~0ull;
        bool slow = false;
        vm_tlb_entry *e = vm_tlb_entry_for(vc->tlb, vc->tlb_mask, a);
        if (likely(e->tag_w == (a & VM_PAGE_MASK))) {
            uint8_t *p = (uint8_t *)(uintptr_t)(a + e->addend);
            if (size == 4) *(uint32_t *)p = (uint32_t)RS2; else *(uint64_t *)p = RS2;
        } else {
            slow = true;
            SYNC_BUDGET();
            merr = vm_mem_store_slow(vc, a, size, size == 4 ? (uint32_t)RS2 : RS2);
            if (merr) { maccess = VM_PROT_W; tval = a; goto mem_error; }
        }
        RD = 0;
        if (slow && EXIT_REQUESTED())
            goto exit_after;
        NEXT;
    }
op_AMOSWAP_W: op_AMOADD_W: op_AMOXOR_W: op_AMOAND_W: op_AMOOR_W:
op_AMOMIN_W: op_AMOMAX_W: op_AMOMINU_W: op_AMOMAXU_W:
op_AMOSWAP_D: op_AMOADD_D: op_AMOXOR_D: op_AMOAND_D: op_AMOOR_D:
op_AMOMIN_D: op_AMOMAX_D: op_AMOMINU_D: op_AMOMAXU_D: {
        bool word = s->in.op <= RV_OP_AMOMAXU_W;
        unsigned size = word ? 4 : 8;
        uint64_t a = RS1, old;
        bool slow = false;
        if (a & (size - 1)) { cause = RV_EXC_STORE_MISALIGNED; tval = a; goto exception; }
        vm_tlb_entry *e = vm_tlb_entry_for(vc->tlb, vc->tlb_mask, a);
        if (likely(e->tag_w == (a & VM_PAGE_MASK) && e->tag_r == e->tag_w)) {
            uint8_t *p = (uint8_t *)(uintptr_t)(a + e->addend);
            old = word ? *(uint32_t *)p : *(uint64_t *)p;
            uint64_t nv = rv_amo_apply(s->in.op, old, RS2, word);
            if (word) *(uint32_t *)p = (uint32_t)nv; else *(uint64_t *)p = nv;
        } else {
            /* Both halves of an AMO fault as a store/AMO access. */
            slow = true;
            SYNC_BUDGET();
            merr = vm_mem_load_slow(vc, a, size, &old);
            if (!merr)
                merr = vm_mem_store_slow(vc, a, size, rv_amo_apply(s->in.op, old, RS2, word) & (word ? 0xffffffffull : ~0ull));
            if (merr) { maccess = VM_PROT_W; tval = a; goto mem_error; }
        }
        RD = word ? sext32(old) : old;
        if (slow && EXIT_REQUESTED())
            goto exit_after;
        NEXT;
    }

    /* ---- F/D ---------------------------------------------------------------- */
#define FP_ON() do { if (unlikely(!(c->mstatus & RV_MSTATUS_FS))) { cause = RV_EXC_ILLEGAL; tval = s->in.raw; goto exception; } } while (0)
op_FLW: { uint32_t v; FP_ON(); LOAD(uint32_t, v); c->f[s->in.rd] = 0xffffffff00000000ull | v; c->mstatus |= RV_MSTATUS_FS; NEXT; }
op_FLD: { uint64_t v; FP_ON(); LOAD(uint64_t, v); c->f[s->in.rd] = v; c->mstatus |= RV_MSTATUS_FS; NEXT; }
op_FSW: FP_ON(); STORE(uint32_t, c->f[s->in.rs2]); NEXT;
op_FSD: FP_ON(); STORE(uint64_t, c->f[s->in.rs2]); NEXT;
fp: {
        int e = rv_fp_exec(c, &s->in);
        if (unlikely(e)) { cause = (uint64_t)e; tval = s->in.raw; goto exception; }
        NEXT;
    }
    /* Decoded F/D compute ops all dispatch to `fp`; their labels exist only
     * so that the label table can be built from the op list. */
op_FMADD_S: op_FMSUB_S: op_FNMSUB_S: op_FNMADD_S: op_FADD_S: op_FSUB_S: op_FMUL_S: op_FDIV_S:
op_FSQRT_S: op_FSGNJ_S: op_FSGNJN_S: op_FSGNJX_S: op_FMIN_S: op_FMAX_S: op_FCVT_W_S: op_FCVT_WU_S:
op_FCVT_L_S: op_FCVT_LU_S: op_FMV_X_W: op_FEQ_S: op_FLT_S: op_FLE_S: op_FCLASS_S: op_FCVT_S_W:
op_FCVT_S_WU: op_FCVT_S_L: op_FCVT_S_LU: op_FMV_W_X:
op_FMADD_D: op_FMSUB_D: op_FNMSUB_D: op_FNMADD_D: op_FADD_D: op_FSUB_D: op_FMUL_D: op_FDIV_D:
op_FSQRT_D: op_FSGNJ_D: op_FSGNJN_D: op_FSGNJX_D: op_FMIN_D: op_FMAX_D: op_FCVT_S_D: op_FCVT_D_S:
op_FEQ_D: op_FLT_D: op_FLE_D: op_FCLASS_D: op_FCVT_W_D: op_FCVT_WU_D: op_FCVT_L_D: op_FCVT_LU_D:
op_FCVT_D_W: op_FCVT_D_WU: op_FCVT_D_L: op_FCVT_D_LU: op_FMV_X_D: op_FMV_D_X:
    goto fp;
}

/* Runs the interpreter for at most n instructions (and BUDGET_MAX, which
 * keeps the gate arithmetic exact), holding back the rest of the budget. */
static void run_capped(vm_cpu *vc, rv_interp *st, uint64_t n)
{
    if (n > BUDGET_MAX)
        n = BUDGET_MAX;
    uint64_t held = vc->budget > n ? vc->budget - n : 0;
    vc->budget -= held;
    vc->budget_start -= held;         /* keeps vm_cpu_retired() exact */
    interp_run(vc, st, false, NULL);
    vc->budget += held;
    vc->budget_start += held;
}

static void interp_exec(vm_cpu *vc)
{
    rv_tlb_sync(rv_cpu_of(vc));       /* state changed between runs (debugger, restore) */
    run_capped(vc, vc->machine->engine_state, BUDGET_MAX);
}

/* ---- for the JIT (csrc/jit), which keeps an interpreter of its own ---- */
void *rv_interp_create(vm_machine *m) { return interp_create(m); }
void rv_interp_destroy(vm_machine *m, void *st) { interp_destroy(m, st); }
void rv_interp_flush(void *st) { interp_flush(st); }
uint64_t rv_interp_sfences(void *st, bool *all, uint64_t *va)
{
    rv_interp *i = st;
    *all = i->sfence_all;
    *va = i->sfence_va;
    return i->sfences;
}

void rv_interp_run_block(vm_cpu *vc, void *st)
{
    uint64_t held = 0;
    interp_run(vc, st, true, &held);
    vc->budget += held;
    vc->budget_start += held;
}

/* Runs the interpreter (chaining freely) for at most n instructions. */
void rv_interp_run_for(vm_cpu *vc, void *st, uint64_t n)
{
    run_capped(vc, st, n);
}

const vm_engine rv_engine_interp = {
    .name = "interp",
    .exec = interp_exec,
    .invalidate = interp_invalidate,
    .create = interp_create,
    .destroy = interp_destroy,
};
