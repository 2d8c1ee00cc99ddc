"""The virt board's devices and the privileged architecture, checked by a
bare-metal program (tests/baremetal) that runs as the firmware on vmpy and
on qemu-system-riscv64: each line must carry the spec's expected value
("ok") and both emulators must print the same lines.

Covered: traps from U/M, delegation to S, counter enables, CLINT timer and
software interrupts, WFI (woken, and masked), vectored mtvec, Sv39 walks
with A/D updates, page faults, SUM, SFENCE.VMA (all and one address), satp
modes, SFENCE.VMA of code by address and by ASID, PMP enforcement (NA4,
TOR, NAPOT, L, MPRV, page-table walks, fetch), PMP registers, misaligned
loads, the UART and the PLIC (priority, pending, claim/complete, MEIP), and
a virtio-mmio queue (a virtio-rng request: status, features, queue setup,
used ring, interrupt status and ack)."""
import os
import shutil
import subprocess

import pytest

from vmpy import boards

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "baremetal")
CC = "riscv64-linux-gnu-gcc"


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    if not shutil.which(CC):
        pytest.skip(f"{CC} not installed")
    out = tmp_path_factory.mktemp("baremetal")
    elf, binary = out / "tests.elf", out / "tests.bin"
    subprocess.run([CC, "-march=rv64g", "-mabi=lp64d", "-mcmodel=medany", "-O1", "-nostdlib", "-static",
                    "-ffreestanding", "-fno-pic", "-no-pie", "-Wl,--build-id=none",
                    "-Wl,--no-warn-rwx-segments", "-T", os.path.join(SRC, "link.ld"),
                    os.path.join(SRC, "start.S"), os.path.join(SRC, "tests.c"), "-o", str(elf)], check=True)
    subprocess.run(["riscv64-linux-gnu-objcopy", "-O", "binary", str(elf), str(binary)], check=True)
    return binary


def run_vmpy(binary, smp=1):
    with boards.virt(ram="128M", smp=smp, firmware=binary) as b:
        b.start()
        assert b.wait(30) == "poweroff", b.error
        return b.console.read(1.0).decode()


def run_qemu(binary, smp=1):
    qemu = shutil.which("qemu-system-riscv64")
    if not qemu:
        pytest.skip("qemu-system-riscv64 not installed")
    r = subprocess.run([qemu, "-M", "virt", "-m", "128M", "-smp", str(smp), "-nographic", "-bios", str(binary),
                        "-global", "virtio-mmio.force-legacy=false", "-device", "virtio-rng-device"],
                       capture_output=True, timeout=240, stdin=subprocess.DEVNULL)
    return r.stdout.decode()


def lines(text):
    return [l.strip() for l in text.splitlines() if ":" in l or l.strip() == "done"]


def test_baremetal_all_ok(program):
    out = lines(run_vmpy(program))
    assert out and out[-1] == "done", out
    bad = [l for l in out if l.endswith("BAD")]
    assert not bad, bad
    assert len(out) > 40


@pytest.mark.parametrize("smp", [1, 2])
def test_baremetal_matches_qemu(program, smp):
    ours = lines(run_vmpy(program, smp))
    theirs = lines(run_qemu(program, smp))
    assert theirs and theirs[-1] == "done"
    assert ours == theirs


def test_bad_network_options_raise(program):
    if not boards.net_available():
        with pytest.raises(RuntimeError, match="libslirp"):
            boards.virt(ram="128M", firmware=program, net=True)
        return
    for bad in ("bogus", "tcp:0:80", "tcp:70000:80", "sctp:1:2", "tcp:1:2;rm"):
        with pytest.raises(RuntimeError, match="hostfwd"):
            boards.virt(ram="128M", firmware=program, net=True, hostfwd=bad)


# ---- firmware that can never make progress ------------------------------------

@pytest.mark.parametrize("engine", ["interp", "jit"])
@pytest.mark.parametrize("vector", ["0", "0x90000000"])
def test_unfetchable_trap_vector_stops_with_a_fault(tmp_path, monkeypatch, engine, vector):
    """mtvec at an address with nothing to fetch: every trap lands there
    again, retiring nothing, so run(count) never ran out.  It stops at once
    with the fault named."""
    import rvasm
    monkeypatch.setenv("VMPY_ENGINE", engine)
    fw = tmp_path / "fw.bin"
    fw.write_bytes(rvasm.asm(f"li t0, {vector}\ncsrw mtvec, t0\n.word 0"))     # then an illegal insn
    with boards.virt(ram="64M", firmware=fw, rng=False) as b:
        assert b.run(10_000, timeout=30) == "error"
        assert b.icount == 2 + (vector != "0")         # li is one or two instructions, then csrw
        assert f"trap vector {int(vector, 16):#x} cannot be fetched in M mode" in b.error


@pytest.mark.parametrize("engine", ["interp", "jit"])
def test_trap_storm_ends_at_the_timeout(tmp_path, monkeypatch, engine):
    """A trap handler whose first instruction faults traps to itself forever
    without retiring anything; the run still honours its timeout."""
    import time
    import rvasm
    monkeypatch.setenv("VMPY_ENGINE", engine)
    fw = tmp_path / "fw.bin"
    fw.write_bytes(rvasm.asm("la t0, handler\ncsrw mtvec, t0\nhandler: ld a0, 0(zero)"))
    with boards.virt(ram="64M", firmware=fw, rng=False) as b:
        t0 = time.monotonic()
        assert b.run(10_000, timeout=0.5) == "stopped"
        assert 0.4 < time.monotonic() - t0 < 10
        assert b.icount == 3                           # la (2) and csrw; the ld never retires
