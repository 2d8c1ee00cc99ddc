"""Random M-mode firmware on the virt board must never crash or hang the
process: CSR writes (mstatus, satp, PMP, trap vectors, delegation), mret and
sret into S/U with whatever state that leaves, sfence.vma, and page walks
over random memory.  Run under `make asan` (ASan + UBSan) too.

Each firmware first installs a trap handler that skips the trapping
instruction, so the random code after it keeps running (until it rewrites
mtvec).  VMPY_FUZZ_BOARDS sets how many firmwares each engine runs."""
import os
import random

import pytest

import vmpy
from vmpy import boards

# CSRs the random code writes most: the ones that change what runs next.
CSRS = [0x100, 0x104, 0x105, 0x106, 0x141, 0x142, 0x143, 0x144, 0x180, 0x300, 0x302, 0x303, 0x304,
        0x305, 0x306, 0x320, 0x341, 0x342, 0x343, 0x344, 0x3a0, 0x3b0, 0x3b1, 0x7a0]
SYSTEM = [0x30200073, 0x10200073, 0x12000073, 0x0000100f]   # mret sret sfence.vma fence.i (no wfi: it sleeps)
# auipc t0, 0; addi t0, t0, 20; csrw mtvec, t0; j body
# handler: csrr t1, mepc; addi t1, t1, 4; csrw mepc, t1; mret; body: (two nops, then random words)
PROLOGUE = [0x00000297, 0x01428293, 0x30529073, 0x0180006F,
            0x34102373, 0x00430313, 0x34131073, 0x30200073, 0x00000013, 0x00000013]


def random_firmware(rng, words=0x4000):
    out = list(PROLOGUE)
    for _ in range(words):
        r = rng.random()
        if r < 0.08:      # csrrw/csrrs/csrrc and their immediate forms
            out.append(rng.choice(CSRS) << 20 | rng.randrange(32) << 15 |
                       rng.choice([1, 2, 3, 5, 6, 7]) << 12 | rng.randrange(32) << 7 | 0x73)
        elif r < 0.10:
            out.append(rng.choice(SYSTEM))
        elif r < 0.14:    # loads, stores, atomics with random registers
            out.append(rng.getrandbits(32) & ~0x7F | rng.choice([0x03, 0x23, 0x2F]))
        else:
            out.append(rng.getrandbits(32))
    return b"".join(w.to_bytes(4, "little") for w in out)


@pytest.mark.parametrize("engine", ["interp", "jit"])
def test_random_firmware_never_crashes_or_hangs(tmp_path, monkeypatch, engine):
    if engine not in vmpy.engines():
        pytest.skip(f"no {engine} engine in this build")
    monkeypatch.setenv("VMPY_ENGINE", engine)
    rng = random.Random(2026 + len(engine))
    fw = tmp_path / "fw.bin"
    executed, states = 0, {}
    for _ in range(int(os.environ.get("VMPY_FUZZ_BOARDS", "30"))):
        fw.write_bytes(random_firmware(rng))
        with boards.virt(ram="64M", firmware=fw, rng=False) as b:
            state = b.run(100_000, timeout=10)
            executed += b.icount
            states[state] = states.get(state, 0) + 1
            # "stopped": the count (or, in a trap storm, the time) ran out;
            # "error" only for a fault nothing in the guest can ever handle.
            assert state == "stopped" or "cannot be fetched" in b.error, b.error
    print(f"{engine}: {executed} instructions, {states}")
    assert executed > 1000 * sum(states.values())     # the random code ran, not just the prologue
