"""Zbb word-width instructions against the ISA manual's definitions.

Debian's qemu 7.2 gets ctzw wrong when rs1[31:0] == 0 (it counts into the
upper word), so the random differential tests leave ctzw out and this file is
its oracle: each expected value is computed here in Python straight from the
Zbb chapter's pseudocode, never from vmpy."""
import random

import pytest

import vmpy
from rvasm import asm

BASE = 0x10000
M32 = (1 << 32) - 1
M64 = (1 << 64) - 1


def sext32(x):
    x &= M32
    return (x - (1 << 32) if x >> 31 else x) & M64


def ctzw(x):            # count trailing zeros of rs1[31:0]; 32 when it is zero
    x &= M32
    return 32 if x == 0 else (x & -x).bit_length() - 1


def clzw(x):
    x &= M32
    return 32 - x.bit_length()


def cpopw(x):
    return bin(x & M32).count("1")


def rolw(x, s):
    x, s = x & M32, s & 31
    return sext32((x << s) | (x >> ((32 - s) & 31)))


def rorw(x, s):
    x, s = x & M32, s & 31
    return sext32((x >> s) | (x << ((32 - s) & 31)))


OPS = {
    "ctzw": lambda a, b: ctzw(a),
    "clzw": lambda a, b: clzw(a),
    "cpopw": lambda a, b: cpopw(a),
    "rolw": rolw,
    "rorw": rorw,
    "roriw13": lambda a, b: rorw(a, 13),
    "add.uw": lambda a, b: ((a & M32) + b) & M64,
    "sh2add.uw": lambda a, b: (((a & M32) << 2) + b) & M64,
    "slli.uw5": lambda a, b: ((a & M32) << 5) & M64,
}
SOURCE = {
    "ctzw": "ctzw a0, a1", "clzw": "clzw a0, a1", "cpopw": "cpopw a0, a1",
    "rolw": "rolw a0, a1, a2", "rorw": "rorw a0, a1, a2", "roriw13": "roriw a0, a1, 13",
    "add.uw": "add.uw a0, a1, a2", "sh2add.uw": "sh2add.uw a0, a1, a2",
    "slli.uw5": "slli.uw a0, a1, 5",
}

EDGES = [0, 1, 1 << 31, 1 << 32, 1 << 44, (1 << 63) | (1 << 40), M32, M64, 0x80000000_00000000,
         0x00000001_00000000, 0xdeadbeef_00000000, 0x12345678_9abcdef0]


def inputs():
    rng = random.Random(20261122)
    pairs = [(a, b) for a in EDGES for b in (0, 1, 31, 32, 33, M64)]
    pairs += [(rng.getrandbits(64), rng.getrandbits(64)) for _ in range(40)]
    return pairs


@pytest.mark.parametrize("op", sorted(OPS))
def test_word_op_matches_the_manual(op):
    code = asm(SOURCE[op] + "\nebreak", "rv64g_zba_zbb_zbs")
    m = vmpy.Machine("riscv64")
    m.map(BASE, 0x1000, "rwx")
    m.write(BASE, code)
    cpu = m.cpus[0]
    for a, b in inputs():
        cpu.pc = BASE
        cpu["a1"], cpu["a2"] = a, b
        m.run(count=1)
        want = OPS[op](a, b)
        assert cpu["a0"] == want, "%s(%#x, %#x) = %#x, manual says %#x" % (op, a, b, cpu["a0"], want)
