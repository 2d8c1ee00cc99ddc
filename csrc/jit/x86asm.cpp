// x86asm.cpp — wraps asmjit's x86::Assembler for the C translator (see
// x86asm.h).  Nothing else in vmpy includes asmjit.
#include "x86asm.h"

#include <asmjit/x86.h>
#include <new>

using namespace asmjit;

struct jx {
    CodeHolder code;
    x86::Assembler *as = nullptr;
    bool failed = false;
    size_t start = 0;        // offset of the current piece of code
};

namespace {

const InstId kInst[JX_NINSTS] = {
    // In the order of JX_INSTS (asmjit spells the ids in CamelCase).
    x86::Inst::kIdMov, x86::Inst::kIdMovsx, x86::Inst::kIdMovsxd, x86::Inst::kIdMovzx,
    x86::Inst::kIdLea, x86::Inst::kIdAdd, x86::Inst::kIdSub, x86::Inst::kIdAnd,
    x86::Inst::kIdOr, x86::Inst::kIdXor, x86::Inst::kIdCmp, x86::Inst::kIdTest,
    x86::Inst::kIdShl, x86::Inst::kIdShr, x86::Inst::kIdSar, x86::Inst::kIdRol,
    x86::Inst::kIdRor, x86::Inst::kIdImul, x86::Inst::kIdMul, x86::Inst::kIdNeg,
    x86::Inst::kIdNot, x86::Inst::kIdBswap, x86::Inst::kIdBt, x86::Inst::kIdBts,
    x86::Inst::kIdBtr, x86::Inst::kIdBtc, x86::Inst::kIdCall, x86::Inst::kIdJmp,
    x86::Inst::kIdRet, x86::Inst::kIdPush, x86::Inst::kIdPop,
    x86::Inst::kIdJe, x86::Inst::kIdJne, x86::Inst::kIdJl, x86::Inst::kIdJge,
    x86::Inst::kIdJb, x86::Inst::kIdJae, x86::Inst::kIdJa, x86::Inst::kIdJbe,
    x86::Inst::kIdJg, x86::Inst::kIdJle,
    x86::Inst::kIdSete, x86::Inst::kIdSetne, x86::Inst::kIdSetl, x86::Inst::kIdSetge,
    x86::Inst::kIdSetb, x86::Inst::kIdSetae, x86::Inst::kIdSetc,
    x86::Inst::kIdCmovl, x86::Inst::kIdCmovg, x86::Inst::kIdCmovb, x86::Inst::kIdCmova,
    x86::Inst::kIdAndn,
};

x86::Gp gp(unsigned id, unsigned size)
{
    switch (size) {
    case 1: return x86::gpb(id);
    case 2: return x86::gpw(id);
    case 4: return x86::gpd(id);
    default: return x86::gpq(id);
    }
}

Operand op(jx *a, const jx_op *o)
{
    if (!o)
        return Operand();
    switch (o->kind) {
    case JX_REG:
        return gp(o->reg, o->size);
    case JX_MEM:
        if (o->index != 0xff)
            return x86::ptr(x86::gpq(o->reg), x86::gpq(o->index), o->shift, o->disp, o->size);
        return x86::ptr(x86::gpq(o->reg), o->disp, o->size);
    case JX_IMM:
        return Imm(o->imm);
    case JX_LABEL:
        return a->code.labelEntry((uint32_t)o->imm) ? Label((uint32_t)o->imm) : Label();
    case JX_LMEM:         // [rip + label + disp]
        if (!a->code.labelEntry((uint32_t)o->imm))
            return Operand();
        return x86::ptr(Label((uint32_t)o->imm), o->disp, o->size);
    default:
        return Operand();
    }
}

}  // namespace

extern "C" {

jx *jx_new(void)
{
    return new (std::nothrow) jx();
}

void jx_free(jx *a)
{
    if (a) {
        delete a->as;
        delete a;
    }
}

// Blocks are assembled one after the other into the same CodeHolder; only
// every few hundred KiB (or after a failure) is it reset.  Setting up a
// CodeHolder costs more than assembling a typical block.
int jx_begin(jx *a)
{
    if (a->as && !a->failed && a->as->offset() < (512u << 10)) {
        a->start = a->as->offset();
        return 0;
    }
    delete a->as;
    a->as = nullptr;
    a->code.reset(ResetPolicy::kHard);
    a->failed = false;
    a->start = 0;
    if (a->code.init(Environment::host()) != kErrorOk)
        return -1;
    a->as = new (std::nothrow) x86::Assembler(&a->code);
    a->failed = a->as == nullptr;
    return a->failed ? -1 : 0;
}

uint32_t jx_new_label(jx *a)
{
    return a->as->newLabel().id();
}

int jx_bind(jx *a, uint32_t label)
{
    if (a->as->bind(Label(label)) != kErrorOk)
        a->failed = true;
    return a->failed ? -1 : 0;
}

int jx_emit(jx *a, int inst, const jx_op *o0, const jx_op *o1, const jx_op *o2)
{
    if (inst < 0 || inst >= JX_NINSTS) {
        a->failed = true;
        return -1;
    }
    Error e;
    if (o2)
        e = a->as->emit(kInst[inst], op(a, o0), op(a, o1), op(a, o2));
    else if (o1)
        e = a->as->emit(kInst[inst], op(a, o0), op(a, o1));
    else if (o0)
        e = a->as->emit(kInst[inst], op(a, o0));
    else
        e = a->as->emit(kInst[inst]);
    if (e != kErrorOk)
        a->failed = true;
    return a->failed ? -1 : 0;
}

int jx_embed(jx *a, const void *bytes, size_t n)
{
    if (a->as->embed(bytes, n) != kErrorOk)
        a->failed = true;
    return a->failed ? -1 : 0;
}

size_t jx_offset(jx *a)
{
    return a->as->offset() - a->start;
}

size_t jx_label_offset(jx *a, uint32_t label)
{
    return (size_t)a->code.labelOffset(label) - a->start;
}

const uint8_t *jx_code(jx *a, size_t *size)
{
    if (a->failed || a->code.hasUnresolvedLinks()) {
        a->failed = true;    // the next jx_begin starts afresh
        return nullptr;
    }
    CodeBuffer &buf = a->code.textSection()->buffer();
    *size = buf.size() - a->start;
    return buf.data() + a->start;
}

}  // extern "C"
