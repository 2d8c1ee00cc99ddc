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
                 "finish", "cont", "until", "run", "exitcode", "info", "trace", "sym", "addr", "help",
                 "snapshot", "console", "dev"):
        assert re.search(r"^  %s\s" % re.escape(name), listing, re.M), name
        assert machine.tcl("help " + name)
    assert "info regions" in machine.tcl("help info")


def test_info_tlb_lists_the_pages_just_used(machine):
    """Linux user mode has no MMU: every entry maps a page to itself; the
    page of the instruction just executed is there with x; libc's start-up
    wrote memory through the fast path, so some page has w."""
    assert "is empty" in machine.tcl("info tlb")    # nothing ran yet
    machine.tcl("until main")
    pc = int(machine.tcl("reg pc"), 16)
    machine.tcl("step")
    lines = machine.tcl("info tlb 0").splitlines()
    entries = {}
    for line in lines:
        m = re.fullmatch(r"0x([0-9a-f]{16}) -> 0x([0-9a-f]{16}) ([r-][w-][x-])", line)
        assert m, line
        va, pa = int(m.group(1), 16), int(m.group(2), 16)
        assert va == pa and va % 4096 == 0
        entries[va] = m.group(3)
    assert "x" in entries[pc & ~0xfff]
    assert any("w" in p for p in entries.values())   # libc start-up wrote memory


def test_random_commands_never_crash(machine, prog, tmp_path, monkeypatch):
    """Every command with random arguments (numbers, symbols, garbage,
    huge and negative values, byte strings): a result or a Tcl error,
    never a crash; the interpreter and the machine stay usable."""
    import random
    monkeypatch.chdir(tmp_path)      # `trace on r`, `snapshot save bogus`... write files
    rng = random.Random(99)
    names = ["load elf", "load symbols", "reg", "mem read", "mem write", "x", "dis", "break", "watch",
             "delete", "step", "next", "finish", "cont", "until", "run", "exitcode", "info regions",
             "info breakpoints", "info hooks", "info tlb", "info devices", "info symbols", "trace on",
             "trace off", "sym", "addr", "help", "snapshot save", "snapshot restore", "snapshot list",
             "snapshot delete", "console send", "console read", "console expect", "dev list", "dev read",
             "dev write", "mem", "info", "snapshot", "dev", "console"]
    args = ["0", "-1", "0xffffffffffffffff", "main", "main+4", "add+0x1000000", "", "{}", "[",
            "\\x00\\xff", "pc", "a0", "mstatus", "f1", "bogus", "99999999999999999999", "1e9", "3.5",
            "r", "w", "rw", "x", "all", "s", "g", "i", "b", "h", str(tmp_path / "t.txt"), prog,
            str(tmp_path / "missing" / "file"), "{puts hi}", "0x10000", "4096", "1", "2", "8"]
    errors = 0
    for _ in range(1500):
        cmd = rng.choice(names) + "".join(" " + rng.choice(args) for _ in range(rng.randrange(4)))
        if cmd.split()[0] in ("cont", "run", "until", "finish", "next") and "0x" in cmd:
            continue
        try:
            machine.tcl(cmd)
        except vmpy.VmpyError:
            errors += 1
        except SystemExit:
            pass
    assert errors > 100
    assert machine.tcl("expr {6 * 7}") == "42"
    machine.tcl("delete all; trace off")
    assert machine.cpus[0].pc >= 0


def test_monitor_style_output_capture(machine):
    out = []
    vmpy.repl.interpreter(machine).set_output(lambda text, stream: out.append((stream, text)))
    machine.tcl("puts hi; puts stderr ho")
    assert out == [(1, "hi\n"), (2, "ho\n")]


BOOT_START = r"""
    .section .text.start
    .globl _start
_start:
    csrr t0, mhartid
    bnez t0, 2f
    la sp, stack_top
    call main0
2:  wfi
    j 2b
    .bss
    .balign 16
    .space 4096
stack_top:
"""

BOOT_PROG = r"""
#define UART ((volatile unsigned char *)0x10000000)
volatile int typed;
static void put(char c) { while (!(UART[5] & 0x20)) ; UART[0] = c; }
static int get(void) { while (!(UART[5] & 1)) ; return UART[0]; }
__attribute__((noinline)) void got_char(int c) { typed++; }
void main0(void)
{
    for (const char *s = "ready> "; *s; s++)
        put(*s);
    for (;;) {
        int c = get();
        got_char(c);
        if (c == 'x')
            break;
        put(c - 32);
    }
    *(volatile unsigned *)0x100000 = ((unsigned)typed << 16) | 0x3333;
    for (;;) ;
}
"""


