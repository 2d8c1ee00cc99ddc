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


@pytest.mark.parametrize("engine", ["interp", "jit"])
def test_fault_in_the_store_of_a_quad(engine):
    """A counted store loop runs as one quad handler; when its store faults
    at the end of the mapping, the add before it has retired and the store
    has not, in the fourth pass."""
    if engine not in vmpy.engines():
        pytest.skip(f"engine {engine} not built")
    code = asm(f"""
        li a1, {END - 3:#x}
        li t6, 0
        li a4, 1
        li a0, 100
    1:  add a3, a1, t6
        sb t6, 0(a3)
        add t6, t6, a4
        bgeu a0, t6, 1b
        ebreak
    """)
    m = machine(code, engine)
    assert m.run(count=1000) == "fault"
    c = m.cpus[0]
    store = CODE + len(asm(f"li a1, {END - 3:#x}\nli t6, 0\nli a4, 1\nli a0, 100\nadd a3, a1, t6"))
    assert c.pc == store
    assert c["a3"] == END and c["t6"] == 3
    assert c.icount == steps_until(code, store, 4)
    assert m.cpus[0].fault()["addr"] == END
    assert m.read(END - 3, 3) == bytes([0, 1, 2])


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


# Every kind of fused pair (FUSE_BASE_* and FUSE_EXTRA in interp.c), with
# the second instruction reading the first's result as rs1, as rs2 or not
# at all (the acc variants).  {d} is the first's destination; {x}, {y} are
# other registers.  s0 points into DATA, whose words point into DATA too,
# and s1 = 8 and s2 = 16 are aligned offsets; no template writes them.
PAIR_TEMPLATES = [
    "sw {x}, 8(s0); addiw {d}, {y}, 5",
    "addi {d}, {x}, -3; xor {y}, {d}, {x}",
    "addi {d}, {x}, 9; xor {y}, {x}, {d}",
    "andi {d}, {x}, 0x7f; slli {y}, {d}, 3",
    "lbu {d}, 3(s0); srliw {y}, {d}, 1",
    "ld {d}, 16(s0); ld {y}, 8({d})",
    "sd {x}, 24(s0); sd {y}, 32(s0)",
    "slli {d}, {x}, 7; xor {y}, {d}, {x}",
    "addi {d}, {x}, 1; addi {y}, {d}, 2",
    "slli {d}, {x}, 2; addi {y}, {d}, -1",
    "ld {d}, 0(s0); sd {d}, 40(s0)",
    "slli {d}, {x}, 9; slli {y}, {d}, 1",
    "lbu {d}, 5(s0); addi {y}, {d}, 4",
    "srli {d}, {x}, 3; xor {y}, {x}, {d}",
    "remu {d}, {x}, {y}; lw {y}, 12(s0)",
    "lw {d}, 4(s0); sw {d}, 48(s0)",
    "andi {d}, {x}, 0x3f0; andi {y}, {d}, 0x1f0",
    "addiw {d}, {x}, 100; addw {y}, {x}, {d}",
    "addi {d}, {x}, 8; sd {d}, 56(s0)",
    "add {d}, s0, s1; addi {y}, {d}, 1",
    "lh {d}, 6(s0); lh {y}, 2(s0)",
    "ld {d}, 8(s0); addi {y}, {d}, 3",
    "add {d}, s0, s2; ld {y}, 0({d})",
    "ld {d}, 16(s0); add {y}, {x}, {d}",
    "addiw {d}, {x}, -7; slli {y}, {d}, 4",
    "addiw {d}, {x}, 12; andi {y}, {d}, 0xff",
    "sd {x}, 64(s0); addiw {y}, {x}, 1",
    "ld {d}, 24(s0); addiw {y}, {d}, 2",
    "add {d}, {x}, {y}; add {y}, {d}, {x}",
    "addi {d}, {x}, 3; addiw {y}, {d}, 1",
    "slli {d}, {x}, 32; srli {y}, {d}, 32",
    "add {d}, s0, s1; sb {x}, 1({d})",
    "lw {d}, 8(s0); lbu {y}, 9(s0)",
    "lbu {d}, 10(s0); lw {y}, 16(s0)",
]
# Pairs that end a block: a branch, forward (BR) or back to the block's
# start (LP, a loop of {n} passes counted in t6).
BRANCH_TEMPLATES = [
    "sw {x}, 72(s0); bne {x}, {y}, 1f; addi {y}, {y}, 1; 1:",
    "ld {d}, 16(s0); beq {d}, {x}, 1f; addi {y}, {y}, 1; 1:",
    "addw {d}, {x}, {y}; bne {d}, {x}, 1f; addi {y}, {y}, 1; 1:",
    "addi {d}, {x}, 1; beq {d}, {y}, 1f; addi {y}, {y}, 1; 1:",
    "lbu {d}, 11(s0); bne {d}, zero, 1f; addi {y}, {y}, 1; 1:",
    "li t6, {n}; 1: sw t6, 80(s0); addi t6, t6, -1; bne t6, zero, 1b",
    "li t6, {n}; 1: addi {d}, {d}, 1; addiw t6, t6, -1; bne t6, zero, 1b",
    "li t6, {n}; 1: addi t6, t6, -1; ld {d}, 0(s0); beq t6, zero, 2f; j 1b; 2:",
    "li t6, {n}; 1: addi {d}, {d}, 3; addw t6, t6, s1; addi t6, t6, -9; bne t6, zero, 1b",
    "li t6, 0; 1: addi t6, t6, 1; add {d}, {d}, t6; bltu t6, s2, 1b",
]
POOL = ["a0", "a1", "a2", "a3", "a4", "a5", "t0", "t1", "t2"]

