"""Random RV64 instruction streams for differential tests (vmpy against qemu).

A program is: a prologue that loads every integer register (and every f
register) with random values from a table, N random "units" (one instruction,
or a short fixed sequence such as a forward branch over a few instructions),
and an epilogue that stores every register, fcsr and the scratch memory into
one buffer and writes it to stdout. The same seed always gives the same
program, and `render(limit=k)` keeps only the first k units, so a mismatch can
be bisected to the first unit that makes the two emulators disagree.

Rules that keep the stream well-defined on both emulators:
- s1 (x9) is the base of the scratch buffer and is never written;
- memory is touched only inside the 512-byte scratch buffer, aligned;
- control flow only jumps forward, over instructions inside the same unit;
- nothing reads counters/time, nothing traps; frm is only set to valid modes.

Run as a script to print one program:  python tests/randgen.py --seed 3 -n 50 --fp
"""
import argparse
import random
import struct

MARCH = "rv64gc_zba_zbb_zbs"
BASE = 9                      # s1: scratch base, never written
SCRATCH = 512                 # bytes; s1 points at its middle
OUT_X = 256                   # offset from s1 of the x register dump
OUT_F = OUT_X + 32 * 8        # f register dump
OUT_FCSR = OUT_F + 32 * 8     # fcsr
OUT_SIZE = SCRATCH + 32 * 8 + 32 * 8 + 8   # bytes written to stdout
INIT_X = OUT_FCSR + 8         # initial value tables (offsets from s1)
INIT_F = INIT_X + 32 * 8

XNAMES = ["zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1",
          "a2", "a3", "a4", "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7",
          "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6"]
FNAMES = ["f%d" % i for i in range(32)]
RMS = ["rne", "rtz", "rdn", "rup", "rmm", "dyn"]

ALU_RR = ["add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and",
          "addw", "subw", "sllw", "srlw", "sraw"]
ALU_RI = ["addi", "slti", "sltiu", "xori", "ori", "andi", "addiw"]
SHIFT_I = [("slli", 63), ("srli", 63), ("srai", 63), ("slliw", 31), ("srliw", 31),
           ("sraiw", 31)]
MUL_DIV = ["mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu",
           "mulw", "divw", "divuw", "remw", "remuw"]
ZBA = ["add.uw", "sh1add", "sh2add", "sh3add", "sh1add.uw", "sh2add.uw", "sh3add.uw"]
ZBB_RR = ["andn", "orn", "xnor", "max", "maxu", "min", "minu", "rol", "rolw", "ror", "rorw"]
# ctzw is left out: Debian bookworm's qemu 7.2 counts into the upper word when
# rs1[31:0] == 0 (ctzw of 1 << 44 gives 44; the Zbb spec says 32), so qemu
# cannot be its oracle. Test it against hand-computed values instead.
ZBB_R = ["clz", "clzw", "ctz", "cpop", "cpopw", "sext.b", "sext.h", "zext.h",
         "orc.b", "rev8"]
ZBS_RR = ["bclr", "bext", "binv", "bset"]
ZB_I = [("rori", 63), ("roriw", 31), ("slli.uw", 63), ("bclri", 63), ("bexti", 63),
        ("binvi", 63), ("bseti", 63)]
LOADS = [("lb", 1), ("lh", 2), ("lw", 4), ("ld", 8), ("lbu", 1), ("lhu", 2), ("lwu", 4)]
STORES = [("sb", 1), ("sh", 2), ("sw", 4), ("sd", 8)]
BRANCHES = ["beq", "bne", "blt", "bge", "bltu", "bgeu"]
AMOS = ["amoswap", "amoadd", "amoxor", "amoand", "amoor", "amomin", "amomax",
        "amominu", "amomaxu"]
ORDER = ["", ".aq", ".rl", ".aqrl"]

X_SPECIAL = [0, 1, 2, 0xFFFFFFFFFFFFFFFF, 0x8000000000000000, 0x7FFFFFFFFFFFFFFF,
             0x80000000, 0x7FFFFFFF, 0xFFFFFFFF80000000, 0xFFFFFFFF, 0x100000000,
             0xFF, 0x8000, 0xFFFFFFFFFFFF8000]
