/* disasm.c — RISC-V 64 disassembler producing capstone 5's text.
 *
 * The text follows capstone (LLVM's printer): ABI register names, ", "
 * between operands, immediates in decimal up to 9 and hex above, branch
 * and jump operands as pc-relative offsets, and the same aliases (mv, not,
 * neg, sext.w, seqz, j, ret, csrr, frflags, fmv.d, c.* for compressed ...).
 * Zba/Zbb/Zbs, which capstone 5 does not know, use binutils' mnemonics in
 * the same operand style.  Other parts (trace, REPL, error messages) print
 * this text, so keep the format stable. */
#include <stdio.h>
#include <string.h>
#include "rv.h"

static const char *const xreg[32] = {
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
    "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6" };
static const char *const freg[32] = {
    "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2", "fa3",
    "fa4", "fa5", "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9", "fs10", "fs11",
    "ft8", "ft9", "ft10", "ft11" };
static const char *const rm_name[8] = { "rne", "rtz", "rdn", "rup", "rmm", "unknown", "unknown", "dyn" };

/* Bounded text builder: never writes past the caller's buffer. */
typedef struct {
    char *p;
    size_t left;    /* bytes still available, including the final NUL */
} out_t;

static void put(out_t *o, const char *s)
{
    while (*s && o->left > 1) {
        *o->p++ = *s++;
        o->left--;
    }
    if (o->left) *o->p = '\0';
}

/* capstone's immediate style: decimal for |v| <= 9, else 0x-hex. */
static void put_imm(out_t *o, int64_t v)
{
    char t[32];
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    snprintf(t, sizeof t, mag > 9 ? "%s0x%llx" : "%s%llu", v < 0 ? "-" : "", (unsigned long long)mag);
    put(o, t);
}

static void sep(out_t *o) { put(o, ", "); }
static void x(out_t *o, unsigned r) { put(o, xreg[r & 31]); }
static void f(out_t *o, unsigned r) { put(o, freg[r & 31]); }

static void mem(out_t *o, int32_t imm, unsigned base)
{
    put_imm(o, imm);
    put(o, "(");
    x(o, base);
    put(o, ")");
}

/* ---- CSR names (the set capstone 5 knows; others print as a number) ---- */

static const char *csr_fixed(unsigned c)
{
    switch (c) {
    case 0x000: return "ustatus"; case 0x001: return "fflags"; case 0x002: return "frm";
    case 0x003: return "fcsr"; case 0x004: return "uie"; case 0x005: return "utvec";
    case 0x040: return "uscratch"; case 0x041: return "uepc"; case 0x042: return "ucause";
    case 0x043: return "utval"; case 0x044: return "uip";
    case 0x100: return "sstatus"; case 0x102: return "sedeleg"; case 0x103: return "sideleg";
    case 0x104: return "sie"; case 0x105: return "stvec"; case 0x106: return "scounteren";
    case 0x140: return "sscratch"; case 0x141: return "sepc"; case 0x142: return "scause";
    case 0x143: return "stval"; case 0x144: return "sip"; case 0x180: return "satp";
    case 0x300: return "mstatus"; case 0x301: return "misa"; case 0x302: return "medeleg";
    case 0x303: return "mideleg"; case 0x304: return "mie"; case 0x305: return "mtvec";
    case 0x306: return "mcounteren"; case 0x340: return "mscratch"; case 0x341: return "mepc";
    case 0x342: return "mcause"; case 0x343: return "mtval"; case 0x344: return "mip";
    case 0x7a0: return "tselect"; case 0x7a1: return "tdata1"; case 0x7a2: return "tdata2";
    case 0x7a3: return "tdata3"; case 0x7b0: return "dcsr"; case 0x7b1: return "dpc";
    case 0x7b2: return "dscratch"; case 0xb00: return "mcycle"; case 0xb02: return "minstret";
    case 0xb80: return "mcycleh"; case 0xb82: return "minstreth";
    case 0xc00: return "cycle"; case 0xc01: return "time"; case 0xc02: return "instret";
    case 0xc80: return "cycleh"; case 0xc81: return "timeh"; case 0xc82: return "instreth";
    case 0xf11: return "mvendorid"; case 0xf12: return "marchid"; case 0xf13: return "mimpid";
    case 0xf14: return "mhartid";
    }
    return NULL;
}

