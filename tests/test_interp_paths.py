"""The interpreter's fast paths against its simplest one and hand-computed
results: fused instruction pairs, one-block loops that re-enter themselves,
the register-cached last result, chained blocks and the loads/stores that
use a slot's remembered TLB addend.

Single steps (count=1) run one-instruction blocks, so they take none of those
paths; a run cut into random slices must agree with them at every cut, and
with the expected memory and registers at the end.  Faults and slow-path
accesses inside a fused pair must leave the exact pc, count and registers."""
import random

import pytest

import vmpy
from rvasm import asm

CODE, DATA, PAGES = 0x10000, 0x100000, 4
END = DATA + PAGES * 0x1000

# Marks bytes with the sweep number at a growing stride (fused add+sb and
# add+bgeu back to the block start), then sums misaligned words and bytes
# (fused add+lw at an odd offset, lbu then a dependent branch).
SWEEPS = 24
MARK_AND_SUM = f"""
    li a1, {DATA:#x}
    li a0, {PAGES * 0x1000 - 8}
    li a4, 1
    li t0, 0
outer:
    li a5, 0
1:  add a3, a1, a5
    sb t0, 0(a3)
    add a5, a5, a4
    bgeu a0, a5, 1b
    addi a4, a4, 1
    addi t0, t0, 1
    li t1, {SWEEPS}
    bltu t0, t1, outer
    li a5, 0
    li s2, 0
    li s3, 0
2:  add a3, a1, a5
    lw t2, 1(a3)
    add s2, s2, t2
    lbu t3, 0(a3)
    bnez t3, 3f
    addi s3, s3, 1
3:  addi a5, a5, 7
    bltu a5, a0, 2b
    ebreak
"""


def expected_mark_and_sum():
    limit = PAGES * 0x1000 - 8
    mem = bytearray(PAGES * 0x1000)
    for t in range(SWEEPS):
        for j in range(0, limit + 1, t + 1):
            mem[j] = t
    s2 = s3 = 0
    for a5 in range(0, limit, 7):
        s2 += int.from_bytes(mem[a5 + 1:a5 + 5], "little", signed=True)
        s3 += mem[a5] == 0
    return bytes(mem), s2 & (2**64 - 1), s3


def machine(code, engine="interp"):
    m = vmpy.Machine("riscv64", engine=engine)
    m.map(CODE, 0x1000, "rwx")
    m.map(DATA, PAGES * 0x1000, "rw")
    m.write(CODE, code)
    m.cpus[0].pc = CODE
    return m


def state(m):
    c = m.cpus[0]
    return [c[f"x{i}"] for i in range(32)] + [c.pc, c.icount]


def test_sliced_run_matches_single_steps():
    code = asm(MARK_AND_SUM)
    sliced, stepped = machine(code), machine(code)
    rng = random.Random(5)
    for _ in range(300):             # the first few thousand instructions, checked at every cut
        n = rng.randrange(1, 40)
        assert sliced.run(count=n) == "count"
        for _ in range(n):
            assert stepped.step() == "count"
        assert state(sliced) == state(stepped)


def test_sliced_and_whole_runs_give_the_hand_computed_result():
    code = asm(MARK_AND_SUM)
    mem, s2, s3 = expected_mark_and_sum()
    whole, sliced = machine(code), machine(code)
    assert whole.run(count=10**8) == "trap"
    rng = random.Random(7)
    total = 0
    while True:
        n = rng.randrange(1, 5000)
        r = sliced.run(count=n)
        if r != "count":
            assert r == "trap"
            break
        total += n
        assert sliced.cpus[0].icount == total           # counts exact at every cut
    assert state(sliced) == state(whole)
    c = whole.cpus[0]
    assert whole.read(DATA, PAGES * 0x1000) == mem
    assert c["s2"] == s2 and c["s3"] == s3


def test_memory_hooks_see_every_access_of_fused_pairs():
    """A read hook on the data makes every load take the shared slow path,
    from either half of a fused pair; the result must not change."""
    code = asm(MARK_AND_SUM)
    mem, s2, s3 = expected_mark_and_sum()
    m = machine(code)
    reads = []
    m.on_mem_read(lambda cpu, addr, size, value: reads.append((addr, size)), DATA, END)
    assert m.run(count=10**8) == "trap"
    c = m.cpus[0]
    assert c["s2"] == s2 and c["s3"] == s3 and m.read(DATA, PAGES * 0x1000) == mem
    limit = PAGES * 0x1000 - 8
    want = []
    for a5 in range(0, limit, 7):
        want += [(DATA + a5 + 1, 4), (DATA + a5, 1)]
    # Bytes in order: a page-crossing word may be reported in pieces.
    assert bytes_read(reads) == bytes_read(want)


def bytes_read(accesses):
    return [a + i for a, size in accesses for i in range(size)]


@pytest.mark.parametrize("engine", ["interp", "jit"])
@pytest.mark.parametrize("kind", ["load", "store"])
def test_fault_in_second_half_of_fused_pair(engine, kind):
    """addi then a load/store on the new address: when the access faults,
    the addi has retired and the access has not."""
    if engine not in vmpy.engines():
        pytest.skip(f"engine {engine} not built")
    access = "lw a4, 0(a3)" if kind == "load" else "sw a3, 0(a3)"
    code = asm(f"""
        li a3, {END - 24:#x}
        li s2, 0
    1:  addi a3, a3, 8
        {access}
        addi s2, s2, 1
        j 1b
    """)
    m = machine(code, engine)
    assert m.run(count=1000) == "fault"
    c = m.cpus[0]
    head = len(asm(f"li a3, {END - 24:#x}\nli s2, 0\naddi a3, a3, 8"))
    assert c.pc == CODE + head
    assert c["a3"] == END and c["s2"] == 2
    assert c.icount == steps_until(code, CODE + head, 3)
    assert m.cpus[0].fault()["addr"] == END


def steps_until(code, pc, times):
    """Instructions that single steps retire before reaching pc for the
    times-th time (here: the faulting pass)."""
    m = machine(code)
    seen = steps = 0
    while True:
        if m.cpus[0].pc == pc:
            seen += 1
            if seen == times:
                return steps
        assert m.step() == "count"
        steps += 1
