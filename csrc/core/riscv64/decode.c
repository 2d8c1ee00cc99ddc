/* decode.c — RV64 IMAFD + Zicsr/Zifencei + Zba/Zbb/Zbs + C instruction decoder.
 *
 * Runs on every block translation, so it is a pair of switch trees keyed on
 * the major opcode / compressed quadrant with plain bit extraction; no
 * tables of strings, no loops.  Compressed instructions are expanded to the
 * base operation they stand for (len = 2, raw = the 16-bit encoding). */
#include "rv.h"

const char *const rv_op_mnemonic[RV_OP_COUNT] = {
#define RV_OP_NAME(name, mnem) mnem,
    RV_OPS(RV_OP_NAME)
#undef RV_OP_NAME
};

/* Bits hi..lo of x, right-aligned. */
#define BITS(x, hi, lo) (((x) >> (lo)) & ((1u << ((hi) - (lo) + 1)) - 1))
/* Sign-extends the low n bits of x. */
static inline int32_t sext(uint32_t x, int n)
{
    return (int32_t)(x << (32 - n)) >> (32 - n);
}

static inline int set(rv_insn *o, int op)
{
    o->op = (uint16_t)op;
    return o->len;
}

/* ---- 32-bit formats ---------------------------------------------------- */

static inline int32_t imm_i(uint32_t b) { return (int32_t)b >> 20; }
static inline int32_t imm_s(uint32_t b)
{
    return sext((BITS(b, 31, 25) << 5) | BITS(b, 11, 7), 12);
}
static inline int32_t imm_b(uint32_t b)
{
    uint32_t v = (BITS(b, 31, 31) << 12) | (BITS(b, 7, 7) << 11) |
                 (BITS(b, 30, 25) << 5) | (BITS(b, 11, 8) << 1);
    return sext(v, 13);
}
static inline int32_t imm_j(uint32_t b)
{
    uint32_t v = (BITS(b, 31, 31) << 20) | (BITS(b, 19, 12) << 12) |
                 (BITS(b, 20, 20) << 11) | (BITS(b, 30, 21) << 1);
    return sext(v, 21);
}

static int dec_load(uint32_t b, rv_insn *o)
{
    static const uint16_t ops[8] = {
        RV_OP_LB, RV_OP_LH, RV_OP_LW, RV_OP_LD, RV_OP_LBU, RV_OP_LHU, RV_OP_LWU, RV_OP_ILLEGAL };
    o->imm = imm_i(b);
    return set(o, ops[BITS(b, 14, 12)]);
}

static int dec_store(uint32_t b, rv_insn *o)
{
    static const uint16_t ops[8] = {
        RV_OP_SB, RV_OP_SH, RV_OP_SW, RV_OP_SD, 0, 0, 0, 0 };
    o->rd = 0;
    o->imm = imm_s(b);
    return set(o, ops[BITS(b, 14, 12)]);
}

static int dec_branch(uint32_t b, rv_insn *o)
{
    static const uint16_t ops[8] = {
        RV_OP_BEQ, RV_OP_BNE, 0, 0, RV_OP_BLT, RV_OP_BGE, RV_OP_BLTU, RV_OP_BGEU };
    o->rd = 0;
    o->imm = imm_b(b);
    return set(o, ops[BITS(b, 14, 12)]);
}

/* OP-IMM funct3 1 and 5: shifts plus the Zbb/Zbs immediate forms. */
static int dec_op_imm_shift(uint32_t b, rv_insn *o)
{
    uint32_t f6 = BITS(b, 31, 26), imm12 = BITS(b, 31, 20);
    o->imm = (int32_t)BITS(b, 25, 20);
    if (BITS(b, 14, 12) == 1) {
        switch (f6) {
        case 0x00: return set(o, RV_OP_SLLI);
        case 0x0a: return set(o, RV_OP_BSETI);
        case 0x12: return set(o, RV_OP_BCLRI);
        case 0x1a: return set(o, RV_OP_BINVI);
        }
        o->imm = 0;
        switch (imm12) {
        case 0x600: return set(o, RV_OP_CLZ);
        case 0x601: return set(o, RV_OP_CTZ);
        case 0x602: return set(o, RV_OP_CPOP);
        case 0x604: return set(o, RV_OP_SEXT_B);
        case 0x605: return set(o, RV_OP_SEXT_H);
        }
        return set(o, RV_OP_ILLEGAL);
    }
    switch (f6) {
    case 0x00: return set(o, RV_OP_SRLI);
    case 0x10: return set(o, RV_OP_SRAI);
    case 0x18: return set(o, RV_OP_RORI);
    case 0x12: return set(o, RV_OP_BEXTI);
    }
    o->imm = 0;
    if (imm12 == 0x287) return set(o, RV_OP_ORC_B);
    if (imm12 == 0x6b8) return set(o, RV_OP_REV8);
    return set(o, RV_OP_ILLEGAL);
}