/* Writes the CSR's name, or its number in decimal as capstone does. */
static void put_csr(out_t *o, unsigned c)
{
    char t[24];
    const char *n = csr_fixed(c);
    unsigned lo = c & 0x1f;
    if (n) { put(o, n); return; }
    if (c >= 0x3a0 && c <= 0x3a3) snprintf(t, sizeof t, "pmpcfg%u", c - 0x3a0);
    else if (c >= 0x3b0 && c <= 0x3bf) snprintf(t, sizeof t, "pmpaddr%u", c - 0x3b0);
    else if (c >= 0x323 && c <= 0x33f) snprintf(t, sizeof t, "mhpmevent%u", lo);
    else if (c >= 0xb03 && c <= 0xb1f) snprintf(t, sizeof t, "mhpmcounter%u", lo);
    else if (c >= 0xb83 && c <= 0xb9f) snprintf(t, sizeof t, "mhpmcounter%uh", lo);
    else if (c >= 0xc03 && c <= 0xc1f) snprintf(t, sizeof t, "hpmcounter%u", lo);
    else if (c >= 0xc83 && c <= 0xc9f) snprintf(t, sizeof t, "hpmcounter%uh", lo);
    else snprintf(t, sizeof t, "%u", c);
    put(o, t);
}


/* ---- operand layouts ---------------------------------------------------- */

enum {
    F_NONE, F_RRR, F_RRI, F_RR, F_LD, F_ST, F_BR, F_U, F_J, F_JALR, F_CSR, F_CSRI,
    F_AMO, F_LR, F_FLD, F_FST, F_FFF, F_FFFF, F_FF, F_XF, F_FX, F_XFF, F_FENCE, F_SFENCE,
};
#define RM 0x80     /* flag: the op has a rounding-mode operand */

