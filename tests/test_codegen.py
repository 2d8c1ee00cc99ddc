"""The interpreter's generated code keeps its hot state in host registers.

interp_run (csrc/core/riscv64/interp.c) is one large function of computed-goto
handlers, and GCC's register allocation of it has a cliff: past a point
(a handler more, sometimes a changed one) GCC keeps the last result `acc`,
and with it the budget or the block, on the stack in every handler.  The
code still works, so no functional test notices, but int.c runs 25% slower
(about 6,000 stack references in interp_run instead of about 180).  This
checks the built extension itself.  It needs GCC at -O2 (read from the
extension's DWARF producer string) and binutils; other builds are skipped."""
import platform
import re
import shutil
import subprocess

import pytest

import vmpy._core

SO = vmpy._core.__file__
INTERP_SOURCE = "csrc/core/riscv64/interp.c"
# A healthy build has about 180 (GCC 12); the cliff is in the thousands.
MAX_STACK_REFS = 1000


# readelf prints `DW_AT_producer    : (indirect string, offset: 0x2ef): GNU C11 ...`
# or, for strings stored inline, `DW_AT_producer    : GNU C11 ...`.
DIE_STRING = r"DW_AT_%s\s*:\s*(?:\(indirect[^)]*\):\s*)?(.+?)\s*$"


def producer_of(source):
    """The DW_AT_producer string of source's compilation unit, or None."""
    out = subprocess.run(["readelf", "--debug-dump=info", "--dwarf-depth=1", SO],
                         capture_output=True, text=True, check=True).stdout
    for unit in out.split("Compilation Unit @")[1:]:
        name = re.search(DIE_STRING % "name", unit, re.M)
        producer = re.search(DIE_STRING % "producer", unit, re.M)
        if name and producer and name.group(1).endswith(source):
            return producer.group(1)
    return None


def optimisation_level(producer):
    levels = re.findall(r"(?:^|\s)-O(\S*)", producer)
    return levels[-1] if levels else "0"     # the last -O wins


@pytest.fixture(scope="module")
def interp_run_disassembly():
    if platform.machine() != "x86_64":
        pytest.skip("the threshold is for x86-64 code")
    if not (shutil.which("readelf") and shutil.which("objdump")):
        pytest.skip("needs binutils (readelf, objdump)")
    producer = producer_of(INTERP_SOURCE)
    if producer is None:
        pytest.skip("the extension has no DWARF for interp.c (built without -g?)")
    if not producer.startswith("GNU C"):
        pytest.skip(f"calibrated for GCC, built by {producer.split(' -')[0]}")
    if optimisation_level(producer) != "2" or "-fsanitize" in producer:
        pytest.skip(f"calibrated for a plain -O2 build: {producer}")
    text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "--disassemble=interp_run", SO],
                          capture_output=True, text=True, check=True).stdout
    body = [line for line in text.splitlines() if re.match(r"\s+[0-9a-f]+:\t", line)]
    if not body:
        pytest.skip("interp_run not found in the extension's symbols")
    return body


def test_interp_run_keeps_its_state_in_registers(interp_run_disassembly):
    refs = sum("(%rsp)" in line for line in interp_run_disassembly)
    assert refs < MAX_STACK_REFS, (
        f"interp_run has {refs} stack references (healthy: about 180): GCC now spills the "
        "interpreter's hot state; see 'Interpreter fast paths' in docs/ARCHITECTURE.md")


def test_the_check_reads_producer_strings_right():
    assert optimisation_level("GNU C11 12.2.0 -g -O3 -O2 -std=c11") == "2"
    assert optimisation_level("GNU C11 12.2.0 -g -std=c11") == "0"
    assert optimisation_level("GNU C11 12.2.0 -Og") == "g"
