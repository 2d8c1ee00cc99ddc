"""Linux user mode: static riscv64 programs (glibc, riscv64-linux-gnu-gcc
-static -O2) run under `python -m vmpy run` and under qemu-riscv64, the
oracle; stdout, stderr and the exit status must match.

Guest sources live in tests/guest/user_*.c."""
import errno
import os
import shutil
import struct
import subprocess

import pytest
from testenv import missing

vmpy = pytest.importorskip("vmpy")

GUEST_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guest")
ERRORS = (getattr(vmpy, "VmpyError", ValueError), ValueError, OSError)


@pytest.fixture(scope="session")
def guest(riscv_cc):
    """guest(name) -> path of tests/guest/user_<name>.c compiled static.
    Compiled once per session into a tmp dir, cached by source hash (the
    conftest compiler caches by hash of source and flags)."""
    def build(name, flags=("-lm",)):
        with open(os.path.join(GUEST_DIR, "user_%s.c" % name)) as f:
            return riscv_cc(f.read(), flags=list(flags))
    return build


def status(rc):
    """qemu-user re-raises a guest's fatal signal on itself (returncode
    -SIG); vmpy reports it as a shell would (128 + SIG)."""
    return 128 - rc if rc < 0 else rc


def same_as_qemu(qemu_run, vmpy_run, elf, args=(), stdin=None, cwd=None, env=None):
    q = qemu_run(elf, args, stdin=stdin, cwd=cwd, env=env)
    v = vmpy_run(elf, args, stdin=stdin, cwd=cwd, env=env)
    assert v[1] == q[1], "stdout differs"
    assert v[2] == q[2], "stderr differs"
    assert status(v[0]) == status(q[0]), "exit status differs"
    return v


def test_integer_and_fp_math(guest, qemu_run, vmpy_run):
    rc, out, _ = same_as_qemu(qemu_run, vmpy_run, guest("math"))
    assert rc == 0 and out.startswith(b"acc=")


def test_malloc_free_stress(guest, qemu_run, vmpy_run):
    rc, out, _ = same_as_qemu(qemu_run, vmpy_run, guest("malloc"))
    assert rc == 0 and b"sum=" in out


def test_stdio_printf_scanf(guest, qemu_run, vmpy_run):
    stdin = "1 abc 2.5\n 20 xyz -1e3\n99 q 0.125\n7 last 1e-300\n"
    rc, out, err = same_as_qemu(qemu_run, vmpy_run, guest("stdio"), stdin=stdin)
    assert rc == 3                       # total 127 > 100, computed by hand
    assert b"total=127" in err
    assert out.count(b"\n") == 5


def test_stdio_empty_input(guest, qemu_run, vmpy_run):
    rc, _, _ = same_as_qemu(qemu_run, vmpy_run, guest("stdio"), stdin="")
    assert rc == 0


def test_file_io_in_tmp_dir(guest, qemu_run, vmpy_run, tmp_path):
    elf = guest("files")
    dq, dv = tmp_path / "q", tmp_path / "v"
    dq.mkdir()
    dv.mkdir()
    q = qemu_run(elf, [dq])
    v = vmpy_run(elf, [dv])
    assert v == q
    assert v[0] == 0 and v[1].endswith(b"ok\n")
    assert list(dv.iterdir()) == []      # the program removed what it made


def test_argv_and_env(guest, qemu_run, vmpy_run):
    env = dict(os.environ, VMPYTEST_A="1", VMPYTEST_B="with space", VMPYTEST_EMPTY="")
    args = ["one", "two words", "", "ünïcödé", "-x"]
    rc, out, _ = same_as_qemu(qemu_run, vmpy_run, guest("env"), args, env=env)
    assert rc == len(args) + 1
    assert b"env VMPYTEST_B=with space\n" in out
    assert b"argv[2]=[two words]\n" in out
    assert b"sp aligned: 1" in out and b"random present: 1" in out


@pytest.mark.parametrize("arg,expected", [(None, 42), ("0", 0), ("3", 3), ("255", 255),
                                          ("256", 0), ("_exit", 9), ("abort", 128 + 6)])
def test_exit_status(guest, qemu_run, vmpy_run, arg, expected):
    rc, out, _ = same_as_qemu(qemu_run, vmpy_run, guest("exit"), [] if arg is None else [arg])
    assert status(rc) == expected
    assert out.startswith(b"mode ")


