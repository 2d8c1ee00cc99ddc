"""Deterministic mode end to end: guest time from instructions retired and a
seeded random stream reach every guest clock and random source (the time CSR
and mtime in test_snapshot.py; here Linux user mode's clock_gettime,
gettimeofday, nanosleep, getrandom and AT_RANDOM), and two runs from the same
state retire the same instructions in the same order, under every engine the
machine offers.

Oracles: hand-computed times (the wall clock starts at 2024-01-01T00:00:00Z
= 1704067200 s, one instruction is 1 ns), and a second run of the same
program (determinism is a property of two runs; the non-deterministic mode
shows the same program does see host time and entropy)."""
import os
import shutil
import subprocess
import sys

import pytest

import vmpy
import vmpy.snapshot  # noqa: F401

from testenv import ROOT, tool_env, vmpy_env

CROSS_CC = os.environ.get("VMPY_CROSS_CC", "riscv64-linux-gnu-gcc")
ENGINES = vmpy.engines()

TIME_RANDOM_C = r"""
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/random.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/utsname.h>
#include <time.h>

static void hex(const char *name, const unsigned char *b, int n)
{
    printf("%s ", name);
    for (int i = 0; i < n; i++)
        printf("%02x", b[i]);
    printf("\n");
}

int main(void)
{
    struct timespec r, m, m2;
    struct timeval tv;
    unsigned char rnd[32];
    clock_gettime(CLOCK_REALTIME, &r);
    clock_gettime(CLOCK_MONOTONIC, &m);
    gettimeofday(&tv, 0);
    printf("realtime %lld.%09ld\n", (long long)r.tv_sec, r.tv_nsec);
    printf("monotonic %lld.%09ld\n", (long long)m.tv_sec, m.tv_nsec);
    printf("timeofday %lld.%06ld\n", (long long)tv.tv_sec, (long)tv.tv_usec);
    printf("time %lld\n", (long long)time(0));
    if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd)
        return 1;
    hex("getrandom", rnd, sizeof rnd);
    hex("at_random", (const unsigned char *)getauxval(AT_RANDOM), 16);
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd < 0 || read(fd, rnd, 16) != 16)
        return 2;
    close(fd);
    hex("urandom", rnd, 16);
    struct timespec d = { 0, 5000000 };
    nanosleep(&d, 0);
    clock_gettime(CLOCK_MONOTONIC, &m2);
    long long slept = (m2.tv_sec - m.tv_sec) * 1000000000ll + (m2.tv_nsec - m.tv_nsec);
    printf("slept_ms %lld\n", slept / 1000000);
    struct utsname u;
    uname(&u);
    printf("uname %s %s\n", u.nodename, u.release);
    return 0;
}
"""


@pytest.fixture(scope="module")
def time_random_elf(tmp_path_factory):
    if not shutil.which(CROSS_CC):
        if os.environ.get("CI"):
            pytest.fail(f"{CROSS_CC} missing under CI")
        pytest.skip(f"{CROSS_CC} not installed")
    d = tmp_path_factory.mktemp("det")
    src, elf = d / "time_random.c", d / "time_random"
    src.write_text(TIME_RANDOM_C)
    subprocess.run([CROSS_CC, "-static", "-O1", "-o", str(elf), str(src)], check=True, env=tool_env())
    return str(elf)


def run_cli(elf, *opts):
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.run([sys.executable, "-m", "vmpy", "run", *opts, elf], capture_output=True,
                       text=True, timeout=120, env=vmpy_env(env))
    assert p.returncode == 0, p.stderr
    return dict(line.split(" ", 1) for line in p.stdout.splitlines())


@pytest.mark.parametrize("engine", ENGINES)
def test_user_mode_time_and_randomness_are_deterministic(time_random_elf, engine):
    det = ["--engine", engine, "--deterministic"]
    a, b = run_cli(time_random_elf, *det), run_cli(time_random_elf, *det)
    assert a == b
    # Guest time starts at 2024-01-01 and moves 1 ns per instruction: a
    # static glibc start-up is well under a second of it.
    assert a["realtime"].startswith("1704067200.")
    assert a["monotonic"].startswith("0.")
    assert a["timeofday"].startswith("1704067200.")
    assert a["time"] == "1704067200"
    # nanosleep advances guest time by the request (plus a few instructions).
    assert a["slept_ms"] == "5"
    assert a["uname"] == "vmpy 6.1.0-vmpy"          # not the host's name and kernel
    # Another seed, another stream (and the stream is not all zeros).
    c = run_cli(time_random_elf, *det, "--seed", "42")
    assert c["getrandom"] != a["getrandom"] and c["at_random"] != a["at_random"]
    assert c["urandom"] != a["urandom"] != a["getrandom"][:32]
    assert c["realtime"] == a["realtime"]
    assert set(a["getrandom"]) != {"0"}


