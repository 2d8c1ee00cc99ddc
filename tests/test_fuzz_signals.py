"""Random signal syscalls and faults in Linux user mode never crash the
process (part of `make asan`): random sigactions whose handlers land
anywhere in the random code, random masks, alternate stacks, self-signals,
rt_sigreturn from random stack pointers, interval timers (SIGALRM), and
faults, illegal instructions and ebreaks to deliver.  Every run must end in one of the ordinary ways.

VMPY_FUZZ_SIGNAL_PROGRAMS scales it (default 40 programs per engine)."""
import os
import random

import pytest

import vmpy
from rvasm import asm

CODE, DATA, SNIPPET = 0x7000000, 0x8000000, 256
SNIPPETS = 160


def value(rng):
    return rng.choice([
        rng.randrange(66),                                   # signal numbers, SIG_* and flag values
        DATA + 8 * rng.randrange(0x800),                     # sigaction structs, masks, stack_t
        CODE + SNIPPET * rng.randrange(SNIPPETS),            # a handler
        rng.getrandbits(64),
        rng.choice([0, 1, 2, 8, 24, 0x8000000, 0x40000000, 0x80000000]),
    ])


def snippet(rng):
    kind = rng.random()
    if kind < 0.12:                       # kill(getpid(), sig) or kill(0, sig)
        pid = "li a7, 172\n ecall" if rng.random() < 0.5 else "li a0, 0"
        return f"{pid}\n li a1, {rng.randrange(66)}\n li a7, 129\n ecall"
    if kind < 0.2:
        return rng.choice([".word 0", "ebreak", f"li t0, {value(rng)}\n sd t0, 0(t0)",
                           f"li t0, {value(rng)}\n jr t0"])
    if kind < 0.27:                       # rt_sigreturn from a random stack
        return f"li sp, {value(rng)}\n li a7, 139\n ecall"
    nr = rng.choice([102, 103, 103, 129, 130, 131, 132, 134, 134, 135, 135, 136, 139])
    args = "\n ".join(f"li a{i}, {value(rng)}" for i in range(4))
    if nr == 134 and rng.random() < 0.8:
        args = args.replace("li a3,", "li a3, 8 #", 1)      # the sigset size Linux requires
    return f"{args}\n li a7, {nr}\n ecall"


def program(rng, actions):
    """Snippet 0 gives most signals a handler from actions (so that most
    raised signals and faults run one), the others are random."""
    setup = "\n".join(f"li a0, {sig}\n li a1, {rng.choice(actions)}\n li a2, 0\n li a3, 8\n li a7, 134\n ecall"
                      for sig in range(1, 65) if sig not in (9, 19) and rng.random() < 0.9)
    body = "\n".join(f".balign {SNIPPET}\n {snippet(rng)}" for _ in range(SNIPPETS - 1))
    return asm(".option norvc\n" + setup + "\n" + body +
               f"\n.balign {SNIPPET}\n li a0, 0\n li a7, 94\n ecall")


def sigactions(rng):
    """DATA: random words, with sigaction structs (handler, flags, mask)
    spread through it whose handlers point at snippets.  Returns the bytes
    and the structs' addresses."""
    words = [value(rng) for _ in range(0x800)]
    actions = []
    for i in range(0, 0x800 - 3, 3):
        if rng.random() < 0.6:
            words[i] = CODE + SNIPPET * rng.randrange(1, SNIPPETS)
            words[i + 1] = rng.choice([0, 4, 0x40000000, 0x80000000, 0x08000000, 0xc8000004])
            words[i + 2] = rng.getrandbits(64)
            actions.append(DATA + 8 * i)
    return b"".join((w & (2**64 - 1)).to_bytes(8, "little") for w in words), actions


@pytest.fixture(scope="module")
def exit_elf(riscv_cc):
    return riscv_cc("int main(void) { return 0; }")


@pytest.mark.parametrize("engine", ["interp", "jit"])
def test_random_signal_syscalls_and_faults(exit_elf, engine):
    if engine not in vmpy.engines():
        pytest.skip(f"engine {engine} not built")
    rng = random.Random(engine)
    ends = {}
    programs = int(os.environ.get("VMPY_FUZZ_SIGNAL_PROGRAMS", "40"))
    for _ in range(programs):
        m = vmpy.Machine("riscv64", engine=engine)
        m.linux_exec(exit_elf, [exit_elf], [])
        data, actions = sigactions(rng)
        code = program(rng, actions)
        m.map(CODE, (len(code) + 0xfff) & ~0xfff, "rwx")
        m.write(CODE, code)
        m.map(DATA, 0x4000, "rw")
        m.write(DATA, data)
        m.cpus[0].pc = CODE
        m.cpus[0]["sp"] = DATA + 0x3ff0 if rng.random() < 0.5 else m.cpus[0]["sp"]
        r = m.run(count=50_000, timeout=10)
        assert r in ("count", "exit", "fault", "trap", "invalid"), (r, m.cpus[0].pc)
        ends[str(r)] = ends.get(str(r), 0) + 1
    print(f"{engine}: {ends}")
    assert len(ends) >= 2          # the programs do end in different ways
