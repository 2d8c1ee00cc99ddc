"""Snapshots: bit-exact restore (in place, into a new machine, through a file),
incremental snapshots and dirty tracking, layout restore, file integrity,
atomic saves, restore speed and deterministic time.

Guest programs are assembled by the cross assembler (the oracle for the
encodings); expected values are computed by hand from the programs.
"""
import hashlib
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
import time
import zlib

import pytest

import vmpy
import vmpy.snapshot  # noqa: F401
from vmpy.snapshot import Snapshot

RAM = 0x80000000
DATA = 0x80100000
AS = os.environ.get("VMPY_CROSS_AS", "riscv64-linux-gnu-as")
OBJCOPY = os.environ.get("VMPY_CROSS_OBJCOPY", "riscv64-linux-gnu-objcopy")


def assemble(tmp_path, src: str) -> bytes:
    if not shutil.which(AS):
        if os.environ.get("CI"):
            pytest.fail(f"{AS} missing under CI")
        pytest.skip(f"{AS} not installed")
    s, o, b = tmp_path / "p.s", tmp_path / "p.o", tmp_path / "p.bin"
    s.write_text(".option norvc\n" + textwrap.dedent(src))
    subprocess.run([AS, "-march=rv64gc", "-o", str(o), str(s)], check=True)
    subprocess.run([OBJCOPY, "-O", "binary", "-j", ".text", str(o), str(b)], check=True)
    return b.read_bytes()


# Writes a0 (counting up) to one word in each of 64 pages, forever:
# after k full passes page p holds the value p + 64*k... see the loop.
STORE_LOOP = """
    li   t0, 0x80100000      # data base
    li   t1, 64              # pages
    li   a0, 0
1:  li   t2, 0
2:  slli t3, t2, 12
    add  t3, t3, t0
    sd   a0, 0(t3)
    addi a0, a0, 1
    addi t2, t2, 1
    blt  t2, t1, 2b
    j    1b
"""


def machine_with(code: bytes, mem=1 << 20, engine=None) -> vmpy.Machine:
    m = vmpy.Machine("riscv64", engine=engine) if engine else vmpy.Machine("riscv64")
    m.map(RAM, 0x10000, "rx")
    m.map(DATA, mem, "rw")
    m.write(RAM, code)
    m.cpus[0].pc = RAM
    return m


def state(m):
    regs = m.cpus[0].regs()
    if not m.deterministic:
        del regs["time"]          # the host's clock: not machine state
    return regs, hashlib.sha256(m.read(DATA, 1 << 20)).hexdigest(), m.regions()


def test_restore_is_bit_exact_and_replays_identically(tmp_path):
    m = machine_with(assemble(tmp_path, STORE_LOOP))
    m.run(count=1000)
    m.cpus[0]["fa0"] = 0x400921FB54442D18       # pi: FP state is part of it too
    s = m.snapshot()
    before = state(m)
    m.run(count=5000)
    after_run = state(m)
    assert after_run != before
    m.restore(s)
    assert state(m) == before
    m.run(count=5000)
    assert state(m) == after_run                 # same future from the same state


def test_guest_stores_are_tracked_through_the_tlb(tmp_path):
    """The store loop writes through the soft TLB's fast path; a restore that
    copies only dirty pages must still undo every one of them."""
    m = machine_with(assemble(tmp_path, STORE_LOOP))
    s = m.snapshot()                             # all of DATA is zero here
    m.run(count=64 * 6 * 3 + 4)                  # three full passes over 64 pages
    assert m.read(DATA + 63 * 4096, 8) != bytes(8)
    m.restore(s)
    assert m.read(DATA, 1 << 20) == bytes(1 << 20)
    # And again: the restore must have re-armed tracking.
    m.run(count=64 * 6 + 4)
    assert m.read(DATA + 5 * 4096, 8) == struct.pack("<Q", 5)   # hand-computed: page p gets p on pass 0
    m.restore(s)
    assert m.read(DATA, 1 << 20) == bytes(1 << 20)