static int dec_op_imm(uint32_t b, rv_insn *o)
{
    static const uint16_t ops[8] = {
        RV_OP_ADDI, 0, RV_OP_SLTI, RV_OP_SLTIU, RV_OP_XORI, 0, RV_OP_ORI, RV_OP_ANDI };
    uint32_t f3 = BITS(b, 14, 12);
    if (f3 == 1 || f3 == 5)
        return dec_op_imm_shift(b, o);
    o->imm = imm_i(b);
    return set(o, ops[f3]);
}

static int dec_op_imm_32(uint32_t b, rv_insn *o)
{
    uint32_t f3 = BITS(b, 14, 12), f7 = BITS(b, 31, 25);
    o->imm = (int32_t)BITS(b, 24, 20);
    switch (f3) {
    case 0:
        o->imm = imm_i(b);
        return set(o, RV_OP_ADDIW);
    case 1:
        if (f7 == 0x00) return set(o, RV_OP_SLLIW);
        if (BITS(b, 31, 26) == 0x02) {
            o->imm = (int32_t)BITS(b, 25, 20);
            return set(o, RV_OP_SLLI_UW);
        }
        if (f7 == 0x30 && BITS(b, 24, 20) <= 2) {
            static const uint16_t cnt[3] = { RV_OP_CLZW, RV_OP_CTZW, RV_OP_CPOPW };
            int op = cnt[BITS(b, 24, 20)];
            o->imm = 0;
            return set(o, op);
        }
        break;
    case 5:
        if (f7 == 0x00) return set(o, RV_OP_SRLIW);
        if (f7 == 0x20) return set(o, RV_OP_SRAIW);
        if (f7 == 0x30) return set(o, RV_OP_RORIW);
        break;
    }
    o->imm = 0;
    return set(o, RV_OP_ILLEGAL);
}

/* OP (0x33): selected by funct7 then funct3. */
static int dec_op(uint32_t b, rv_insn *o)
{
    static const uint16_t base[8] = {
        RV_OP_ADD, RV_OP_SLL, RV_OP_SLT, RV_OP_SLTU, RV_OP_XOR, RV_OP_SRL, RV_OP_OR, RV_OP_AND };
    static const uint16_t alt[8] = {    /* funct7 0x20 */
        RV_OP_SUB, 0, 0, 0, RV_OP_XNOR, RV_OP_SRA, RV_OP_ORN, RV_OP_ANDN };
    static const uint16_t mul[8] = {
        RV_OP_MUL, RV_OP_MULH, RV_OP_MULHSU, RV_OP_MULHU, RV_OP_DIV, RV_OP_DIVU, RV_OP_REM, RV_OP_REMU };
    static const uint16_t minmax[8] = { /* funct7 0x05 */
        0, 0, 0, 0, RV_OP_MIN, RV_OP_MINU, RV_OP_MAX, RV_OP_MAXU };
    static const uint16_t shadd[8] = {  /* funct7 0x10 */
        0, 0, RV_OP_SH1ADD, 0, RV_OP_SH2ADD, 0, RV_OP_SH3ADD, 0 };
    uint32_t f3 = BITS(b, 14, 12);
    switch (BITS(b, 31, 25)) {
    case 0x00: return set(o, base[f3]);
    case 0x20: return set(o, alt[f3]);
    case 0x01: return set(o, mul[f3]);
    case 0x05: return set(o, minmax[f3]);
    case 0x10: return set(o, shadd[f3]);
    case 0x30: return set(o, f3 == 1 ? RV_OP_ROL : f3 == 5 ? RV_OP_ROR : RV_OP_ILLEGAL);
    case 0x24: return set(o, f3 == 1 ? RV_OP_BCLR : f3 == 5 ? RV_OP_BEXT : RV_OP_ILLEGAL);
    case 0x34: return set(o, f3 == 1 ? RV_OP_BINV : RV_OP_ILLEGAL);
    case 0x14: return set(o, f3 == 1 ? RV_OP_BSET : RV_OP_ILLEGAL);
    }
    return set(o, RV_OP_ILLEGAL);
}