def test_user_mode_without_deterministic_sees_the_host(time_random_elf):
    import time
    a = run_cli(time_random_elf)
    b = run_cli(time_random_elf)
    assert a["getrandom"] != b["getrandom"]          # host entropy: 2^-256 to collide
    assert a["urandom"] != b["urandom"]
    assert abs(int(a["time"]) - time.time()) < 120   # the host's wall clock


def block_trace(elf, engine, count):
    m = vmpy.Machine("riscv64", engine=engine)
    m.deterministic = True
    m.linux_exec(elf, [elf], [])
    pcs = []
    h = m.on_block(lambda cpu, addr, size: pcs.append(addr))
    m.run(count=count)
    h.remove()
    regs = m.cpus[0].regs()
    return pcs, regs


@pytest.mark.parametrize("engine", ENGINES)
def test_user_mode_block_traces_are_identical(time_random_elf, engine, capfd):
    # 200k instructions cover start-up, the clock and random syscalls and the
    # sleep; both runs must take the same blocks and end in the same state.
    first = block_trace(time_random_elf, engine, 200000)
    second = block_trace(time_random_elf, engine, 200000)
    capfd.readouterr()
    assert len(first[0]) > 1000
    assert first == second


def test_user_mode_snapshot_is_refused_clearly(time_random_elf):
    m = vmpy.Machine("riscv64")
    m.linux_exec(time_random_elf, [time_random_elf], [])
    m.run(count=1000)
    # Host file descriptors and the rest of the process cannot be captured:
    # refused up front, naming what is missing, and the machine runs on.
    with pytest.raises(vmpy.VmpyError, match="Linux user-mode machines are not supported: "
                                              r"the process state \(host file descriptors, brk"):
        m.snapshot()
    # Nor can a snapshot of another machine replace the process.
    other = vmpy.Machine("riscv64")
    other.map(0x10000, 0x1000, "rw")
    with pytest.raises(vmpy.VmpyError, match="Linux user-mode machines are not supported"):
        m.restore(other.snapshot())
    pc = m.cpus[0].pc
    m.run(count=10)
    assert m.cpus[0].pc != pc


# ---- the example firmware: traces from a snapshot, input record/replay -------------

def firmware_board(engine):
    fw_dir = os.path.join(ROOT, "examples", "firmware")
    if fw_dir not in sys.path:
        sys.path.insert(0, fw_dir)
    if not shutil.which(CROSS_CC):
        if os.environ.get("CI"):
            pytest.fail(f"{CROSS_CC} missing under CI")
        pytest.skip(f"{CROSS_CC} not installed")
    import board
    m = board.make_board(engine=engine)
    m.deterministic = True
    assert m.run(until=m.symbols["main_loop"], timeout=30) == "until"
    return m


def pc_trace(m, chunks, feeds=()):
    """Runs the chunks (instruction counts), feeding feeds[i] (if any) to the
    UART after chunk i; returns every executed pc, the UART output since the
    start, the registers and a hash of RAM."""
    import hashlib
    pcs = []
    h = m.on_code(lambda cpu, addr, size: pcs.append(addr))
    out0 = len(m.uart.output)
    for i, n in enumerate(chunks):
        m.run(count=n)
        if i < len(feeds) and feeds[i]:
            m.uart.feed(feeds[i])
    h.remove()
    ram = hashlib.sha256()
    for base, size, _perms, kind in m.regions():
        if kind == "ram":
            ram.update(m.read(base, size))
    ram = ram.hexdigest()
    return pcs, bytes(m.uart.output[out0:]), m.cpus[0].regs(), ram


