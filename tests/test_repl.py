"""The Tcl REPL debugger (tools/repl, vmpy/repl.py).

Scripts in tests/repl/*.tcl run through `vmpy repl --script` on small static
riscv64 programs (riscv64-linux-gnu-gcc -static -g -O1).  Expected values are
hand-computed from the C sources below, symbol addresses come from
riscv64-linux-gnu-nm, exit statuses and output from qemu-riscv64.
An interactive session runs under pexpect (line editing, history, Ctrl-C)."""
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from testenv import CROSS_CC, RUN_TIMEOUT, missing, tool_env, vmpy_env

vmpy = pytest.importorskip("vmpy")
HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "repl")

PROG = r"""
#include <stdio.h>
int counter;
char message[32] = "hello repl";
long table[4] = { 0x1122334455667788L, 2, 3, 4 };
__attribute__((noinline)) int add(int a, int b) { return a + b; }
__attribute__((noinline)) int fact(int n) { return n <= 1 ? 1 : n * fact(n - 1); }
int main(int argc, char **argv)
{
    for (int i = 0; i < 5; i++)
        counter = add(counter, i);
    printf("%d %d %s %ld\n", counter, fact(5), message, table[argc & 3]);
    return argc + 2;
}
"""

LOOP = r"""
volatile unsigned long spins;
__attribute__((noinline)) void spin(void) { for (;;) spins++; }
int main(void) { spin(); return 0; }
"""


@pytest.fixture(scope="module")
def repl_mod():
    try:
        from vmpy import repl
    except ImportError as e:
        missing("vmpy.repl (%s)" % e)
    if not hasattr(vmpy._core, "TclRepl"):
        missing("vmpy._core built with Tcl (tcl8.6-dev)")
    return repl


@pytest.fixture(scope="module")
def prog(riscv_cc):
    return riscv_cc(PROG, flags=["-g", "-O1"])


@pytest.fixture(scope="module")
def loop_prog(riscv_cc):
    return riscv_cc(LOOP, flags=["-g", "-O1"])


def repl_cmd():
    """`python -m vmpy repl` once the CLI has the command, else the same
    code through `python -m vmpy.repl`."""
    from vmpy import cli
    parser = cli.build_parser()
    for action in parser._actions:
        if getattr(action, "choices", None) and "repl" in action.choices:
            return [sys.executable, "-m", "vmpy", "repl"]
    return [sys.executable, "-m", "vmpy.repl"]


def run_script(script, *prog_and_args, timeout=RUN_TIMEOUT):
    cmd = repl_cmd() + ["--script", os.path.join(SCRIPTS, script)] + [str(a) for a in prog_and_args]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           env=vmpy_env(dict(os.environ)))
    except subprocess.TimeoutExpired:
        pytest.fail("timed out: %s" % " ".join(cmd))
    return p


