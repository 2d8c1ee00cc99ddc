/* rv.h — RISC-V 64 inside the core: cpu state, decoded instructions, and the
 * interfaces between decoder, disassembler, FPU, CSRs and engines. */
#ifndef VM_RV_H
#define VM_RV_H

#include "../machine.h"

/* Every operation the decoder produces.  Compressed instructions decode to
 * the base operation they expand to (insn.len == 2, insn.raw keeps the
 * 16-bit encoding for the disassembler).  X(name, mnemonic) */
#define RV_OPS(X) \
    X(ILLEGAL, "illegal") \
    /* RV64I */ \
    X(LUI, "lui") X(AUIPC, "auipc") X(JAL, "jal") X(JALR, "jalr") \
    X(BEQ, "beq") X(BNE, "bne") X(BLT, "blt") X(BGE, "bge") X(BLTU, "bltu") X(BGEU, "bgeu") \
    X(LB, "lb") X(LH, "lh") X(LW, "lw") X(LD, "ld") X(LBU, "lbu") X(LHU, "lhu") X(LWU, "lwu") \
    X(SB, "sb") X(SH, "sh") X(SW, "sw") X(SD, "sd") \
    X(ADDI, "addi") X(SLTI, "slti") X(SLTIU, "sltiu") X(XORI, "xori") X(ORI, "ori") X(ANDI, "andi") \
    X(SLLI, "slli") X(SRLI, "srli") X(SRAI, "srai") \
    X(ADD, "add") X(SUB, "sub") X(SLL, "sll") X(SLT, "slt") X(SLTU, "sltu") X(XOR, "xor") \
    X(SRL, "srl") X(SRA, "sra") X(OR, "or") X(AND, "and") \
    X(ADDIW, "addiw") X(SLLIW, "slliw") X(SRLIW, "srliw") X(SRAIW, "sraiw") \
    X(ADDW, "addw") X(SUBW, "subw") X(SLLW, "sllw") X(SRLW, "srlw") X(SRAW, "sraw") \
    X(FENCE, "fence") X(FENCE_I, "fence.i") X(ECALL, "ecall") X(EBREAK, "ebreak") \
    /* Zicsr */ \
    X(CSRRW, "csrrw") X(CSRRS, "csrrs") X(CSRRC, "csrrc") \
    X(CSRRWI, "csrrwi") X(CSRRSI, "csrrsi") X(CSRRCI, "csrrci") \
    /* privileged */ \
    X(MRET, "mret") X(SRET, "sret") X(WFI, "wfi") X(SFENCE_VMA, "sfence.vma") \
    /* M */ \
    X(MUL, "mul") X(MULH, "mulh") X(MULHSU, "mulhsu") X(MULHU, "mulhu") \
    X(DIV, "div") X(DIVU, "divu") X(REM, "rem") X(REMU, "remu") \
    X(MULW, "mulw") X(DIVW, "divw") X(DIVUW, "divuw") X(REMW, "remw") X(REMUW, "remuw") \
    /* A (insn.rm holds aq<<1 | rl) */ \
    X(LR_W, "lr.w") X(SC_W, "sc.w") X(AMOSWAP_W, "amoswap.w") X(AMOADD_W, "amoadd.w") \
    X(AMOXOR_W, "amoxor.w") X(AMOAND_W, "amoand.w") X(AMOOR_W, "amoor.w") \
    X(AMOMIN_W, "amomin.w") X(AMOMAX_W, "amomax.w") X(AMOMINU_W, "amominu.w") X(AMOMAXU_W, "amomaxu.w") \
    X(LR_D, "lr.d") X(SC_D, "sc.d") X(AMOSWAP_D, "amoswap.d") X(AMOADD_D, "amoadd.d") \
    X(AMOXOR_D, "amoxor.d") X(AMOAND_D, "amoand.d") X(AMOOR_D, "amoor.d") \
    X(AMOMIN_D, "amomin.d") X(AMOMAX_D, "amomax.d") X(AMOMINU_D, "amominu.d") X(AMOMAXU_D, "amomaxu.d") \
    /* F and D loads/stores (executed by the engine) */ \
    X(FLW, "flw") X(FSW, "fsw") X(FLD, "fld") X(FSD, "fsd") \
    /* F (executed by rv_fp_exec; insn.rm holds the rounding-mode field) */ \
    X(FMADD_S, "fmadd.s") X(FMSUB_S, "fmsub.s") X(FNMSUB_S, "fnmsub.s") X(FNMADD_S, "fnmadd.s") \
    X(FADD_S, "fadd.s") X(FSUB_S, "fsub.s") X(FMUL_S, "fmul.s") X(FDIV_S, "fdiv.s") X(FSQRT_S, "fsqrt.s") \
    X(FSGNJ_S, "fsgnj.s") X(FSGNJN_S, "fsgnjn.s") X(FSGNJX_S, "fsgnjx.s") \
    X(FMIN_S, "fmin.s") X(FMAX_S, "fmax.s") \
    X(FCVT_W_S, "fcvt.w.s") X(FCVT_WU_S, "fcvt.wu.s") X(FCVT_L_S, "fcvt.l.s") X(FCVT_LU_S, "fcvt.lu.s") \
    X(FMV_X_W, "fmv.x.w") X(FEQ_S, "feq.s") X(FLT_S, "flt.s") X(FLE_S, "fle.s") X(FCLASS_S, "fclass.s") \
    X(FCVT_S_W, "fcvt.s.w") X(FCVT_S_WU, "fcvt.s.wu") X(FCVT_S_L, "fcvt.s.l") X(FCVT_S_LU, "fcvt.s.lu") \
    X(FMV_W_X, "fmv.w.x") \
    /* D */ \
    X(FMADD_D, "fmadd.d") X(FMSUB_D, "fmsub.d") X(FNMSUB_D, "fnmsub.d") X(FNMADD_D, "fnmadd.d") \
    X(FADD_D, "fadd.d") X(FSUB_D, "fsub.d") X(FMUL_D, "fmul.d") X(FDIV_D, "fdiv.d") X(FSQRT_D, "fsqrt.d") \
    X(FSGNJ_D, "fsgnj.d") X(FSGNJN_D, "fsgnjn.d") X(FSGNJX_D, "fsgnjx.d") \
    X(FMIN_D, "fmin.d") X(FMAX_D, "fmax.d") X(FCVT_S_D, "fcvt.s.d") X(FCVT_D_S, "fcvt.d.s") \
    X(FEQ_D, "feq.d") X(FLT_D, "flt.d") X(FLE_D, "fle.d") X(FCLASS_D, "fclass.d") \
    X(FCVT_W_D, "fcvt.w.d") X(FCVT_WU_D, "fcvt.wu.d") X(FCVT_L_D, "fcvt.l.d") X(FCVT_LU_D, "fcvt.lu.d") \
    X(FCVT_D_W, "fcvt.d.w") X(FCVT_D_WU, "fcvt.d.wu") X(FCVT_D_L, "fcvt.d.l") X(FCVT_D_LU, "fcvt.d.lu") \
    X(FMV_X_D, "fmv.x.d") X(FMV_D_X, "fmv.d.x") \
    /* Zba */ \
    X(ADD_UW, "add.uw") X(SH1ADD, "sh1add") X(SH2ADD, "sh2add") X(SH3ADD, "sh3add") \
    X(SH1ADD_UW, "sh1add.uw") X(SH2ADD_UW, "sh2add.uw") X(SH3ADD_UW, "sh3add.uw") X(SLLI_UW, "slli.uw") \
    /* Zbb */ \
    X(ANDN, "andn") X(ORN, "orn") X(XNOR, "xnor") X(CLZ, "clz") X(CLZW, "clzw") X(CTZ, "ctz") X(CTZW, "ctzw") \
    X(CPOP, "cpop") X(CPOPW, "cpopw") X(MAX, "max") X(MAXU, "maxu") X(MIN, "min") X(MINU, "minu") \
    X(SEXT_B, "sext.b") X(SEXT_H, "sext.h") X(ZEXT_H, "zext.h") X(ROL, "rol") X(ROLW, "rolw") \
    X(ROR, "ror") X(RORI, "rori") X(RORIW, "roriw") X(RORW, "rorw") X(ORC_B, "orc.b") X(REV8, "rev8") \
    /* Zbs */ \
    X(BCLR, "bclr") X(BCLRI, "bclri") X(BEXT, "bext") X(BEXTI, "bexti") \
    X(BINV, "binv") X(BINVI, "binvi") X(BSET, "bset") X(BSETI, "bseti")