@pytest.mark.parametrize("engine", ENGINES)
def test_firmware_traces_from_a_snapshot_are_identical(engine):
    m = firmware_board(engine)
    m.uart.feed(b"u")                 # uptime: reads the time CSR
    s = m.snapshot()
    first = pc_trace(m, [30000])
    m.restore(s)
    second = pc_trace(m, [30000])
    assert first == second
    assert b"uptime " in first[1] and len(first[0]) == 30000
    # Through a file into a new machine (peripherals attached by the board).
    import board
    m2 = vmpy.Machine.from_snapshot(vmpy.Snapshot.from_bytes(s.to_bytes()),
                                    board=lambda mm: _attach(mm, board), engine=engine)
    assert pc_trace(m2, [30000]) == first


def _attach(m, board):
    m.uart = m.add_peripheral("uart0", board.UART_BASE, 0x1000, board.Uart16550())
    m.temp = m.add_peripheral("temp0", board.TEMP_BASE, 0x1000, board.TempSensor())
    m.gpio = m.add_peripheral("gpio0", board.GPIO_BASE, 0x1000, board.GpioBank())


@pytest.mark.parametrize("engine", ENGINES)
def test_console_input_record_and_replay(engine, tmp_path):
    from vmpy.console import InputLogError
    m = firmware_board(engine)
    s = m.snapshot()
    log = tmp_path / "session.vmin"
    # The recorded session: commands typed between runs of uneven length.
    chunks = [7001, 3333, 12000, 5, 20000, 9000]
    feeds = [b"t", b"u", b"tu", b"", b"u", b""]
    with m.record_input(log):
        recorded = pc_trace(m, chunks, feeds)
    assert recorded[1].count(b"uptime ") == 3 and recorded[1].count(b"T=") == 2
    # Replay from the same snapshot with different run() splits: the inputs
    # arrive at the recorded instruction counts, so the future is the same.
    m.restore(s)
    with m.replay_input(log) as rp:
        with pytest.raises(RuntimeError, match="replaying"):
            m.uart.feed(b"x")
        before = m.cpus[0].icount
        assert m.run(count=0) == "count" and m.cpus[0].icount == before    # as without a replay
        replayed = pc_trace(m, [sum(chunks) // 2, sum(chunks) - sum(chunks) // 2])
        assert rp.done
    assert replayed == recorded
    # Without the log, the same runs give another story (no commands seen).
    m.restore(s)
    assert pc_trace(m, [sum(chunks)])[1] != recorded[1]
    # Logs are checked before anything happens.
    bad = tmp_path / "bad.vmin"
    bad.write_text(log.read_text().replace('"device": "uart0"', '"device": "uart9"', 1))
    with pytest.raises(InputLogError, match="uart9"):
        m.replay_input(bad)
    bad.write_text("not json\n")
    with pytest.raises(InputLogError):
        m.replay_input(bad)
    m.run(count=10)                    # and the machine runs normally after


# ---- the virt board: console input record/replay ---------------------------------

# Polls the UART; for each byte received prints it, then mtime (CLINT, in
# hex) and a newline; 'q' powers the board off.  mtime is guest time, so the
# output shows the instruction count at which each byte was seen.
ECHO_FW = """
    .option norvc
    csrr t0, mhartid
    bnez t0, park
    li   s0, 0x10000000          # UART
    li   s1, 0x0200bff8          # CLINT mtime
wait:
    lbu  t1, 5(s0)               # LSR
    andi t1, t1, 1
    beqz t1, wait
    lbu  t2, 0(s0)               # RBR
    ld   t3, 0(s1)
    sb   t2, 0(s0)
    li   t4, 60
hex:
    srl  t5, t3, t4
    andi t5, t5, 15
    addi t5, t5, 48
    li   t6, 58
    blt  t5, t6, 1f
    addi t5, t5, 39
1:  sb   t5, 0(s0)
    addi t4, t4, -4
    bgez t4, hex
    li   t5, 10
    sb   t5, 0(s0)
    li   t5, 113                 # 'q'
    bne  t2, t5, wait
    li   t5, 0x5555
    li   t6, 0x100000
    sw   t5, 0(t6)
park:
    wfi
    j    park
"""


@pytest.fixture(scope="module")
def echo_fw(tmp_path_factory):
    cross_as = CROSS_CC.replace("gcc", "as")
    if not shutil.which(cross_as):
        if os.environ.get("CI"):
            pytest.fail(f"{cross_as} missing under CI")
        pytest.skip(f"{cross_as} not installed")
    d = tmp_path_factory.mktemp("echo")
    (d / "e.s").write_text(ECHO_FW)
    subprocess.run([cross_as, "-march=rv64gc", "-o", str(d / "e.o"), str(d / "e.s")], check=True, env=tool_env())
    subprocess.run([CROSS_CC.replace("gcc", "objcopy"), "-O", "binary", "-j", ".text", str(d / "e.o"),
                    str(d / "e.bin")], check=True, env=tool_env())
    return str(d / "e.bin")


def echo_board(fw):
    from vmpy import boards
    b = boards.virt(ram="16M", firmware=fw, rng=False)
    b.deterministic = True
    return b


def test_board_console_record_and_replay(echo_fw, tmp_path):
    import time
    log = tmp_path / "console.vmin"
    # Recorded: a live session on the board's own thread, typed at host pace.
    a = echo_board(echo_fw)
    start = a.snapshot()
    rec = a.console.record(log)
    a.start()
    for ch in "hi!":
        a.console.write(ch)
        a.console.expect(ch + "[0-9a-f]{16}\n", timeout=20)
        time.sleep(0.05)
    a.console.write("q")
    assert a.wait(20) == "poweroff"
    rec.close()
    recorded = bytes(a.console.log) + a.console.read(0.2)
    final = a.snapshot().to_bytes(compress=False)
    assert recorded.count(b"\n") == 4
    # Replayed into a new board from the same start: identical output,
    # mtime stamps included, and an identical final state.
    b = echo_board(echo_fw)
    b.restore(start)
    rp = b.console.replay(log)
    with pytest.raises(RuntimeError, match="replaying"):
        b.console.write("x")
    b.start()
    assert b.wait(30) == "poweroff"
    assert rp.done
    replayed = b.console.read(0.5)
    assert replayed == recorded
    assert b.snapshot().to_bytes(compress=False) == final
    # Another session (other timing) gives other stamps: the stamps do
    # depend on when the input arrived.
    c = echo_board(echo_fw)
    c.start()
    time.sleep(0.3)
    c.console.write("hi!q")
    assert c.wait(20) == "poweroff"
    assert c.console.read(0.5) != recorded


# Prints t3 as 16 hex digits and a newline on the UART (s0), then powers
# off through the test finisher and parks.
PRINT_T3_AND_POWER_OFF = """    li   t4, 60
2:  srl  t5, t3, t4
    andi t5, t5, 15
    addi t5, t5, 48
    li   t6, 58
    blt  t5, t6, 3f
    addi t5, t5, 39
3:  sb   t5, 0(s0)
    addi t4, t4, -4
    bgez t4, 2b
    li   t5, 10
    sb   t5, 0(s0)
    li   t5, 0x5555
    li   t6, 0x100000
    sw   t5, 0(t6)
park:
    wfi
    j    park
"""


# Arms the goldfish RTC alarm 1 s ahead, sleeps in WFI until its interrupt
# (PLIC source 11, M context of hart 0; mstatus.MIE stays clear, so WFI just
# wakes), then prints the RTC time that passed, in hex, and powers off.
RTC_SLEEP_FW = """
    .option norvc
    csrr t0, mhartid
    bnez t0, park
    li   s0, 0x101000            # goldfish RTC
    lwu  t0, 0(s0)               # TIME_LOW latches TIME_HIGH
    lwu  t1, 4(s0)
    slli t1, t1, 32
    or   s2, t0, t1
    li   t2, 1000000000
    add  t3, s2, t2
    srli t4, t3, 32
    sw   t4, 0x0c(s0)            # ALARM_HIGH
    sw   t3, 0x08(s0)            # ALARM_LOW arms the alarm
    li   t5, 1
    sw   t5, 0x10(s0)            # IRQ_ENABLED
    li   a0, 0xc00002c
    sw   t5, 0(a0)               # PLIC priority[11] = 1
    li   a0, 0xc002000
    li   t6, 0x800
    sw   t6, 0(a0)               # enable source 11 for context 0
    li   a0, 0xc200000
    sw   zero, 0(a0)             # threshold 0
    csrs mie, t6                 # MEIE
1:  wfi
    csrr t6, mip
    li   a1, 0x800
    and  t6, t6, a1
    beqz t6, 1b
    lwu  t0, 0(s0)
    lwu  t1, 4(s0)
    slli t1, t1, 32
    or   s3, t0, t1
    sub  t3, s3, s2
    li   s0, 0x10000000
""" + PRINT_T3_AND_POWER_OFF


def test_board_idle_skips_to_the_rtc_alarm(tmp_path):
    import time
    cross_as = CROSS_CC.replace("gcc", "as")
    if not shutil.which(cross_as):
        pytest.skip(f"{cross_as} not installed")
    (tmp_path / "r.s").write_text(RTC_SLEEP_FW)
    subprocess.run([cross_as, "-march=rv64gc", "-o", str(tmp_path / "r.o"), str(tmp_path / "r.s")],
                   check=True, env=tool_env())
    subprocess.run([CROSS_CC.replace("gcc", "objcopy"), "-O", "binary", "-j", ".text", str(tmp_path / "r.o"),
                    str(tmp_path / "r.bin")], check=True, env=tool_env())
    from vmpy import boards
    b = boards.virt(ram="16M", firmware=str(tmp_path / "r.bin"), rng=False)
    b.deterministic = True
    t0 = time.monotonic()
    b.start()
    assert b.wait(20) == "poweroff", b.error
    host_s = time.monotonic() - t0
    elapsed = int(b.console.read(0.5).strip(), 16)
    # 1 s of guest time passed, of which the few dozen instructions are
    # nanoseconds: the rest was skipped, not waited for on the host.
    assert 1_000_000_000 <= elapsed < 1_000_010_000
    assert b.icount < 1000
    assert host_s < 0.9


# Arms the machine timer 50 ticks (5000 ns = 5000 instructions) ahead with
# interrupts on and spins counting; the interrupt handler prints the count
# and powers off.  The count shows the instruction at which the interrupt
# was taken.
TIMER_FW = """
    .option norvc
    .globl _start
_start:
    csrr t0, mhartid
    bnez t0, park
    lla  t0, handler
    csrw mtvec, t0
    li   s1, 0x0200bff8          # mtime
    li   s2, 0x02004000          # mtimecmp of hart 0
    ld   t0, 0(s1)
    addi t0, t0, 50
    sd   t0, 0(s2)
    li   t0, 0x80
    csrs mie, t0                 # MTIE
    csrsi mstatus, 8             # MIE
    li   a0, 0
spin:
    addi a0, a0, 1
    j    spin
    .balign 4
handler:
    li   s0, 0x10000000
    mv   t3, a0
""" + PRINT_T3_AND_POWER_OFF


def test_timer_interrupts_do_not_depend_on_how_runs_are_split(tmp_path):
    if not shutil.which(CROSS_CC):
        pytest.skip(f"{CROSS_CC} not installed")
    (tmp_path / "t.S").write_text(TIMER_FW)
    subprocess.run([CROSS_CC, "-nostdlib", "-static", "-Wl,-Ttext=0x80000000", "-Wl,--build-id=none",
                    "-o", str(tmp_path / "t.elf"), str(tmp_path / "t.S")], check=True, env=tool_env())
    subprocess.run([CROSS_CC.replace("gcc", "objcopy"), "-O", "binary", "-j", ".text", str(tmp_path / "t.elf"),
                    str(tmp_path / "t.bin")], check=True, env=tool_env())
    from vmpy import boards

    def go(chunk):
        b = boards.virt(ram="16M", firmware=str(tmp_path / "t.bin"), rng=False)
        b.deterministic = True
        while b.run(chunk) == "stopped" and b.icount < 10**6:
            pass
        assert b.state == "poweroff", (chunk, b.icount)
        return b.icount, int(b.console.read(0.2).strip(), 16)

    results = {chunk: go(chunk) for chunk in (10**7, 4096, 333, 1)}
    assert len(set(results.values())) == 1, results
    # Taken at the deadline: 5000 instructions after the mtime read, of
    # which 2 per loop iteration (the count) and a handful around the loop.
    icount, loops = results[1]
    assert 5000 - 20 <= 2 * loops <= 5000