static int dec_op_32(uint32_t b, rv_insn *o)
{
    static const uint16_t mulw[8] = {
        RV_OP_MULW, 0, 0, 0, RV_OP_DIVW, RV_OP_DIVUW, RV_OP_REMW, RV_OP_REMUW };
    static const uint16_t shadd[8] = {
        0, 0, RV_OP_SH1ADD_UW, 0, RV_OP_SH2ADD_UW, 0, RV_OP_SH3ADD_UW, 0 };
    uint32_t f3 = BITS(b, 14, 12);
    switch (BITS(b, 31, 25)) {
    case 0x00:
        return set(o, f3 == 0 ? RV_OP_ADDW : f3 == 1 ? RV_OP_SLLW : f3 == 5 ? RV_OP_SRLW : RV_OP_ILLEGAL);
    case 0x20:
        return set(o, f3 == 0 ? RV_OP_SUBW : f3 == 5 ? RV_OP_SRAW : RV_OP_ILLEGAL);
    case 0x01: return set(o, mulw[f3]);
    case 0x10: return set(o, shadd[f3]);
    case 0x04:
        if (f3 == 0) return set(o, RV_OP_ADD_UW);
        if (f3 == 4 && o->rs2 == 0) return set(o, RV_OP_ZEXT_H);
        break;
    case 0x30:
        return set(o, f3 == 1 ? RV_OP_ROLW : f3 == 5 ? RV_OP_RORW : RV_OP_ILLEGAL);
    }
    return set(o, RV_OP_ILLEGAL);
}

static int dec_amo(uint32_t b, rv_insn *o)
{
    static const uint16_t w[32] = {
        [0x00] = RV_OP_AMOADD_W, [0x01] = RV_OP_AMOSWAP_W, [0x02] = RV_OP_LR_W,
        [0x03] = RV_OP_SC_W, [0x04] = RV_OP_AMOXOR_W, [0x08] = RV_OP_AMOOR_W,
        [0x0c] = RV_OP_AMOAND_W, [0x10] = RV_OP_AMOMIN_W, [0x14] = RV_OP_AMOMAX_W,
        [0x18] = RV_OP_AMOMINU_W, [0x1c] = RV_OP_AMOMAXU_W };
    /* The .d ops follow the .w ops in the same order in enum rv_op. */
    uint32_t f3 = BITS(b, 14, 12), f5 = BITS(b, 31, 27);
    int op = w[f5];
    if ((f3 != 2 && f3 != 3) || op == RV_OP_ILLEGAL || (op == RV_OP_LR_W && o->rs2 != 0))
        return set(o, RV_OP_ILLEGAL);
    if (f3 == 3)
        op += RV_OP_LR_D - RV_OP_LR_W;
    o->rm = (uint8_t)BITS(b, 26, 25);
    return set(o, op);
}

static int dec_system(uint32_t b, rv_insn *o)
{
    static const uint16_t csr[8] = {
        0, RV_OP_CSRRW, RV_OP_CSRRS, RV_OP_CSRRC, 0, RV_OP_CSRRWI, RV_OP_CSRRSI, RV_OP_CSRRCI };
    uint32_t f3 = BITS(b, 14, 12);
    if (f3 != 0) {
        o->imm = (int32_t)BITS(b, 31, 20);
        return set(o, csr[f3]);
    }
    switch (b) {
    case 0x00000073: return set(o, RV_OP_ECALL);
    case 0x00100073: return set(o, RV_OP_EBREAK);
    case 0x10200073: return set(o, RV_OP_SRET);
    case 0x30200073: return set(o, RV_OP_MRET);
    case 0x10500073: return set(o, RV_OP_WFI);
    }
    if (BITS(b, 31, 25) == 0x09 && o->rd == 0)
        return set(o, RV_OP_SFENCE_VMA);
    return set(o, RV_OP_ILLEGAL);
}

/* FENCE / FENCE.I.  The reserved rd/rs1 (and FENCE.I imm) fields are ignored,
 * as the spec asks of implementations, so those encodings still decode. */
static int dec_misc_mem(uint32_t b, rv_insn *o)
{
    uint32_t f3 = BITS(b, 14, 12);
    o->rd = o->rs1 = 0;
    if (f3 == 0) {
        o->imm = (int32_t)BITS(b, 31, 20);
        return set(o, RV_OP_FENCE);
    }
    return set(o, f3 == 1 ? RV_OP_FENCE_I : RV_OP_ILLEGAL);
}