enum rv_op {
#define RV_OP_ENUM(name, mnem) RV_OP_##name,
    RV_OPS(RV_OP_ENUM)
#undef RV_OP_ENUM
    RV_OP_COUNT
};
extern const char *const rv_op_mnemonic[RV_OP_COUNT];

/* One decoded instruction.  Register fields are architectural numbers
 * (0..31; FP ops use them for f registers where the encoding says so).
 * imm is the sign-extended immediate (shift amount for shifts, csr number
 * for CSR ops with the 5-bit uimm in rs1 for the *I forms). */
typedef struct rv_insn {
    /* The operands come first: the interpreter's handlers read these eight
     * bytes as one word (see operand_word in interp.c). */
    uint8_t rd, rs1, rs2, rs3;
    int32_t imm;
    uint16_t op;        /* enum rv_op */
    uint8_t len;        /* 2 or 4 */
    uint8_t rm;         /* FP rounding mode field, or aq/rl for A */
    uint32_t raw;       /* the encoding (16 bits for compressed) */
} rv_insn;
_Static_assert(offsetof(rv_insn, rd) == 0 && offsetof(rv_insn, rs1) == 1 && offsetof(rv_insn, rs2) == 2 &&
               offsetof(rv_insn, rs3) == 3 && offsetof(rv_insn, imm) == 4, "operands in the first word");