def test_uname_getrandom_time(guest, qemu_run, vmpy_run):
    rc, out, _ = same_as_qemu(qemu_run, vmpy_run, guest("sys"))
    assert rc == 0
    assert b"machine=riscv64" in out
    assert b"getrandom=300 nonzero>200=1" in out
    assert b"slept>=20ms=1" in out


def test_mmap_family_and_bad_pointers(guest, qemu_run, vmpy_run, tmp_path):
    elf = guest("mem")
    q = qemu_run(elf, [tmp_path / "q.bin"])
    v = vmpy_run(elf, [tmp_path / "v.bin"])
    assert v == q
    assert b"write bad=-1 errno=14" in v[1]          # EFAULT
    assert b"unknown=-1 errno=38" in v[1]            # ENOSYS


def test_map_fixed_noreplace_fails_with_eexist(guest, vmpy_run, tmp_path):
    # qemu-user ignores MAP_FIXED_NOREPLACE; mmap(2) documents EEXIST (17).
    rc, out, _ = vmpy_run(guest("mem"), [tmp_path / "x.bin", "noreplace"])
    assert rc == 0
    assert b"noreplace failed=1 errno=17\n" in out


def test_static_pie_is_loaded_at_a_bias(riscv_cc, qemu_run, vmpy_run):
    src = r"""
        .globl _start
    _start:
        li a0, 1
        lla a1, msg
        li a2, 7
        li a7, 64
        ecall
        lla a0, _start
        srli a0, a0, 32     # a static-pie must not run at its link address 0
        snez a0, a0
        ld t0, 0(sp)        # argc
        add a0, a0, t0
        li a7, 93
        ecall
        .section .rodata
    msg: .ascii "pie ok\n"
    """
    elf = riscv_cc(src, ".S", flags=["-nostdlib", "-fPIE", "-Wl,-pie", "-Wl,--no-dynamic-linker"])
    with open(elf, "rb") as f:
        assert struct.unpack_from("<H", f.read(18), 16)[0] == 3      # ET_DYN
    rc, out, _ = same_as_qemu(qemu_run, vmpy_run, elf, ["a", "b"])
    assert out == b"pie ok\n" and rc == 4


def test_linux_exec_api_exit_code_and_output(guest, capfd):
    m = vmpy.Machine("riscv64")
    elf = guest("env")
    m.linux_exec(elf, [elf, "alpha"], ["VMPYTEST_X=42"])
    assert m.run(timeout=60) == "exit"
    assert m.exit_code == 2
    out = capfd.readouterr().out
    assert "argv[1]=[alpha]" in out
    assert "env VMPYTEST_X=42" in out
    assert "execfn=%s" % elf in out


def test_dynamically_linked_program_is_refused(tmp_path):
    # ELF header + PT_INTERP + one PT_LOAD, built by hand.
    interp = b"/lib/ld-linux-riscv64-lp64d.so.1\0"
    phoff, nph = 64, 2
    data_off = phoff + 56 * nph
    ehdr = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + struct.pack(
        "<HHIQQQIHHHHHH", 2, 243, 1, 0x10000, phoff, 0, 0, 64, 56, nph, 64, 0, 0)
    ph_interp = struct.pack("<IIQQQQQQ", 3, 4, data_off, 0x10000 + data_off, 0, len(interp), len(interp), 1)
    ph_load = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x10000, 0, data_off + len(interp), data_off + len(interp), 4096)
    path = tmp_path / "dyn"
    path.write_bytes(ehdr + ph_interp + ph_load + interp)
    m = vmpy.Machine("riscv64")
    with pytest.raises(ERRORS) as ei:
        m.linux_exec(str(path), [str(path)], [])
    assert "dynamic" in str(ei.value)


def test_missing_program_is_an_error(tmp_path):
    m = vmpy.Machine("riscv64")
    with pytest.raises(FileNotFoundError) as ei:     # the host's errno, as its OSError subclass
        m.linux_exec(str(tmp_path / "nope"), ["nope"], [])
    assert ei.value.errno == errno.ENOENT and "nope" in str(ei.value)
    os.mkdir(tmp_path / "dir")
    with pytest.raises(IsADirectoryError):
        m.linux_exec(str(tmp_path / "dir"), ["dir"], [])
    with pytest.raises(OSError, match="not a regular file"):
        m.linux_exec("/dev/null", ["null"], [])
    assert m.regions() == []