@pytest.fixture(scope="module")
def uart_firmware(tmp_path_factory):
    """(elf, bin) of the bare-metal UART echo program for --boot."""
    if shutil.which("riscv64-linux-gnu-objcopy") is None or shutil.which(CROSS_CC) is None:
        missing("riscv64-linux-gnu-gcc / objcopy")
    d = tmp_path_factory.mktemp("uartfw")
    (d / "start.S").write_text(BOOT_START)
    (d / "prog.c").write_text(BOOT_PROG)
    elf, binf = d / "prog.elf", d / "prog.bin"
    subprocess.run([CROSS_CC, "-march=rv64gc", "-mabi=lp64d", "-g", "-O1", "-nostdlib", "-ffreestanding",
                    "-static", "-no-pie", "-mcmodel=medany", "-Wl,-Ttext=0x80000000", "-Wl,--build-id=none",
                    "-Wl,--no-relax", "-o", str(elf), str(d / "start.S"), str(d / "prog.c")],
                   check=True, capture_output=True, env=tool_env())
    subprocess.run(["riscv64-linux-gnu-objcopy", "-O", "binary", str(elf), str(binf)], check=True)
    return str(elf), str(binf)


def test_boot_repl_console_dev_snapshot(repl_mod, uart_firmware):
    """`vmpy repl --boot --firmware prog.bin --script boot_console.tcl
    prog.elf`: console expect/send/read, a breakpoint, device registers,
    snapshots and the power-off code, checked inside the script."""
    elf, binf = uart_firmware
    cmd = [sys.executable, "-m", "vmpy", "repl", "--boot", "--firmware", str(binf), "--ram", "64M",
           "--script", os.path.join(SCRIPTS, "boot_console.tcl"), str(elf)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=vmpy_env())
    assert p.returncode == 42, p.stdout + p.stderr
    # the console output reached stdout as the guest wrote it
    assert "ready> " in p.stdout and "Q" in p.stdout, p.stdout


@pytest.mark.slow
def test_boot_repl_linux_shell_and_tlb(repl_mod):
    """Debian's kernel under `vmpy repl --boot --smp 2`: the script reaches
    the busybox shell and runs uname; then `info tlb` shows the kernel's
    Sv39/48/57 mappings: the kernel image's virtual window
    0xffffffff80000000 maps to where it was loaded (RAM + 2 MiB, the
    RISC-V boot protocol's text_offset), so paddr = vaddr - 0xffffffff80000000
    + 0x80200000 for every entry in that window."""
    from vmpy import images
    try:
        img = images.fetch_debian_riscv64()
    except (RuntimeError, OSError) as e:
        pytest.skip(f"Debian riscv64 images unavailable: {e}")
    cmd = [sys.executable, "-m", "vmpy", "repl", "--boot", "--smp", "2", "--kernel", img.kernel,
           "--firmware", img.firmware, "--initrd", img.initrd,
           "--script", os.path.join(SCRIPTS, "boot_linux.tcl")]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=vmpy_env())
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr
    uname = re.search(r"UNAME<(.*?)>", p.stdout, re.S).group(1)
    assert "riscv64" in uname.splitlines()[1:], uname
    tlb = re.search(r"TLB-BEGIN\n(.*?)\nTLB-END", p.stdout, re.S).group(1).splitlines()
    kernel = 0
    for line in tlb:
        if re.fullmatch(r"the soft TLB of cpu \d is empty", line):
            continue        # a hart asleep in WFI after a flush
        m = re.fullmatch(r"0x([0-9a-f]{16}) -> 0x([0-9a-f]{16}) ([r-][w-][x-])", line)
        assert m, line
        va, pa = int(m.group(1), 16), int(m.group(2), 16)
        if va >= 0xffffffff80000000:
            assert pa == va - 0xffffffff80000000 + 0x80200000, line
            kernel += 1
    assert kernel > 0, tlb


# -- interactive -------------------------------------------------------------------

def test_interactive_boot_session(repl_mod, uart_firmware, tmp_path):
    """`vmpy repl --boot`: the prompt shows the hart's pc, the console output
    appears as the guest writes it, Ctrl-C stops the running board, and
    the power-off ends the program with its code."""
    pexpect = pytest.importorskip("pexpect")
    elf, binf = uart_firmware
    env = dict(os.environ, HOME=str(tmp_path), TERM="xterm")
    child = pexpect.spawn(sys.executable, ["-m", "vmpy", "repl", "--boot", "--firmware", binf,
                                           "--ram", "64M", elf], env=vmpy_env(env), encoding="utf-8",
                          timeout=30, dimensions=(40, 200))
    try:
        child.expect(r"\(0x0*80000000\) vmpy> ")
        child.send("load symbols [lindex $argv 0]\r")
        child.expect("vmpy> ")
        child.send("cont\r")
        child.expect("ready> ")              # the guest's output, live
        time.sleep(0.5)
        child.sendintr()                     # it waits for input for ever
        child.expect(r"Interrupted at 0x[0-9a-f]+ <main0\+\d+>")
        child.expect(r"<main0\+\d+>\) vmpy> ")
        child.send("console send hx; cont\r")
        child.expect("H")
        child.expect(r"\[program exited with status 2\]")
        child.expect("vmpy> ")
        child.send("exit [exitcode]\r")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 2

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