def nm_symbols(elf):
    nm = CROSS_CC.replace("gcc", "nm")
    if shutil.which(nm) is None:
        missing(nm)
    out = subprocess.run([nm, elf], capture_output=True, text=True, env=tool_env(), check=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            syms[parts[2]] = int(parts[0], 16)
    return syms


# -- scripts -----------------------------------------------------------------

def test_breakpoints_script(repl_mod, prog, qemu_run):
    p = run_script("breakpoints.tcl", prog, "A", "B")
    assert p.returncode == 0, p.stderr
    assert "breakpoints ok" in p.stdout
    q = qemu_run(prog, ["A", "B"])
    assert q[0] == 5                                  # argc 3 + 2
    assert q[1].decode() in p.stdout                  # the guest's own output


@pytest.mark.parametrize("script", ["stepping.tcl", "regmem.tcl", "errors.tcl"])
def test_scripts(repl_mod, prog, script):
    p = run_script(script, prog)
    assert p.returncode == 0, p.stdout + p.stderr
    assert script.replace(".tcl", " ok") in p.stdout


def test_exit_inside_catch_sets_status(repl_mod, prog):
    p = run_script("exit3.tcl", prog)
    assert p.returncode == 3
    assert "not reached" not in p.stdout


def test_uncaught_error_fails(repl_mod, prog):
    p = run_script("uncaught.tcl", prog)
    assert p.returncode == 1
    assert "unknown register \"no_such_register\"" in p.stderr
    assert "usage: reg ?NAME? ?VALUE?" in p.stderr
    assert "not reached" not in p.stdout


@pytest.mark.parametrize("args", [[], ["x"], ["x", "y", "z", "w"]])
def test_exit_status_matches_qemu(repl_mod, prog, qemu_run, args):
    q = qemu_run(prog, args)
    p = run_script("runexit.tcl", prog, *args)
    assert p.returncode == q[0]
    assert p.stdout == q[1].decode()


def test_missing_program(repl_mod, tmp_path):
    p = run_script("runexit.tcl", tmp_path / "nope")
    assert p.returncode == 127
    assert "cannot open" in p.stderr


# -- Machine.tcl ------------------------------------------------------------------

@pytest.fixture
def machine(repl_mod, prog):
    m = vmpy.Machine("riscv64")
    m.tcl("load elf " + prog)
    return m


def test_symbols_match_nm(machine, prog):
    syms = nm_symbols(prog)
    for name in ("main", "add", "fact", "counter", "message"):
        assert int(machine.tcl("sym " + name), 16) == syms[name]
        assert machine.tcl("addr %#x" % syms[name]) == name
    assert int(machine.tcl("sym main+8"), 16) == syms["main"] + 8
    assert machine.tcl("addr %#x" % (syms["main"] + 6)) == "main+6"
    assert int(machine.tcl("sym 0x1234"), 16) == 0x1234


def test_tcl_errors_and_exit(machine):
    with pytest.raises(vmpy.VmpyError) as e:
        machine.tcl("reg bogus")
    assert "usage: reg" in str(e.value)
    assert "reg bogus" in e.value.errorinfo
    with pytest.raises(SystemExit) as e:
        machine.tcl("exit 4")
    assert e.value.code == 4
    assert machine.tcl("expr {1 + 2}") == "3"     # still usable after exit


def test_tcl_agrees_with_python_api(machine):
    cpu = machine.cpus[0]
    machine.tcl("until main")
    assert int(machine.tcl("reg pc"), 16) == cpu.pc
    cpu["a3"] = 0xdeadbeef
    assert int(machine.tcl("reg a3"), 16) == 0xdeadbeef
    machine.tcl("reg a4 0x55")
    assert cpu["a4"] == 0x55
    addr = int(machine.tcl("sym message"), 16)
    assert machine.read(addr, 10) == b"hello repl"
    machine.tcl("mem write message {HELLO}")
    assert machine.read(addr, 10) == b"HELLO repl"


def test_python_hooks_see_tcl_runs(machine):
    seen = []
    machine.on_code(lambda cpu, addr, size: seen.append(addr))
    before = machine.cpus[0].pc
    assert machine.tcl("step 10") == "count"
    assert len(seen) == 10 and seen[0] == before


def test_python_hook_error_is_a_tcl_error(machine):
    def bad(cpu, addr, size):
        raise ValueError("hook says no")
    machine.on_code(bad)
    with pytest.raises(vmpy.VmpyError, match="hook says no"):
        machine.tcl("step")


def test_trace_to_file(machine, tmp_path):
    out = tmp_path / "trace.txt"
    machine.tcl("until main")
    expect = [l.split(":")[0].strip() for l in machine.tcl("dis main 3").splitlines()]
    machine.tcl("trace on " + str(out))
    assert "trace" in machine.tcl("info hooks")
    machine.tcl("step 3")
    assert machine.tcl("trace off") == "3"
    lines = out.read_text().splitlines()
    assert len(lines) == 3
    # straight-line prologue: the trace follows the disassembly
    assert [l.split(":")[0] for l in lines] == [e.lstrip("=> ").strip() for e in expect]


def test_dis_names_call_targets(machine, prog):
    syms = nm_symbols(prog)
    text = machine.tcl("dis main 40")
    assert text.splitlines()[0].endswith(">") is False
    assert ("%#x <main>:" % syms["main"]) in text
    assert re.search(r"jal (?:ra, )?\S+\s+# %#x <add>" % syms["add"], text)


def test_help_documents_every_command(machine):
    listing = machine.tcl("help")
    for name in ("load", "reg", "mem", "x", "dis", "break", "watch", "delete", "step", "next",
                 "finish", "cont", "until", "run", "exitcode", "info", "trace", "sym", "addr", "help"):
        assert re.search(r"^  %s\s" % re.escape(name), listing, re.M), name
        assert machine.tcl("help " + name)
    assert "info regions" in machine.tcl("help info")


def test_monitor_style_output_capture(machine):
    out = []
    vmpy.repl.interpreter(machine).set_output(lambda text, stream: out.append((stream, text)))
    machine.tcl("puts hi; puts stderr ho")
    assert out == [(1, "hi\n"), (2, "ho\n")]


# -- interactive -------------------------------------------------------------------

def test_interactive_session(repl_mod, loop_prog, tmp_path):
    pexpect = pytest.importorskip("pexpect")
    cmd = repl_cmd()
    env = dict(os.environ, HOME=str(tmp_path), TERM="xterm")
    child = pexpect.spawn(cmd[0], cmd[1:] + [loop_prog], env=vmpy_env(env), encoding="utf-8",
                          timeout=30, dimensions=(40, 200))
    try:
        child.expect(r"\(0x[0-9a-f]+ <_start>\) vmpy> ")
        # Line editing: type "xeg pc", Ctrl-A to the start, Ctrl-D deletes x, type r.
        child.send("xeg pc\x01\x04r\r")
        child.expect(r"\r\n(0x[0-9a-f]+)\r\n")
        entry = int(child.match.group(1), 16)
        child.expect("vmpy> ")
        # Completion of command names: "brea<TAB>" completes to break.
        child.send("brea\t spin\r")
        child.expect(r"\r\n1\r\n")
        child.expect("vmpy> ")
        child.send("cont\r")
        child.expect(r"Breakpoint 1, 0x[0-9a-f]+ <spin>")
        child.expect(r"<spin>\) vmpy> ")
        child.send("delete all\r")
        child.expect("vmpy> ")
        # Ctrl-C interrupts the guest's infinite loop and returns to the prompt.
        child.send("cont\r")
        child.expect("cont")
        time.sleep(1.0)
        child.sendintr()
        child.expect(r"Interrupted at 0x[0-9a-f]+ <spin\+\d+>")
        child.expect(r"\(0x[0-9a-f]+ <spin\+\d+>\) vmpy> ")
        # History: Up arrow brings back earlier commands ("cont", then "delete all").
        child.send("x spins 1 g\r")
        child.expect(r"<spins>: (0x[0-9a-f]+)")
        assert int(child.match.group(1), 16) > 0    # the loop really ran
        child.expect("vmpy> ")
        child.send("\x1b[A\r")
        child.expect(r"<spins>: (0x[0-9a-f]+)")
        child.expect("vmpy> ")
        # Ctrl-C also interrupts a Tcl loop that never runs the guest.
        child.send("while 1 {}\r")
        time.sleep(0.5)
        child.sendintr()
        child.expect("error: interrupted")
        child.expect("vmpy> ")
        # Errors keep the session alive; exit N is the status.
        child.send("mem read 0 4\r")
        child.expect("error: cannot read 4 bytes at 0x0")
        child.expect("vmpy> ")
        child.send("exit 7\r")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 7
    assert entry > 0
    assert os.path.exists(tmp_path / ".vmpy_repl_history")