def test_incremental_snapshot_holds_only_changed_pages(tmp_path):
    m = machine_with(assemble(tmp_path, STORE_LOOP))
    m.run(count=3)                                # the li's only: no stores yet
    s = m.snapshot()
    m.run(count=10 * 6)                           # stores 0..9 to pages 0..9
    d = m.snapshot(base=s)
    # Page 0 got the value 0: still equal to the base, so not stored.
    assert d.incremental and d.stored_pages == 9
    want = state(m)
    m.run(count=20000)
    m.restore(s)
    assert m.read(DATA, 1 << 20) == bytes(1 << 20)
    m.restore(d)
    assert state(m) == want
    # A delta of the delta, restored after going back to the base.
    m.write(DATA + 0x20000, b"x")
    d2 = m.snapshot(base=d)
    assert d2.stored_pages == 1
    m.restore(s)
    m.restore(d2)
    assert m.read(DATA + 0x20000, 1) == b"x" and m.read(DATA, 8) == struct.pack("<Q", 0)


def test_layout_and_permissions_are_restored(tmp_path):
    m = machine_with(assemble(tmp_path, STORE_LOOP))
    m.write(DATA + 0x3000, b"keep")
    s = m.snapshot()
    regions = m.regions()
    m.unmap(DATA, 1 << 20)
    m.map(0x90000000, 0x4000, "rw")
    m.protect(RAM, 0x1000, "r")
    m.restore(s)
    assert m.regions() == regions
    assert m.read(DATA + 0x3000, 4) == b"keep"


def test_from_snapshot_and_file_round_trip(tmp_path):
    m = machine_with(assemble(tmp_path, STORE_LOOP))
    m.run(count=777)
    s = m.snapshot()
    want = state(m)
    path = tmp_path / "m.vmsnap"
    for compress in (True, False):
        s.save(path, compress=compress)
        loaded = Snapshot.load(path, isa="riscv64")
        m2 = vmpy.Machine.from_snapshot(loaded)
        assert state(m2) == want
        m.run(count=1000)
        m2.run(count=1000)
        assert state(m2) == state(m)
        m.restore(s)
    # An incremental snapshot saves self-contained.
    m.run(count=100)
    d = m.snapshot(base=s)
    d.save(path)
    assert state(vmpy.Machine.from_snapshot(Snapshot.load(path))) == state(m)
    d.save(os.fsencode(path))                # bytes paths too, as load() takes them
    assert state(vmpy.Machine.from_snapshot(Snapshot.load(os.fsencode(path)))) == state(m)


def test_zero_pages_are_not_stored(tmp_path):
    m = vmpy.Machine("riscv64")
    m.map(RAM, 64 << 20, "rw")
    m.write(RAM + 0x123000, b"\1")
    s = m.snapshot()
    assert s.stored_pages == 1
    assert len(s.to_bytes(compress=False)) < 3 * 4096 + 8192


