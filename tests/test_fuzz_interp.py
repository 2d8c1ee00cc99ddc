"""Random instruction bytes must never crash the process or touch host memory
outside the guest's mappings.  Run under `make asan` (ASan + UBSan) this is the
decoder/interpreter fuzz test; the plain run checks the stop reasons.

VMPY_FUZZ_SECONDS sets how long each engine is fuzzed (default 3 s)."""
import os
import random
import time

import pytest

import vmpy

CODE, DATA = 0x100000, 0x200000


def random_runs(rng, engine=None):
    """Endless runs of random code: a fresh 64 KiB of random bytes and random
    registers (data, code and wild pointers, small numbers) every 50 runs,
    each run from a random pc for at most 2000 instructions.  Yields
    (cpu, stop reason, instructions the run retired)."""
    m = vmpy.Machine("riscv64", engine=engine) if engine else vmpy.Machine("riscv64")
    m.map(CODE, 0x10000, "rwx")
    m.map(DATA, 0x10000, "rw")
    m.map(DATA + 0x20000, 0x1000, "r")            # a read-only page to fault on
    c = m.cpus[0]
    while True:
        m.write(CODE, rng.randbytes(0x10000))
        for i in range(1, 32):
            c[f"x{i}"] = rng.choice([DATA + rng.randrange(0x10000), rng.getrandbits(64),
                                     CODE + rng.randrange(0x10000), rng.randrange(64)])
        for _ in range(50):
            c.pc = CODE + 2 * rng.randrange(0x8000)
            before = c.icount
            r = m.run(count=2000)
            yield c, r, c.icount - before


def fuzz(seconds, seed, engine=None):
    reasons = {}
    executed = 0
    deadline = time.monotonic() + seconds
    for _, r, n in random_runs(random.Random(seed), engine):
        executed += n
        reasons[str(r)] = reasons.get(str(r), 0) + 1
        assert r in ("count", "fault", "trap", "invalid"), r
        if time.monotonic() > deadline:
            return executed, reasons


@pytest.mark.parametrize("seed, engine", [(1, None), (2, "interp"), (3, "jit")])
def test_random_instruction_bytes(seed, engine):
    if engine and engine not in vmpy.engines():
        pytest.skip(f"no {engine} engine in this build")
    seconds = float(os.environ.get("VMPY_FUZZ_SECONDS", "3"))
    executed, reasons = fuzz(seconds, seed, engine)
    print(f"fuzz seed {seed} ({engine or 'default'} engine): {executed} instructions, stops {reasons}")
    assert executed > 1000
    assert reasons.get("invalid", 0) > 0 and reasons.get("fault", 0) + reasons.get("trap", 0) > 0


def stops_on_random_bytes(seed, engine, runs):
    """(reason, instructions, pc, registers) of each of the first runs."""
    out = []
    for c, r, n in random_runs(random.Random(seed), engine):
        regs = c.regs()
        del regs["time"]                     # the host clock's: not the engines' to agree on
        out.append((str(r), n, c.pc, tuple(sorted(regs.items()))))
        if len(out) == runs:
            return out


@pytest.mark.parametrize("seed", [11, 12])
def test_interp_and_jit_agree_on_random_bytes(seed):
    """Every run of random code stops for the same reason, after the same
    number of instructions, with the same registers, under both engines."""
    if "jit" not in vmpy.engines():
        pytest.skip("no jit engine in this build")
    interp = stops_on_random_bytes(seed, "interp", 2000)
    jit = stops_on_random_bytes(seed, "jit", 2000)
    assert {r for r, *_ in interp} >= {"fault", "invalid"}
    for k, (a, b) in enumerate(zip(interp, jit)):
        assert a == b, f"run {k}: interp {a[:3]}, jit {b[:3]}"