static const uint8_t layout[RV_OP_COUNT] = {
    [RV_OP_LUI] = F_U, [RV_OP_AUIPC] = F_U, [RV_OP_JAL] = F_J, [RV_OP_JALR] = F_JALR,
    [RV_OP_BEQ] = F_BR, [RV_OP_BNE] = F_BR, [RV_OP_BLT] = F_BR, [RV_OP_BGE] = F_BR,
    [RV_OP_BLTU] = F_BR, [RV_OP_BGEU] = F_BR,
    [RV_OP_LB] = F_LD, [RV_OP_LH] = F_LD, [RV_OP_LW] = F_LD, [RV_OP_LD] = F_LD,
    [RV_OP_LBU] = F_LD, [RV_OP_LHU] = F_LD, [RV_OP_LWU] = F_LD,
    [RV_OP_SB] = F_ST, [RV_OP_SH] = F_ST, [RV_OP_SW] = F_ST, [RV_OP_SD] = F_ST,
    [RV_OP_ADDI] = F_RRI, [RV_OP_SLTI] = F_RRI, [RV_OP_SLTIU] = F_RRI, [RV_OP_XORI] = F_RRI,
    [RV_OP_ORI] = F_RRI, [RV_OP_ANDI] = F_RRI, [RV_OP_SLLI] = F_RRI, [RV_OP_SRLI] = F_RRI,
    [RV_OP_SRAI] = F_RRI, [RV_OP_ADDIW] = F_RRI, [RV_OP_SLLIW] = F_RRI, [RV_OP_SRLIW] = F_RRI,
    [RV_OP_SRAIW] = F_RRI,
    [RV_OP_ADD] = F_RRR, [RV_OP_SUB] = F_RRR, [RV_OP_SLL] = F_RRR, [RV_OP_SLT] = F_RRR,
    [RV_OP_SLTU] = F_RRR, [RV_OP_XOR] = F_RRR, [RV_OP_SRL] = F_RRR, [RV_OP_SRA] = F_RRR,
    [RV_OP_OR] = F_RRR, [RV_OP_AND] = F_RRR, [RV_OP_ADDW] = F_RRR, [RV_OP_SUBW] = F_RRR,
    [RV_OP_SLLW] = F_RRR, [RV_OP_SRLW] = F_RRR, [RV_OP_SRAW] = F_RRR,
    [RV_OP_FENCE] = F_FENCE, [RV_OP_SFENCE_VMA] = F_SFENCE,
    [RV_OP_CSRRW] = F_CSR, [RV_OP_CSRRS] = F_CSR, [RV_OP_CSRRC] = F_CSR,
    [RV_OP_CSRRWI] = F_CSRI, [RV_OP_CSRRSI] = F_CSRI, [RV_OP_CSRRCI] = F_CSRI,
    [RV_OP_MUL] = F_RRR, [RV_OP_MULH] = F_RRR, [RV_OP_MULHSU] = F_RRR, [RV_OP_MULHU] = F_RRR,
    [RV_OP_DIV] = F_RRR, [RV_OP_DIVU] = F_RRR, [RV_OP_REM] = F_RRR, [RV_OP_REMU] = F_RRR,
    [RV_OP_MULW] = F_RRR, [RV_OP_DIVW] = F_RRR, [RV_OP_DIVUW] = F_RRR, [RV_OP_REMW] = F_RRR,
    [RV_OP_REMUW] = F_RRR,
    [RV_OP_LR_W] = F_LR, [RV_OP_LR_D] = F_LR,
    [RV_OP_FLW] = F_FLD, [RV_OP_FLD] = F_FLD, [RV_OP_FSW] = F_FST, [RV_OP_FSD] = F_FST,
    [RV_OP_FMADD_S] = F_FFFF | RM, [RV_OP_FMSUB_S] = F_FFFF | RM,
    [RV_OP_FNMSUB_S] = F_FFFF | RM, [RV_OP_FNMADD_S] = F_FFFF | RM,
    [RV_OP_FMADD_D] = F_FFFF | RM, [RV_OP_FMSUB_D] = F_FFFF | RM,
    [RV_OP_FNMSUB_D] = F_FFFF | RM, [RV_OP_FNMADD_D] = F_FFFF | RM,
    [RV_OP_FADD_S] = F_FFF | RM, [RV_OP_FSUB_S] = F_FFF | RM, [RV_OP_FMUL_S] = F_FFF | RM,
    [RV_OP_FDIV_S] = F_FFF | RM, [RV_OP_FSQRT_S] = F_FF | RM,
    [RV_OP_FADD_D] = F_FFF | RM, [RV_OP_FSUB_D] = F_FFF | RM, [RV_OP_FMUL_D] = F_FFF | RM,
    [RV_OP_FDIV_D] = F_FFF | RM, [RV_OP_FSQRT_D] = F_FF | RM,
    [RV_OP_FSGNJ_S] = F_FFF, [RV_OP_FSGNJN_S] = F_FFF, [RV_OP_FSGNJX_S] = F_FFF,
    [RV_OP_FMIN_S] = F_FFF, [RV_OP_FMAX_S] = F_FFF,
    [RV_OP_FSGNJ_D] = F_FFF, [RV_OP_FSGNJN_D] = F_FFF, [RV_OP_FSGNJX_D] = F_FFF,
    [RV_OP_FMIN_D] = F_FFF, [RV_OP_FMAX_D] = F_FFF,
    [RV_OP_FCVT_W_S] = F_XF | RM, [RV_OP_FCVT_WU_S] = F_XF | RM,
    [RV_OP_FCVT_L_S] = F_XF | RM, [RV_OP_FCVT_LU_S] = F_XF | RM,
    [RV_OP_FCVT_W_D] = F_XF | RM, [RV_OP_FCVT_WU_D] = F_XF | RM,
    [RV_OP_FCVT_L_D] = F_XF | RM, [RV_OP_FCVT_LU_D] = F_XF | RM,
    [RV_OP_FMV_X_W] = F_XF, [RV_OP_FCLASS_S] = F_XF, [RV_OP_FMV_X_D] = F_XF, [RV_OP_FCLASS_D] = F_XF,
    [RV_OP_FEQ_S] = F_XFF, [RV_OP_FLT_S] = F_XFF, [RV_OP_FLE_S] = F_XFF,
    [RV_OP_FEQ_D] = F_XFF, [RV_OP_FLT_D] = F_XFF, [RV_OP_FLE_D] = F_XFF,
    [RV_OP_FCVT_S_W] = F_FX | RM, [RV_OP_FCVT_S_WU] = F_FX | RM,
    [RV_OP_FCVT_S_L] = F_FX | RM, [RV_OP_FCVT_S_LU] = F_FX | RM,
    [RV_OP_FCVT_D_L] = F_FX | RM, [RV_OP_FCVT_D_LU] = F_FX | RM,
    /* exact conversions: capstone prints no rounding mode (and rejects one) */
    [RV_OP_FCVT_D_W] = F_FX, [RV_OP_FCVT_D_WU] = F_FX, [RV_OP_FCVT_D_S] = F_FF,
    [RV_OP_FCVT_S_D] = F_FF | RM,
    [RV_OP_FMV_W_X] = F_FX, [RV_OP_FMV_D_X] = F_FX,
    [RV_OP_ADD_UW] = F_RRR, [RV_OP_SH1ADD] = F_RRR, [RV_OP_SH2ADD] = F_RRR, [RV_OP_SH3ADD] = F_RRR,
    [RV_OP_SH1ADD_UW] = F_RRR, [RV_OP_SH2ADD_UW] = F_RRR, [RV_OP_SH3ADD_UW] = F_RRR,
    [RV_OP_SLLI_UW] = F_RRI,
    [RV_OP_ANDN] = F_RRR, [RV_OP_ORN] = F_RRR, [RV_OP_XNOR] = F_RRR,
    [RV_OP_CLZ] = F_RR, [RV_OP_CLZW] = F_RR, [RV_OP_CTZ] = F_RR, [RV_OP_CTZW] = F_RR,
    [RV_OP_CPOP] = F_RR, [RV_OP_CPOPW] = F_RR,
    [RV_OP_MAX] = F_RRR, [RV_OP_MAXU] = F_RRR, [RV_OP_MIN] = F_RRR, [RV_OP_MINU] = F_RRR,
    [RV_OP_SEXT_B] = F_RR, [RV_OP_SEXT_H] = F_RR, [RV_OP_ZEXT_H] = F_RR,
    [RV_OP_ROL] = F_RRR, [RV_OP_ROLW] = F_RRR, [RV_OP_ROR] = F_RRR, [RV_OP_RORW] = F_RRR,
    [RV_OP_RORI] = F_RRI, [RV_OP_RORIW] = F_RRI, [RV_OP_ORC_B] = F_RR, [RV_OP_REV8] = F_RR,
    [RV_OP_BCLR] = F_RRR, [RV_OP_BEXT] = F_RRR, [RV_OP_BINV] = F_RRR, [RV_OP_BSET] = F_RRR,
    [RV_OP_BCLRI] = F_RRI, [RV_OP_BEXTI] = F_RRI, [RV_OP_BINVI] = F_RRI, [RV_OP_BSETI] = F_RRI,
};