D_SPECIAL = [0x0000000000000000, 0x8000000000000000, 0x7FF0000000000000,
             0xFFF0000000000000, 0x7FF8000000000000, 0x7FF0000000000001,
             0xFFF8000000000123, 0x0000000000000001, 0x000FFFFFFFFFFFFF,
             0x0010000000000000, 0x7FEFFFFFFFFFFFFF, 0x3FF0000000000000,
             0xBFF0000000000000, 0x3FE0000000000000, 0x43E0000000000000,
             0xC3E0000000000000, 0x41E0000000000000, 0xC1E0000000000000]
S_SPECIAL = [0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001,
             0xFFC00123, 0x00000001, 0x007FFFFF, 0x00800000, 0x7F7FFFFF, 0x3F800000,
             0xBF800000, 0x3F000000, 0x5F000000, 0xDF000000, 0x4F000000, 0xCF000000]
M64 = (1 << 64) - 1


def rand_x(rng):
    """An integer register value biased toward edge cases (so div by zero,
    overflow and sign boundaries actually happen)."""
    r = rng.random()
    if r < 0.3:
        return rng.choice(X_SPECIAL)
    if r < 0.5:
        return rng.randint(-16, 16) & M64
    if r < 0.6:
        return rng.randint(-(1 << 31), (1 << 31) - 1) & M64
    return rng.getrandbits(64)


def rand_f(rng):
    """A 64-bit f register pattern: half doubles, half NaN-boxed singles, a
    few unboxed junk values (which single-precision ops must read as NaN)."""
    r = rng.random()
    if r < 0.05:
        return rng.getrandbits(64)
    if r < 0.5:
        s = rng.random()
        if s < 0.3:
            v = rng.choice(S_SPECIAL)
        elif s < 0.8:
            v = struct.unpack("<I", struct.pack("<f", rng.uniform(-1e4, 1e4)))[0]
        else:
            v = rng.getrandbits(32)
        return 0xFFFFFFFF00000000 | v
    s = rng.random()
    if s < 0.3:
        return rng.choice(D_SPECIAL)
    if s < 0.6:
        return struct.unpack("<Q", struct.pack("<d", rng.uniform(-1e6, 1e6)))[0]
    if s < 0.7:
        return struct.unpack("<Q", struct.pack("<d", float(rng.randint(-100, 100))))[0]
    return rng.getrandbits(64)


class Program:
    def __init__(self, seed, prologue, units, epilogue, init):
        self.seed = seed
        self.init = init          # initial x/f/mem values and frm, for self-tests
        self.prologue = prologue
        self.units = units
        self.epilogue = epilogue

    def render(self, limit=None):
        units = self.units if limit is None else self.units[:limit]
        lines = list(self.prologue)
        for i, unit in enumerate(units):
            lines.append("# unit %d" % i)
            lines.extend("    " + u if not u.endswith(":") else u for u in unit)
        lines.extend(self.epilogue)
        return "\n".join(lines) + "\n"


