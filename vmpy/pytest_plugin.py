"""pytest plugin for firmware test suites (entry point ``vmpy = vmpy.pytest_plugin``).

A suite describes its board once, as a session fixture or an ini option::

    # conftest.py
    @pytest.fixture(scope="session")
    def vmpy_board():
        def make():
            m = vmpy.Machine("riscv64")
            m.uart = m.add_peripheral("uart0", 0x10000000, 0x100, Uart16550())
            m.load_elf("fw.elf")                       # sets m.symbols via load_symbols()
            return m
        return make
    # or, in pytest.ini:  vmpy_board = mypkg.board:make

The machine is built once per session and a baseline snapshot taken (after
running to the ``vmpy_baseline_until`` fixture's address or symbol, if it
returns one).  Every test that uses ``vmpy_machine`` starts from that
baseline: RAM, cpus, clock and Python peripherals (UART output included) are
restored, which costs only the pages the previous test wrote.

Fixtures: ``vmpy_machine``, ``vmpy_baseline`` (the baseline Snapshot),
``vmpy_uart`` (``vmpy_machine.uart``), ``vmpy_board``, ``vmpy_baseline_until``.
Marker: ``@pytest.mark.vmpy_max_insns(N)`` fails a test whose guest runs
retire more than N instructions.  Failures get a "vmpy machine" report
section with the guest PC, its symbol and the last UART lines.

``machine.run(until="symbol")`` accepts symbol names from ``machine.symbols``.
"""
from __future__ import annotations

import functools
import importlib
import struct
from typing import Dict, Optional, Tuple

import pytest

LAST_UART_LINES = 10


# ---- a Python UART (16550 subset) -------------------------------------------------

class Uart16550:
    """Transmit/receive registers of a 16550 at byte offsets: 0 THR/RBR,
    5 LSR (bit 0 data ready, bits 5-6 transmitter empty).  ``output`` is
    everything the guest wrote; ``feed(data)`` queues input."""

    LSR = 5

    def __init__(self):
        self.output = bytearray()
        self.input = bytearray()
        self._tap = None            # input recording/replay (vmpy.console)

    def read(self, offset: int, size: int) -> int:
        if offset == 0 and self.input:
            return self.input.pop(0)
        if offset == self.LSR:
            return 0x60 | (1 if self.input else 0)
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if offset == 0:
            self.output.append(value & 0xFF)

    def feed(self, data: bytes) -> None:
        if self._tap is not None:
            if self._tap.replaying:
                raise RuntimeError("the UART is replaying recorded input: live input is refused")
            self._tap.record(data)
        self.input += data

    # input record/replay (Machine.record_input / replay_input)
    def attach_input(self, tap) -> None:
        self._tap = tap

    def feed_replayed(self, data: bytes) -> None:
        self.input += data

    def lines(self):
        return bytes(self.output).decode("utf-8", "replace").splitlines()

    def snapshot_state(self):
        return {"output": self.output.decode("latin-1"), "input": self.input.decode("latin-1")}

    def check_state(self, state) -> bool:
        return isinstance(state, dict) and all(isinstance(state.get(k), str) for k in ("output", "input"))

    def restore_state(self, state) -> None:
        self.output = bytearray(state["output"].encode("latin-1"))
        self.input = bytearray(state["input"].encode("latin-1"))


# ---- ELF symbols --------------------------------------------------------------------