/* Decodes the instruction whose first 32 bits (or 16 for a compressed one;
 * the upper half may then be anything) are in bits.  Always fills *out;
 * returns the length (2 or 4), with out->op == RV_OP_ILLEGAL for an invalid
 * or reserved encoding. */
int rv_decode(uint32_t bits, rv_insn *out);

/* Disassembles one instruction in the style of capstone/objdump with ABI
 * register names ("addi sp, sp, -16", "c.addi sp, -16" for compressed).
 * Returns the length (2 or 4); writes "illegal" for invalid encodings. */
int rv_disasm(uint64_t pc, uint32_t bits, char *buf, size_t buflen);

/* Privilege levels. */
enum { RV_PRIV_U = 0, RV_PRIV_S = 1, RV_PRIV_M = 3 };

/* Exception causes (privileged spec, table 3.6). */
enum {
    RV_EXC_INSN_MISALIGNED = 0, RV_EXC_INSN_ACCESS = 1, RV_EXC_ILLEGAL = 2,
    RV_EXC_BREAKPOINT = 3, RV_EXC_LOAD_MISALIGNED = 4, RV_EXC_LOAD_ACCESS = 5,
    RV_EXC_STORE_MISALIGNED = 6, RV_EXC_STORE_ACCESS = 7, RV_EXC_ECALL_U = 8,
    RV_EXC_ECALL_S = 9, RV_EXC_ECALL_M = 11, RV_EXC_INSN_PAGE = 12,
    RV_EXC_LOAD_PAGE = 13, RV_EXC_STORE_PAGE = 15,
};