class Generator:
    def __init__(self, seed, fp=False):
        self.rng = random.Random(seed)
        self.fp = fp
        self.label = 0

    # -- operands -----------------------------------------------------------
    def rd(self):
        """Any destination but s1; x0 now and then (a legal no-op write)."""
        while True:
            r = self.rng.randrange(32)
            if r != BASE and (r != 0 or self.rng.random() < 0.1):
                return XNAMES[r]

    def rs(self):
        return XNAMES[self.rng.randrange(32)]

    def fr(self):
        return FNAMES[self.rng.randrange(32)]

    def imm12(self):
        return self.rng.randint(-2048, 2047)

    def new_label(self):
        self.label += 1
        return "L%d" % self.label

    def mem_off(self, size):
        return self.rng.randrange(-SCRATCH // 2, SCRATCH // 2, size)

    # -- integer units ------------------------------------------------------
    def alu(self):
        rng = self.rng
        k = rng.randrange(10)
        if k == 0:
            return ["%s %s, %s, %s" % (rng.choice(ALU_RR), self.rd(), self.rs(), self.rs())]
        if k == 1:
            return ["%s %s, %s, %d" % (rng.choice(ALU_RI), self.rd(), self.rs(), self.imm12())]
        if k == 2:
            op, top = rng.choice(SHIFT_I)
            return ["%s %s, %s, %d" % (op, self.rd(), self.rs(), rng.randint(0, top))]
        if k == 3:
            op = rng.choice(["lui", "auipc"])
            return ["%s %s, %d" % (op, self.rd(), rng.randrange(1 << 20))]
        if k == 4:
            return ["%s %s, %s, %s" % (rng.choice(MUL_DIV), self.rd(), self.rs(), self.rs())]
        if k == 5:
            return ["%s %s, %s, %s" % (rng.choice(ZBA), self.rd(), self.rs(), self.rs())]
        if k == 6:
            return ["%s %s, %s, %s" % (rng.choice(ZBB_RR + ZBS_RR), self.rd(), self.rs(),
                                       self.rs())]
        if k == 7:
            return ["%s %s, %s" % (rng.choice(ZBB_R), self.rd(), self.rs())]
        if k == 8:
            op, top = rng.choice(ZB_I)
            return ["%s %s, %s, %d" % (op, self.rd(), self.rs(), rng.randint(0, top))]
        # small immediates and register moves: what gas turns into RVC forms
        op = rng.choice(["li", "addi", "mv", "addiw", "andi"])
        if op == "li":
            return ["li %s, %d" % (self.rd(), rng.randint(-32, 31))]
        if op == "mv":
            return ["mv %s, %s" % (self.rd(), self.rs())]
        r = self.rd()
        return ["%s %s, %s, %d" % (op, r, r, rng.randint(-32, 31))]

    def load_store(self):
        rng = self.rng
        if rng.random() < 0.5:
            op, size = rng.choice(LOADS)
            dst = self.rd()
        else:
            op, size = rng.choice(STORES)
            dst = self.rs()
        off = self.mem_off(size)
        if rng.random() < 0.6:
            return ["%s %s, %d(s1)" % (op, dst, off)]
        # through another base register (loading into that register itself is
        # fine: the address is formed before the write)
        tmp = self.rd_not("zero")
        part = rng.randrange(-64, 64, size)
        return ["addi %s, s1, %d" % (tmp, off - part), "%s %s, %d(%s)" % (op, dst, part, tmp)]

    def rd_not(self, *avoid):
        while True:
            r = self.rd()
            if r not in avoid:
                return r

    def atomic(self):
        rng = self.rng
        width = rng.choice([".w", ".d"])
        size = 4 if width == ".w" else 8
        tmp = self.rd_not("zero")
        lines = ["addi %s, s1, %d" % (tmp, self.mem_off(size))]
        if rng.random() < 0.75:
            op = rng.choice(AMOS) + width + rng.choice(ORDER)
            lines.append("%s %s, %s, (%s)" % (op, self.rd(), self.rs(), tmp))
        else:
            # lr and sc back to back on the same address: the store must succeed
            lines.append("lr%s%s %s, (%s)" % (width, rng.choice(ORDER), self.rd_not(tmp), tmp))
            lines.append("sc%s%s %s, %s, (%s)" % (width, rng.choice(ORDER), self.rd(),
                                                  self.rs(), tmp))
        return lines

    def simple(self):
        return self.fp_unit() if self.fp and self.rng.random() < 0.5 else self.alu()

    def branch(self):
        rng = self.rng
        end = self.new_label()
        k = rng.randrange(4)
        if k <= 1:
            lines = ["%s %s, %s, %s" % (rng.choice(BRANCHES), self.rs(), self.rs(), end)]
        elif k == 2:
            lines = ["jal %s, %s" % (self.rd(), end)]
        else:
            tmp = self.rd_not("zero")
            lines = ["lla %s, %s" % (tmp, end), "jalr %s, %s" % (self.rd(), tmp)]
        for _ in range(rng.randint(1, 3)):
            lines += self.simple()
        return lines + [end + ":"]

    def creg(self, write=True):
        """x8..x15, the registers RVC's 3-bit fields reach (s1 only as a source)."""
        while True:
            r = XNAMES[self.rng.randrange(8, 16)]
            if not write or r != "s1":
                return r

    def rvc(self):
        """Shapes that gas encodes as compressed instructions, which random
        operands rarely hit (rd == rs1, x8..x15, small immediates)."""
        rng = self.rng
        k = rng.randrange(9)
        if k == 0:
            r = self.creg()
            op = rng.choice(["and", "or", "xor", "sub", "addw", "subw"])
            return ["%s %s, %s, %s" % (op, r, r, self.creg(False))]
        if k == 1:
            r = self.rd_not("zero")
            return ["add %s, %s, %s" % (r, r, self.rd_not("zero"))]
        if k == 2:
            r = self.creg()
            op = rng.choice(["srli", "srai"])
            return ["%s %s, %s, %d" % (op, r, r, rng.randint(1, 63))] + \
                ["andi %s, %s, %d" % (r, r, rng.randint(-32, 31))]
        if k == 3:
            r = self.rd_not("zero", "sp")
            imm = rng.choice([rng.randint(1, 31), rng.randint(0xFFFE0, 0xFFFFF)])
            return ["lui %s, %d" % (r, imm), "slli %s, %s, %d" % (r, r, rng.randint(1, 63))]
        if k == 4:
            return ["addi sp, sp, %d" % rng.choice([x for x in range(-512, 512, 16) if x]),
                    "addi %s, sp, %d" % (self.creg(), rng.randrange(4, 1024, 4))]
        if k == 5:
            # sp-based loads/stores: c.ldsp, c.sdsp, c.lwsp, c.swsp, c.fldsp, c.fsdsp
            ops = [("ld", 8, False), ("sd", 8, False), ("lw", 4, False), ("sw", 4, False)]
            if self.fp:
                ops += [("fld", 8, True), ("fsd", 8, True)]
            op, size, f = rng.choice(ops)
            reg = self.fr() if f else (self.rd_not("zero") if op[0] == "l" else self.rs())
            if op[0] == "l" and not f and reg == "sp":
                reg = "ra"
            return ["addi sp, s1, %d" % -(SCRATCH // 2),
                    "%s %s, %d(sp)" % (op, reg, rng.randrange(0, SCRATCH, size))]
        if k == 6:
            # c.ld, c.sd, c.lw, c.sw, c.fld, c.fsd: base and data in x8..x15
            ops = [("ld", 8), ("sd", 8), ("lw", 4), ("sw", 4)]
            if self.fp:
                ops += [("fld", 8), ("fsd", 8)]
            op, size = rng.choice(ops)
            base = self.creg()
            if op.startswith("f"):
                reg = FNAMES[rng.randrange(8, 16)]
            else:
                reg = self.creg(op[0] == "l")
            return ["addi %s, s1, %d" % (base, -(SCRATCH // 2)),
                    "%s %s, %d(%s)" % (op, reg, rng.randrange(0, min(SCRATCH, 32 * size), size),
                                       base)]
        end = self.new_label()
        if k == 7:
            op = rng.choice(["beqz", "bnez"])
            lines = ["%s %s, %s" % (op, self.creg(False), end)]
        else:
            tmp = self.rd_not("zero", "ra")
            lines = ["lla %s, %s" % (tmp, end), "%s %s" % (rng.choice(["jr", "jalr"]), tmp)]
        return lines + self.alu() + [end + ":"]

    def misc(self):
        return [self.rng.choice(["fence", "fence.i", "fence rw, rw", "nop"])]

    # -- floating point units -----------------------------------------------
    def fp_unit(self):
        rng = self.rng
        t = rng.choice(["s", "d"])
        rm = rng.choice(RMS)
        k = rng.randrange(12)
        if k == 0:
            op = rng.choice(["fadd", "fsub", "fmul", "fdiv"])
            return ["%s.%s %s, %s, %s, %s" % (op, t, self.fr(), self.fr(), self.fr(), rm)]
        if k == 1:
            return ["fsqrt.%s %s, %s, %s" % (t, self.fr(), self.fr(), rm)]
        if k == 2:
            op = rng.choice(["fmadd", "fmsub", "fnmadd", "fnmsub"])
            return ["%s.%s %s, %s, %s, %s, %s" % (op, t, self.fr(), self.fr(), self.fr(),
                                                  self.fr(), rm)]
        if k == 3:
            op = rng.choice(["fmin", "fmax", "fsgnj", "fsgnjn", "fsgnjx"])
            return ["%s.%s %s, %s, %s" % (op, t, self.fr(), self.fr(), self.fr())]
        if k == 4:
            op = rng.choice(["feq", "flt", "fle"])
            return ["%s.%s %s, %s, %s" % (op, t, self.rd(), self.fr(), self.fr())]
        if k == 5:
            return ["fclass.%s %s, %s" % (t, self.rd(), self.fr())]
        if k == 6:
            i = rng.choice(["w", "wu", "l", "lu"])
            return ["fcvt.%s.%s %s, %s, %s" % (i, t, self.rd(), self.fr(), rm)]
        if k == 7:
            i = rng.choice(["w", "wu", "l", "lu"])
            if t == "d" and i in ("w", "wu"):
                return ["fcvt.d.%s %s, %s" % (i, self.fr(), self.rs())]   # always exact
            return ["fcvt.%s.%s %s, %s, %s" % (t, i, self.fr(), self.rs(), rm)]
        if k == 8:
            if rng.random() < 0.5:
                return ["fcvt.s.d %s, %s, %s" % (self.fr(), self.fr(), rm)]
            return ["fcvt.d.s %s, %s" % (self.fr(), self.fr())]
        if k == 9:
            op = rng.choice(["fmv.x.w", "fmv.x.d"])
            if rng.random() < 0.5:
                return ["%s %s, %s" % (op, self.rd(), self.fr())]
            op = rng.choice(["fmv.w.x", "fmv.d.x"])
            return ["%s %s, %s" % (op, self.fr(), self.rs())]
        if k == 10:
            op, size = rng.choice([("flw", 4), ("fld", 8), ("fsw", 4), ("fsd", 8)])
            return ["%s %s, %d(s1)" % (op, self.fr(), self.mem_off(size))]
        # the fp CSRs; frm only ever gets a valid mode, so "dyn" never traps
        c = rng.randrange(5)
        if c == 0:
            return ["frflags %s" % self.rd()]
        if c == 1:
            return ["fsflags %s, %s" % (self.rd(), self.rs())]
        if c == 2:
            return ["fsrmi %s, %d" % (self.rd(), rng.randrange(5))]
        if c == 3:
            return ["frrm %s" % self.rd()]
        return ["frcsr %s" % self.rd()]

    # -- whole program ------------------------------------------------------
    def unit(self):
        r = self.rng.random()
        if self.fp and r < 0.45:
            return self.fp_unit()
        if r < 0.50:
            return self.alu()
        if r < 0.60:
            return self.rvc()
        if r < 0.78:
            return self.load_store()
        if r < 0.86:
            return self.atomic()
        if r < 0.97:
            return self.branch()
        return self.misc()

    def prologue(self):
        rng = self.rng
        xs = [rand_x(rng) for _ in range(32)]
        fs = [rand_f(rng) for _ in range(32)]
        scratch = [rng.getrandbits(64) for _ in range(SCRATCH // 8)]
        frm = rng.randrange(5)
        self.init = {"x": xs, "f": fs, "mem": scratch, "frm": frm}
        lines = [".option norelax",      # lla must stay auipc+addi: gp is random here
                 ".section .data", ".balign 64", "area:"]
        lines += ["    .dword 0x%016x" % v for v in scratch]
        lines += ["    .zero %d" % (OUT_SIZE - SCRATCH)]
        lines += ["    .dword 0x%016x" % v for v in xs]
        lines += ["    .dword 0x%016x" % v for v in fs]
        lines += [".text", ".globl _start", "_start:",
                  "    lla s1, area + %d" % (SCRATCH // 2)]
        lines += ["    fld %s, %d(s1)" % (FNAMES[i], INIT_F + 8 * i) for i in range(32)]
        lines += ["    fsrmi %d" % frm, "    fsflags zero"]
        lines += ["    ld %s, %d(s1)" % (XNAMES[i], INIT_X + 8 * i)
                  for i in range(1, 32) if i != BASE]
        return lines

    def epilogue(self):
        lines = ["# epilogue"]
        lines += ["    sd %s, %d(s1)" % (XNAMES[i], OUT_X + 8 * i) for i in range(1, 32)]
        lines += ["    fsd %s, %d(s1)" % (FNAMES[i], OUT_F + 8 * i) for i in range(32)]
        lines += ["    frcsr t0", "    sd t0, %d(s1)" % OUT_FCSR,
                  "    li a0, 1", "    addi a1, s1, %d" % -(SCRATCH // 2),
                  "    li a2, %d" % OUT_SIZE, "    li a7, 64", "    ecall",
                  "    li a0, 0", "    li a7, 93", "    ecall"]
        return lines


LOOP_SLOT = OUT_X             # the x0 slot of the dump: never written by the epilogue


def in_loops(units, rng):
    """Runs of 1..6 units, each repeated 1..40 times by a counted loop, so the
    JIT's loops (blocks that branch back to themselves, registers kept in
    host registers across iterations, side exits) see random bodies.  The
    counter lives in LOOP_SLOT (outside the scratch area the units touch)
    and goes through t0, which the bodies may clobber: the loop reloads it."""
    out, i = [], 0
    while i < len(units):
        m = rng.randint(1, 6)
        head = "LOOP%d" % len(out)
        body = [line for u in units[i:i + m] for line in u]
        out.append(["li t0, %d" % rng.randint(1, 40), "sd t0, %d(s1)" % LOOP_SLOT, head + ":"] + body +
                   ["ld t0, %d(s1)" % LOOP_SLOT, "addi t0, t0, -1", "sd t0, %d(s1)" % LOOP_SLOT,
                    "bnez t0, %s" % head])
        i += m
    return out


def generate(seed, n, fp=False, loops=False):
    g = Generator(seed, fp)
    pro = g.prologue()
    units = [g.unit() for _ in range(n)]
    if loops:
        units = in_loops(units, g.rng)
    return Program(seed, pro, units, g.epilogue(), g.init)


def decode(out):
    """Split the dumped buffer into {name: value}: x1..x31, f0..f31, fcsr, mem[i]."""
    if len(out) != OUT_SIZE:
        return None
    q = struct.unpack("<%dQ" % (OUT_SIZE // 8), out)
    res = {}
    nmem = SCRATCH // 8
    for i in range(nmem):
        res["mem[%+d]" % (8 * i - SCRATCH // 2)] = q[i]
    for i in range(1, 32):
        res[XNAMES[i]] = q[nmem + i]
    for i in range(32):
        res[FNAMES[i]] = q[nmem + 32 + i]
    res["fcsr"] = q[nmem + 64]
    return res


def diff(a, b):
    """Names whose values differ between two dumps, with both values."""
    da, db = decode(a), decode(b)
    if da is None or db is None:
        return ["output length %d vs %d (expected %d)" % (len(a), len(b), OUT_SIZE)]
    return ["%s: 0x%016x != 0x%016x" % (k, da[k], db[k]) for k in da if da[k] != db[k]]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-n", type=int, default=100, help="number of random units")
    ap.add_argument("--fp", action="store_true", help="mix in F/D instructions")
    ap.add_argument("--loops", action="store_true", help="repeat runs of units in counted loops")
    ap.add_argument("--limit", type=int, default=None, help="keep only the first LIMIT units")
    a = ap.parse_args()
    print(generate(a.seed, a.n, a.fp, a.loops).render(a.limit), end="")


if __name__ == "__main__":
    main()
