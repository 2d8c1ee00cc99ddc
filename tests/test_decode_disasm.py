"""RISC-V 64 decoder and disassembler against independent oracles.

Oracles: capstone 5 (text of everything it knows), GNU objdump (text of
Zba/Zbb/Zbs, which capstone 5 lacks), the GNU assembler (encodings of
hand-written instructions whose fields are read off the source text), and
the ISA manual (reserved encodings).

The code under test is reached through the Python binding
(vmpy._core._rv_decode, vmpy.disasm) when it is built, and always through
the standalone C harness tests/native/rv_disasm_main.c compiled here with gcc.
"""
import collections
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

capstone = pytest.importorskip("capstone")

ROOT = Path(__file__).resolve().parents[1]
CROSS_AS = shutil.which("riscv64-linux-gnu-as")
OBJDUMP = shutil.which("riscv64-linux-gnu-objdump")
OBJCOPY = shutil.which("riscv64-linux-gnu-objcopy")
MARCH = "rv64gc_zba_zbb_zbs"

_cs = capstone.Cs(capstone.CS_ARCH_RISCV, capstone.CS_MODE_RISCV64 | capstone.CS_MODE_RISCVC)


def is_compressed(w):
    return (w & 3) != 3


def cs_text(w):
    """capstone's text for one instruction word, or None if it rejects it."""
    size = 2 if is_compressed(w) else 4
    r = list(_cs.disasm((w & ((1 << (8 * size)) - 1)).to_bytes(size, "little"), 0))
    if not r:
        return None
    return (r[0].mnemonic + " " + r[0].op_str).strip()


def fmt_imm(v):
    """capstone's immediate style (the one our disassembler uses everywhere)."""
    mag = abs(v)
    s = "0x%x" % mag if mag > 9 else "%d" % mag
    return "-" + s if v < 0 else s


# --------------------------------------------------------------------------
# Backends: the same rows from the binding and from the native harness.
# A row is (len, text, op, rd, rs1, rs2, rs3, imm, rm).
# --------------------------------------------------------------------------

class Native:
    name = "native"

    def __init__(self, exe):
        self.exe = exe

    def rows(self, words):
        data = "".join("%x\n" % w for w in words)
        out = subprocess.run([self.exe], input=data, capture_output=True, text=True,
                             check=True).stdout.splitlines()
        assert len(out) == len(words)
        rows = []
        for line in out:
            f = line.split("\t")
            rows.append((int(f[0]), f[1], f[2], *map(int, f[3:9])))
        return rows

    def guarded(self, words, buflen):
        data = "".join("%x\n" % w for w in words)
        return subprocess.run([self.exe, "--buflen", str(buflen)], input=data,
                              capture_output=True, text=True, check=True).stdout.splitlines()


