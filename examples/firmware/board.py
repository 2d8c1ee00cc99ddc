"""The example board: the thermostat firmware (fw.c) on a bare RISC-V
machine with a UART, a temperature sensor and a GPIO bank modelled in Python.

    m = make_board()                 # builds the firmware on first use
    m.run(until="main_loop")
    m.temp.temperature_mc = 35000; m.gpio.press()
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile

import vmpy
import vmpy.snapshot  # noqa: F401  (Machine.add_peripheral, snapshots)
from vmpy.pytest_plugin import Uart16550, load_symbols

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = ("start.S", "fw.c", "link.ld")
CROSS_CC = os.environ.get("VMPY_CROSS_CC", "riscv64-linux-gnu-gcc")
CFLAGS = ["-march=rv64imac_zicsr", "-mabi=lp64", "-mcmodel=medany", "-O2", "-g",
          "-nostdlib", "-ffreestanding", "-static", "-fno-pic", "-no-pie", "-Wall", "-Wextra"]

UART_BASE, TEMP_BASE, GPIO_BASE = 0x10000000, 0x10001000, 0x10002000


class TempSensor:
    """ID (0) = "TEMP", CTRL (4): write 1 to convert, STATUS (8): bit 0 ready,
    VALUE (0xC): milli-degC, two's complement; reading it clears ready."""

    ID = 0x54454D50

    def __init__(self, temperature_mc: int = 22500):
        self.temperature_mc = temperature_mc
        self.ready = False
        self.conversions = 0

    def read(self, offset: int, size: int) -> int:
        if offset == 0:
            return self.ID
        if offset == 8:
            return int(self.ready)
        if offset == 0xC:
            self.ready = False
            return self.temperature_mc & 0xFFFFFFFF
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if offset == 4 and value & 1:
            self.ready = True
            self.conversions += 1

    def snapshot_state(self):
        return {"temperature_mc": self.temperature_mc, "ready": self.ready, "conversions": self.conversions}

    def restore_state(self, state) -> None:
        self.temperature_mc = state["temperature_mc"]
        self.ready = state["ready"]
        self.conversions = state["conversions"]


class GpioBank:
    """DIR (0), OUT (4), IN (8): 32 pins.  Tests drive inputs with press()."""

    def __init__(self):
        self.dir = self.out = self.inputs = 0

    def read(self, offset: int, size: int) -> int:
        return {0: self.dir, 4: self.out, 8: self.inputs}.get(offset, 0)

    def write(self, offset: int, size: int, value: int) -> None:
        if offset == 0:
            self.dir = value & 0xFFFFFFFF
        elif offset == 4:
            self.out = value & self.dir

    def press(self, pin: int = 1) -> None:
        self.inputs |= 1 << pin

    def release(self, pin: int = 1) -> None:
        self.inputs &= ~(1 << pin)

    def snapshot_state(self):
        return {"dir": self.dir, "out": self.out, "inputs": self.inputs}

    def restore_state(self, state) -> None:
        self.dir, self.out, self.inputs = state["dir"], state["out"], state["inputs"]


def build_firmware(out_dir: str = None) -> str:
    """Compile the firmware (cached by the hash of its sources); returns the ELF path."""
    h = hashlib.sha256(" ".join(CFLAGS).encode())
    for name in SOURCES:
        with open(os.path.join(HERE, name), "rb") as f:
            h.update(f.read())
    out_dir = out_dir or os.path.join(tempfile.gettempdir(), f"vmpy-example-fw-{os.getuid()}")
    os.makedirs(out_dir, exist_ok=True)
    elf = os.path.join(out_dir, f"fw-{h.hexdigest()[:16]}.elf")
    if not os.path.exists(elf):
        if not shutil.which(CROSS_CC):
            raise RuntimeError(f"{CROSS_CC} is needed to build the example firmware")
        tmp = elf + f".{os.getpid()}.tmp"
        cmd = [CROSS_CC, *CFLAGS, "-T", os.path.join(HERE, "link.ld"),
               os.path.join(HERE, "start.S"), os.path.join(HERE, "fw.c"), "-o", tmp]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        os.replace(tmp, elf)
    return elf


def make_board(elf: str = None, engine: str = None) -> vmpy.Machine:
    """A machine with the peripherals attached and the firmware loaded at its entry."""
    elf = elf or build_firmware()
    m = vmpy.Machine("riscv64", engine=engine) if engine else vmpy.Machine("riscv64")
    m.uart = m.add_peripheral("uart0", UART_BASE, 0x1000, Uart16550())
    m.temp = m.add_peripheral("temp0", TEMP_BASE, 0x1000, TempSensor())
    m.gpio = m.add_peripheral("gpio0", GPIO_BASE, 0x1000, GpioBank())
    m.cpus[0].pc = m.load_elf(elf)
    m.symbols = load_symbols(elf)
    return m