def load_symbols(path) -> Dict[str, int]:
    """{name: address} of the function and object symbols of a 64-bit
    little-endian ELF file (empty if it has no symbol table)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError(f"{path}: not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    out: Dict[str, int] = {}
    for sh in sections:
        if sh[1] != 2:             # SHT_SYMTAB
            continue
        strtab = sections[sh[6]]
        for off in range(sh[4], sh[4] + sh[5], 24):
            name_off, info, _other, shndx, value, _size = struct.unpack_from("<IBBHQQ", data, off)
            if shndx == 0 or (info & 0xF) not in (0, 1, 2):
                continue
            start = strtab[4] + name_off
            name = data[start:data.index(b"\0", start)].decode("utf-8", "replace")
            if name and not name.startswith("$"):
                out.setdefault(name, value)
    return out


def symbolize(symbols: Dict[str, int], addr: int) -> str:
    """'name+0xoff' for the closest symbol at or below addr, or '?'."""
    best: Optional[Tuple[int, str]] = None
    for name, value in symbols.items():
        if value <= addr and (best is None or value > best[0]):
            best = (value, name)
    if best is None:
        return "?"
    return best[1] if addr == best[0] else f"{best[1]}+{addr - best[0]:#x}"


# ---- the per-session machine ----------------------------------------------------------

class BudgetExceeded(AssertionError):
    pass


class _Session:
    def __init__(self, machine, baseline) -> None:
        self.machine = machine
        self.baseline = baseline
        self.budget: Optional[int] = None
        self.used = 0
        self.original_run = machine.run
        machine.run = functools.partial(_guarded_run, self)
        machine.step = lambda n=1: machine.run(count=n)

    def reset(self, budget: Optional[int]) -> None:
        self.machine.restore(self.baseline)
        self.budget = budget
        self.used = 0


def _resolve(machine, where):
    if where is None or isinstance(where, int):
        return where
    symbols = getattr(machine, "symbols", None) or {}
    if where not in symbols:
        raise KeyError(f"unknown symbol {where!r} (the board sets machine.symbols)")
    return symbols[where]


def _icount(machine) -> int:
    return sum(c.icount for c in machine.cpus)


def _guarded_run(session: _Session, start=None, until=None, count=None, timeout=None):
    m = session.machine
    limit = None
    if session.budget is not None:
        limit = session.budget - session.used + 1      # one more: to see it being exceeded
        count = limit if count is None else min(count, limit)
    before = _icount(m)
    reason = session.original_run(start=_resolve(m, start), until=_resolve(m, until), count=count, timeout=timeout)
    session.used += _icount(m) - before
    if session.budget is not None and session.used > session.budget:
        raise BudgetExceeded(f"the guest exceeded its budget of {session.budget} instructions "
                             f"(vmpy_max_insns) at {describe_machine(m)}")
    return reason


def describe_machine(m) -> str:
    pc = m.cpus[0].pc
    symbols = getattr(m, "symbols", None) or {}
    return f"pc={pc:#x} ({symbolize(symbols, pc)})"


def machine_report(m) -> str:
    lines = [f"guest {describe_machine(m)}, {_icount(m)} instructions retired"]
    uart = getattr(m, "uart", None)
    if uart is not None:
        tail = uart.lines()[-LAST_UART_LINES:]
        lines.append(f"last {len(tail)} UART line(s):")
        lines += [f"  | {line}" for line in tail]
    return "\n".join(lines)


# ---- pytest hooks and fixtures ----------------------------------------------------------

def pytest_addoption(parser):
    parser.addini("vmpy_board", "module:function building the board's Machine for vmpy_machine")


def pytest_configure(config):
    config.addinivalue_line("markers", "vmpy_max_insns(n): fail the test if the guest retires more than n instructions")


@pytest.fixture(scope="session")
def vmpy_board(pytestconfig):
    """A callable returning a configured Machine (override in conftest.py or
    set the vmpy_board ini option to 'module:function')."""
    spec = pytestconfig.getini("vmpy_board")
    if not spec:
        raise pytest.UsageError("vmpy_machine needs a board: define a vmpy_board fixture "
                                "or set `vmpy_board = module:function` in the ini file")
    module, _, func = spec.partition(":")
    return getattr(importlib.import_module(module), func)


@pytest.fixture(scope="session")
def vmpy_baseline_until():
    """Where the firmware runs to before the baseline is taken (None: don't run)."""
    return None


@pytest.fixture(scope="session")
def _vmpy_session(vmpy_board, vmpy_baseline_until):
    m = vmpy_board()
    if vmpy_baseline_until is not None:
        reason = m.run(until=_resolve(m, vmpy_baseline_until), timeout=60)
        if reason != "until":
            raise RuntimeError(f"booting to {vmpy_baseline_until!r} stopped with {reason}: {machine_report(m)}")
    return _Session(m, m.snapshot())


@pytest.fixture
def vmpy_machine(_vmpy_session, request):
    """The board's machine, restored to the baseline snapshot."""
    marker = request.node.get_closest_marker("vmpy_max_insns")
    budget = None
    if marker is not None:
        if len(marker.args) != 1 or not isinstance(marker.args[0], int) or marker.args[0] < 0:
            raise pytest.UsageError("use @pytest.mark.vmpy_max_insns(N) with an integer N >= 0")
        budget = marker.args[0]
    _vmpy_session.reset(budget)
    request.node._vmpy_machine = _vmpy_session.machine
    yield _vmpy_session.machine
    _vmpy_session.budget = None


@pytest.fixture
def vmpy_baseline(vmpy_machine, _vmpy_session):
    """The baseline Snapshot (the machine has just been restored to it)."""
    return _vmpy_session.baseline


@pytest.fixture
def vmpy_uart(vmpy_machine):
    """The board's UART (vmpy_machine.uart)."""
    uart = getattr(vmpy_machine, "uart", None)
    if uart is None:
        raise pytest.UsageError("the board did not set machine.uart")
    return uart


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    m = getattr(item, "_vmpy_machine", None)
    if m is not None and report.failed and call.when in ("call", "setup"):
        report.sections.append(("vmpy machine", machine_report(m)))