def test_cli_exit_status_for_programs_that_cannot_run(tmp_path, vmpy_run):
    """As a shell: 127 for a program that does not exist, 126 for one that
    cannot run; one line on stderr naming the program."""
    (tmp_path / "junk").write_bytes(b"#!/bin/sh\n")
    (tmp_path / "locked").write_bytes(b"\x7fELF")
    os.chmod(tmp_path / "locked", 0)
    cases = [(str(tmp_path / "nope"), 127, "no such file"), (str(tmp_path / "junk"), 126, "not an ELF file"),
             (str(tmp_path), 126, "Is a directory"), ("/dev/null", 126, "is not a regular file")]
    if os.geteuid() != 0:                            # root reads a mode-0 file anyway
        cases.append((str(tmp_path / "locked"), 126, "Permission denied"))
    for prog, code, text in cases:
        rc, _, err = vmpy_run(prog)
        err = err.decode()
        assert rc == code, (prog, rc, err)
        assert err.startswith(f"vmpy: {prog}") and text in err and err.count(prog) == 1, (prog, err)
        assert err.count("\n") == 1, err


def test_malformed_program_is_refused_cleanly(tmp_path):
    path = tmp_path / "junk"
    path.write_bytes(b"\x7fELF\x02\x01\x01" + b"\xff" * 100)
    m = vmpy.Machine("riscv64")
    with pytest.raises(ERRORS):
        m.linux_exec(str(path), [str(path)], [])
    assert m.regions() == []


def test_verbose_warns_about_unknown_syscalls(guest, tmp_path):
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root)
    cmd = [sys.executable, "-m", "vmpy", "run", "--verbose", guest("mem"), str(tmp_path / "s.bin")]
    p = subprocess.run(cmd, capture_output=True, timeout=60, env=env)
    assert p.returncode == 0
    assert b"unknown=-1 errno=38" in p.stdout
    assert p.stderr.count(b"syscall 4000") == 1


BUSYBOX_CMDS = [
    ["sh", "-c", "ls {tests}/guest | sort -r | head -3"],
    ["sh", "-c", "for i in 1 2 3; do echo $i | md5sum; done; x=$(uname -m); echo $x"],
    ["sh", "-c", "(exit 7); echo $?; sh -c 'exit 3'; echo $?; false || echo alt"],
    ["sh", "-c", "cat /etc/passwd | grep root | cut -d: -f1; trap 'echo trapped' EXIT"],
    ["sh", "-c", "kill -9 $$; echo not reached"],
    ["sh", "-c", "trap 'echo got usr1' USR1; kill -USR1 $$; echo after; trap '' INT; kill -INT $$; echo survived"],
    ["sh", "-c", "kill -TERM $$; echo not reached"],
    ["sh", "-c", "sleep 0.1 & wait; echo waited=$?; (exit 5) & wait $!; echo status=$?; "
                 "for i in 1 2 3; do (exit $i) & done; wait; echo all; trap 'echo chld' CHLD; "
                 "sleep 0.1 & wait; echo end"],
    ["sh", "-c", "nonexistent_command_xyz; echo status=$?"],
    ["echo", "hello", "world"],
    ["sh", "-c", "x=0; for i in 1 2 3 4; do x=$((x + i * i)); done; echo $x; cd /; pwd"],
    ["ls", "-la", "{tests}/guest"],
    ["wc", "-l", "{tests}/guest/user_files.c"],
    ["md5sum", "{tests}/guest/user_math.c"],
    ["sort", "-r", "{tests}/guest/user_exit.c"],
    ["awk", "BEGIN { s = 0; for (i = 1; i <= 100; i++) s += i; print s, 2 ^ 20 }"],
    ["sed", "-n", "3,5p", "{tests}/guest/user_stdio.c"],
    ["find", "{tests}/guest", "-name", "user_*.c"],
    ["stat", "-c", "%s %a %F", "{tests}/guest/user_env.c"],
    ["uname", "-m"],
    ["df", "-k", "/"],
    ["nproc"],
    ["id", "-u"],
]


@pytest.mark.parametrize("cmd", BUSYBOX_CMDS, ids=lambda c: c[0])
def test_busybox_applets(busybox, qemu_run, vmpy_run, cmd):
    tests = os.path.dirname(os.path.abspath(__file__))
    args = [a.replace("{tests}", tests) for a in cmd]
    q = qemu_run(busybox, args)
    v = vmpy_run(busybox, args)
    if cmd[0] == "df":        # free space moves between the two runs
        assert v[0] == q[0] == 0 and v[1].split(b"\n")[0] == q[1].split(b"\n")[0]
        assert v[1].split()[7:9] == q[1].split()[7:9]     # filesystem and size columns
        return
    assert (status(v[0]), v[1], v[2]) == (status(q[0]), q[1], q[2])


