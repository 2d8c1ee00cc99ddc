"""RISC-V F and D extensions (csrc/core/riscv64/fpu.c) against qemu-riscv64.

tests/guest/fp_ops.c runs every F/D operation (except loads/stores) over
edge-case and pseudo-random operands in all rounding modes (static rm and
dynamic via fsrm) and prints operands, result and fflags per operation.

- native: tests/native/fpu_harness.c recomputes every line of the qemu output
  with fpu.c compiled for the host, once as built (host SSE fast paths) and
  once with -DRV_FPU_NO_HOST (the integer softfloat alone), and must agree
  on every result bit and every flag;
- selftest: hand-computed cases qemu-user cannot show (illegal rounding
  modes, FS = Off, x0 destinations, FS/SD marking);
- vmpy: the same guest under `python -m vmpy run` must print exactly what it
  prints under qemu-riscv64.
"""
import os
import re
import shutil
import subprocess

import pytest

from testenv import missing

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GUEST = os.path.join(HERE, "guest", "fp_ops.c")
HARNESS = os.path.join(HERE, "native", "fpu_harness.c")
FPU = os.path.join(ROOT, "csrc", "core", "riscv64", "fpu.c")
HOST_CC = os.environ.get("CC", "gcc")
GROUPS = ("arith", "fma", "cvt", "misc")


def fd_mnemonics():
    """The F/D operations rv_fp_exec implements, read from rv.h's op list."""
    with open(os.path.join(ROOT, "csrc", "core", "riscv64", "rv.h")) as f:
        text = f.read()
    body = text[text.index("/* F (executed by rv_fp_exec"):text.index("/* Zba */")]
    return set(re.findall(r'X\(\w+, "([a-z0-9.]+)"\)', body))


@pytest.fixture(scope="session")
def fp_guest(riscv_cc):
    with open(GUEST) as f:
        return riscv_cc(f.read())


@pytest.fixture(scope="session")
def harness(tmp_path_factory):
    """harness(variant) -> path of the native harness; variant "host" or "soft"."""
    if shutil.which(HOST_CC) is None:
        missing(HOST_CC)
    out = tmp_path_factory.mktemp("fpu_harness")
    built = {}

    def build(variant):
        if variant not in built:
            exe = str(out / variant)
            cmd = [HOST_CC, "-std=c11", "-D_GNU_SOURCE", "-O2", "-Wall", "-Wextra",
                   "-Wno-unused-parameter", "-Werror", "-I" + os.path.join(ROOT, "csrc"),
                   "-o", exe, HARNESS, FPU]
            if variant == "soft":
                cmd.insert(1, "-DRV_FPU_NO_HOST")
            p = subprocess.run(cmd, capture_output=True, text=True)
            assert p.returncode == 0, p.stderr
            built[variant] = exe
        return built[variant]

    return build


_qemu_cache = {}


def qemu_vectors(qemu_run, elf, args):
    key = (elf, tuple(args))
    if key not in _qemu_cache:
        rc, out, err = qemu_run(elf, list(args), timeout=300)
        assert rc == 0, err
        _qemu_cache[key] = out
    return _qemu_cache[key]


@pytest.mark.parametrize("variant", ["host", "soft"])
def test_selftest(harness, variant):
    p = subprocess.run([harness(variant), "--selftest"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stdout
    assert re.search(r"selftest \d+ hand vectors, failures 0", p.stdout)


def test_guest_covers_every_fd_op(fp_guest, qemu_run):
    out = qemu_vectors(qemu_run, fp_guest, ["all", "300"])
    seen = {line.split(b" ", 1)[0].decode() for line in out.splitlines()}
    expected = fd_mnemonics() - {"flw", "fsw", "fld", "fsd"}
    assert len(expected) >= 56
    assert expected <= seen, expected - seen


@pytest.mark.parametrize("variant", ["host", "soft"])
@pytest.mark.parametrize("args", [("all", "300"), ("all", "2000", "7")],
                         ids=["edge+random", "random-seed7"])
def test_native_matches_qemu(fp_guest, qemu_run, harness, variant, args):
    vectors = qemu_vectors(qemu_run, fp_guest, args)
    n = vectors.count(b"\n")
    p = subprocess.run([harness(variant)], input=vectors, capture_output=True, timeout=300)
    report = p.stdout.decode()
    last = report.strip().splitlines()[-1]
    assert last == "compared %d mismatches 0" % n, report[:4000]
    assert p.returncode == 0
    assert n > 250000


@pytest.mark.parametrize("group", GROUPS)
def test_vmpy_matches_qemu(fp_guest, qemu_run, vmpy_run, group):
    args = [group, "200", "3"]
    q = qemu_vectors(qemu_run, fp_guest, args)
    rc, out, err = vmpy_run(fp_guest, args, timeout=300)
    assert rc == 0, err
    if out != q:
        ql, vl = q.splitlines(), out.splitlines()
        diffs = [(a, b) for a, b in zip(ql, vl) if a != b][:10]
        pytest.fail("vmpy output differs from qemu (%d vs %d lines); first differences "
                    "(qemu, vmpy):\n%s" % (len(ql), len(vl),
                                           "\n".join("%s\n%s" % d for d in diffs)))
    assert q.count(b"\n") > 5000