# Triples (FUSE_TRIPLE in interp.c): a fused pair and the branch ending its
# block, which reads the pair's last result ({e}) as rs1, as rs2 or not at
# all.  The first two instructions of each, with {d} the first's result and
# the second reading it (when it may) or not; a `j` before starts a block,
# so that the pair lines up.
TRIPLE_PAIRS = {
    ("add", "lbu", "bne"): ["add {d}, s0, s1; lbu {e}, 3({d})", "add {d}, {x}, {y}; lbu {e}, 3(s0)"],
    ("addi", "addiw", "bltu"): ["addi {d}, {x}, 5; addiw {e}, {d}, 0", "addi {d}, {x}, 5; addiw {e}, {y}, 1"],
    ("addiw", "add", "bltu"): ["addiw {d}, {x}, 7; add {e}, {d}, {y}", "addiw {d}, {x}, 7; add {e}, {y}, {d}",
                               "addiw {d}, {x}, 7; add {e}, {y}, {x}"],
    ("lbu", "addi", "beq"): ["lbu {d}, 4(s0); addi {e}, {d}, -2", "lbu {d}, 4(s0); addi {e}, {x}, 1"],
    ("add", "sb", "bne"): ["add {d}, s0, s1; sb {x}, 1({d})", "add {d}, {x}, {y}; sb {d}, 2(s0)",
                           "add {d}, {x}, {y}; sb {y}, 5(s0)"],
    ("addi", "add", "bltu"): ["addi {d}, {x}, 3; add {e}, {d}, {y}", "addi {d}, {x}, 3; add {e}, {y}, {d}",
                              "addi {d}, {x}, 3; add {e}, {x}, {y}"],
    ("lbu", "addi", "bne"): ["lbu {d}, 6(s0); addi {e}, {d}, 1", "lbu {d}, 6(s0); addi {e}, {y}, 2"],
    ("lbu", "lbu", "beq"): ["lbu {d}, 1(s0); lbu {e}, 2(s0)"],
    ("slli", "srli", "bne"): ["slli {d}, {x}, 20; srli {e}, {d}, 24", "slli {d}, {x}, 20; srli {e}, {y}, 3"],
    ("addi", "lbu", "bne"): ["addi {d}, s0, 9; lbu {e}, 0({d})", "addi {d}, {x}, 9; lbu {e}, 7(s0)"],
}
TRIPLE_TEMPLATES = [
    "j 1f; 1: " + pair + "; " + branch + " " + operands + ", 2f; addi {x}, {x}, 1; 2:"
    for (_, _, branch), pairs in TRIPLE_PAIRS.items() for pair in pairs
    for operands in ("{e}, {y}", "{y}, {e}", "{x}, {y}")
]
# Loops of one block that is a triple (LP), counted down or up in t6.
TRIPLE_LOOP_TEMPLATES = [
    "li t6, 0; 1: addi t6, t6, 1; addiw {e}, t6, 0; bltu {e}, s2, 1b",
    "li t6, 0; 1: addi t6, t6, 1; addiw {e}, {x}, 0; bltu t6, s2, 1b",
    "li t6, 0; 1: addiw t6, t6, 1; add {e}, t6, zero; bltu {e}, s2, 1b",
    "li t6, 0; 1: addiw t6, t6, 1; add {e}, zero, t6; bltu s1, {e}, 1b",
    "li t6, 0; 1: addi t6, t6, 1; add {e}, t6, {x}; bltu t6, s2, 1b",
    "li t6, 0; 1: addi t6, t6, 1; add {e}, zero, t6; bltu {e}, s1, 1b",
    "li t6, 0; 1: add t6, t6, s1; lbu {e}, 0(s0); bne t6, s2, 1b",
    "li t6, 0; 1: add t6, t6, s1; sb {x}, 1(s0); bne t6, s2, 1b",
    "li t6, 3; 1: lbu {d}, 2(s0); addi t6, t6, -1; bne t6, zero, 1b",
    "li t6, 3; 1: lbu {d}, 2(s0); addi t6, t6, -1; beq t6, zero, 2f; j 1b; 2:",
    "li t6, 1; slli t6, t6, 40; 1: slli t6, t6, 1; srli t6, t6, 2; bne t6, zero, 1b",
    "li t6, 0; 1: addi t6, t6, 1; lbu {e}, 0(s0); bne t6, s1, 1b",
]