static int dec_fp_load_store(uint32_t b, rv_insn *o, int store)
{
    uint32_t f3 = BITS(b, 14, 12);
    o->imm = store ? imm_s(b) : imm_i(b);
    if (store) o->rd = 0;
    if (f3 == 2) return set(o, store ? RV_OP_FSW : RV_OP_FLW);
    if (f3 == 3) return set(o, store ? RV_OP_FSD : RV_OP_FLD);
    return set(o, RV_OP_ILLEGAL);
}

static int dec_fma(uint32_t b, rv_insn *o)
{
    /* opcode bits 3:2 select madd/msub/nmsub/nmadd; fmt 0 = S, 1 = D. */
    uint32_t which = BITS(b, 3, 2), fmt = BITS(b, 26, 25);
    o->rs3 = (uint8_t)BITS(b, 31, 27);
    o->rm = (uint8_t)BITS(b, 14, 12);
    if (fmt > 1)
        return set(o, RV_OP_ILLEGAL);
    return set(o, (fmt ? RV_OP_FMADD_D : RV_OP_FMADD_S) + (int)which);
}

/* In OP-FP the low bit of funct7 is the format: 0 = S, 1 = D. */
static int fp_pick(uint32_t dbl, int s_op, int d_op) { return dbl ? d_op : s_op; }

static int dec_op_fp_conv(rv_insn *o, uint32_t f7)
{
    uint32_t rs2 = o->rs2, d = f7 & 1;
    if (rs2 > 3) return set(o, RV_OP_ILLEGAL);
    switch (f7 & ~1u) {
    case 0x60:  /* fcvt.{w,wu,l,lu}.fmt */
        return set(o, (d ? RV_OP_FCVT_W_D : RV_OP_FCVT_W_S) + (int)rs2);
    case 0x68:  /* fcvt.fmt.{w,wu,l,lu} */
        return set(o, (d ? RV_OP_FCVT_D_W : RV_OP_FCVT_S_W) + (int)rs2);
    }
    return set(o, RV_OP_ILLEGAL);
}

static int dec_op_fp(uint32_t b, rv_insn *o)
{
    uint32_t f7 = BITS(b, 31, 25), f3 = BITS(b, 14, 12), d = f7 & 1, rs2 = o->rs2;
    o->rm = (uint8_t)f3;
    switch (f7 & ~1u) {
    case 0x00: return set(o, fp_pick(d, RV_OP_FADD_S, RV_OP_FADD_D));
    case 0x04: return set(o, fp_pick(d, RV_OP_FSUB_S, RV_OP_FSUB_D));
    case 0x08: return set(o, fp_pick(d, RV_OP_FMUL_S, RV_OP_FMUL_D));
    case 0x0c: return set(o, fp_pick(d, RV_OP_FDIV_S, RV_OP_FDIV_D));
    case 0x2c:
        if (rs2 == 0) return set(o, fp_pick(d, RV_OP_FSQRT_S, RV_OP_FSQRT_D));
        break;
    case 0x10:
        if (f3 <= 2) return set(o, fp_pick(d, RV_OP_FSGNJ_S, RV_OP_FSGNJ_D) + (int)f3);
        break;
    case 0x14:
        if (f3 <= 1) return set(o, fp_pick(d, RV_OP_FMIN_S, RV_OP_FMIN_D) + (int)f3);
        break;
    case 0x50:  /* f3: 0 fle, 1 flt, 2 feq */
        if (f3 <= 2) {
            static const int s[3] = { RV_OP_FLE_S, RV_OP_FLT_S, RV_OP_FEQ_S };
            static const int dd[3] = { RV_OP_FLE_D, RV_OP_FLT_D, RV_OP_FEQ_D };
            return set(o, d ? dd[f3] : s[f3]);
        }
        break;
    case 0x20:  /* fcvt.s.d (f7 0x20, rs2 1) and fcvt.d.s (f7 0x21, rs2 0) */
        if (rs2 == (d ? 0u : 1u)) return set(o, d ? RV_OP_FCVT_D_S : RV_OP_FCVT_S_D);
        break;
    case 0x60: case 0x68:
        return dec_op_fp_conv(o, f7);
    case 0x70:
        if (rs2 != 0) break;
        if (f3 == 0) return set(o, fp_pick(d, RV_OP_FMV_X_W, RV_OP_FMV_X_D));
        if (f3 == 1) return set(o, fp_pick(d, RV_OP_FCLASS_S, RV_OP_FCLASS_D));
        break;
    case 0x78:
        if (rs2 == 0 && f3 == 0) return set(o, fp_pick(d, RV_OP_FMV_W_X, RV_OP_FMV_D_X));
        break;
    }
    return set(o, RV_OP_ILLEGAL);
}

