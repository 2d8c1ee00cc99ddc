"""The Python face of a machine: argument sugar over vmpy._core.Machine."""
from __future__ import annotations

import enum
import os
TYPE_CHECKING = False    # typing costs ~8 ms at start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Callable, Optional, Union

from . import _core
from .snapshot import SnapshotMethods

Cpu = _core.Cpu


def _cpu_html(cpu) -> str:
    from .jupyter import Registers      # html tables load on first display
    return Registers(cpu)._repr_html_()


Cpu._repr_html_ = _cpu_html
Hook = _core.Hook


class StopReason(str, enum.Enum):
    """Why Machine.run() returned.  Compares equal to its string value."""
    UNTIL = "until"
    COUNT = "count"
    TIMEOUT = "timeout"
    STOP = "stop"
    FAULT = "fault"
    TRAP = "trap"
    INVALID = "invalid"
    EXIT = "exit"
    BREAKPOINT = "breakpoint"
    WATCHPOINT = "watchpoint"
    ERROR = "error"
    WFI = "wfi"

    def __str__(self) -> str:
        return self.value


def parse_perms(perms: Union[str, int]) -> int:
    """'rwx'-style strings (any order, '-' ignored) or an int of PROT_* bits."""
    if isinstance(perms, int):
        if perms & ~7:
            raise ValueError(f"bad permission bits {perms:#x}")
        return perms
    if not isinstance(perms, str):
        raise TypeError(f"perms must be a string like 'rwx' or an int, not {type(perms).__name__}")
    bits = 0
    for ch in perms:
        if ch == "r":
            bits |= _core.PROT_R
        elif ch == "w":
            bits |= _core.PROT_W
        elif ch == "x":
            bits |= _core.PROT_X
        elif ch != "-":
            raise ValueError(f"bad permission {perms!r}: use letters from 'rwx'")
    return bits


def _range(begin: int, end: Optional[int]) -> tuple:
    # The core checks both (OverflowError outside 0 .. 2**64-1); end=None,
    # the end of the address space, goes down as 0.
    return begin, 0 if end is None else end