/* fcsr.fflags bits. */
enum { RV_FFLAG_NX = 1, RV_FFLAG_UF = 2, RV_FFLAG_OF = 4, RV_FFLAG_DZ = 8, RV_FFLAG_NV = 16 };

typedef struct rv_cpu {
    vm_cpu common;              /* must be first */
    uint64_t x[33];             /* x[32] is where writes to x0 go (decoder never targets it) */
    uint64_t pc;
    uint64_t f[32];             /* raw bits; singles are NaN-boxed */
    uint32_t fflags, frm;       /* fcsr split into its two fields */
    uint64_t reservation;       /* LR/SC: reserved address, or ~0 */
    int priv;

    /* machine- and supervisor-level CSRs (issue: privileged mode) */
    uint64_t mstatus, misa, medeleg, mideleg, mie, mip, mtvec, mscratch, mepc, mcause, mtval;
    uint64_t mcounteren, scounteren, menvcfg, senvcfg;
    uint64_t stvec, sscratch, sepc, scause, stval, satp;
    uint64_t mhartid;
    uint64_t stimecmp;

    /* system mode (issue 3): machine timer compare written by the CLINT,
     * PMP registers, and the WFI idle flag the board's scheduler looks at */
    uint64_t mtimecmp;
    uint64_t pmpaddr[16];
    uint8_t pmpcfg[16];
    bool wfi;
} rv_cpu;

static inline rv_cpu *rv_cpu_of(vm_cpu *c) { return (rv_cpu *)c; }

/* mstatus fields used outside csr.c. */
#define RV_MSTATUS_FS_SHIFT 13
#define RV_MSTATUS_FS (3ull << RV_MSTATUS_FS_SHIFT)
#define RV_MSTATUS_SD (1ull << 63)

/* FPU (fpu.c): executes the F/D operation in (everything but FLW/FSW/FLD/
 * FSD) on c.  Returns 0, or RV_EXC_ILLEGAL for an invalid rounding mode or
 * with the FPU off (mstatus.FS == 0).  Sets fflags; marks FS dirty. */
int rv_fp_exec(rv_cpu *c, const rv_insn *in);

/* Traps (trap.c).  c->pc is the trapping instruction.  Decides, in order:
 * invalid-instruction hooks, trap hooks, Linux syscalls, the guest's trap
 * vector (system mode) or stopping the run. */
enum { RV_TRAP_NEXT, RV_TRAP_GUEST, RV_TRAP_STOP };
int rv_take_trap(rv_cpu *c, uint64_t cause, uint64_t tval, unsigned len);
/* MRET/SRET: returns 0 (c->pc set) or RV_EXC_ILLEGAL. */
int rv_xret(rv_cpu *c, bool machine);

/* Interrupts and time (irq.c), used in system mode only. */
#define RV_IRQ_SSI 1
#define RV_IRQ_MSI 3
#define RV_IRQ_STI 5
#define RV_IRQ_MTI 7
#define RV_IRQ_SEI 9
#define RV_IRQ_MEI 11
uint64_t rv_time_now(vm_machine *m);                 /* the 10 MHz time base (mtime) */
/* Called when an engine (re)enters a cpu: refreshes the timer bits of mip
 * and takes a pending enabled interrupt.  Returns true if the cpu sleeps in
 * WFI with nothing to wake it (the engine then returns at once). */
bool rv_irq_enter(rv_cpu *c);
/* After a change of mip/mie/mstatus/priv: asks the engine to leave at the
 * next block boundary if an interrupt can now be taken. */
void rv_irq_update(rv_cpu *c);
/* Would WFI wake at once (an interrupt pending in mip & mie)? */
bool rv_irq_wfi_wakes(rv_cpu *c);
/* Sets or clears a device-driven mip bit (CLINT, PLIC). */
void rv_irq_set_line(rv_cpu *c, int irq, bool level);
/* Enters the guest's trap handler for interrupt irq (trap.c). */
void rv_take_interrupt(rv_cpu *c, unsigned irq);