def test_busybox_file_commands(busybox, qemu_run, vmpy_run, tmp_path):
    """One applet per process (sh would need fork), relative to the cwd."""
    steps = [["mkdir", "-p", "d/a/b"], ["cp", "/etc/hostname", "d/a/f"], ["cp", "d/a/f", "d/a/b/g"],
             ["mv", "d/a/b/g", "d/h"], ["ln", "-s", "h", "d/l"], ["chmod", "640", "d/h"],
             ["touch", "-d", "2001-02-03 04:05:06", "d/h"], ["stat", "-c", "%n %s %a %Y", "d/h"],
             ["readlink", "d/l"], ["cat", "d/l"], ["ls", "-R", "d"], ["rm", "-r", "d/a"], ["ls", "d"],
             ["rm", "-r", "d"], ["ls", "-a"]]
    results = {}
    for name, run in (("q", qemu_run), ("v", vmpy_run)):
        wd = tmp_path / name
        wd.mkdir()
        results[name] = [run(busybox, step, cwd=wd) for step in steps]
        assert list(wd.iterdir()) == []
    for step, q, v in zip(steps, results["q"], results["v"]):
        assert v == q, step


def test_proc_self_maps_shows_the_guest_address_space(busybox, vmpy_run):
    with open(busybox, "rb") as f:
        img = f.read()
    phoff = struct.unpack_from("<Q", img, 32)[0]
    phnum = struct.unpack_from("<H", img, 56)[0]
    loads = []
    for i in range(phnum):
        t, fl, _off, va = struct.unpack_from("<IIQQ", img, phoff + 56 * i)
        if t == 1:
            loads.append((va, fl))
    rc, out, _ = vmpy_run(busybox, ["cat", "/proc/self/maps"])
    assert rc == 0
    lines = out.decode().splitlines()
    spans = [(int(l.split("-")[0], 16), int(l.split("-")[1].split()[0], 16), l.split()[1]) for l in lines]

    def perms_at(addr):
        return [p for lo, hi, p in spans if lo <= addr < hi]

    # every segment is mapped; the text keeps its r-x (glibc's RELRO may
    # make the start of the data segment read-only, as on Linux)
    for va, _fl in loads:
        assert len(perms_at(va)) == 1, (hex(va), lines)
    text_va, text_flags = loads[0]
    assert text_flags == 5 and perms_at(text_va) == ["r-xp"]
    assert any(l.endswith("[stack]") and " rw-p " in l for l in lines)


PROC_EXPECTED = """\
fork: read 10 [from child] pid>0=1
waitpid same=1
fork: exited 3
abort: signal 6
kill: signal 15
exec child: argc=3 arg=hello env=yes
execve: exited 7
exec child: argc=3 arg=spawn env=-
posix_spawn rc=0
spawn: exited 7
no children: -1 errno=10
"""


def test_fork_exec_wait_kill(guest, vmpy_run):
    # Expected from the program's logic and Linux semantics (qemu-user
    # without binfmt_misc cannot execve a riscv64 program, so it is no
    # oracle for the exec half; the fork/wait/kill half is checked against
    # it below).
    rc, out, err = vmpy_run(guest("proc"))
    assert (rc, out.decode(), err) == (0, PROC_EXPECTED, b"")


def test_fork_wait_kill_match_qemu(guest, qemu_run, vmpy_run):
    q = qemu_run(guest("proc"))
    v = vmpy_run(guest("proc"))
    assert q[1].splitlines()[:5] == v[1].splitlines()[:5]


CLONE_PROGRAM = r"""
    .globl _start
_start:
    li a0, 17           # SIGCHLD: a plain fork
    li a1, 0
    li a2, 0
    li a3, 0
    li a4, 0
    li a7, 220          # clone
    ecall
    li t0, 1
    bltz a0, 1f         # refused: exit 1
    li t0, 2
    beqz a0, 1f         # child: exit 2
    li t0, 3            # parent: exit 3
1:  mv a0, t0
    li a7, 94
    ecall
"""


