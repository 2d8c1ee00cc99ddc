"""`vmpy boot --gdb PORT`: the gdb stub on the virt board (system mode).

A small bare-metal program (built here with -g -O0, loaded as the board's
firmware at 0x80000000) runs on 2 harts: hart 0 counts in a loop and calls
tick(10) once, hart 1 counts for ever.  gdb-multiarch drives it in batch
mode (pexpect for Ctrl-C).  Oracles: the C source (hand-computed values),
the program's symbols (nm), the sifive_test exit code it writes (7).
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from testenv import ROOT, missing, tool_env

GDB = os.environ.get("VMPY_GDB", "gdb-multiarch")
TIMEOUT = 60
OBJCOPY = "riscv64-linux-gnu-objcopy"

START = r"""
    .section .text.start
    .globl _start
_start:
    csrr t0, mhartid
    la sp, stacks
    addi t1, t0, 1
    slli t1, t1, 12
    add sp, sp, t1
    bnez t0, 1f
    call main0
1:  call hart1_loop
    .bss
    .balign 16
stacks: .space 8192
"""

PROG = r"""
volatile long counter0, counter1;
volatile int go_on = 1;
volatile int shared_w;
void tick(long n) { shared_w = (int)n * 3; }
void hart1_loop(void) { for (;;) counter1++; }
void main0(void)
{
    for (long i = 0; go_on; i++) {
        counter0++;
        if (i == 10)
            tick(i);
    }
    *(volatile unsigned *)0x100000 = (7u << 16) | 0x3333;   /* sifive_test: fail, code 7 */
    for (;;) ;
}
"""


@pytest.fixture(scope="module")
def firmware(tmp_path_factory):
    for tool in (GDB, "riscv64-linux-gnu-gcc", OBJCOPY):
        if shutil.which(tool) is None:
            missing(tool)
    d = tmp_path_factory.mktemp("gdbsys")
    (d / "start.S").write_text(START)
    (d / "prog.c").write_text(PROG)
    elf, binf = d / "prog.elf", d / "prog.bin"
    subprocess.run(["riscv64-linux-gnu-gcc", "-march=rv64gc", "-mabi=lp64d", "-g", "-O0", "-nostdlib",
                    "-ffreestanding", "-static", "-no-pie", "-mcmodel=medany", "-Wl,-Ttext=0x80000000",
                    "-Wl,--build-id=none", "-Wl,--no-relax", "-o", str(elf), str(d / "start.S"),
                    str(d / "prog.c")], check=True, capture_output=True, env=tool_env())
    subprocess.run([OBJCOPY, "-O", "binary", str(elf), str(binf)], check=True, capture_output=True)
    return str(elf), str(binf)


def symbol(elf, name):
    nm = subprocess.run(["riscv64-linux-gnu-nm", elf], capture_output=True, text=True, timeout=30)
    for line in nm.stdout.splitlines():
        f = line.split()
        if len(f) == 3 and f[2] == name:
            return int(f[0], 16)
    raise AssertionError("no symbol " + name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Boot:
    """`vmpy boot --gdb PORT --smp N --firmware prog.bin` in a subprocess."""

    def __init__(self, binf, smp=2):
        self.port = free_port()
        self.p = subprocess.Popen([sys.executable, "-m", "vmpy", "boot", "--gdb", str(self.port),
                                   "--smp", str(smp), "--ram", "64M", "--firmware", binf],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                  env=dict(os.environ, PYTHONPATH=ROOT))
        line = self.p.stderr.readline()
        assert "waiting for gdb" in line, line + self.p.stderr.read()

    def finish(self):
        try:
            return self.p.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.p.kill()
            pytest.fail("vmpy boot --gdb hung")

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


@pytest.fixture
def boot():
    boots = []

    def start(binf, smp=2):
        b = Boot(binf, smp)
        boots.append(b)
        return b

    yield start
    for b in boots:
        b.kill()


def gdb_batch(port, elf, commands):
    cmd = [GDB, "-nx", "-batch", "-ex", "set pagination off", "-ex", "set confirm off",
           "-ex", "file " + elf, "-ex", "target remote 127.0.0.1:%d" % port]
    for c in commands:
        cmd += ["-ex", c]
    try:
        # cwd: a gdb that crashes must not leave a core file in the tree
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=tool_env(),
                           cwd=tempfile.gettempdir())
    except subprocess.TimeoutExpired:
        pytest.fail("gdb timed out: %s" % commands)
    return p.stdout + p.stderr


def test_boot_gdb_threads_break_step_watch_exit(firmware, boot):
    elf, binf = firmware
    b = boot(binf, smp=2)
    out = gdb_batch(b.port, elf, [
        "info threads",
        "break tick", "continue", "print n", "bt 2",
        "info registers mhartid mstatus",
        "set scheduler-locking step",            # stepping hart 1 leaves hart 0 alone
        "thread 2", "print $pc", "stepi", "print $pc", "stepi", "print $pc",
        "thread 1", "print $pc", "print/x $mhartid",
        "set scheduler-locking off",
        "delete", "watch shared_w", "continue", "print shared_w",
        "delete", "set var go_on = 0", "continue",
    ])
    start, tick = symbol(elf, "_start"), symbol(elf, "tick")
    # both harts wait at the reset pc as gdb threads
    assert re.search(r"\* 1\s+Thread 1 \(hart 0\) _start \(\)", out), out
    assert re.search(r"\n\s+2\s+Thread 2 \(hart 1\) _start \(\)", out), out
    assert re.search(r"Thread 1 hit Breakpoint 1, tick \(n=10\) at .*prog.c:5", out), out
    assert "$1 = 10" in out
    assert re.search(r"#1 .* in main0 \(\) at .*prog.c:12", out), out
    assert re.search(r"^mhartid\s+0x0\s", out, re.M), out
    # hart 1 never ran (hart 0 reached tick within its first slice): it steps
    # from _start by one 4-byte instruction at a time.
    assert "$2 = (void (*)()) %#x <_start>" % start in out, out
    assert "$3 = (void (*)()) %#x <_start+4>" % (start + 4) in out, out
    assert "$4 = (void (*)()) %#x <_start+8>" % (start + 8) in out, out
    bp_pc = int(re.search(r"Breakpoint 1 at (0x[0-9a-f]+)", out).group(1), 16)
    assert tick <= bp_pc < tick + 32
    assert re.search(r"\$5 = \(void \(\*\)\(\)\) %#x <tick\+\d+>" % bp_pc, out), out
    assert "$6 = 0x0" in out                     # thread 1 is hart 0
    # the write in tick: 10 * 3
    assert re.search(r"Old value = 0\s+New value = 30", out), out
    assert "$7 = 30" in out
    # main0 leaves its loop and writes exit code 7 to the test finisher
    assert "exited with code 07" in out, out
    assert b.finish() == 7


def test_boot_gdb_monitor_commands_reach_the_repl(firmware, boot):
    if not _has_tcl():
        pytest.skip("vmpy built without Tcl: no monitor commands")
    elf, binf = firmware
    b = boot(binf, smp=2)
    out = gdb_batch(b.port, elf, [
        "monitor reg pc", "monitor load symbols " + elf, "monitor sym tick", "monitor info regions",
        "monitor mem write shared_w [binary format c4 {1 2 3 4}]", "print/x shared_w",
        "monitor no_such_command", "monitor reg",
        "monitor break tick", "continue", "print $pc", "kill",
    ])
    start, tick = symbol(elf, "_start"), symbol(elf, "tick")
    lines = out.splitlines()
    assert "%#x" % start in lines, out                 # reg pc
    assert "%#x" % tick in lines, out                  # sym tick
    assert re.search(r"^0x0*80000000-0x0*84000000 rwx ram", out, re.M), out
    assert "$1 = 0x4030201" in out, out                # the REPL wrote guest memory
    assert re.search(r'error: invalid command name "no_such_command"', out), out
    assert re.search(r"\sa0\s+0x0+\s", out), out       # the formatted dump
    # a REPL breakpoint stops gdb's continue as a plain SIGTRAP at tick
    assert "received signal SIGTRAP" in out, out
    assert "$2 = (void (*)()) %#x <tick>" % tick in out, out
    assert b.finish() == 137


def test_boot_gdb_ctrl_c_interrupts_and_detach_runs_on(firmware, boot):
    pexpect = pytest.importorskip("pexpect")
    elf, binf = firmware
    b = boot(binf, smp=2)
    g = pexpect.spawn(GDB, ["-nx", "-q", "-ex", "set pagination off", "-ex", "set confirm off",
                            "-ex", "set style enabled off", "-ex", "file " + elf,
                            "-ex", "target remote 127.0.0.1:%d" % b.port],
                      encoding="utf-8", timeout=30, env=tool_env(), cwd=tempfile.gettempdir())
    try:
        g.expect_exact("(gdb)")
        g.sendline("continue")
        g.expect("Continuing")
        time.sleep(1.0)
        g.sendintr()
        g.expect("SIGINT")
        g.expect_exact("(gdb)")
        g.sendline("print counter0")
        g.expect(r"\$1 = (\d+)")
        c0 = int(g.match.group(1))
        g.expect_exact("(gdb)")
        g.sendline("print counter1")
        g.expect(r"\$2 = (\d+)")
        c1 = int(g.match.group(1))
        assert c0 > 1000 and c1 > 1000         # both harts ran
        g.expect_exact("(gdb)")
        g.sendline("set var go_on = 0")
        g.expect_exact("(gdb)")
        g.sendline("detach")                   # the board runs on without gdb
        g.expect_exact("(gdb)")
        g.sendline("quit")
        g.expect(pexpect.EOF)
    finally:
        g.close(force=True)
    assert b.finish() == 7


def _has_tcl():
    from vmpy import _core
    return hasattr(_core, "TclRepl")


def test_linux_boot_gdb_breaks_at_kernel_entry_in_s_mode(boot):
    """Debian's kernel Image under OpenSBI on 2 harts: break at the kernel's
    entry (RAM + text_offset from the Image header, as the boot protocol
    says), where OpenSBI hands over in S mode with a0 = hartid and a1 = the
    device tree (FDT magic 0xd00dfeed, stored big-endian)."""
    from vmpy import images
    try:
        img = images.fetch_debian_riscv64()
    except (RuntimeError, OSError) as e:
        pytest.skip(f"Debian riscv64 images unavailable: {e}")
    with open(img.kernel, "rb") as f:
        head = f.read(64)
    entry = 0x80000000 + int.from_bytes(head[8:16], "little")
    first_insn = int.from_bytes(head[0:4], "little")
    port = free_port()
    p = subprocess.Popen([sys.executable, "-m", "vmpy", "boot", "--gdb", str(port), "--smp", "2",
                          "--kernel", img.kernel, "--firmware", img.firmware, "--initrd", img.initrd],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))
    try:
        assert "waiting for gdb" in p.stderr.readline()
        cmd = [GDB, "-nx", "-batch", "-ex", "set pagination off", "-ex", "set confirm off",
               "-ex", "target remote 127.0.0.1:%d" % port, "-ex", "info threads",
               "-ex", "hbreak *%#x" % entry, "-ex", "continue",
               "-ex", "print/x $pc", "-ex", "print $a0", "-ex", "info registers priv",
               "-ex", "x/wx $a1", "-ex", "x/wx $pc", "-ex", "kill"]
        t0 = time.monotonic()
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=tool_env(),
                             cwd=tempfile.gettempdir())
        out = out.stdout + out.stderr
        assert re.search(r"\n\s+2\s+Thread 2 \(hart 1\)", out), out
        assert "$1 = %#x" % entry in out, out
        assert "$2 = 0" in out, out
        assert re.search(r"^priv\s+0x1\s+prv:1 \[Supervisor\]", out, re.M), out
        assert re.search(r":\s+0xedfe0dd0$", out, re.M), out
        assert re.search(r"%#x:\s+%#010x$" % (entry, first_insn), out, re.M), out
        print(f"OpenSBI to the kernel entry under gdb: {time.monotonic() - t0:.1f} s")
        assert p.wait(timeout=TIMEOUT) == 137
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