static int is_amo(int op)
{
    return (op >= RV_OP_LR_W && op <= RV_OP_AMOMAXU_D);
}

/* "mnemonic a, b" helpers for the alias printers. */
static void name(out_t *o, const char *m) { put(o, m); put(o, " "); }
static void op_r(out_t *o, const char *m, unsigned a, unsigned b)
{
    name(o, m); x(o, a); sep(o); x(o, b);
}
static void op_f(out_t *o, const char *m, unsigned a, unsigned b)
{
    name(o, m); f(o, a); sep(o); f(o, b);
}
static void op_ri(out_t *o, const char *m, unsigned a, int64_t v)
{
    name(o, m); x(o, a); sep(o); put_imm(o, v);
}

/* csrrs rd, csr, zero reads: the counter and FP-CSR shorthands. */
static const char *csr_read_alias(unsigned c)
{
    switch (c) {
    case 0x001: return "frflags"; case 0x002: return "frrm"; case 0x003: return "frcsr";
    case 0xc00: return "rdcycle"; case 0xc01: return "rdtime"; case 0xc02: return "rdinstret";
    case 0xc80: return "rdcycleh"; case 0xc81: return "rdtimeh"; case 0xc82: return "rdinstreth";
    }
    return NULL;
}

/* CSR instructions with capstone's aliases (csrr, csrw, fsflags, ...). */
static void put_csr_insn(out_t *o, const rv_insn *in)
{
    static const char *const fp_w[4] = { NULL, "fsflags", "fsrm", "fscsr" };
    static const char *const fp_wi[4] = { NULL, "fsflagsi", "fsrmi", NULL };
    static const char *const short_name[8] = {
        NULL, "csrw", "csrs", "csrc", NULL, "csrwi", "csrsi", "csrci" };
    unsigned c = (unsigned)in->imm, imm_form = in->op >= RV_OP_CSRRWI;
    unsigned kind = (unsigned)(in->op - RV_OP_CSRRW) + (imm_form ? 2 : 1);  /* funct3 */
    const char *m = rv_op_mnemonic[in->op];
    if (in->op == RV_OP_CSRRW && c == 0xc00 && in->rd == 0 && in->rs1 == 0) {
        put(o, "unimp");
        return;
    }
    if (in->op == RV_OP_CSRRS && in->rs1 == 0) {
        const char *a = csr_read_alias(c);
        if (a) { name(o, a); x(o, in->rd); return; }
        name(o, "csrr"); x(o, in->rd); sep(o); put_csr(o, c);
        return;
    }
    if (c <= 3 && (in->op == RV_OP_CSRRW ? fp_w[c] : in->op == RV_OP_CSRRWI ? fp_wi[c] : NULL)) {
        name(o, in->op == RV_OP_CSRRW ? fp_w[c] : fp_wi[c]);
        if (in->rd) { x(o, in->rd); sep(o); }
        if (imm_form) put_imm(o, in->rs1); else x(o, in->rs1);
        return;
    }
    if (in->rd == 0 && short_name[kind]) {
        name(o, short_name[kind]); put_csr(o, c); sep(o);
    } else {
        name(o, m); x(o, in->rd); sep(o); put_csr(o, c); sep(o);
    }
    if (imm_form) put_imm(o, in->rs1); else x(o, in->rs1);
}