def corrupt_cases(good: bytes):
    yield "empty", b""
    for n in (1, 8, 40, len(good) // 2, len(good) - 41, len(good) - 1):
        yield f"truncated to {n}", good[:n]
    rnd = random.Random(8)
    for _ in range(40):
        i = rnd.randrange(len(good))
        b = bytearray(good)
        b[i] ^= 1 << rnd.randrange(8)
        yield f"bit flip at {i}", bytes(b)
    yield "bad magic", b"XMPYSNAP" + good[8:]
    yield "appended byte", good + b"\0"


def resign(body: bytes) -> bytes:
    return body + b"VMPYEND\0" + hashlib.sha256(body).digest()


def test_corrupted_files_are_rejected(tmp_path):
    m = machine_with(assemble(tmp_path, STORE_LOOP))
    m.run(count=500)
    s = m.snapshot()
    good = s.to_bytes()
    Snapshot.from_bytes(good)
    for what, data in corrupt_cases(good):
        with pytest.raises(vmpy.FormatError):
            Snapshot.from_bytes(data)
            pytest.fail(f"accepted: {what}")
    body = good[:-40]
    # Valid checksum, but the wrong version / architecture in the header.
    with pytest.raises(vmpy.FormatError, match="version"):
        Snapshot.from_bytes(resign(body[:8] + struct.pack("<H", 2) + body[10:]))
    with pytest.raises(vmpy.FormatError):
        Snapshot.from_bytes(resign(body[:12] + b"arm64".ljust(16, b"\0") + body[28:]))
    with pytest.raises(vmpy.FormatError, match="riscv64"):
        Snapshot.from_bytes(good, isa="x86_64")


def test_corrupted_payloads_are_rejected_by_the_core(tmp_path):
    """Payload damage behind a valid checksum: the C reader must reject it
    (or, for damage inside page data, load it) and never crash."""
    m = machine_with(assemble(tmp_path, STORE_LOOP))
    m.run(count=500)
    payload = m.snapshot()._core.serialize()
    vmpy._core.snapshot_deserialize(payload)
    rnd = random.Random(9)
    rejected = 0
    for n in list(range(0, 200, 7)) + [len(payload) - 1]:
        with pytest.raises(vmpy.FormatError):
            vmpy._core.snapshot_deserialize(payload[:n])
    for _ in range(300):
        b = bytearray(payload)
        for _ in range(rnd.randrange(1, 4)):
            i = rnd.randrange(min(len(b), 2048)) if rnd.random() < 0.8 else rnd.randrange(len(b))
            b[i] = rnd.randrange(256)
        try:
            vmpy._core.snapshot_deserialize(bytes(b))
        except vmpy.FormatError:
            rejected += 1
    assert rejected > 0
    # Structural fields, located by the layout in csrc/core/snapshot_io.c.
    meta_version = 16
    with pytest.raises(vmpy.FormatError, match="version"):
        vmpy._core.snapshot_deserialize(payload[:meta_version] + b"\x09" + payload[meta_version + 1:])
    ram = payload.index(b"RAM_")
    size_at, count_at = ram + 16 + 8, ram + 16 + 24
    for at, val in ((size_at, 0x1001), (size_at, 0), (count_at, 10**6), (count_at, 0)):
        bad = payload[:at] + struct.pack("<Q", val) + payload[at + 8:]
        with pytest.raises(vmpy.FormatError):
            vmpy._core.snapshot_deserialize(bad)


def test_failed_restore_changes_nothing(tmp_path):
    m = machine_with(assemble(tmp_path, STORE_LOOP))
    s = m.snapshot()
    m.run(count=300)
    m.mmio_map(DATA + (1 << 20), 0x1000, read=lambda o, n: 0)
    before = state(m)
    other = vmpy.Machine("riscv64", cpus=2)
    other.map(RAM, 0x1000)
    with pytest.raises(vmpy.FormatError):
        m.restore(other.snapshot())
    other = vmpy.Machine("riscv64")
    other.map(DATA + (1 << 20), 0x2000)
    with pytest.raises(vmpy.FormatError, match="MMIO"):
        m.restore(other.snapshot())
    assert state(m) == before
    m.restore(s)


SAVER = """
import sys, vmpy, vmpy.snapshot
m = vmpy.Machine("riscv64")
m.map(0x80000000, 64 << 20, "rw")
for i in range(0, 64 << 20, 4096):
    m.write(0x80000000 + i, bytes([i >> 12 & 0xff]) * 64)
s = m.snapshot()
s.save(sys.argv[1], compress=False)
print("ready", flush=True)
while True:
    s.save(sys.argv[1], compress=False)
"""


def test_killed_while_saving_leaves_a_valid_file(tmp_path):
    path = tmp_path / "s.vmsnap"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    for delay in (0.01, 0.05, 0.13, 0.29):
        p = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE, env=env)
        assert p.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        s = Snapshot.load(path)    # never a torn file: the old one or the new one
        assert s.read(0x80000000 + 0x5000, 64) == b"\5" * 64
    leftovers = [f for f in os.listdir(tmp_path) if f.startswith(".vmsnap-")]
    assert len(leftovers) <= 4     # at most one temp file per kill


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    m = vmpy.Machine("riscv64")
    m.map(RAM, 0x10000)
    m.write(RAM, b"old")
    path = tmp_path / "s.vmsnap"
    m.snapshot().save(path)
    m.write(RAM, b"new")
    s = m.snapshot()

    def broken_fsync(fd):
        raise OSError(5, "simulated I/O error")
    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        s.save(path)
    monkeypatch.undo()
    assert Snapshot.load(path).read(RAM, 3) == b"old"
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".vmsnap-")]


def test_restore_256mib_with_999_dirty_pages_under_1ms():
    m = vmpy.Machine("riscv64")
    m.map(RAM, 256 << 20, "rw")
    for i in range(0, 256 << 20, 1 << 20):
        m.write(RAM + i, b"\xAA" * 4096)
    s = m.snapshot()
    best = 1.0
    for _ in range(5):
        for i in range(999):
            m.write(RAM + i * 4096 * 61 % (256 << 20) + 8, b"dirty")
        t = time.perf_counter()
        m.restore(s)
        best = min(best, time.perf_counter() - t)
        assert m.read(RAM + 8, 5) == b"\xAA" * 5
    assert best < 1e-3, f"restore took {best * 1e3:.3f} ms"


