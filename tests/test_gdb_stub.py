"""The gdb stub against the real gdb-multiarch.

A driver process (vmpy.Machine + linux_exec + gdb_serve on a free port)
serves a -g -O0 static program; gdb-multiarch drives it in batch mode (or
through pexpect for Ctrl-C).  Oracles: the C source (hand-computed values),
qemu-riscv64 (exit code), gdb's own disassembly (instruction lengths).
Every process is bounded by a timeout.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest

from testenv import ROOT, missing, tool_env

GDB = os.environ.get("VMPY_GDB", "gdb-multiarch")
TIMEOUT = 60

PROG = r"""
volatile long counter;
int global_w;
double fval = 1.5;
static int square(int x) { int y = x * x; return y; }
int compute(int n)
{
    int total = 0;
    for (int i = 0; i < n; i++)
        total += square(i);
    return total;
}
double half(double d) { return d / 2; }
int main(int argc, char **argv)
{
    int local = 42;
    int r = compute(5);             /* 0+1+4+9+16 = 30 */
    global_w = r + local;           /* 72 */
    double h = half(fval * 3);      /* 2.25 */
    if (argc > 1)
        for (;;)
            counter++;
    return (int)h + r - 30 + 3;     /* 5 */
}
"""

DRIVER = r"""
import sys, vmpy, vmpy.gdbserver
prog, hook_addr = sys.argv[1], int(sys.argv[2], 0)
m = vmpy.Machine("riscv64")
m.linux_exec(prog, [prog] + sys.argv[3:])
hits = []
if hook_addr:
    m.on_code(lambda cpu, addr, size: hits.append(addr), hook_addr, hook_addr + 1)
srv = m.gdb_serve(0, wait=False)
print("PORT", srv.port, flush=True)
srv.wait(60)
state, code = srv.state, srv.exit_code
srv.close()
after = "-"
if state != "exited":
    after = str(m.run(timeout=10))      # the machine is Python's again