/* Clears the register fields a format does not have, so every decoded
 * instruction names exactly the registers it uses. */
static inline int only_rd_rs1(rv_insn *o) { o->rs2 = 0; return o->len; }
static inline int only_rd(rv_insn *o) { o->rs1 = o->rs2 = 0; return o->len; }

/* FP ops whose rs2 field is an opcode extension rather than a register. */
static inline int fp_unary(int op)
{
    return op == RV_OP_FSQRT_S || op == RV_OP_FSQRT_D ||
           (op >= RV_OP_FCVT_W_S && op <= RV_OP_FCVT_LU_S) ||
           (op >= RV_OP_FCVT_S_W && op <= RV_OP_FMV_W_X) ||
           op == RV_OP_FCVT_S_D || op == RV_OP_FCVT_D_S ||
           (op >= RV_OP_FCVT_W_D && op <= RV_OP_FMV_D_X) ||
           op == RV_OP_FMV_X_W || op == RV_OP_FCLASS_S || op == RV_OP_FCLASS_D;
}

static int decode32(uint32_t b, rv_insn *o)
{
    o->rd = (uint8_t)BITS(b, 11, 7);
    o->rs1 = (uint8_t)BITS(b, 19, 15);
    o->rs2 = (uint8_t)BITS(b, 24, 20);
    switch (BITS(b, 6, 2)) {
    case 0x00: dec_load(b, o); return only_rd_rs1(o);
    case 0x01: dec_fp_load_store(b, o, 0); return only_rd_rs1(o);
    case 0x03: dec_misc_mem(b, o); return only_rd_rs1(o);
    case 0x04: dec_op_imm(b, o); return only_rd_rs1(o);
    case 0x05: o->imm = (int32_t)(b & 0xfffff000u); set(o, RV_OP_AUIPC); return only_rd(o);
    case 0x06: dec_op_imm_32(b, o); return only_rd_rs1(o);
    case 0x0d: o->imm = (int32_t)(b & 0xfffff000u); set(o, RV_OP_LUI); return only_rd(o);
    case 0x14:
        dec_op_fp(b, o);
        if (fp_unary(o->op)) o->rs2 = 0;
        return o->len;
    case 0x19:
        o->imm = imm_i(b);
        set(o, BITS(b, 14, 12) == 0 ? RV_OP_JALR : RV_OP_ILLEGAL);
        return only_rd_rs1(o);
    case 0x1b: o->imm = imm_j(b); set(o, RV_OP_JAL); return only_rd(o);
    case 0x1c:
        dec_system(b, o);
        if (o->op != RV_OP_SFENCE_VMA) o->rs2 = 0;
        return o->len;
    case 0x08: return dec_store(b, o);
    case 0x09: return dec_fp_load_store(b, o, 1);
    case 0x0b: return dec_amo(b, o);
    case 0x0c: return dec_op(b, o);
    case 0x0e: return dec_op_32(b, o);
    case 0x10: case 0x11: case 0x12: case 0x13: return dec_fma(b, o);
    case 0x18: return dec_branch(b, o);
    }
    return set(o, RV_OP_ILLEGAL);
}

/* ---- compressed -------------------------------------------------------- */

#define CREG(h, hi, lo) ((uint8_t)(8 + BITS(h, hi, lo)))   /* rd'/rs1'/rs2' */