# ---- Python peripherals ----------------------------------------------------------

class Counter:
    def __init__(self):
        self.value = 0

    def read(self, off, size):
        self.value += 1
        return self.value

    def write(self, off, size, v):
        self.value = v

    def snapshot_state(self):
        return {"value": self.value}

    def check_state(self, st):
        return isinstance(st.get("value"), int)

    def restore_state(self, st):
        self.value = st["value"]


def test_peripheral_state_is_part_of_snapshots(tmp_path):
    m = vmpy.Machine("riscv64")
    dev = m.add_peripheral("ctr", 0x10000000, 0x1000, Counter())
    m.write(0x10000000, b"\x07")
    s = m.snapshot()
    m.read(0x10000000, 3)
    assert dev.value == 10
    m.restore(s)
    assert dev.value == 7
    s.save(tmp_path / "p.vmsnap")
    m2 = vmpy.Machine.from_snapshot(Snapshot.load(tmp_path / "p.vmsnap"))
    dev2 = m2.add_peripheral("ctr", 0x10000000, 0x1000, Counter())
    assert dev2.value == 7
    bare = vmpy.Machine("riscv64")
    with pytest.raises(vmpy.FormatError, match="peripherals"):
        bare.restore(s)


# ---- deterministic time --------------------------------------------------------------

TIME_LOOP = """
    li   t0, 0x80100000
    li   t1, 200
1:  rdtime a1
    sd   a1, 0(t0)
    addi t0, t0, 8
    andi a2, a1, 3           # branch on the time: the trace depends on it
    beqz a2, 2f
    addi a3, a3, 1
2:  addi t1, t1, -1
    bnez t1, 1b
3:  j    3b
"""


def trace_run(m, count):
    pcs = []
    h = m.on_code(lambda cpu, addr, size: pcs.append(addr))
    m.run(count=count)
    h.remove()
    return pcs, m.read(DATA, 200 * 8), m.cpus[0].regs()


def test_deterministic_runs_give_identical_traces(tmp_path):
    m = machine_with(assemble(tmp_path, TIME_LOOP))
    m.deterministic = True
    assert m.deterministic
    m.run(count=17)
    s = m.snapshot()
    first = trace_run(m, 3000)
    m.restore(s)
    second = trace_run(m, 3000)
    assert first == second
    times = struct.unpack("<200Q", first[1])
    assert list(times) == sorted(times) and times[-1] > times[0]
    # Deterministic time is insns * 1 ns at 10 MHz: 200 iterations of at most
    # 8 instructions take at most 1600 ns = 16 ticks, at least 5 insns each.
    assert times[-1] - times[0] <= 16
    # Through a file into a new machine: the same future.
    s.save(tmp_path / "d.vmsnap")
    m3 = vmpy.Machine.from_snapshot(Snapshot.load(tmp_path / "d.vmsnap"))
    assert m3.deterministic
    assert trace_run(m3, 3000) == first


def test_deterministic_time_follows_instructions(tmp_path):
    m = machine_with(assemble(tmp_path, STORE_LOOP))
    m.deterministic = True
    m.configure_clock(ns_per_insn=100)
    m.run(count=5000)
    mono, real = m.guest_time_ns()
    assert mono == 5000 * 100
    assert real == 1704067200 * 10**9 + 5000 * 100


# ---- device state: the virt board's devices in snapshots ------------------------

BAREMETAL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "baremetal")
CROSS_CC = os.environ.get("VMPY_CROSS_CC", "riscv64-linux-gnu-gcc")


@pytest.fixture(scope="module")
def baremetal_bin(tmp_path_factory):
    """tests/baremetal: exercises the CLINT timer and software interrupts, WFI,
    the PLIC (pending, claim/complete) and the UART, then powers off."""
    if not shutil.which(CROSS_CC):
        if os.environ.get("CI"):
            pytest.fail(f"{CROSS_CC} missing under CI")
        pytest.skip(f"{CROSS_CC} not installed")
    out = tmp_path_factory.mktemp("bm")
    elf, binary = out / "t.elf", out / "t.bin"
    subprocess.run([CROSS_CC, "-march=rv64g", "-mabi=lp64d", "-mcmodel=medany", "-O1", "-nostdlib",
                    "-static", "-ffreestanding", "-fno-pic", "-no-pie", "-Wl,--build-id=none",
                    "-Wl,--no-warn-rwx-segments", "-T", os.path.join(BAREMETAL, "link.ld"),
                    os.path.join(BAREMETAL, "start.S"), os.path.join(BAREMETAL, "tests.c"),
                    "-o", str(elf)], check=True)
    subprocess.run([OBJCOPY, "-O", "binary", str(elf), str(binary)], check=True)
    return str(binary)


