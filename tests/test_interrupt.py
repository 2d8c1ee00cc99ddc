"""Ctrl-C (SIGINT) while the guest runs.

From Python's main thread, run() stops at the next block boundary and raises
KeyboardInterrupt (Jupyter's "interrupt kernel" sends the same signal); the
machine stays usable.  A blocking host call the signal interrupted (a read
of stdin) is not retired: running on restarts it.  `vmpy run` then dies of
SIGINT, as the guest would by default and as qemu-user does.

Each case runs in a child process that gets a real SIGINT from this one."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import vmpy
from testenv import ROOT

ENV = dict(os.environ, PYTHONPATH=ROOT)


def start(script, *args, stdin=subprocess.DEVNULL):
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *args], stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, text=True)


def interrupt_when_ready(p, settle=0.5):
    """Waits for the child's "ready" line, lets it get into run(), sends SIGINT."""
    assert p.stdout.readline() == "ready\n", p.stderr.read()
    time.sleep(settle)
    p.send_signal(signal.SIGINT)
    return time.monotonic()


@pytest.mark.parametrize("engine", vmpy.engines())
def test_ctrl_c_stops_a_guest_loop_and_raises_keyboard_interrupt(engine):
    p = start("""
        import sys, vmpy
        m = vmpy.Machine("riscv64", engine=sys.argv[1])
        m.map(0x10000, 0x1000, "rwx")
        m.write(0x10000, bytes.fromhex("93851500e30e00fe"))    # 1: addi a1, a1, 1; j 1b
        print("ready", flush=True)
        try:
            m.run(start=0x10000, timeout=60)
            print("returned")
        except KeyboardInterrupt:
            c = m.cpus[0]
            print("interrupted", c.pc in (0x10000, 0x10004), c["a1"] > 1000, flush=True)
        before = m.cpus[0]["a1"]
        print(m.run(count=1000) == "count", m.cpus[0]["a1"] - before)   # usable afterwards
    """, engine)
    t0 = interrupt_when_ready(p)
    out, err = p.communicate(timeout=30)
    assert time.monotonic() - t0 < 10, "the interrupt waited for the 60 s timeout"
    assert out == "interrupted True True\nTrue 500\n", err
    assert p.returncode == 0


def test_ctrl_c_restarts_an_interrupted_read(busybox):
    """busybox `head -c 6` blocks in read(0); Ctrl-C stops the run with the
    ecall not retired; running on after input arrives reads it."""
    p = start("""
        import sys, vmpy
        m = vmpy.Machine("riscv64")
        m.linux_exec(sys.argv[1], ["head", "-c", "6"], [])
        print("ready", flush=True)
        try:
            m.run(timeout=60)
            print("returned", flush=True)
        except KeyboardInterrupt:
            c = m.cpus[0]
            print("interrupted", m.read(c.pc, 4) == bytes.fromhex("73000000"), c["a7"], flush=True)
        print(m.run(timeout=60) == "exit", m.exit_code, flush=True)
    """, busybox, stdin=subprocess.PIPE)
    interrupt_when_ready(p)
    assert p.stdout.readline() == "interrupted True 63\n", p.stderr.read()   # at the ecall of read (63)
    p.stdin.write("hello\nworld\n")
    p.stdin.close()
    assert p.wait(timeout=30) == 0, p.stderr.read()
    assert p.stdout.read() == "hello\nTrue 0\n"


def assert_vmpy_run_dies_of_sigint(*args, stdin=subprocess.PIPE):
    """`vmpy run ARGS`, interrupted once running: it must end at once,
    killed by SIGINT (a shell sees 130), with nothing on stderr."""
    p = subprocess.Popen([sys.executable, "-c", "import sys, vmpy.cli; print('ready', flush=True); "
                          "sys.exit(vmpy.cli.main(sys.argv[1:]))", "run", *args],
                         stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, text=True)
    t0 = interrupt_when_ready(p, settle=1.0)
    out, err = p.communicate(timeout=20)
    assert time.monotonic() - t0 < 10
    assert p.returncode == -signal.SIGINT and err == "", err


@pytest.mark.parametrize("args", [["sh", "-c", "while true; do :; done"], ["sleep", "30"], ["cat"]])
def test_vmpy_run_dies_of_sigint(busybox, args):
    """A busy guest, a sleeping one and one blocked reading stdin."""
    assert_vmpy_run_dies_of_sigint(busybox, *args)


def test_a_python_handler_that_returns_makes_run_return_stop_and_other_threads_run_on():
    p = start("""
        import os, signal, threading, time, vmpy
        got = []
        signal.signal(signal.SIGINT, lambda s, f: got.append(s))
        m = vmpy.Machine("riscv64")
        m.map(0x10000, 0x1000, "rwx")
        m.write(0x10000, bytes.fromhex("93851500e30e00fe"))    # 1: addi a1, a1, 1; j 1b
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
        print(m.run(start=0x10000, timeout=30) == "stop", got == [signal.SIGINT])
        # A run on another thread is not the main thread's to stop: it times out.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        res = []
        th = threading.Thread(target=lambda: res.append(m.run(timeout=1.0)))
        th.start()
        time.sleep(0.3)
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(2)
        except KeyboardInterrupt:
            print("main interrupted")
        th.join()
        print(res == ["timeout"])
        # A handler set after runs have been made (Python puts its own C
        # handler back in front of vmpy's): a long run still stops.
        got.clear()
        signal.signal(signal.SIGINT, lambda s, f: got.append(s))
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
        t0 = time.monotonic()
        print(m.run(timeout=30) == "stop", got == [signal.SIGINT], time.monotonic() - t0 < 10)
    """)
    out, err = p.communicate(timeout=90)
    assert out == "True True\nmain interrupted\nTrue\nTrue True True\n", err


@pytest.mark.parametrize("call", ["pause()", "sigsuspend(&none)"])
def test_vmpy_run_dies_of_sigint_in_a_signal_wait(riscv_cc, call):
    """pause() (ppoll with no fds) and sigsuspend with no timer armed wait
    for a signal that only the host can bring: Ctrl-C ends them."""
    elf = riscv_cc("#include <signal.h>\n#include <unistd.h>\n"
                   "int main(void) { sigset_t none; sigemptyset(&none); (void)none; %s; return 3; }" % call)
    assert_vmpy_run_dies_of_sigint(str(elf), stdin=subprocess.DEVNULL)