# Quads (FUSE_QUAD in interp.c): a counted store loop of one block, two
# fused pairs run by one handler; the last two are near misses (the store
# does not take its address from the add, the branch is not the loop's),
# which run as two pairs.  They store 1 KiB past s0, away from the words
# that other templates load pointers from.
QUAD_LOOP_TEMPLATES = [
    "li t6, 0; 1: add {d}, s0, t6; sb {x}, 1025({d}); add t6, t6, s1; bgeu s2, t6, 1b",
    "li t6, 0; 1: add {d}, t6, s0; sb {d}, 1027({d}); addiw t6, t6, 4; bgeu s2, t6, 1b",
    "li t6, 0; 1: add {d}, {x}, {y}; sb {y}, 1028(s0); add t6, t6, s1; bgeu s2, t6, 1b",
    "li t6, 0; 1: add {d}, s0, t6; sb {x}, 1029({d}); add t6, t6, s1; bgeu t6, s2, 2f; j 1b; 2:",
]


def random_pairs_program(seed, n=320):
    rng = random.Random(seed)
    lines = [f"li s0, {DATA + 0x800:#x}", "li s1, 8", "li s2, 16"]
    lines += [f"li {r}, {rng.randrange(-2**40, 2**40)}" for r in POOL]
    for _ in range(n):
        d, x, y = rng.sample(POOL, 3)
        if rng.random() < 0.3:
            x = d          # the second may overwrite or reuse the first's register
        e = rng.choice([r for r in POOL if r not in (d, x, y)] + [d, x])
        kind = rng.random()
        t = rng.choice(PAIR_TEMPLATES if kind < 0.55 else BRANCH_TEMPLATES if kind < 0.7 else
                       TRIPLE_TEMPLATES if kind < 0.85 else TRIPLE_LOOP_TEMPLATES if kind < 0.95 else
                       QUAD_LOOP_TEMPLATES)
        if rng.random() < 0.25:
            lines.append(f"addi {rng.choice(POOL)}, {x}, 1")   # shifts how pairs line up
        lines += t.format(d=d, e=e, x=x, y=y, n=rng.randrange(1, 9)).split("; ")
    lines.append("ebreak")
    return asm("\n".join(lines))