static inline int32_t c_imm6(uint32_t h)      /* imm[5] = 12, imm[4:0] = 6:2 */
{
    return sext((BITS(h, 12, 12) << 5) | BITS(h, 6, 2), 6);
}
static inline uint32_t c_uimm_d(uint32_t h)   /* c.ld/c.sd/c.fld/c.fsd offsets */
{
    return (BITS(h, 12, 10) << 3) | (BITS(h, 6, 5) << 6);
}
static inline uint32_t c_uimm_w(uint32_t h)   /* c.lw/c.sw offsets */
{
    return (BITS(h, 12, 10) << 3) | (BITS(h, 6, 6) << 2) | (BITS(h, 5, 5) << 6);
}
static inline int32_t c_imm_j(uint32_t h)
{
    uint32_t v = (BITS(h, 12, 12) << 11) | (BITS(h, 11, 11) << 4) | (BITS(h, 10, 9) << 8) |
                 (BITS(h, 8, 8) << 10) | (BITS(h, 7, 7) << 6) | (BITS(h, 6, 6) << 7) |
                 (BITS(h, 5, 3) << 1) | (BITS(h, 2, 2) << 5);
    return sext(v, 12);
}
static inline int32_t c_imm_b(uint32_t h)
{
    uint32_t v = (BITS(h, 12, 12) << 8) | (BITS(h, 11, 10) << 3) | (BITS(h, 6, 5) << 6) |
                 (BITS(h, 4, 3) << 1) | (BITS(h, 2, 2) << 5);
    return sext(v, 9);
}

static int dec_q0(uint32_t h, rv_insn *o)
{
    uint8_t rlo = CREG(h, 4, 2), rhi = CREG(h, 9, 7);
    uint32_t f3 = BITS(h, 15, 13);
    if (f3 == 0) {      /* c.addi4spn */
        uint32_t u = (BITS(h, 12, 11) << 4) | (BITS(h, 10, 7) << 6) |
                     (BITS(h, 6, 6) << 2) | (BITS(h, 5, 5) << 3);
        if (u == 0) return set(o, RV_OP_ILLEGAL);
        o->rd = rlo; o->rs1 = 2; o->imm = (int32_t)u;
        return set(o, RV_OP_ADDI);
    }
    o->rs1 = rhi;
    o->imm = (int32_t)((f3 & 3) == 2 ? c_uimm_w(h) : c_uimm_d(h));
    if (f3 < 4) o->rd = rlo; else o->rs2 = rlo;
    switch (f3) {
    case 1: return set(o, RV_OP_FLD);
    case 2: return set(o, RV_OP_LW);
    case 3: return set(o, RV_OP_LD);
    case 5: return set(o, RV_OP_FSD);
    case 6: return set(o, RV_OP_SW);
    case 7: return set(o, RV_OP_SD);
    }
    return set(o, RV_OP_ILLEGAL);
}

/* Q1 funct3 4: shifts/andi on rd' and the register-register ALU ops. */
static int dec_q1_alu(uint32_t h, rv_insn *o)
{
    static const uint16_t rr[8] = {
        RV_OP_SUB, RV_OP_XOR, RV_OP_OR, RV_OP_AND, RV_OP_SUBW, RV_OP_ADDW, 0, 0 };
    uint8_t r = CREG(h, 9, 7);
    o->rd = o->rs1 = r;
    switch (BITS(h, 11, 10)) {
    case 0: o->imm = (int32_t)((BITS(h, 12, 12) << 5) | BITS(h, 6, 2)); return set(o, RV_OP_SRLI);
    case 1: o->imm = (int32_t)((BITS(h, 12, 12) << 5) | BITS(h, 6, 2)); return set(o, RV_OP_SRAI);
    case 2: o->imm = c_imm6(h); return set(o, RV_OP_ANDI);
    }
    o->rs2 = CREG(h, 4, 2);
    return set(o, rr[(BITS(h, 12, 12) << 2) | BITS(h, 6, 5)]);
}

static int dec_q1(uint32_t h, rv_insn *o)
{
    uint8_t rd = (uint8_t)BITS(h, 11, 7);
    switch (BITS(h, 15, 13)) {
    case 0: o->rd = o->rs1 = rd; o->imm = c_imm6(h); return set(o, RV_OP_ADDI);
    case 1:
        if (rd == 0) return set(o, RV_OP_ILLEGAL);
        o->rd = o->rs1 = rd; o->imm = c_imm6(h);
        return set(o, RV_OP_ADDIW);
    case 2: o->rd = rd; o->imm = c_imm6(h); return set(o, RV_OP_ADDI);
    case 3:
        if (rd == 2) {  /* c.addi16sp */
            uint32_t v = (BITS(h, 12, 12) << 9) | (BITS(h, 6, 6) << 4) | (BITS(h, 5, 5) << 6) |
                         (BITS(h, 4, 3) << 7) | (BITS(h, 2, 2) << 5);
            if (v == 0) return set(o, RV_OP_ILLEGAL);
            o->rd = o->rs1 = 2; o->imm = sext(v, 10);
            return set(o, RV_OP_ADDI);
        }
        o->rd = rd; o->imm = (int32_t)((uint32_t)c_imm6(h) << 12);
        return set(o, o->imm == 0 ? RV_OP_ILLEGAL : RV_OP_LUI);
    case 4: return dec_q1_alu(h, o);
    case 5: o->imm = c_imm_j(h); return set(o, RV_OP_JAL);
    case 6: o->rs1 = CREG(h, 9, 7); o->imm = c_imm_b(h); return set(o, RV_OP_BEQ);
    default: o->rs1 = CREG(h, 9, 7); o->imm = c_imm_b(h); return set(o, RV_OP_BNE);
    }
}