def new_board(binary, **kw):
    from vmpy import boards
    b = boards.virt(ram="32M", firmware=binary, **kw)
    b.deterministic = True
    return b


def board_state(b):
    """Everything of the board as bytes: cpus, RAM, every device, clock."""
    return b.snapshot().to_bytes(compress=False)


def test_board_devices_round_trip_mid_run(baremetal_bin, tmp_path):
    # Cut the program every 1500 instructions: the cuts land with timers
    # armed, interrupts pending or claimed, UART registers set, a hart in
    # WFI.  A second board built from scratch and restored from the cut (in
    # memory and through a file) must then run exactly as the first.
    ref = new_board(baremetal_bin)
    ref.run(10**7)
    full_output = ref.console.read(0.5)
    total = ref.icount
    assert full_output.endswith(b"done\n") and b"FAIL" not in full_output
    a = new_board(baremetal_bin)
    cuts = 0
    for cut in range(1500, total, 1500):
        a.run(cut - a.icount)
        before = a.console.read(0.2)
        s = a.snapshot()
        b = new_board(baremetal_bin)
        if cuts % 4 == 0:                    # every 4th through a file
            s.save(tmp_path / "b.vmsnap")
            b.restore(Snapshot.load(tmp_path / "b.vmsnap"))
        else:
            b.restore(s)
        assert board_state(b) == board_state(a)
        sa, sb = a.run(2000), b.run(2000)
        assert sa == sb
        assert board_state(a) == board_state(b), f"diverged after the cut at {cut}"
        out_a, out_b = a.console.read(0.2), b.console.read(0.2)
        assert out_a == out_b
        a.restore(s)                         # and back in place: same again
        a.run(2000)
        assert board_state(a) == board_state(b)
        assert a.console.read(0.2) == out_b
        a.restore(s)
        b.close()
        cuts += 1
    assert cuts >= 10
    # The output seen around all the cuts is the uninterrupted run's.
    a.run(10**7)
    assert a.state == "poweroff"


def test_board_device_mismatch_is_refused_unchanged(baremetal_bin):
    a = new_board(baremetal_bin)          # virtio slot 0 holds the rng
    a.run(5000)
    s = a.snapshot()
    b = new_board(baremetal_bin, rng=False)
    b.run(100)
    before = board_state(b)
    with pytest.raises(vmpy.FormatError, match="virtio0"):
        b.restore(s)
    assert board_state(b) == before
    # A bare machine has none of the board's devices.
    m = vmpy.Machine("riscv64")
    with pytest.raises(vmpy.FormatError, match="device '(plic|clint|uart0|syscon|rtc|virtio0)'"):
        m.restore(s)


@pytest.fixture
def spinning_board(tmp_path):
    """A board whose firmware is `j .`: it runs until stopped (a program that
    powers off may leave its run thread before the test looks)."""
    spin = tmp_path / "spin.bin"
    spin.write_bytes(bytes.fromhex("6f000000"))
    return new_board(str(spin))


def test_running_board_cannot_be_snapshotted(spinning_board):
    a = spinning_board
    a.start()
    try:
        assert a.state == "running"
        with pytest.raises(RuntimeError, match="running"):
            a.snapshot()
        with pytest.raises(RuntimeError, match="running"):
            a.run(10)
    finally:
        a.stop()
    assert a.state == "stopped"
    assert a.snapshot() is not None        # once stopped, it may be


@pytest.mark.timeout(60)
def test_stop_right_after_start_is_not_lost(spinning_board):
    # stop() may come before the run thread has entered the machine's run,
    # which clears stop requests as it begins: the board must still stop
    # (this used to hang in pthread_join), and start again afterwards.
    a = spinning_board
    for _ in range(50):
        a.start()
        a.stop()
        assert a.state == "stopped"
    a.start()
    try:
        assert a.wait(0.2) == "running"     # a restarted board runs on
    finally:
        a.stop()
    assert a.state == "stopped"