/* Integer aliases (mv, not, neg, seqz, beqz, j, ret ...); 1 if printed. */
static int int_alias(out_t *o, const rv_insn *in)
{
    unsigned rd = in->rd, a = in->rs1, b = in->rs2;
    switch (in->op) {
    case RV_OP_ADDI:
        if (in->imm == 0 && rd == 0 && a == 0) { put(o, "nop"); return 1; }
        if (in->imm == 0) { op_r(o, "mv", rd, a); return 1; }
        return 0;
    case RV_OP_XORI: if (in->imm == -1) { op_r(o, "not", rd, a); return 1; } return 0;
    case RV_OP_SLTIU: if (in->imm == 1) { op_r(o, "seqz", rd, a); return 1; } return 0;
    case RV_OP_ADDIW: if (in->imm == 0) { op_r(o, "sext.w", rd, a); return 1; } return 0;
    case RV_OP_SUB: if (a == 0) { op_r(o, "neg", rd, b); return 1; } return 0;
    case RV_OP_SUBW: if (a == 0) { op_r(o, "negw", rd, b); return 1; } return 0;
    case RV_OP_SLTU: if (a == 0) { op_r(o, "snez", rd, b); return 1; } return 0;
    case RV_OP_SLT:
        if (b == 0) { op_r(o, "sltz", rd, a); return 1; }
        if (a == 0) { op_r(o, "sgtz", rd, b); return 1; }
        return 0;
    case RV_OP_ADD_UW: if (b == 0) { op_r(o, "zext.w", rd, a); return 1; } return 0;
    case RV_OP_BEQ: if (b == 0) { op_ri(o, "beqz", a, in->imm); return 1; } return 0;
    case RV_OP_BNE: if (b == 0) { op_ri(o, "bnez", a, in->imm); return 1; } return 0;
    case RV_OP_BLT:
        if (b == 0) { op_ri(o, "bltz", a, in->imm); return 1; }
        if (a == 0) { op_ri(o, "bgtz", b, in->imm); return 1; }
        return 0;
    case RV_OP_BGE:
        if (a == 0) { op_ri(o, "blez", b, in->imm); return 1; }
        if (b == 0) { op_ri(o, "bgez", a, in->imm); return 1; }
        return 0;
    case RV_OP_JAL:
        if (rd > 1) return 0;
        name(o, rd ? "jal" : "j"); put_imm(o, in->imm);
        return 1;
    case RV_OP_JALR:
        if (in->imm != 0 || rd > 1) return 0;
        if (rd == 0 && a == 1) put(o, "ret");
        else { name(o, rd ? "jalr" : "jr"); x(o, a); }
        return 1;
    }
    return 0;
}