def pointer_filled(m):
    """DATA's words point into DATA (for ld then ld through the result)."""
    words = [DATA + 0x800 + 8 * (i % 64) for i in range(PAGES * 0x1000 // 8)]
    m.write(DATA, b"".join(w.to_bytes(8, "little") for w in words))


@pytest.mark.parametrize("seed", range(6))
def test_every_fused_pair_matches_single_steps(seed):
    code = random_pairs_program(seed)
    assert len(code) < 0x1000
    whole, stepped = machine(code), machine(code)
    pointer_filled(whole)
    pointer_filled(stepped)
    assert whole.run(count=10**6) == "trap"
    while stepped.cpus[0].pc != whole.cpus[0].pc or stepped.cpus[0].icount < whole.cpus[0].icount:
        assert stepped.step() == "count"
    assert state(whole) == state(stepped)
    assert whole.read(DATA, PAGES * 0x1000) == stepped.read(DATA, PAGES * 0x1000)


# A quad that is a whole one-block loop runs pass after pass in quad_loop_*
# (interp.c), with the address and the induction variable (a5) in host
# registers.  It leaves at a TLB miss (a5 crosses into the next page), at
# the end of the budget (sliced runs), when the branch falls through, and
# it must not take loops whose other sources are the registers it writes
# (those run the usual way).  {store} is the store's target base; t0 the
# byte stored; a4 the stride; a0 the limit.
QUAD_SHAPES = {
    "canonical": "add a3, a1, a5; sb t0, 0(a3); add a5, a5, a4; bgeu a0, a5, 1b",
    "commuted": "add a3, a5, a1; sb t0, 3(a3); add a5, a4, a5; bgeu a0, a5, 1b",
    "addiw": "add a3, a1, a5; sb t0, -1(a3); addiw a5, a5, 3; bgeu a0, a5, 1b",
    "stores_j": "add a3, a1, a5; sb a5, 0(a3); add a5, a5, a4; bgeu a0, a5, 1b",
    "stores_address": "add a3, a1, a5; sb a3, 0(a3); add a5, a5, a4; bgeu a0, a5, 1b",
    "step_is_address": "add a3, a1, a5; sb t0, 0(a3); add a5, a5, a3; bgeu a0, a5, 1b",
    "limit_is_address": "add a3, a1, a5; sb t0, 0(a3); add a5, a5, a4; bgeu a3, a5, 1b",
    "j_is_address": "add a5, a1, a5; sb t0, 0(a5); add a5, a5, a4; bgeu a0, a5, 1b",
    "doubles_j": "add a3, a1, a5; sb t0, 0(a3); add a5, a5, a5; bgeu a0, a5, 1b",
}


def quad_program(shape, base, limit, stride):
    return asm(f"""
        li a1, {base:#x}
        li a0, {limit}
        li a4, {stride}
        li a5, 1
        li t0, 0x5a
    1:  {QUAD_SHAPES[shape].replace("; ", chr(10))}
        addi t1, t1, 1
        ebreak
    """)


@pytest.mark.parametrize("engine", ["interp", "jit"])
@pytest.mark.parametrize("shape", sorted(QUAD_SHAPES))
def test_quad_loop_matches_single_steps(engine, shape):
    if engine not in vmpy.engines():
        pytest.skip(f"engine {engine} not built")
    code = quad_program(shape, DATA, PAGES * 0x1000 - 8, 1)
    whole, stepped = machine(code, engine), machine(code)
    r = whole.run(count=10**6)
    assert r in ("trap", "fault")
    while stepped.cpus[0].pc != whole.cpus[0].pc or stepped.cpus[0].icount < whole.cpus[0].icount:
        assert stepped.step() == "count"
    assert state(whole) == state(stepped)
    assert whole.read(DATA, PAGES * 0x1000) == stepped.read(DATA, PAGES * 0x1000)
    if shape == "canonical":   # every page written, by the loop's fast and slow passes
        assert whole.read(DATA + 1, PAGES * 0x1000 - 8) == b"\x5a" * (PAGES * 0x1000 - 8)
        assert whole.cpus[0]["a5"] == PAGES * 0x1000 - 7 and whole.cpus[0]["t1"] == 1


@pytest.mark.parametrize("shape", ["canonical", "addiw"])
def test_quad_loop_counts_exactly_at_every_cut(shape):
    code = quad_program(shape, DATA, PAGES * 0x1000 - 8, 1)
    whole, sliced = machine(code), machine(code)
    assert whole.run(count=10**6) == "trap"
    rng = random.Random(shape)
    total = 0
    while sliced.run(count=(n := rng.randrange(1, 3000))) == "count":
        total += n
        assert sliced.cpus[0].icount == total
        assert sliced.cpus[0]["a5"] >= 1
    assert state(sliced) == state(whole)
    assert sliced.read(DATA, PAGES * 0x1000) == whole.read(DATA, PAGES * 0x1000)


def test_quad_loop_storing_into_its_code_page():
    """A store to a page that holds code misses the TLB's write fast path
    (stores there must invalidate blocks), so every pass runs the usual
    way; the bytes land past the code and the loop runs to its end."""
    code = quad_program("canonical", CODE + 0x800, 0x400, 1)
    assert len(code) < 0x800
    m = machine(code)
    assert m.run(count=10**6) == "trap"
    assert m.read(CODE + 0x801, 0x400) == b"\x5a" * 0x400
    assert m.cpus[0]["a5"] == 0x401
    assert m.cpus[0].icount == single_step_count(code)


def single_step_count(code):
    m = machine(code)
    while m.step() == "count":
        pass
    return m.cpus[0].icount