/* The interpreter as the JIT's fallback (interp.c): a private interpreter
 * state, and running exactly one block of it (exact counts, hooks, traps). */
void *rv_interp_create(vm_machine *m);
void rv_interp_destroy(vm_machine *m, void *st);
void rv_interp_flush(void *st);
/* SFENCE.VMAs run so far, and the last one's scope. */
uint64_t rv_interp_sfences(void *st, bool *all, uint64_t *va);
void rv_interp_run_block(vm_cpu *c, void *st);
void rv_interp_run_for(vm_cpu *c, void *st, uint64_t n);

/* MMU (mmu.c): the vm_isa translate hook. */
int rv_mmu_translate(vm_cpu *c, uint64_t vaddr, int access, uint64_t *paddr);

/* PMP (pmp.c).  rv_pmp_check returns 0 (allowed, and the same for the whole
 * page), 1 (allowed, but the page holds other decisions: don't cache it) or
 * VM_EPROT.  rv_pmp_phys_check is the vm_isa phys_check hook. */
int rv_pmp_check(rv_cpu *c, uint64_t pa, unsigned size, int access, int priv);
int rv_pmp_phys_check(vm_cpu *c, uint64_t pa, unsigned size, int access);

/* CSRs (csr.c).  Return 0, or RV_EXC_ILLEGAL (no such CSR, no privilege,
 * read-only). */
int rv_csr_read(rv_cpu *c, unsigned csr, uint64_t *val);
int rv_csr_write(rv_cpu *c, unsigned csr, uint64_t val);
const char *rv_csr_name(unsigned csr);          /* NULL if unknown */
int rv_csr_lookup(const char *name);            /* -1 if unknown */

/* Which address space instruction fetch sees, for keying decoded code: 0
 * when fetch is untranslated (M-mode, or satp's mode is Bare), else satp.
 * One number can be a physical address to M and a virtual one to S/U
 * under the same satp, so code caches must not key blocks by pc alone. */
static inline uint64_t rv_code_key(const rv_cpu *c)
{
    return c->priv < RV_PRIV_M && (c->satp >> 60) ? c->satp : 0;
}

/* Make the hart's current satp/privilege/status its live TLB context
 * (tlb.c); call after changing any of them. */
void rv_tlb_sync(rv_cpu *c);

/* AMO arithmetic on the old memory value (the interpreter and the JIT's
 * helper share it); 32-bit ops see sign-extended words. */
static inline uint64_t rv_amo_apply(unsigned op, uint64_t old, uint64_t src, bool word)
{
    if (word) {
        old = (uint64_t)(int64_t)(int32_t)old;
        src = (uint64_t)(int64_t)(int32_t)src;
    }
    switch (op) {
    case RV_OP_AMOSWAP_W: case RV_OP_AMOSWAP_D: return src;
    case RV_OP_AMOADD_W: case RV_OP_AMOADD_D: return old + src;
    case RV_OP_AMOXOR_W: case RV_OP_AMOXOR_D: return old ^ src;
    case RV_OP_AMOAND_W: case RV_OP_AMOAND_D: return old & src;
    case RV_OP_AMOOR_W: case RV_OP_AMOOR_D: return old | src;
    case RV_OP_AMOMIN_W: case RV_OP_AMOMIN_D: return (int64_t)old < (int64_t)src ? old : src;
    case RV_OP_AMOMAX_W: case RV_OP_AMOMAX_D: return (int64_t)old > (int64_t)src ? old : src;
    case RV_OP_AMOMINU_W: return (uint32_t)old < (uint32_t)src ? old : src;
    case RV_OP_AMOMAXU_W: return (uint32_t)old > (uint32_t)src ? old : src;
    case RV_OP_AMOMINU_D: return old < src ? old : src;
    default: return old > src ? old : src;   /* AMOMAXU_D */
    }
}

#endif