/* fsgnj{,n,x} with equal sources: fmv / fneg / fabs. */
static int fp_alias(out_t *o, const rv_insn *in)
{
    static const char *const s[3] = { "fmv.s", "fneg.s", "fabs.s" };
    static const char *const d[3] = { "fmv.d", "fneg.d", "fabs.d" };
    if (in->rs1 != in->rs2) return 0;
    if (in->op >= RV_OP_FSGNJ_S && in->op <= RV_OP_FSGNJX_S) op_f(o, s[in->op - RV_OP_FSGNJ_S], in->rd, in->rs1);
    else if (in->op >= RV_OP_FSGNJ_D && in->op <= RV_OP_FSGNJX_D) op_f(o, d[in->op - RV_OP_FSGNJ_D], in->rd, in->rs1);
    else return 0;
    return 1;
}

/* fence's pred/succ sets: "iorw" letters, "unknown" for the empty set. */
static void put_fence_set(out_t *o, unsigned s)
{
    char t[5], *p = t;
    if (s & 8) *p++ = 'i';
    if (s & 4) *p++ = 'o';
    if (s & 2) *p++ = 'r';
    if (s & 1) *p++ = 'w';
    *p = '\0';
    put(o, s ? t : "unknown");
}

static void put_fence(out_t *o, const rv_insn *in)
{
    unsigned fm = ((unsigned)in->imm >> 8) & 15, pred = ((unsigned)in->imm >> 4) & 15, succ = in->imm & 15;
    if (fm == 8 && pred == 3 && succ == 3) { put(o, "fence.tso"); return; }
    if (pred == 15 && succ == 15) { put(o, "fence"); return; }
    name(o, "fence"); put_fence_set(o, pred); sep(o); put_fence_set(o, succ);
}

static void put_amo(out_t *o, const rv_insn *in)
{
    static const char *const order[4] = { "", ".rl", ".aq", ".aqrl" };
    put(o, rv_op_mnemonic[in->op]);
    put(o, order[in->rm & 3]);
    put(o, " ");
    x(o, in->rd); sep(o);
    if (in->op != RV_OP_LR_W && in->op != RV_OP_LR_D) { x(o, in->rs2); sep(o); }
    put(o, "("); x(o, in->rs1); put(o, ")");
}

/* Operands by layout, for everything without an alias. */
static void put_operands(out_t *o, const rv_insn *in, unsigned lay)
{
    switch (lay) {
    case F_RRR: x(o, in->rd); sep(o); x(o, in->rs1); sep(o); x(o, in->rs2); break;
    case F_RRI: x(o, in->rd); sep(o); x(o, in->rs1); sep(o); put_imm(o, in->imm); break;
    case F_RR: x(o, in->rd); sep(o); x(o, in->rs1); break;
    case F_LD: x(o, in->rd); sep(o); mem(o, in->imm, in->rs1); break;
    case F_ST: x(o, in->rs2); sep(o); mem(o, in->imm, in->rs1); break;
    case F_FLD: f(o, in->rd); sep(o); mem(o, in->imm, in->rs1); break;
    case F_FST: f(o, in->rs2); sep(o); mem(o, in->imm, in->rs1); break;
    case F_BR: x(o, in->rs1); sep(o); x(o, in->rs2); sep(o); put_imm(o, in->imm); break;
    case F_U: x(o, in->rd); sep(o); put_imm(o, ((uint32_t)in->imm >> 12) & 0xfffff); break;
    case F_J: x(o, in->rd); sep(o); put_imm(o, in->imm); break;
    case F_JALR: x(o, in->rd); sep(o); x(o, in->rs1); sep(o); put_imm(o, in->imm); break;
    case F_FFF: f(o, in->rd); sep(o); f(o, in->rs1); sep(o); f(o, in->rs2); break;
    case F_FFFF:
        f(o, in->rd); sep(o); f(o, in->rs1); sep(o); f(o, in->rs2); sep(o); f(o, in->rs3);
        break;
    case F_FF: f(o, in->rd); sep(o); f(o, in->rs1); break;
    case F_XF: x(o, in->rd); sep(o); f(o, in->rs1); break;
    case F_FX: f(o, in->rd); sep(o); x(o, in->rs1); break;
    case F_XFF: x(o, in->rd); sep(o); f(o, in->rs1); sep(o); f(o, in->rs2); break;
    case F_SFENCE:
        if (in->rs1 || in->rs2) x(o, in->rs1);
        if (in->rs2) { sep(o); x(o, in->rs2); }
        break;
    }
}