print("AFTER", state, code, after, m.exit_code if after == "exit" else "-", len(hits), flush=True)
"""


@pytest.fixture(scope="module")
def prog(riscv_cc):
    if shutil.which(GDB) is None:
        missing(GDB)
    return riscv_cc(PROG, flags=["-g", "-O0"])


class Driver:
    """The serving process; .port once listening, .finish() -> AFTER fields."""

    def __init__(self, tmp_path, prog, args=(), hook_addr=0):
        script = tmp_path / "driver.py"
        script.write_text(DRIVER)
        env = dict(os.environ, PYTHONPATH=ROOT)
        self.p = subprocess.Popen([sys.executable, str(script), prog, hex(hook_addr)] + list(args),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env, cwd=ROOT)
        line = self.p.stdout.readline()
        if not line.startswith("PORT "):
            self.p.kill()
            raise AssertionError("driver did not start: %r %s" % (line, self.p.stderr.read()))
        self.port = int(line.split()[1])

    def finish(self):
        try:
            out, err = self.p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.p.kill()
            pytest.fail("driver hung")
        m = re.search(r"^AFTER (.*)$", out, re.M)
        assert m, "driver output: %r %r" % (out, err)
        return m.group(1).split()

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def gdb_batch(port, commands, prog=None):
    cmd = [GDB, "-nx", "-batch", "-ex", "set pagination off", "-ex", "set confirm off"]
    if prog:
        cmd += ["-ex", "file " + prog]
    cmd += ["-ex", "target remote 127.0.0.1:%d" % port]
    for c in commands:
        cmd += ["-ex", c]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=tool_env())
    except subprocess.TimeoutExpired:
        pytest.fail("gdb timed out: %s" % commands)
    return p.stdout + p.stderr


def symbol(prog, name):
    nm = subprocess.run(["riscv64-linux-gnu-nm", prog], capture_output=True, text=True, timeout=30)
    for line in nm.stdout.splitlines():
        f = line.split()
        if len(f) == 3 and f[2] == name:
            return int(f[0], 16)
    raise AssertionError("no symbol " + name)


@pytest.fixture
def served(tmp_path, prog):
    drivers = []

    def start(args=(), hook_addr=0):
        d = Driver(tmp_path, prog, args, hook_addr)
        drivers.append(d)
        return d

    yield start
    for d in drivers:
        d.kill()


def test_session_break_print_regs_step_watch_exit(served, prog, qemu_run):
    rc, _, _ = qemu_run(prog)
    assert rc == 5
    d = served()
    out = gdb_batch(d.port, [
        "break compute", "continue", "print n", "print/x $pc",
        "info registers fa0 fcsr mstatus", "print &compute",
        "x/2i $pc", "stepi", "print/x $pc",
        "next", "finish", "print global_w",
        "watch global_w", "continue", "print global_w",
        "delete", "continue",
    ], prog)
    assert re.search(r"Breakpoint 1, compute \(n=5\) at .*:8", out), out
    assert "$1 = 5" in out
    # The stop pc is the breakpoint's address, which gdb printed.
    bp = int(re.search(r"Breakpoint 1 at (0x[0-9a-f]+)", out).group(1), 16)
    assert "$2 = %#x" % bp in out
    assert re.search(r"^fa0\s+\{float = .*double = .*\}", out, re.M), out
    assert re.search(r"^fcsr\s+0x0", out, re.M), out
    assert re.search(r"^mstatus\s+0x[0-9a-f]+", out, re.M), out
    # stepi from the breakpoint lands on the next instruction gdb disassembled
    # (a store: straight-line code).
    insns = re.findall(r"^(?:=> )?\s*(0x[0-9a-f]+) <compute\+\d+>:", out, re.M)
    assert len(insns) >= 2 and int(insns[0], 16) == bp, out
    assert "$4 = %s" % insns[1] in out, out
    assert "Value returned is $5 = 30" in out, out
    assert "$6 = 0" in out                          # finish returns before the store
    assert re.search(r"Old value = 0\s+New value = 72", out), out
    assert "$7 = 72" in out
    assert "exited with code 05" in out, out
    state, code, after, *_ = d.finish()
    assert (state, code, after) == ("exited", "5", "-")


def test_exec_file_and_auxv_without_file(served, prog):
    d = served()
    out = gdb_batch(d.port, ["info auxv", "print &global_w", "info threads", "kill"])
    entry = symbol(prog, "_start")
    assert "in _start ()" in out, out                # gdb found the program by itself
    assert re.search(r"AT_ENTRY\s.*%#x" % entry, out), out
    assert re.search(r"\(int \*\) %#x <global_w>" % symbol(prog, "global_w"), out), out
    assert re.search(r"\* 1\s+Thread 1 \(hart 0\)", out), out
    state, *_ = d.finish()
    assert state == "killed"


def test_detach_leaves_machine_usable_and_hooks_coexist(served, prog):
    compute = symbol(prog, "compute")
    d = served(hook_addr=compute)
    out = gdb_batch(d.port, ["break half", "continue", "print d", "detach"], prog)
    assert re.search(r"Breakpoint 1, half \(d=4.5\)", out), out
    assert "$1 = 4.5" in out
    state, code, after, exit_code, hits = d.finish()
    # The Python hook fired once while gdb ran the machine; after detach
    # Python runs the program on to its exit.
    assert (state, after, exit_code, hits) == ("detached", "exit", "5", "1")


def test_interrupt_looping_guest(served, prog):
    pexpect = pytest.importorskip("pexpect")
    d = served(args=["loop"])
    g = pexpect.spawn(GDB, ["-nx", "-q", "-ex", "set pagination off", "-ex", "set confirm off",
                            "-ex", "set style enabled off",
                            "-ex", "file " + prog, "-ex", "target remote 127.0.0.1:%d" % d.port],
                      encoding="utf-8", timeout=30, env=tool_env())
    try:
        g.expect_exact("(gdb)")
        g.sendline("continue")
        g.expect("Continuing")
        time.sleep(1.0)
        g.sendintr()
        g.expect("SIGINT")
        g.expect(r"main \(argc=2, .*counter\+\+")    # stopped in the loop
        g.expect_exact("(gdb)")
        g.sendline("print counter")
        g.expect(r"\$1 = (\d+)")
        first = int(g.match.group(1))
        assert first > 0
        # It runs again after the interrupt, and stops again.
        g.sendline("continue")
        g.expect("Continuing")
        time.sleep(0.5)
        g.sendintr()
        g.expect("SIGINT")
        g.expect_exact("(gdb)")
        g.sendline("print counter")
        g.expect(r"\$2 = (\d+)")
        assert int(g.match.group(1)) > first
        g.sendline("kill")
        g.expect_exact("(gdb)")
        g.sendline("quit")
        g.expect(pexpect.EOF)
    finally:
        g.close(force=True)
    state, *_ = d.finish()
    assert state == "killed"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_run_gdb(prog):
    help_text = subprocess.run([sys.executable, "-m", "vmpy", "run", "--help"], capture_output=True,
                               text=True, cwd=ROOT, timeout=30).stdout
    if "--gdb" not in help_text:
        pytest.skip("vmpy run has no --gdb yet (vmpy/cli.py)")
    port = free_port()
    p = subprocess.Popen([sys.executable, "-m", "vmpy", "run", "--gdb", str(port), prog],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert "waiting for gdb" in p.stderr.readline()
        out = gdb_batch(port, ["print/x $pc", "break compute", "continue", "print n", "continue"], prog)
        assert "$1 = %#x" % symbol(prog, "_start") in out, out   # stopped before the first insn
        assert "$2 = 5" in out and "exited with code 05" in out, out
        assert p.wait(timeout=TIMEOUT) == 5
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_python_close_and_abrupt_disconnect_give_the_machine_back(prog):
    import vmpy
    import vmpy.gdbserver  # noqa: F401  (adds Machine.gdb_serve)
    m = vmpy.Machine("riscv64")
    m.linux_exec(prog, [prog, "loop"])
    # gdb resumes the looping guest; Python closes the server meanwhile.
    srv = m.gdb_serve(0, wait=False)
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    assert srv.wait_connected(10)
    s.sendall(b"+$c#63")
    time.sleep(0.3)
    with pytest.raises(RuntimeError):
        m.run(count=1)                      # gdb owns the machine
    srv.close()
    s.close()
    assert srv.state == "closed"
    n = m.cpus[0].icount
    assert n > 0
    assert m.run(timeout=0.2) == "timeout"  # Python's again, and it still loops
    assert m.cpus[0].icount > n
    # gdb vanishes while the guest runs, after garbage and Ctrl-C bytes.
    srv = m.gdb_serve(0, wait=False)
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"+$c#63$Z0,zz#00\x03$m,#00" + bytes(range(256)) * 64)
    time.sleep(0.3)
    s.close()
    assert srv.wait(10)
    assert srv.state == "closed"
    srv.close()
    assert m.run(timeout=0.2) == "timeout"
