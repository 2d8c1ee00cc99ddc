"""Random instruction streams (tests/randgen.py) run under qemu-riscv64 and
under `vmpy run`; every register, fcsr and the scratch memory must agree.

On a mismatch the failure names the seed, the registers that differ, and the
first unit of the stream after which the two disagree (found by bisecting on
prefixes of the same program), with the assembly saved for replay:
    python tests/randgen.py --seed S -n N [--fp] --limit K
"""
import os

import pytest

import randgen

FLAGS = ["-nostdlib", "-Wl,--no-relax"]
ENGINE = os.environ.get("VMPY_TEST_ENGINE")     # e.g. interp / jit, else the default
N_FAST = 2000
N_SLOW = 20000


def build(riscv_cc, prog, limit=None):
    return riscv_cc(prog.render(limit), suffix=".S", flags=FLAGS)


def oracle(riscv_cc, qemu_run, prog, limit=None):
    rc, out, err = qemu_run(build(riscv_cc, prog, limit), timeout=30)
    # The generator's contract: it never traps and always dumps the buffer.
    assert rc == 0 and len(out) == randgen.OUT_SIZE, \
        "generator bug (seed %d): qemu rc=%d, %d bytes, %r" % (prog.seed, rc, len(out), err[-300:])
    return out


def subject(riscv_cc, vmpy_run, prog, limit=None):
    return vmpy_run(build(riscv_cc, prog, limit), timeout=60, engine=ENGINE)


def first_bad_unit(riscv_cc, qemu_run, vmpy_run, prog):
    """Smallest k such that the program cut to k units disagrees (bisection;
    assumes the full program disagrees). Returns None if even k=0 does."""
    def bad(k):
        rc, out, _ = subject(riscv_cc, vmpy_run, prog, k)
        return rc != 0 or out != oracle(riscv_cc, qemu_run, prog, k)

    if bad(0):
        return None
    lo, hi = 0, len(prog.units)       # lo agrees, hi disagrees
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if bad(mid):
            hi = mid
        else:
            lo = mid
    return hi - 1


def differential(riscv_cc, qemu_run, vmpy_run, seed, n, fp, tmp_path, loops=False):
    prog = randgen.generate(seed, n, fp, loops)
    want = oracle(riscv_cc, qemu_run, prog)
    rc, got, err = subject(riscv_cc, vmpy_run, prog)
    if rc == 0 and got == want:
        return
    saved = tmp_path / ("rand_%s_%d.S" % ("fp" if fp else "int", seed))
    saved.write_text(prog.render())
    lines = ["seed %d (n=%d, fp=%s): vmpy rc=%d stderr=%r" % (seed, n, fp, rc, err[-500:])]
    lines += ["  differs: " + d for d in randgen.diff(want, got)[:24]]
    k = first_bad_unit(riscv_cc, qemu_run, vmpy_run, prog)
    if k is None:
        lines.append("  even the empty program (prologue+epilogue) disagrees")
    else:
        lines.append("  first disagreeing unit %d:" % k)
        lines += ["      " + u for u in prog.units[k]]
        lines.append("  replay: python tests/randgen.py --seed %d -n %d%s%s --limit %d"
                     % (seed, n, " --fp" if fp else "", " --loops" if loops else "", k + 1))
    lines.append("  program: %s" % saved)
    pytest.fail("\n".join(lines), pytrace=False)


# -- the generator itself, against qemu only --------------------------------

@pytest.mark.qemu
@pytest.mark.parametrize("fp", [False, True], ids=["int", "fp"])
def test_generator_dump_layout(riscv_cc, qemu_run, fp):
    """With no random units the dump must be exactly the generator's initial
    values: checks the prologue/epilogue/buffer layout the diff relies on."""
    prog = randgen.generate(7, 0, fp)
    d = randgen.decode(oracle(riscv_cc, qemu_run, prog))
    init = prog.init
    for i in range(1, 32):
        name = randgen.XNAMES[i]
        if i == randgen.BASE:
            continue      # holds the buffer address
        assert d[name] == init["x"][i], name
    for i in range(32):
        assert d["f%d" % i] == init["f"][i], "f%d" % i
    assert d["fcsr"] == init["frm"] << 5
    for i, v in enumerate(init["mem"]):
        assert d["mem[%+d]" % (8 * i - randgen.SCRATCH // 2)] == v


@pytest.mark.qemu
@pytest.mark.parametrize("seed", range(4))
def test_generator_runs_under_qemu(riscv_cc, qemu_run, seed):
    """Streams never trap and are deterministic (same seed, same dump)."""
    prog = randgen.generate(seed, N_FAST, fp=bool(seed % 2))
    assert prog.render() == randgen.generate(seed, N_FAST, fp=bool(seed % 2)).render()
    a = oracle(riscv_cc, qemu_run, prog)
    b = oracle(riscv_cc, qemu_run, prog)
    assert a == b
    # the stream must actually change state, or the diff tests prove nothing
    assert a != oracle(riscv_cc, qemu_run, prog, 0)


# -- vmpy against qemu --------------------------------------------------------

@pytest.mark.qemu
@pytest.mark.parametrize("seed", range(20))
def test_random_int(riscv_cc, qemu_run, vmpy_run, seed, tmp_path):
    differential(riscv_cc, qemu_run, vmpy_run, seed, N_FAST, False, tmp_path)


@pytest.mark.qemu
@pytest.mark.parametrize("seed", range(20))
def test_random_fp(riscv_cc, qemu_run, vmpy_run, seed, tmp_path):
    differential(riscv_cc, qemu_run, vmpy_run, 1000 + seed, N_FAST, True, tmp_path)


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.parametrize("seed", range(100))
def test_random_long(riscv_cc, qemu_run, vmpy_run, seed, tmp_path):
    differential(riscv_cc, qemu_run, vmpy_run, 100000 + seed, N_SLOW, bool(seed % 2), tmp_path)
