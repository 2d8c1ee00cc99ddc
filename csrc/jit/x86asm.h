/* x86asm.h — the only door to asmjit: a C view of x86::Assembler with just
 * what the RISC-V translator needs.  Operands are small structs; instruction
 * ids are our own (enum jx_inst) and mapped to asmjit's in x86asm.cpp.  The
 * code produced is position independent (labels are block-local, data in the
 * block is reached RIP-relative through JX_LMEM), so the caller copies it
 * anywhere; the translator keeps it free of absolute host addresses too, so
 * that the persistent code cache can reuse it in another process. */
#ifndef VM_JIT_X86ASM_H
#define VM_JIT_X86ASM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Host registers, by their x86 encoding. */
enum { JX_RAX, JX_RCX, JX_RDX, JX_RBX, JX_RSP, JX_RBP, JX_RSI, JX_RDI,
       JX_R8, JX_R9, JX_R10, JX_R11, JX_R12, JX_R13, JX_R14, JX_R15 };

enum { JX_NONE, JX_REG, JX_MEM, JX_IMM, JX_LABEL, JX_LMEM };

typedef struct jx_op {
    uint8_t kind;
    uint8_t size;        /* bytes: 1, 2, 4, 8 (registers and memory) */
    uint8_t reg;         /* JX_REG: register; JX_MEM: base */
    uint8_t index;       /* JX_MEM: index register, or 0xff for none */
    uint8_t shift;       /* JX_MEM: index scale as a shift */
    int32_t disp;        /* JX_MEM, JX_LMEM */
    int64_t imm;         /* JX_IMM; JX_LABEL, JX_LMEM: the label id */
} jx_op;

#define JX_INSTS(X) \
    X(MOV) X(MOVSX) X(MOVSXD) X(MOVZX) X(LEA) X(ADD) X(SUB) X(AND) X(OR) X(XOR) \
    X(CMP) X(TEST) X(SHL) X(SHR) X(SAR) X(ROL) X(ROR) X(IMUL) X(MUL) X(NEG) X(NOT) \
    X(BSWAP) X(BT) X(BTS) X(BTR) X(BTC) X(CALL) X(JMP) X(RET) X(PUSH) X(POP) \
    X(JE) X(JNE) X(JL) X(JGE) X(JB) X(JAE) X(JA) X(JBE) X(JG) X(JLE) \
    X(SETE) X(SETNE) X(SETL) X(SETGE) X(SETB) X(SETAE) X(SETC) \
    X(CMOVL) X(CMOVG) X(CMOVB) X(CMOVA) X(ANDN)

enum jx_inst {
#define JX_ENUM(n) JX_##n,
    JX_INSTS(JX_ENUM)
#undef JX_ENUM
    JX_NINSTS
};

typedef struct jx jx;

jx *jx_new(void);
void jx_free(jx *a);
/* Starts a new, empty piece of code.  Returns 0 or -1. */
int jx_begin(jx *a);
uint32_t jx_new_label(jx *a);
int jx_bind(jx *a, uint32_t label);
/* Emits one instruction with up to three operands (NULL for none).
 * Returns 0 or -1 (unencodable: the caller gives up on the block). */
int jx_emit(jx *a, int inst, const jx_op *o0, const jx_op *o1, const jx_op *o2);
int jx_embed(jx *a, const void *bytes, size_t n);
size_t jx_offset(jx *a);
/* Offset of a bound label in the code. */
size_t jx_label_offset(jx *a, uint32_t label);
/* The finished code: NULL if any emit failed or a label is unbound. */
const uint8_t *jx_code(jx *a, size_t *size);

#ifdef __cplusplus
}
#endif
#endif
