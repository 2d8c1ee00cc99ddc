"""The type stubs (vmpy/*.pyi) against the runtime, and a typed user script
against the stubs.  Needs mypy (scripts/setup.sh installs it)."""
import os
import subprocess
import sys
import textwrap

import pytest

from testenv import ROOT

ALLOWLIST = os.path.join(ROOT, "tests", "stubtest_allowlist.txt")
TIMEOUT = 240                   # under pytest-timeout's 300 s, so that this one reports


def _mypy(args, tmp_path, cwd):
    try:
        import mypy  # noqa: F401
    except ImportError:
        pytest.skip("mypy not installed")
    env = dict(os.environ, PYTHONPATH=ROOT, MYPYPATH=ROOT, MYPY_CACHE_DIR=str(tmp_path / "mypy_cache"))
    try:
        p = subprocess.run([sys.executable, "-m"] + args, cwd=cwd, env=env, capture_output=True,
                           text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail("timed out after %ss: %s" % (TIMEOUT, " ".join(args)))
    return p.returncode, p.stdout + p.stderr


def test_stubtest(tmp_path):
    """Every name, signature and kind of attribute in the stubs matches the runtime."""
    import vmpy._core
    allow = ["--allowlist", ALLOWLIST]
    if not hasattr(vmpy._core, "TclRepl"):          # built without Tcl (VMPY_NO_REPL, no tcl-dev)
        extra = tmp_path / "no_tcl_allowlist.txt"
        extra.write_text("vmpy\\._core\\.TclRepl\n")
        allow += ["--allowlist", str(extra)]
    rc, out = _mypy(["mypy.stubtest", "vmpy"] + allow, tmp_path, ROOT)
    assert rc == 0, "stubtest found differences between vmpy's stubs and the runtime:\n" + out


USER_SCRIPT = '''
import struct

import vmpy
from vmpy import Cpu, Hook, StopReason

m = vmpy.Machine("riscv64", engine="interp")
m.map(0x10000, 0x1000, "rwx")
m.map(0x20000, 0x1000, perms=3)
m.write(0x10000, struct.pack("<3I", 0x00500513, 0x02550513, 0x00A50533))
code: bytes = m.read(0x10000, 12)
cpu: Cpu = m.cpus[0]
cpu.pc = 0x10000
cpu["a0"] = -1
pcs: list[int] = []
h: Hook = m.on_code(lambda c, addr, size: pcs.append(c.pc + cpu["a0"] * 0))
writes: list[tuple[int, int, int]] = []
m.on_mem_write(lambda c, addr, size, value: writes.append((addr, size, value)), begin=0x20000, end=0x21000)
m.on_mem_fault(lambda c, access, addr, size: access == "w")
tr = m.trace("pc", "insn", limit=1024)
snap: vmpy.Snapshot = m.snapshot()
reason: StopReason = m.run(start=0x10000, until=0x1000C, count=100, timeout=1.0)
assert reason == "until" and reason is StopReason.UNTIL and cpu["a0"] == 84
assert [int(pc) for pc in tr.pc] == pcs == [0x10000, 0x10004, 0x10008] and len(tr.insn) == 3
tr.close()
h.remove()
listing: list[str] = [f"{a:#x} {n} {text}" for a, n, text in m.disasm(0x10000, 3)]
ram = [(base, size) for base, size, perms, kind in m.regions() if kind == "ram" and "w" in perms]
m.restore(snap)
assert cpu.pc == 0x10000 and code == bytes(m.read(0x10000, 12)) and m.step() == StopReason.COUNT


def load(path: str) -> int:
    return m.load_elf(path, bias=0)


def misuse() -> None:   # the stubs are in force: these are errors (--warn-unused-ignores)
    m.map("0x1000", 4096)  # type: ignore[arg-type]
    m.write(0x10000, "text")  # type: ignore[arg-type]
'''


def test_user_script_type_checks(tmp_path):
    """A typed script using the documented API passes mypy --strict with the stubs."""
    script = tmp_path / "user_script.py"
    script.write_text(textwrap.dedent(USER_SCRIPT))
    rc, out = _mypy(["mypy", "--strict", "--follow-imports=silent", str(script)], tmp_path, str(tmp_path))
    assert rc == 0, "mypy rejects a typed user script:\n" + out