class Binding:
    name = "binding"

    def __init__(self, vmpy):
        self.vmpy = vmpy

    def rows(self, words):
        rows = []
        for w in words:
            op, rd, rs1, rs2, rs3, imm, ln, rm = self.vmpy._core._rv_decode(w)
            size = 2 if is_compressed(w) else 4
            code = (w & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
            d = self.vmpy.disasm(code, addr=0, isa="riscv64")
            text = d[0][2] if d else "illegal"
            if d:
                assert d[0][0] == 0 and d[0][1] == ln
            rows.append((ln, text, op, rd, rs1, rs2, rs3, imm, rm))
        return rows


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    gcc = shutil.which("gcc")
    if not gcc:
        pytest.skip("gcc not installed")
    exe = str(tmp_path_factory.mktemp("rvdis") / "rv_disasm_main")
    src = ["tests/native/rv_disasm_main.c", "csrc/core/riscv64/decode.c",
           "csrc/core/riscv64/disasm.c"]
    subprocess.run([gcc, "-std=c11", "-D_GNU_SOURCE", "-O2", "-Wall", "-Wextra",
                    "-Wno-unused-parameter", "-Werror", "-Icsrc", "-o", exe, *src],
                   cwd=ROOT, check=True)
    return Native(exe)


@pytest.fixture(scope="module", params=["native", "binding"])
def rv(request, native):
    if request.param == "native":
        return native
    try:
        import vmpy
    except ImportError:
        pytest.skip("vmpy binding not built")
    if not (hasattr(vmpy, "disasm") and hasattr(getattr(vmpy, "_core", None), "_rv_decode")):
        pytest.skip("vmpy binding lacks disasm/_rv_decode")
    return Binding(vmpy)


# --------------------------------------------------------------------------
# Assembling with the GNU assembler.
# --------------------------------------------------------------------------

def assemble(lines, tmp_path, compressed=False):
    """Encodes each line (one instruction each); returns the words in order."""
    if not (CROSS_AS and OBJCOPY):
        pytest.skip("riscv64 binutils not installed")
    src = tmp_path / "t.s"
    opt = ".option rvc" if compressed else ".option norvc"
    src.write_text(opt + "\n" + "".join("1: " + l + "\n" for l in lines))
    obj, binf = tmp_path / "t.o", tmp_path / "t.bin"
    subprocess.run([CROSS_AS, "-march=" + MARCH, "-o", str(obj), str(src)], check=True)
    subprocess.run([OBJCOPY, "-O", "binary", "-j", ".text", str(obj), str(binf)], check=True)
    b = binf.read_bytes()
    words, i = [], 0
    while i < len(b):
        n = 2 if (b[i] & 3) != 3 else 4
        words.append(int.from_bytes(b[i:i + n], "little"))
        i += n
    assert len(words) == len(lines), "an instruction did not assemble to exactly one word"
    return words


def objdump_texts(words, tmp_path):
    """objdump's text for each 32-bit word: (with aliases, canonical), or None."""
    if not (CROSS_AS and OBJDUMP):
        pytest.skip("riscv64 binutils not installed")
    src = tmp_path / "z.s"
    src.write_text("".join(".insn 0x%08x\n" % w for w in words))
    obj = tmp_path / "z.o"
    subprocess.run([CROSS_AS, "-march=" + MARCH, "-o", str(obj), str(src)], check=True)
    res = []
    for extra in ([], ["-M", "no-aliases"]):
        out = subprocess.run([OBJDUMP, "-d", *extra, str(obj)], capture_output=True,
                             text=True, check=True).stdout
        texts = []
        for line in out.splitlines():
            f = line.split("\t")
            if len(f) >= 3 and f[0].strip().endswith(":"):
                texts.append(None if f[2].startswith(".") else normalize_objdump(f[2:]))
        assert len(texts) == len(words)
        res.append(texts)
    return list(zip(*res))


def normalize_objdump(fields):
    """objdump "mnem\\ta0,a1,0x5" -> our style "mnem a0, a1, 5"."""
    mnem = fields[0].strip()
    if len(fields) < 2 or not fields[1].strip():
        return mnem
    ops = []
    for o in fields[1].split("#")[0].strip().split(","):
        try:
            ops.append(fmt_imm(int(o, 0)))
        except ValueError:
            ops.append(o)
    return mnem + " " + ", ".join(ops)


# --------------------------------------------------------------------------
# Where our decoder deliberately differs from capstone (each with its reason).
# --------------------------------------------------------------------------

ZB_OPS = {
    "add.uw", "sh1add", "sh2add", "sh3add", "sh1add.uw", "sh2add.uw", "sh3add.uw", "slli.uw",
    "andn", "orn", "xnor", "clz", "clzw", "ctz", "ctzw", "cpop", "cpopw", "max", "maxu", "min",
    "minu", "sext.b", "sext.h", "zext.h", "rol", "rolw", "ror", "rori", "roriw", "rorw", "orc.b",
    "rev8", "bclr", "bclri", "bext", "bexti", "binv", "binvi", "bset", "bseti"}
RM_OPS_PREFIX = ("fmadd", "fmsub", "fnmsub", "fnmadd", "fadd", "fsub", "fmul", "fdiv", "fsqrt",
                 "fcvt")


def accept_reason(w, row):
    """Why we may decode w although capstone rejects it (None: no excuse)."""
    op, rd, rm = row[2], row[3], row[8]
    if op in ZB_OPS:
        return "zb: capstone 5 lacks Zba/Zbb/Zbs (checked against objdump instead)"
    if row[0] == 2 and rd == 0 and op in ("addi", "lui", "add", "slli"):
        return "hint: RVC HINT encodings (rd=x0) execute as no-ops; capstone rejects them"
    if op.startswith(RM_OPS_PREFIX) and rm in (5, 6):
        return "rm: reserved rounding modes trap at execution, not at decode"
    if op in ("fcvt.d.w", "fcvt.d.wu", "fcvt.d.s") and rm != 0:
        return "exact-cvt: the spec gives these an rm field; capstone only accepts rm=0"
    if op in ("fence", "fence.i"):
        return "fence: reserved fm/rd/rs1/imm fields are ignored as the spec asks"
    return None


def reject_reason(w):
    """Why we may reject w although capstone accepts it (None: no excuse)."""
    if w == 0:
        return "c.unimp: the all-zero halfword is defined illegal (our text is c.unimp too)"
    if is_compressed(w) and (w & 0xe003) == 0x6001 and ((w >> 7) & 31) != 2 \
            and (w & 0x107c) == 0:
        return "c.lui-0: c.lui with a zero immediate is reserved (RVC spec)"
    return None


def pmp_swap(text):
    """capstone 5 swaps the names of CSRs 0x3bd and 0x3be (pmpaddr13/14)."""
    return text.replace("pmpaddr13", "@").replace("pmpaddr14", "pmpaddr13").replace("@", "pmpaddr14")


def compare_with_capstone(rv, words):
    """Classifies every word; returns (counts, failures, zb_words)."""
    counts, failures, zb = collections.Counter(), [], []
    for w, row in zip(words, rv.rows(words)):
        ours, illegal = row[1], row[2] == "illegal"
        theirs = cs_text(w)
        assert row[0] == (2 if is_compressed(w) else 4), hex(w)
        if theirs is None and illegal:
            counts["both reject"] += 1
        elif theirs is not None and not illegal:
            if ours == theirs:
                counts["match"] += 1
            elif ((row[7] & 0xfff) in (0x3bd, 0x3be) and row[2].startswith("csr")
                  and pmp_swap(ours) == theirs):
                counts["exception pmpaddr13/14 (capstone bug)"] += 1
            else:
                failures.append("%08x ours=%r capstone=%r" % (w, ours, theirs))
        elif theirs is None:
            why = accept_reason(w, row)
            if why is None:
                failures.append("%08x ours=%r capstone rejects" % (w, ours))
            else:
                counts["exception " + why.split(":")[0]] += 1
                if why.startswith("zb") and not is_compressed(w):
                    zb.append(w)
        else:
            why = reject_reason(w)
            if why is None:
                failures.append("%08x ours illegal, capstone=%r" % (w, theirs))
            else:
                counts["exception " + why.split(":")[0]] += 1
                assert ours == theirs == "c.unimp" or why.startswith("c.lui-0"), hex(w)
    return counts, failures, zb


def report(counts, failures):
    print()
    for k, v in sorted(counts.items(), key=lambda kv: -kv[1]):
        print("%8d  %s" % (v, k))
    print("%8d  mismatches" % len(failures))
    assert not failures, "\n".join(failures[:30])


# --------------------------------------------------------------------------
# (a) hand-picked encodings of every instruction class
# --------------------------------------------------------------------------

HAND_32 = """
lui a0, 0x12345; lui t6, 0xfffff; lui a0, 5; auipc a0, 0x80000; auipc zero, 0
jal zero, .+16; jal ra, .-8; jal a0, .+0x7fffe; jalr zero, 0(ra); jalr zero, 0(a0)
jalr ra, 0(a0); jalr a0, 4(a1); jalr zero, -4(a1); jalr t0, 0(a0)
beq a0, a1, .-8; beq a0, zero, .+8; beq zero, a0, .+8; bne a0, zero, .+8; bne s1, s2, .+4094
blt a0, zero, .+8; blt zero, a0, .+8; blt a1, a2, .-4096; bge a0, zero, .+8; bge zero, a0, .+8
bge zero, zero, .+8; bge a1, a0, .+8; bltu a0, a1, .+8; bgeu zero, a1, .+12
lb a0, -1(a1); lh a0, 10(sp); lw s0, 2047(t6); ld a0, -8(sp); lbu a0, 9(a1); lhu a0, 0(a1)
lwu a0, -2048(a1); sb a0, 0(a1); sh zero, -10(a1); sw t3, 100(s11); sd ra, 8(sp)
addi a0, a1, -1; addi a0, a1, 0; addi zero, zero, 0; addi a0, zero, 5; addi zero, a1, 0
slti a0, a1, 9; slti a0, a1, 10; sltiu a0, a1, 1; sltiu a0, a1, -1; xori a0, a1, -1
xori a0, a1, 0x7ff; ori a0, a1, -2048; andi a0, a1, 255; slli a0, a1, 63; srli a0, a1, 1
srai a0, a1, 5; addiw a0, a1, 3; addiw a0, a1, 0; slliw a0, a1, 31; srliw a0, a1, 0; sraiw a0, a1, 7
add a0, a1, a2; sub a0, a1, a2; sub a0, zero, a2; sll a0, a1, a2; slt a0, a1, a2; slt a0, a1, zero
slt a0, zero, a1; sltu a0, a1, a2; sltu a0, zero, a1; xor a0, a1, a2; srl a0, a1, a2
sra a0, a1, a2; or a0, a1, a2; and a0, a1, a2; addw a0, a1, a2; subw a0, a1, a2
subw a0, zero, a1; sllw a0, a1, a2; srlw a0, a1, a2; sraw a0, a1, a2
fence; fence rw, rw; fence r, w; fence i, o; fence iorw, ow; fence.tso; fence.i; ecall; ebreak
csrrw a0, mstatus, a1; csrrw zero, mstatus, a1; csrrs a0, mstatus, zero; csrrs zero, mstatus, a0
csrrs a0, mstatus, a1; csrrc zero, mie, a0; csrrc a0, mie, a0; csrrwi a0, mstatus, 5
csrrwi zero, mtvec, 31; csrrsi zero, mstatus, 8; csrrci zero, mstatus, 8; csrrsi a0, sie, 1
csrrs a0, 0x7c0, zero; csrrw a0, 0x7c0, a1; csrrs a0, fflags, zero; csrrw zero, fflags, a0
csrrw a0, fflags, a1; csrrs a0, frm, zero; csrrw zero, frm, a0; csrrs a0, fcsr, zero
csrrw zero, fcsr, a0; csrrwi zero, fflags, 3; csrrwi a0, frm, 1; csrrs a0, cycle, zero
csrrs a0, time, zero; csrrs a0, instret, zero; csrrs a0, cycleh, zero; csrrw zero, cycle, zero
csrrs a0, satp, zero; csrrs a0, mhartid, zero; csrrs a0, pmpaddr5, zero; csrrs a0, pmpcfg2, zero
csrrs a0, mhpmcounter31, zero; csrrs a0, hpmcounter3h, zero; csrrs a0, mhpmevent17, zero
mret; sret; wfi; sfence.vma; sfence.vma a0; sfence.vma a0, a1; sfence.vma zero, a1
mul a0, a1, a2; mulh a0, a1, a2; mulhsu a0, a1, a2; mulhu a0, a1, a2; div a0, a1, a2
divu a0, a1, a2; rem a0, a1, a2; remu a0, a1, a2; mulw a0, a1, a2; divw a0, a1, a2
divuw a0, a1, a2; remw a0, a1, a2; remuw a0, a1, a2
lr.w a0, (a1); lr.d.aq a0, (a1); lr.w.aqrl t0, (sp); sc.w a0, a2, (a1); sc.d.rl a0, a2, (a1)
amoswap.w.aqrl a0, a2, (a1); amoadd.w a0, a2, (a1); amoxor.w.aq a0, a2, (a1)
amoand.w a0, a2, (a1); amoor.w a0, a2, (a1); amomin.w a0, a2, (a1); amomax.w a0, a2, (a1)
amominu.w a0, a2, (a1); amomaxu.w a0, a2, (a1); amoswap.d a0, a2, (a1); amoadd.d a0, a2, (a1)
amoxor.d a0, a2, (a1); amoand.d a0, a2, (a1); amoor.d a0, a2, (a1); amomin.d a0, a2, (a1)
amomax.d a0, a2, (a1); amominu.d a0, a2, (a1); amomaxu.d.rl a0, a2, (a1)
flw fa0, 4(a0); fsw ft11, -4(sp); fld fs0, 2040(a0); fsd fa0, 8(sp)
fmadd.s fa0, fa1, fa2, fa3; fmsub.s fa0, fa1, fa2, fa3, rtz; fnmsub.s ft0, ft1, ft2, ft3, rne
fnmadd.s fa0, fa1, fa2, fa3, rmm; fmadd.d fa0, fa1, fa2, fa3; fmsub.d fa0, fa1, fa2, fa3, rup
fnmsub.d fa0, fa1, fa2, fa3; fnmadd.d fa0, fa1, fa2, fa3, rdn
fadd.s fa0, fa1, fa2; fadd.s fa0, fa1, fa2, rtz; fsub.s fa0, fa1, fa2; fmul.s fa0, fa1, fa2
fdiv.s fa0, fa1, fa2, rne; fsqrt.s fa0, fa1; fsgnj.s fa0, fa1, fa2; fsgnjn.s fa0, fa1, fa2
fsgnjx.s fa0, fa1, fa2; fsgnj.s fa0, fa1, fa1; fsgnjn.s fa0, fa1, fa1; fsgnjx.s fa0, fa1, fa1
fmin.s fa0, fa1, fa2; fmax.s fa0, fa1, fa2; fcvt.w.s a0, fa0; fcvt.w.s a0, fa0, rtz
fcvt.wu.s a0, fa0, rdn; fcvt.l.s a0, fa0; fcvt.lu.s a0, fa0, rmm; fmv.x.w a0, fa0
feq.s a0, fa0, fa1; flt.s a0, fa0, fa1; fle.s a0, fa0, fa1; fclass.s a0, fa0
fcvt.s.w fa0, a0; fcvt.s.wu fa0, a0, rtz; fcvt.s.l fa0, a0; fcvt.s.lu fa0, a0, rup; fmv.w.x fa0, a0
fadd.d fa0, fa1, fa2; fsub.d fa0, fa1, fa2, rtz; fmul.d fa0, fa1, fa2; fdiv.d fa0, fa1, fa2
fsqrt.d fa0, fa1, rne; fsgnj.d fa0, fa1, fa2; fsgnjn.d fa0, fa1, fa2; fsgnjx.d fa0, fa1, fa2
fsgnj.d fa0, fa1, fa1; fsgnjn.d fa0, fa1, fa1; fsgnjx.d fa0, fa1, fa1; fmin.d fa0, fa1, fa2
fmax.d fa0, fa1, fa2; fcvt.s.d fa0, fa1; fcvt.s.d fa0, fa1, rtz; fcvt.d.s fa0, fa1
feq.d a0, fa0, fa1; flt.d a0, fa0, fa1; fle.d a0, fa0, fa1; fclass.d a0, fa0
fcvt.w.d a0, fa0; fcvt.wu.d a0, fa0, rtz; fcvt.l.d a0, fa0; fcvt.lu.d a0, fa0, rup
fcvt.d.w fa0, a0; fcvt.d.wu fa0, a0; fcvt.d.l fa0, a0; fcvt.d.lu fa0, a0, rtz
fmv.x.d a0, fa0; fmv.d.x fa0, a0
"""

HAND_ZB = """
add.uw a0, a1, a2; add.uw a0, a1, zero; sh1add a0, a1, a2; sh2add a0, a1, a2; sh3add a0, a1, a2
sh1add.uw a0, a1, a2; sh2add.uw a0, a1, a2; sh3add.uw a0, a1, a2; slli.uw a0, a1, 5
slli.uw a0, a1, 63; andn a0, a1, a2; orn a0, a1, a2; xnor a0, a1, a2; clz a0, a1; clzw a0, a1
ctz a0, a1; ctzw a0, a1; cpop a0, a1; cpopw a0, a1; max a0, a1, a2; maxu a0, a1, a2
min a0, a1, a2; minu a0, a1, a2; sext.b a0, a1; sext.h a0, a1; zext.h a0, a1; rol a0, a1, a2
rolw a0, a1, a2; ror a0, a1, a2; rori a0, a1, 5; rori a0, a1, 63; roriw a0, a1, 31
rorw a0, a1, a2; orc.b a0, a1; rev8 a0, a1; bclr a0, a1, a2; bclri a0, a1, 63; bext a0, a1, a2
bexti a0, a1, 1; binv a0, a1, a2; binvi a0, a1, 40; bset a0, a1, a2; bseti a0, a1, 0
"""

HAND_C = """
c.addi4spn a0, sp, 16; c.addi4spn s1, sp, 1020; c.fld fa0, 8(a1); c.lw a0, 4(a1); c.lw s0, 124(a5)
c.ld a0, 8(a1); c.ld a5, 248(s0); c.fsd fa0, 8(a1); c.sw a0, 4(a1); c.sd a0, 8(a1)
c.nop; c.addi a0, 1; c.addi a0, -32; c.addiw a0, 1; c.addiw t6, -1; c.li a0, 5; c.li a0, -32
c.addi16sp sp, -32; c.addi16sp sp, 496; c.lui a0, 1; c.lui a0, 0xfffff; c.lui t6, 0x1f
c.srli a0, 3; c.srli s1, 63; c.srai a0, 3; c.andi a0, -1; c.andi a5, 31; c.sub a0, a1
c.xor s0, s1; c.or a4, a5; c.and a0, a1; c.subw a0, a1; c.addw a0, a1
c.j .+16; c.j .-2048; c.beqz a0, .+8; c.beqz a0, .-256; c.bnez s1, .+254
c.slli a0, 3; c.slli t6, 63; c.fldsp fa0, 8(sp); c.fldsp ft0, 504(sp); c.lwsp a0, 4(sp)
c.lwsp ra, 252(sp); c.ldsp a0, 8(sp); c.jr ra; c.jr a0; c.mv a0, a1; c.ebreak; c.jalr a0
c.add a0, a1; c.fsdsp fa0, 8(sp); c.swsp a0, 252(sp); c.sdsp ra, 504(sp)
"""


def split_asm(block):
    return [s.strip() for s in block.replace("\n", ";").split(";") if s.strip()]


def test_hand_picked_vs_capstone(rv, tmp_path):
    words = assemble(split_asm(HAND_32), tmp_path) + \
        assemble(split_asm(HAND_C), tmp_path, compressed=True)
    for w, row in zip(words, rv.rows(words)):
        theirs = cs_text(w)
        assert theirs is not None, "capstone rejects %08x" % w
        assert row[1] == theirs, "%08x: ours %r, capstone %r" % (w, row[1], theirs)


def test_hand_picked_zb_vs_objdump(rv, tmp_path):
    words = assemble(split_asm(HAND_ZB), tmp_path)
    for w, row, (alias, canon) in zip(words, rv.rows(words), objdump_texts(words, tmp_path)):
        assert canon is not None
        assert row[2] in ZB_OPS, hex(w)
        assert row[1] in (alias, canon), "%08x: ours %r, objdump %r / %r" % (w, row[1], alias, canon)


# --------------------------------------------------------------------------
# (b) random and exhaustive words
# --------------------------------------------------------------------------

MAJOR = [0x03, 0x07, 0x0f, 0x13, 0x17, 0x1b, 0x23, 0x27, 0x2f, 0x33, 0x37, 0x3b, 0x43, 0x47,
         0x4b, 0x4f, 0x53, 0x63, 0x67, 0x6f, 0x73]
F7_OP = [0x00, 0x20, 0x01, 0x05, 0x10, 0x30, 0x24, 0x34, 0x14, 0x04]


def structured_words(n, seed):
    """Random words inside the defined major opcodes, biased towards valid
    funct7/rm/funct5 values so every instruction class is hit often."""
    rng = random.Random(seed)
    ws = []
    for _ in range(n):
        op = rng.choice(MAJOR)
        w = (rng.getrandbits(32) & ~0x7f) | op
        if op in (0x33, 0x3b) and rng.random() < 0.8:
            w = (w & 0x01ffffff) | (rng.choice(F7_OP) << 25)
        if op in (0x53, 0x43, 0x47, 0x4b, 0x4f) and rng.random() < 0.7:
            w = (w & ~(7 << 12)) | (rng.choice([0, 1, 2, 3, 4, 7]) << 12)
        if op == 0x53 and rng.random() < 0.5:
            w = (w & ~(0x1f << 20)) | (rng.randrange(4) << 20)
        if op == 0x2f and rng.random() < 0.5:
            w = (w & ~(0x1f << 27)) | (rng.choice([0, 1, 2, 3, 4, 8, 12, 16, 20, 24, 28]) << 27)
        if op == 0x73 and rng.random() < 0.5:
            w &= ~(0x1f << 7)
        ws.append(w)
    return ws


def test_random_32bit_vs_capstone(rv):
    rng = random.Random(20240601)
    words = structured_words(40000, 1) + [rng.getrandbits(32) | 3 for _ in range(20000)]
    counts, failures, _ = compare_with_capstone(rv, words)
    assert counts["match"] > 20000      # the sample really exercises valid encodings
    report(counts, failures)


def test_all_16bit_vs_capstone(rv):
    words = [h for h in range(0x10000) if is_compressed(h)]
    counts, failures, _ = compare_with_capstone(rv, words)
    assert counts["match"] > 40000
    report(counts, failures)


def zb_space_words(n, seed):
    """Random words in the opcode space Zba/Zbb/Zbs live in."""
    rng = random.Random(seed)
    ws = []
    for _ in range(n):
        r = rng.getrandbits(32)
        kind = rng.randrange(4)
        if kind == 0:       # OP / OP-32 with a Zb funct7
            f7 = rng.choice([0x04, 0x05, 0x10, 0x14, 0x20, 0x24, 0x30, 0x34])
            ws.append((f7 << 25) | (r & 0x01ffff80) | rng.choice([0x33, 0x3b]))
        elif kind == 1:     # OP-IMM shifts with a Zb funct6 (or an imm12 opcode)
            f6 = rng.choice([0x0a, 0x12, 0x1a, 0x18, 0x02])
            ws.append((f6 << 26) | (r & 0x03ffff80 & ~(7 << 12)) | (rng.choice([1, 5]) << 12) | 0x13)
        elif kind == 2:     # the unary Zbb ops, rs2 field 0..8
            imm = rng.choice([0x600, 0x601, 0x602, 0x603, 0x604, 0x605, 0x287, 0x6b8, 0x698])
            imm = (imm & ~0x1f) | (rng.randrange(9) if rng.random() < 0.3 else imm & 0x1f)
            ws.append((imm << 20) | (r & 0xf8f80) | (rng.choice([1, 5]) << 12) | rng.choice([0x13, 0x1b]))
        else:               # OP-IMM-32 shifts with Zb funct7/funct6
            f7 = rng.choice([0x04, 0x05, 0x30, 0x20, 0x00])
            ws.append((f7 << 25) | (r & 0x01ffff80 & ~(7 << 12)) | (rng.choice([1, 5]) << 12) | 0x1b)
    return ws


def test_random_zb_vs_objdump(rv, tmp_path):
    words = zb_space_words(4000, 5)
    rows = rv.rows(words)
    texts = objdump_texts(words, tmp_path)
    n_zb, failures = 0, []
    for w, row, (alias, canon) in zip(words, rows, texts):
        objdump_zb = canon is not None and canon.split()[0] in ZB_OPS
        if row[2] in ZB_OPS or objdump_zb:
            n_zb += 1
            if row[1] not in (alias, canon):
                failures.append("%08x ours=%r objdump=%r/%r" % (w, row[1], alias, canon))
        elif row[2] == "illegal" and canon is not None:
            failures.append("%08x ours illegal, objdump=%r" % (w, canon))
    print("\n%d Zb* words compared with objdump, %d mismatches" % (n_zb, len(failures)))
    assert n_zb > 1000
    assert not failures, "\n".join(failures[:30])


REAL_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }
int main(int argc, char **argv)
{
    qsort(argv, argc, sizeof *argv, cmp);
    printf("%s %f %g\n", argv[0], atof(argv[0]), sqrt((double)argc));
    return 0;
}
"""


def test_compiled_code_vs_capstone(rv, tmp_path):
    """Every instruction of a static glibc binary built by the cross compiler."""
    cc = shutil.which("riscv64-linux-gnu-gcc")
    if not (cc and OBJCOPY):
        pytest.skip("riscv64 cross compiler not installed")
    (tmp_path / "p.c").write_text(REAL_C)
    exe, text = tmp_path / "p", tmp_path / "p.text"
    subprocess.run([cc, "-O2", "-static", "-o", str(exe), str(tmp_path / "p.c"), "-lm"], check=True)
    subprocess.run([OBJCOPY, "-O", "binary", "-j", ".text", str(exe), str(text)], check=True)
    b = text.read_bytes()
    words, i = [], 0
    while i + 2 <= len(b):
        n = 2 if (b[i] & 3) != 3 else 4
        words.append(int.from_bytes(b[i:i + n], "little"))
        i += n
    counts, failures, _ = compare_with_capstone(rv, words)
    assert counts["match"] > 50000
    report(counts, failures)


# --------------------------------------------------------------------------
# Decoded fields, hand-computed from the assembly source text.
# (asm, op, {field: value}); unspecified register fields must be 0.
# --------------------------------------------------------------------------

FIELDS_32 = [
    ("ld a0, -8(sp)", "ld", dict(rd=10, rs1=2, imm=-8)),
    ("sd t6, -2048(s11)", "sd", dict(rs1=27, rs2=31, imm=-2048)),
    ("sb zero, 2047(t6)", "sb", dict(rs1=31, imm=2047)),
    ("lui a0, 0x12345", "lui", dict(rd=10, imm=0x12345000)),
    ("lui a0, 0x80000", "lui", dict(rd=10, imm=-0x80000000)),
    ("auipc t0, 0xfffff", "auipc", dict(rd=5, imm=-4096)),
    ("jal ra, .-0x100000", "jal", dict(rd=1, imm=-0x100000)),
    ("jal zero, .+0xffffe", "jal", dict(imm=0xffffe)),
    ("jalr a0, -4(a1)", "jalr", dict(rd=10, rs1=11, imm=-4)),
    ("beq a0, a1, .+4094", "beq", dict(rs1=10, rs2=11, imm=4094)),
    ("bgeu zero, t6, .-4096", "bgeu", dict(rs2=31, imm=-4096)),
    ("addi a0, a1, -2048", "addi", dict(rd=10, rs1=11, imm=-2048)),
    ("slli a0, a1, 63", "slli", dict(rd=10, rs1=11, imm=63)),
    ("srai t1, t2, 33", "srai", dict(rd=6, rs1=7, imm=33)),
    ("sraiw a0, a1, 31", "sraiw", dict(rd=10, rs1=11, imm=31)),
    ("addiw a0, a1, -1", "addiw", dict(rd=10, rs1=11, imm=-1)),
    ("sub s2, s3, s4", "sub", dict(rd=18, rs1=19, rs2=20)),
    ("remuw t3, t4, t5", "remuw", dict(rd=28, rs1=29, rs2=30)),
    ("csrrwi a0, mstatus, 5", "csrrwi", dict(rd=10, rs1=5, imm=0x300)),
    ("csrrs a0, 0xfff, a1", "csrrs", dict(rd=10, rs1=11, imm=0xfff)),
    ("csrrc zero, 0x800, t0", "csrrc", dict(rs1=5, imm=0x800)),
    ("fence", "fence", dict(imm=0x0ff)),
    ("fence r, w", "fence", dict(imm=0x021)),
    ("fence.tso", "fence", dict(imm=0x833)),
    ("fence.i", "fence.i", dict()),
    ("ecall", "ecall", dict()),
    ("ebreak", "ebreak", dict()),
    ("mret", "mret", dict()),
    ("sret", "sret", dict()),
    ("wfi", "wfi", dict()),
    ("sfence.vma a0, a1", "sfence.vma", dict(rs1=10, rs2=11)),
    ("amoswap.w.aqrl a0, a2, (a1)", "amoswap.w", dict(rd=10, rs1=11, rs2=12, rm=3)),
    ("amomaxu.d.rl s0, s2, (s1)", "amomaxu.d", dict(rd=8, rs1=9, rs2=18, rm=1)),
    ("lr.d.aq a0, (a1)", "lr.d", dict(rd=10, rs1=11, rm=2)),
    ("sc.w a0, a2, (a1)", "sc.w", dict(rd=10, rs1=11, rs2=12, rm=0)),
    ("flw ft1, -4(sp)", "flw", dict(rd=1, rs1=2, imm=-4)),
    ("fsd fs11, 2040(a0)", "fsd", dict(rs1=10, rs2=27, imm=2040)),
    ("fmadd.d fa0, fa1, fa2, fa3, rtz", "fmadd.d", dict(rd=10, rs1=11, rs2=12, rs3=13, rm=1)),
    ("fnmadd.s ft0, ft1, ft2, ft11, rmm", "fnmadd.s", dict(rd=0, rs1=1, rs2=2, rs3=31, rm=4)),
    ("fadd.s fa0, fa1, fa2", "fadd.s", dict(rd=10, rs1=11, rs2=12, rm=7)),
    ("fsqrt.d fa0, fa1, rdn", "fsqrt.d", dict(rd=10, rs1=11, rm=2)),
    ("fcvt.w.s a0, fa0, rtz", "fcvt.w.s", dict(rd=10, rs1=10, rm=1)),
    ("fcvt.lu.d a0, fa1, rup", "fcvt.lu.d", dict(rd=10, rs1=11, rm=3)),
    ("fcvt.d.lu fa0, a1, rne", "fcvt.d.lu", dict(rd=10, rs1=11, rm=0)),
    ("fcvt.s.d fa0, fa1, rtz", "fcvt.s.d", dict(rd=10, rs1=11, rm=1)),
    ("fsgnjx.d fa0, fa1, fa2", "fsgnjx.d", dict(rd=10, rs1=11, rs2=12, rm=2)),
    ("feq.d a0, fa1, fa2", "feq.d", dict(rd=10, rs1=11, rs2=12, rm=2)),
    ("fmv.x.d a0, fa1", "fmv.x.d", dict(rd=10, rs1=11)),
    ("fmv.w.x fa0, a1", "fmv.w.x", dict(rd=10, rs1=11)),
    ("fclass.s a0, fa1", "fclass.s", dict(rd=10, rs1=11, rm=1)),
    ("rori a0, a1, 63", "rori", dict(rd=10, rs1=11, imm=63)),
    ("roriw a0, a1, 31", "roriw", dict(rd=10, rs1=11, imm=31)),
    ("bseti a0, a1, 63", "bseti", dict(rd=10, rs1=11, imm=63)),
    ("bexti a0, a1, 7", "bexti", dict(rd=10, rs1=11, imm=7)),
    ("slli.uw a0, a1, 63", "slli.uw", dict(rd=10, rs1=11, imm=63)),
    ("clz a0, a1", "clz", dict(rd=10, rs1=11)),
    ("cpopw a0, a1", "cpopw", dict(rd=10, rs1=11)),
    ("rev8 a0, a1", "rev8", dict(rd=10, rs1=11)),
    ("orc.b a0, a1", "orc.b", dict(rd=10, rs1=11)),
    ("zext.h a0, a1", "zext.h", dict(rd=10, rs1=11)),
    ("sh3add.uw a0, a1, a2", "sh3add.uw", dict(rd=10, rs1=11, rs2=12)),
    ("xnor a0, a1, a2", "xnor", dict(rd=10, rs1=11, rs2=12)),
]

FIELDS_C = [
    ("c.addi4spn a0, sp, 1020", "addi", dict(rd=10, rs1=2, imm=1020)),
    ("c.fld fa0, 248(a5)", "fld", dict(rd=10, rs1=15, imm=248)),
    ("c.lw a0, 124(a5)", "lw", dict(rd=10, rs1=15, imm=124)),
    ("c.ld s1, 8(s0)", "ld", dict(rd=9, rs1=8, imm=8)),
    ("c.fsd fs1, 0(a0)", "fsd", dict(rs1=10, rs2=9, imm=0)),
    ("c.sw a5, 64(a4)", "sw", dict(rs1=14, rs2=15, imm=64)),
    ("c.sd a2, 136(a3)", "sd", dict(rs1=13, rs2=12, imm=136)),
    ("c.nop", "addi", dict()),
    ("c.addi a0, -32", "addi", dict(rd=10, rs1=10, imm=-32)),
    ("c.addiw t6, -1", "addiw", dict(rd=31, rs1=31, imm=-1)),
    ("c.li a0, -32", "addi", dict(rd=10, rs1=0, imm=-32)),
    ("c.addi16sp sp, -32", "addi", dict(rd=2, rs1=2, imm=-32)),
    ("c.addi16sp sp, 496", "addi", dict(rd=2, rs1=2, imm=496)),
    ("c.lui a0, 0xfffff", "lui", dict(rd=10, imm=-4096)),
    ("c.lui t6, 0x1f", "lui", dict(rd=31, imm=0x1f000)),
    ("c.srli s1, 63", "srli", dict(rd=9, rs1=9, imm=63)),
    ("c.srai a5, 1", "srai", dict(rd=15, rs1=15, imm=1)),
    ("c.andi a5, -32", "andi", dict(rd=15, rs1=15, imm=-32)),
    ("c.sub s0, s1", "sub", dict(rd=8, rs1=8, rs2=9)),
    ("c.xor a0, a1", "xor", dict(rd=10, rs1=10, rs2=11)),
    ("c.or a4, a5", "or", dict(rd=14, rs1=14, rs2=15)),
    ("c.and a2, a3", "and", dict(rd=12, rs1=12, rs2=13)),
    ("c.subw a0, a1", "subw", dict(rd=10, rs1=10, rs2=11)),
    ("c.addw a0, a1", "addw", dict(rd=10, rs1=10, rs2=11)),
    ("c.j .-2048", "jal", dict(imm=-2048)),
    ("c.j .+2046", "jal", dict(imm=2046)),
    ("c.beqz a0, .-256", "beq", dict(rs1=10, imm=-256)),
    ("c.bnez s1, .+254", "bne", dict(rs1=9, imm=254)),
    ("c.slli t6, 63", "slli", dict(rd=31, rs1=31, imm=63)),
    ("c.fldsp ft0, 504(sp)", "fld", dict(rd=0, rs1=2, imm=504)),
    ("c.lwsp ra, 252(sp)", "lw", dict(rd=1, rs1=2, imm=252)),
    ("c.ldsp a0, 504(sp)", "ld", dict(rd=10, rs1=2, imm=504)),
    ("c.jr ra", "jalr", dict(rs1=1)),
    ("c.mv a0, a1", "add", dict(rd=10, rs2=11)),
    ("c.ebreak", "ebreak", dict()),
    ("c.jalr a0", "jalr", dict(rd=1, rs1=10)),
    ("c.add a0, a1", "add", dict(rd=10, rs1=10, rs2=11)),
    ("c.fsdsp fa0, 504(sp)", "fsd", dict(rs1=2, rs2=10, imm=504)),
    ("c.swsp a0, 252(sp)", "sw", dict(rs1=2, rs2=10, imm=252)),
    ("c.sdsp ra, 504(sp)", "sd", dict(rs1=2, rs2=1, imm=504)),
]

FIELD_INDEX = dict(rd=3, rs1=4, rs2=5, rs3=6, imm=7, rm=8)


def check_fields(rv, table, words, length):
    for (asm, op, fields), w, row in zip(table, words, rv.rows(words)):
        assert row[0] == length, asm
        assert row[2] == op, "%s: op %s" % (asm, row[2])
        for name, idx in FIELD_INDEX.items():
            want = fields.get(name, 0)
            assert row[idx] == want, "%s (%08x): %s = %d, expected %d" % (asm, w, name, row[idx], want)


def test_decoded_fields_32(rv, tmp_path):
    check_fields(rv, FIELDS_32, assemble([a for a, _, _ in FIELDS_32], tmp_path), 4)


def test_decoded_fields_compressed(rv, tmp_path):
    check_fields(rv, FIELDS_C, assemble([a for a, _, _ in FIELDS_C], tmp_path, compressed=True), 2)


# Reserved / illegal encodings, from the ISA manual.
ILLEGAL = {
    0x0000: "all-zero halfword",
    0x0008: "c.addi4spn with zero immediate",
    0x6501: "c.lui a0 with zero immediate",
    0x6101: "c.addi16sp with zero immediate",
    0x8002: "c.jr with rs1 = x0",
    0x6002: "c.ldsp with rd = x0",
    0x4002: "c.lwsp with rd = x0",
    0x2001: "c.addiw with rd = x0",
    0x8000: "Q0 funct3 4 (reserved)",
    0x9c41: "Q1 reserved ALU op (funct3 100, bit12 1, funct2 10)",
    0x9c61: "Q1 reserved ALU op (funct3 100, bit12 1, funct2 11)",
    0xffffffff: "all-ones word (48+ bit encoding)",
    0x0000001f: "48-bit instruction prefix",
    0x0000007f: "64-bit instruction prefix",
    0x0000003f: "opcode bits 4:2 = 111",
    0x0000000b: "custom-0",
    0x1405a52f | (3 << 20): "lr.w with rs2 != 0",
    0x00051567: "jalr with funct3 != 0",
    0x04c5f553: "fadd.h (fmt = 2) without Zfh",
    0x06c5f553: "fadd.q (fmt = 3) without Q",
    0x02c5f543 | (3 << 25): "fmadd.q",
    0x00c5c533 | (0x7f << 25): "OP with unknown funct7",
    0x00007503: "load with funct3 111",
    0x00004023: "store with funct3 100",
    0x0000200f: "MISC-MEM funct3 010",
    0x00004073: "SYSTEM funct3 100",
    0x00100573: "ebreak with rd != 0",
    0x00059507: "flh (funct3 1) without Zfh",
    (5 << 27) | 0x202f: "AMO funct5 unassigned",
    0xe005953b: "OP-32 funct7 0x70",
    0x62059513 | (0x10 << 20): "OP-IMM funct3 1 unassigned imm12",
}


def test_illegal_encodings(rv):
    words = list(ILLEGAL)
    for w, row in zip(words, rv.rows(words)):
        assert row[2] == "illegal", "%08x (%s) decoded as %s" % (w, ILLEGAL[w], row[2])
        assert row[0] == (2 if is_compressed(w) else 4)
        assert row[1] == ("c.unimp" if w == 0 else "illegal")


def test_compressed_upper_half_ignored(rv):
    """A compressed instruction decodes from the low 16 bits only."""
    words = [0x852e, 0xdead852e, 0x713d, 0xffff713d]
    r = rv.rows(words)
    assert r[0] == r[1] and r[2] == r[3]
    assert r[0][1] == "c.mv a0, a1"


def test_disasm_never_overflows(native):
    words = [0x0ec5b52f, 0x6ac5f543 | (1 << 12), 0xb9ff7073, 0x00000073, 0x0001, 0x0000,
             0xffffffff]
    full = [r[1] for r in native.rows(words)]
    for n in list(range(0, 40)) + [63, 64, 100]:
        out = native.guarded(words, n)
        for text, line in zip(full, out):
            assert line.startswith("ok"), "overflow with buflen %d" % n
            got = line.split("\t", 1)[1] if "\t" in line else ""
            want = text[:max(n - 1, 0)]
            assert got == want, (n, got, want)


@pytest.mark.parametrize("rv", ["binding"], indirect=True)
def test_disasm_stream(rv):
    """The binding walks a mixed 16/32-bit stream with the right addresses
    (stream disassembly is a binding feature: no native variant)."""
    code = bytes.fromhex("1385f5ff" "2e85" "8280" "b7453412")  # addi; c.mv; c.jr ra; lui
    out = rv.vmpy.disasm(code, addr=0x1000)
    assert [(a, s) for a, s, _ in out] == [(0x1000, 4), (0x1004, 2), (0x1006, 2), (0x1008, 4)]
    assert [t for _, _, t in out] == [cs_text(0xfff58513), "c.mv a0, a1", "c.jr ra",
                                      cs_text(0x123445b7)]