class Machine(SnapshotMethods, _core.Machine):
    """An emulated machine.  Machine("riscv64") is bare: no devices, no OS.

    Memory:  map(addr, size, perms="rwx"), unmap, protect, regions(),
             read(addr, n), write(addr, data), mmio_map(addr, size, read=, write=)
    Code:    load_elf(path_or_bytes) -> entry, linux_exec(path, argv, env)
    Running: run(start=, until=, count=, timeout=) -> StopReason, step(n), stop()
    Hooks:   on_code, on_block, on_mem_read, on_mem_write, on_mem_fetch,
             on_mem_fault, on_trap, on_invalid_insn -> Hook (h.remove())
    State:   snapshot(), restore(s), from_snapshot(s), deterministic, add_peripheral
             (vmpy/snapshot.py), trace(), coverage() (vmpy/trace.py)
    Debug:   gdb_serve(port), tcl(script), repl()
    """

    # -- memory ------------------------------------------------------------
    def map(self, addr: int, size: int, perms: Union[str, int] = "rwx") -> None:
        super().map(addr, size, parse_perms(perms))

    def protect(self, addr: int, size: int, perms: Union[str, int]) -> None:
        super().protect(addr, size, parse_perms(perms))

    # -- loading -----------------------------------------------------------
    def load_elf(self, image: Union[str, os.PathLike, bytes, bytearray, memoryview], bias: int = 0) -> int:
        """Map and load the PT_LOAD segments of an ELF file; returns the entry point."""
        if isinstance(image, (str, os.PathLike)):
            with open(image, "rb") as f:
                image = f.read()
        return super().load_elf(image, bias)

    def linux_exec(self, path, argv=None, env=None) -> None:
        """Make this machine a Linux process running the static ELF at path."""
        path = os.fspath(path)
        if argv is None:
            argv = [path]
        if env is None:
            env = [f"{k}={v}" for k, v in os.environ.items()]
        super().linux_exec(path, list(argv), list(env))
        self._exec_file = os.path.abspath(path)     # for gdb (qXfer:exec-file)

    # -- running -----------------------------------------------------------
    def run(self, start: Optional[int] = None, until: Optional[int] = None,
            count: Optional[int] = None, timeout: Optional[float] = None) -> StopReason:
        """Run from start (default: the current pc) until a stop condition.

        until: stop before executing this address; count: at most this many
        instructions; timeout: wall-clock seconds.  Returns a StopReason.
        A Python exception raised in a hook stops the run and is re-raised here.
        """
        if start is not None:
            self.cpus[0].pc = start
        if count is not None and count < 0:
            raise ValueError("count must not be negative")
        if count == 0:
            return StopReason.COUNT
        reason = super().run(until, count or 0, float(timeout or 0.0))
        if reason == "error":
            from .trace import check_overflow   # a trace with overflow="error" filled up?
            check_overflow(self)
        return StopReason(reason)

    def step(self, n: int = 1) -> StopReason:
        """Execute n instructions (fewer if something stops the run first)."""
        return self.run(count=n)

    # -- hooks -------------------------------------------------------------
    def on_code(self, callback: Callable, begin: int = 0, end: Optional[int] = None) -> Hook:
        """callback(cpu, addr, size) before each instruction in [begin, end)."""
        return self.hook_add(_core.HOOK_CODE, callback, *_range(begin, end))

    def on_block(self, callback: Callable, begin: int = 0, end: Optional[int] = None) -> Hook:
        """callback(cpu, addr, size) at the start of each basic block in [begin, end)."""
        return self.hook_add(_core.HOOK_BLOCK, callback, *_range(begin, end))

    def on_mem_read(self, callback: Callable, begin: int = 0, end: Optional[int] = None) -> Hook:
        """callback(cpu, addr, size, value) after each data read in [begin, end)."""
        return self.hook_add(_core.HOOK_MEM_READ, callback, *_range(begin, end))

    def on_mem_write(self, callback: Callable, begin: int = 0, end: Optional[int] = None) -> Hook:
        """callback(cpu, addr, size, value) before each data write in [begin, end)."""
        return self.hook_add(_core.HOOK_MEM_WRITE, callback, *_range(begin, end))

    def on_mem_fetch(self, callback: Callable, begin: int = 0, end: Optional[int] = None) -> Hook:
        """callback(cpu, addr, size, raw_bits) for each instruction fetched from [begin, end)."""
        return self.hook_add(_core.HOOK_MEM_FETCH, callback, *_range(begin, end))

    def on_mem_fault(self, callback: Callable, begin: int = 0, end: Optional[int] = None) -> Hook:
        """callback(cpu, access, addr, size) on an unmapped/protection fault; True = fixed, retry."""
        return self.hook_add(_core.HOOK_MEM_FAULT, callback, *_range(begin, end))

    def on_trap(self, callback: Callable) -> Hook:
        """callback(cpu, cause, tval) on ecall/ebreak/exceptions; True = handled, resume after it."""
        return self.hook_add(_core.HOOK_TRAP, callback)

    def on_invalid_insn(self, callback: Callable) -> Hook:
        """callback(cpu, addr, raw_bits) on an invalid instruction; True = handled, skip it."""
        return self.hook_add(_core.HOOK_INVALID, callback)

    # -- traces and coverage (vmpy/trace.py) ------------------------------
    # The feature modules import this one, so they are imported on first use.
    def trace(self, *what: str, **kw) -> "Trace":
        """Start recording in C: m.trace("pc", "insn", "mem", "regs", begin=,
        end=, mem_begin=, mem_end=, limit=2**20, overflow="stop"|"drop"|"error").
        Returns a vmpy.Trace whose .pc/.insn/.mem/.regs are numpy arrays."""
        from .trace import Trace
        return Trace(self, *what, **kw)

    def coverage(self, begin: int = 0, end: Optional[int] = None) -> "Coverage":
        """Start recording basic blocks and edges (block starts in [begin, end))."""
        from .trace import Coverage
        return Coverage(self, begin, end)

    # -- debugging (vmpy/gdbserver.py, vmpy/repl.py) -------------------------
    def gdb_serve(self, port: int = 0, wait: bool = True, host: str = "127.0.0.1",
                  timeout: Optional[float] = None, exec_file: Optional[str] = None) -> "GdbServer":
        """Serve this machine to gdb on host:port; see vmpy.gdbserver.gdb_serve."""
        from .gdbserver import gdb_serve
        return gdb_serve(self, port, wait, host, timeout, exec_file)

    def tcl(self, script: str) -> str:
        """Evaluate Tcl REPL commands on this machine; returns the result string."""
        from .repl import tcl
        return tcl(self, script)

    def repl(self) -> int:
        """Run the interactive Tcl REPL on the terminal, attached to this machine."""
        from .repl import repl
        return repl(self)

    # -- Jupyter -----------------------------------------------------------
    def _repr_html_(self) -> str:
        from .jupyter import machine_html
        return machine_html(self)

    # -- misc --------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<vmpy.Machine {self.isa} cpus={len(self.cpus)} engine={self.engine}>"


ENGINE_NAMES = ("interp", "jit", "auto")


def engines(isa: str = "riscv64") -> list:
    """The execution engines this build of vmpy runs for isa, e.g.
    ["interp", "jit", "auto"]; the JIT engines need asmjit at build time."""
    found = []
    for name in ENGINE_NAMES:
        try:
            Machine(isa, engine=name)
        except (ValueError, _core.VmpyError):
            continue
        found.append(name)
    return found
