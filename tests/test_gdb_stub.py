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
    s.send(b"+$c#63")
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
    s.send(b"+$c#63$Z0,zz#00\x03$m,#00" + bytes(range(256)) * 64)
    time.sleep(0.3)
    s.close()
    assert srv.wait(10)
    assert srv.state == "closed"
    srv.close()
    assert m.run(timeout=0.2) == "timeout"


def _packet(payload: bytes) -> bytes:
    return b"$" + payload + b"#%02x" % (sum(payload) & 0xff)


def _rcmd(cmd: str) -> bytes:
    return _packet(b"qRcmd," + cmd.encode().hex().encode())


class _Link:
    """A raw no-ack connection to the stub that keeps unread bytes."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=0.5)
        self.buf = b""

    def send(self, data):
        self.s.send(data)

    def reply(self, timeout=10):
        """The next packet's payload, and the text of 'O' packets before it."""
        deadline, out = time.monotonic() + timeout, []
        while True:
            m = re.search(rb"\$([^#]*)#[0-9a-f]{2}", self.buf)
            if m:
                self.buf = self.buf[m.end():]
                body = m.group(1)
                if body.startswith(b"O") and body != b"OK":
                    out.append(bytes.fromhex(body[1:].decode()).decode(errors="replace"))
                    continue
                return body, "".join(out)
            if time.monotonic() > deadline:
                raise AssertionError("no reply from the stub")
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise AssertionError("the stub closed the connection")
            self.buf += chunk

    def close(self):
        self.s.close()


def test_monitor_on_a_python_machine_and_fuzzed_real_stub(prog):
    """monitor commands reach the Tcl REPL on a Machine served from Python;
    then thousands of random, mutated, truncated and oversized packets (and
    random monitor commands) go to the real stub, which must keep answering
    and leave the machine usable."""
    import random
    import vmpy
    import vmpy.gdbserver  # noqa: F401
    if not hasattr(vmpy._core, "TclRepl"):
        pytest.skip("vmpy built without Tcl: no monitor commands")
    m = vmpy.Machine("riscv64")
    m.linux_exec(prog, [prog, "loop"])
    srv = m.gdb_serve(0, wait=False)
    s = _Link(srv.port)
    try:
        assert srv.wait_connected(10)
        s.send(b"+" + _packet(b"QStartNoAckMode"))
        assert s.reply()[0] == b"OK"
        start = symbol(prog, "_start")
        s.send(_rcmd("reg pc"))
        assert s.reply() == (b"OK", "%#x\n" % start)
        s.send(_rcmd("load symbols " + prog + "; sym main"))
        assert s.reply() == (b"OK", "%#x\n" % symbol(prog, "main"))
        s.send(_rcmd("nonsense {"))
        reply, text = s.reply()
        assert reply == b"E01" and text.startswith("error: ") and "missing close-brace" in text
        # A monitor run of a looping guest is bounded (2 s), not a wedge.
        t0 = time.monotonic()
        s.send(_rcmd("break spin_never_defined") + _rcmd("cont"))
        s.reply()
        reply, text = s.reply()
        assert reply == b"OK" and "Stopped (timeout)" in text, text
        assert time.monotonic() - t0 < 8
        rng = random.Random(1234)
        words = [b"g", b"G00", b"p20", b"P20=00", b"m0,8", b"M0,1:00", b"X0,0:", b"Z0,0,4", b"z2,0,8",
                 b"Z4,10,0", b"qXfer:features:read:target.xml:0,ffff", b"qThreadExtraInfo,1", b"Hg2",
                 b"T1", b"qfThreadInfo", b"qRcmd,", b"qRcmd,7a7a", b"vCont;x", b"vCont", b"Hc-1"]
        cmds = ["reg", "reg pc 0x10", "x 0 4", "dis", "info tlb", "info regions", "mem read 0 4",
                "step", "watch 0 8", "delete all", "help", "snapshot save a", "snapshot restore a",
                "dev list", "exit 3", "set a [", "sym", "until", "x pc 99999999"]
        sent = 0
        for i in range(3000):
            k = rng.randrange(6)
            if k == 0:
                pkt = _rcmd(rng.choice(cmds))
            elif k == 1:
                pkt = _packet(rng.choice(words))
            elif k == 2:
                body = bytes(rng.randrange(33, 127) for _ in range(rng.randrange(40)))
                if body[:1] in (b"k", b"D", b"c", b"C", b"s", b"S", b"v", b"R", b"$", b"#", b"}"):
                    body = b"q" + body    # no resume, kill, detach: the session goes on
                pkt = _packet(body)
            elif k == 3:
                pkt = _packet(rng.choice(words))[:-rng.randrange(1, 4)]       # truncated
            elif k == 4:
                pkt = b"$" + b"m" * rng.randrange(17000, 20000) + b"#00"      # oversized
            else:
                pkt = bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
            if b"\x03" in pkt or b"$" in pkt[1:]:
                continue        # Ctrl-C answers asynchronously; keep the stream simple
            s.send(pkt)
            sent += 1
            if i % 100 == 99:   # still alive and in sync?
                s.send(_packet(b"qC"))
                while not s.reply()[0].startswith(b"QC"):
                    pass
        print(f"real stub fuzz: {sent} packets")
        s.send(_packet(b"?"))
        while not s.reply()[0].startswith(b"T"):
            pass
    finally:
        s.close()
        assert srv.wait(10)
        srv.close()
    # Python's again (the fuzz rewrote pc and memory, so any stop reason will do)
    assert m.run(timeout=0.2) in ("timeout", "fault", "invalid", "trap", "exit", "breakpoint")