def test_fork_in_process_and_refused_with_hooks(riscv_cc):
    import os as _os
    elf = riscv_cc(CLONE_PROGRAM, ".S", flags=["-nostdlib"])
    m = vmpy.Machine("riscv64")
    m.linux_exec(elf, [elf], [])
    assert m.run(timeout=30) == "exit" and m.exit_code == 3
    # the child exited 2 on its own, without coming back to Python
    pid, status = _os.wait()
    assert _os.WIFEXITED(status) and _os.WEXITSTATUS(status) == 2
    # with a Python hook installed the child could not run it: fork fails
    m = vmpy.Machine("riscv64")
    m.linux_exec(elf, [elf], [])
    m.on_block(lambda cpu, addr, size: None)
    assert m.run(timeout=30) == "exit" and m.exit_code == 1


def clean_run_as_under_qemu(guest, qemu_run, vmpy_run, name, engine):
    """tests/guest/user_<name>.c under qemu-riscv64 and under vmpy's engine
    (skipped if not built): the same stdout, and both exit 0.  -> vmpy's
    (returncode, stdout, stderr)."""
    if engine not in vmpy.engines():
        pytest.skip(f"engine {engine} not built")
    elf = guest(name)
    q = qemu_run(elf)
    v = vmpy_run(elf, engine=engine)
    assert v[1] == q[1], "stdout differs"
    assert v[0] == q[0] == 0
    return v


# Signals (csrc/core/linux/signal.c): handlers for signals the process
# raises itself and for its own faults, on a frame rt_sigreturn undoes.
@pytest.mark.parametrize("engine", ["interp", "jit"])
def test_signal_handlers_run_as_under_linux(guest, qemu_run, vmpy_run, engine):
    v = clean_run_as_under_qemu(guest, qemu_run, vmpy_run, "signal", engine)
    assert v[2] == b""
    out = v[1].decode()
    # What Linux's rules give, worked out by hand from the program.
    for line in ["usr1 hits=2", "pending usr1=1 hits=2", "after unblock hits=3 pending=0",
                 "segv: sig=11 code=1 addr=0x10", "recovered 0", "segv: sig=11 code=1 addr=0x1010",
                 "recovered 1", "recovered from a write to code", "ill: sig=4 code=1 at_pc=1",
                 "after ill: a0=1234", "trap: sig=5 code=1", "after trap",
                 "fflags before=0 after=0 r=0.5", "sigsuspend r=-1 eintr=1 hits=4 still_blocked=1",
                 "sigchld: pid_ok=1 code=1 status=7 waited=7",
                 "done"]:
        assert line + "\n" in out, line
    assert "segv: sig=11 code=2 addr=" in out


def test_signal_mask_rules_match_the_host_kernel(riscv_cc, vmpy_run, tmp_path):
    """sa_mask, SA_NODEFER, SA_RESETHAND, SIG_IGN, si_code, the alternate
    stack: the same portable program natively (the host's Linux is the
    oracle here; qemu-user 7.2 does not block sa_mask in a handler) and
    under vmpy."""
    if shutil.which("gcc") is None:
        missing("gcc")
    src = os.path.join(GUEST_DIR, "user_sigmask.c")
    native = tmp_path / "sigmask"
    subprocess.run(["gcc", "-O2", "-o", str(native), src], check=True)
    n = subprocess.run([str(native)], capture_output=True, timeout=60)
    with open(src) as f:
        v = vmpy_run(riscv_cc(f.read()))
    assert n.returncode == v[0] == 0
    assert v[1] == n.stdout
    out = v[1].decode()
    for line in ["info: sig=10 signo=10 code=-6 pid_ok=1 blocked_self=1 blocked_extra=1 saved_mask_usr1=0",
                 "info: sig=10 signo=10 code=0 pid_ok=1 blocked_self=1 blocked_extra=1 saved_mask_usr1=0",
                 "mask restored: hup=0 usr1=0", "usr2 hits=3 max_depth=3", "winch hits=1 reset=1",
                 "altstack: sig=23 on_it=1", "altstack: sig=23 on_it=0", "usr2 hits=3", "done"]:
        assert line + "\n" in out, line


@pytest.mark.parametrize("ending,expected", [("segv", 139), ("blocked-segv", 139), ("abort", 134),
                                             ("term", 143)])