/* Q2 funct3 4: c.jr / c.mv / c.ebreak / c.jalr / c.add. */
static int dec_q2_cr(uint32_t h, rv_insn *o)
{
    uint8_t r1 = (uint8_t)BITS(h, 11, 7), r2 = (uint8_t)BITS(h, 6, 2);
    if (BITS(h, 12, 12) == 0) {
        if (r2 == 0) {
            if (r1 == 0) return set(o, RV_OP_ILLEGAL);
            o->rs1 = r1;
            return set(o, RV_OP_JALR);
        }
        o->rd = r1; o->rs2 = r2;
        return set(o, RV_OP_ADD);
    }
    if (r2 == 0) {
        if (r1 == 0) return set(o, RV_OP_EBREAK);
        o->rd = 1; o->rs1 = r1;
        return set(o, RV_OP_JALR);
    }
    o->rd = o->rs1 = r1; o->rs2 = r2;
    return set(o, RV_OP_ADD);
}

static int dec_q2(uint32_t h, rv_insn *o)
{
    uint8_t rd = (uint8_t)BITS(h, 11, 7), rs2 = (uint8_t)BITS(h, 6, 2);
    uint32_t u_d = (BITS(h, 12, 12) << 5) | (BITS(h, 6, 5) << 3) | (BITS(h, 4, 2) << 6);
    uint32_t s_d = (BITS(h, 12, 10) << 3) | (BITS(h, 9, 7) << 6);
    switch (BITS(h, 15, 13)) {
    case 0:
        o->rd = o->rs1 = rd; o->imm = (int32_t)((BITS(h, 12, 12) << 5) | BITS(h, 6, 2));
        return set(o, RV_OP_SLLI);
    case 1: o->rd = rd; o->rs1 = 2; o->imm = (int32_t)u_d; return set(o, RV_OP_FLD);
    case 2:
        o->rd = rd; o->rs1 = 2;
        o->imm = (int32_t)((BITS(h, 12, 12) << 5) | (BITS(h, 6, 4) << 2) | (BITS(h, 3, 2) << 6));
        return set(o, rd ? RV_OP_LW : RV_OP_ILLEGAL);
    case 3: o->rd = rd; o->rs1 = 2; o->imm = (int32_t)u_d; return set(o, rd ? RV_OP_LD : RV_OP_ILLEGAL);
    case 4: return dec_q2_cr(h, o);
    case 5: o->rs1 = 2; o->rs2 = rs2; o->imm = (int32_t)s_d; return set(o, RV_OP_FSD);
    case 6:
        o->rs1 = 2; o->rs2 = rs2;
        o->imm = (int32_t)((BITS(h, 12, 9) << 2) | (BITS(h, 8, 7) << 6));
        return set(o, RV_OP_SW);
    default: o->rs1 = 2; o->rs2 = rs2; o->imm = (int32_t)s_d; return set(o, RV_OP_SD);
    }
}

int rv_decode(uint32_t bits, rv_insn *out)
{
    rv_insn *o = out;
    o->rd = o->rs1 = o->rs2 = o->rs3 = o->rm = 0;
    o->imm = 0;
    if ((bits & 3) == 3) {
        o->len = 4;
        o->raw = bits;
        /* Longer encodings (bits 4:2 == 7) are not supported: illegal. */
        if ((bits & 0x1c) == 0x1c) return set(o, RV_OP_ILLEGAL);
        return decode32(bits, o);
    }
    o->len = 2;
    o->raw = bits & 0xffff;
    switch (bits & 3) {
    case 0: return dec_q0(o->raw, o);
    case 1: return dec_q1(o->raw, o);
    default: return dec_q2(o->raw, o);
    }
}