static void disasm32(out_t *o, const rv_insn *in)
{
    unsigned lay = layout[in->op] & 0x7f;
    if (in->op == RV_OP_ILLEGAL) { put(o, "illegal"); return; }
    if (lay == F_CSR || lay == F_CSRI) { put_csr_insn(o, in); return; }
    if (lay == F_FENCE) { put_fence(o, in); return; }
    if (is_amo(in->op)) { put_amo(o, in); return; }
    if (int_alias(o, in) || fp_alias(o, in)) return;
    put(o, rv_op_mnemonic[in->op]);
    if (lay == F_NONE) return;
    if (in->op == RV_OP_SFENCE_VMA && !in->rs1 && !in->rs2) return;
    put(o, " ");
    put_operands(o, in, lay);
    if ((layout[in->op] & RM) && in->rm != 7) { sep(o); put(o, rm_name[in->rm & 7]); }
}

/* ---- compressed: "c." names over the expanded operation's fields ------- */

static void c_mem(out_t *o, const rv_insn *in, unsigned quadrant)
{
    int store = in->op == RV_OP_SW || in->op == RV_OP_SD || in->op == RV_OP_FSD;
    int fp = in->op == RV_OP_FLD || in->op == RV_OP_FSD;
    unsigned r = store ? in->rs2 : in->rd;
    put(o, "c.");
    put(o, rv_op_mnemonic[in->op]);
    put(o, quadrant == 2 ? "sp " : " ");
    if (fp) f(o, r); else x(o, r);
    sep(o);
    mem(o, in->imm, in->rs1);
}

static void disasm16(out_t *o, const rv_insn *in)
{
    unsigned h = in->raw, q = h & 3, f3 = h >> 13;
    char m[16];
    switch (in->op) {
    case RV_OP_ILLEGAL:
        put(o, h == 0 ? "c.unimp" : "illegal");
        return;
    case RV_OP_ADDI:
        if (q == 0) { name(o, "c.addi4spn"); x(o, in->rd); put(o, ", sp, "); put_imm(o, in->imm); }
        else if (f3 == 0 && in->rd == 0) put(o, "c.nop");
        else if (f3 == 3) { name(o, "c.addi16sp sp,"); put_imm(o, in->imm); }
        else op_ri(o, f3 == 2 ? "c.li" : "c.addi", in->rd, in->imm);
        return;
    case RV_OP_LUI: op_ri(o, "c.lui", in->rd, ((uint32_t)in->imm >> 12) & 0xfffff); return;
    case RV_OP_ADDIW: case RV_OP_SRLI: case RV_OP_SRAI: case RV_OP_ANDI: case RV_OP_SLLI:
        snprintf(m, sizeof m, "c.%s", rv_op_mnemonic[in->op]);
        op_ri(o, m, in->rd, in->imm);
        return;
    case RV_OP_SUB: case RV_OP_XOR: case RV_OP_OR: case RV_OP_AND: case RV_OP_SUBW: case RV_OP_ADDW:
        snprintf(m, sizeof m, "c.%s", rv_op_mnemonic[in->op]);
        op_r(o, m, in->rd, in->rs2);
        return;
    case RV_OP_ADD: op_r(o, (h >> 12) & 1 ? "c.add" : "c.mv", in->rd, in->rs2); return;
    case RV_OP_JAL: name(o, "c.j"); put_imm(o, in->imm); return;
    case RV_OP_BEQ: op_ri(o, "c.beqz", in->rs1, in->imm); return;
    case RV_OP_BNE: op_ri(o, "c.bnez", in->rs1, in->imm); return;
    case RV_OP_JALR: name(o, in->rd ? "c.jalr" : "c.jr"); x(o, in->rs1); return;
    case RV_OP_EBREAK: put(o, "c.ebreak"); return;
    }
    c_mem(o, in, q);
}

int rv_disasm(uint64_t pc, uint32_t bits, char *buf, size_t buflen)
{
    rv_insn in;
    char text[128];
    out_t o = { text, sizeof text };
    int len = rv_decode(bits, &in);
    (void)pc;   /* capstone prints pc-relative offsets, not targets */
    text[0] = '\0';
    if (len == 2) disasm16(&o, &in);
    else disasm32(&o, &in);
    if (buf && buflen) {
        out_t dst = { buf, buflen };
        put(&dst, text);
    }
    return len;
}