def test_signal_endings_match_qemu(guest, qemu_run, vmpy_run, ending, expected):
    """An unhandled or blocked fault, abort() whose handler returns, and a
    raised SIGTERM all end the process as killed by the signal."""
    elf = guest("signal")
    q = qemu_run(elf, [ending])
    v = vmpy_run(elf, [ending])
    assert v[1] == q[1], "stdout differs"
    assert status(v[0]) == status(q[0]) == expected
    if ending == "abort":
        assert v[1].endswith(b"abort handler: sig=6\n")


SEGV_HANDLER_PROG = r"""
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
static void on_segv(int sig) { (void)sig; write(1, "handler\n", 8); _exit(3); }
int main(void)
{
    signal(SIGSEGV, on_segv);
    volatile int *p = (volatile int *)0x5000000;
    *p = 7;
    printf("stored %d\n", *p);
    return 0;
}
"""


def test_fault_hook_comes_before_the_guest_handler(riscv_cc, capfd):
    """Through the API: without hooks the guest's SIGSEGV handler runs; an
    on_mem_fault callback that maps the page keeps the fault from it."""
    elf = riscv_cc(SEGV_HANDLER_PROG)
    m = vmpy.Machine("riscv64")
    m.linux_exec(elf, [elf], [])
    assert m.run(timeout=30) == "exit" and m.exit_code == 3
    assert capfd.readouterr().out == "handler\n"

    m = vmpy.Machine("riscv64")
    m.linux_exec(elf, [elf], [])
    seen = []

    def fix(cpu, access, addr, size):
        seen.append((access, addr))
        m.map(addr & ~0xfff, 0x1000, "rw")
        return True

    m.on_mem_fault(fix, 0x5000000, 0x5001000)
    assert m.run(timeout=30) == "exit" and m.exit_code == 0
    assert capfd.readouterr().out == "stored 7\n"
    assert seen == [("w", 0x5000000)]


@pytest.mark.parametrize("engine", ["interp", "jit"])
def test_interval_timer_and_sigalrm_match_qemu(guest, qemu_run, vmpy_run, engine):
    """alarm() ending a busy loop, periodic ticks, getitimer, sleeps and
    pause() that SIGALRM cuts short (EINTR, the time left), a blocked
    SIGALRM."""
    v = clean_run_as_under_qemu(guest, qemu_run, vmpy_run, "timer", engine)
    for line in ["alarm fired ticks=1", "interval: ticks>=5 1, disarmed 1",
                 "remaining in [99,100]: 1, alarm(0) gave 100",
                 "nanosleep r=-1 eintr=1 rem_sec=1 ticks=1", "sleep(3) left 2 ticks=1",
                 "pause r=-1 eintr=1 ticks=1",
                 "blocked: r=0 pending=1 ticks=0", "unblocked: ticks=1", "done"]:
        assert line + "\n" in v[1].decode(), line


def test_unhandled_alarm_ends_the_process(guest, qemu_run, vmpy_run):
    elf = guest("timer")
    q = qemu_run(elf, ["die"])
    v = vmpy_run(elf, ["die"])
    assert v[1] == q[1] and not v[1].endswith(b"done\n")
    assert status(v[0]) == status(q[0]) == 128 + 14


def test_timer_signals_land_on_the_same_instruction_in_deterministic_mode(guest):
    """Guest time is instructions retired, and a run's slice ends where the
    timer is due: both engines, and a run cut into random slices through
    the API, deliver every SIGALRM at the same instruction."""
    import random
    import subprocess
    import sys
    elf = guest("timer")
    counts, outs = [], []
    for engine in ["interp", "jit"]:
        if engine not in vmpy.engines():
            continue
        p = subprocess.run([sys.executable, "-m", "vmpy", "run", "--engine", engine, "--deterministic",
                            "--stats", str(elf)], capture_output=True, timeout=120)
        assert p.returncode == 0, p.stderr
        outs.append(p.stdout)
        counts.append(int(p.stderr.split(b"vmpy: ")[-1].split()[0]))
    assert len(set(outs)) == 1 and len(set(counts)) == 1
    ends = []
    for sliced in (False, True):
        m = vmpy.Machine("riscv64", engine="interp")
        m.deterministic = True
        m.linux_exec(elf, [str(elf)], [])
        rng = random.Random(1)
        while (reason := m.run(count=rng.randrange(1, 3_000_000) if sliced else None)) == "count":
            pass
        assert reason == "exit" and m.exit_code == 0
        ends.append(m.cpus[0].icount)
    assert ends[0] == ends[1]
