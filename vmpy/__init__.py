"""vmpy: a scriptable machine emulator with a C core.

    import vmpy
    m = vmpy.Machine("riscv64")
    m.map(0x10000, 0x10000, "rwx")

See docs/python-api.md for the whole API.
"""
from ._core import FormatError, GuestMemoryError, VmpyError, disasm
from .machine import Cpu, Hook, Machine, StopReason, engines
from .snapshot import Snapshot  # noqa: E402
from .trace import Coverage, Trace, TraceOverflow  # noqa: E402

__version__ = "0.1.0"


def __getattr__(name):
    # vmpy.boards (ctypes, the console) and vmpy.jupyter (html) load on first
    # use: `vmpy run` needs neither, and its start-up counts against every
    # short guest program.
    if name in ("boards", "jupyter"):
        import importlib
        return importlib.import_module("." + name, __name__)
    raise AttributeError("module 'vmpy' has no attribute %r" % name)

__all__ = ["Trace", "Coverage", "TraceOverflow", "Snapshot", "boards", "Machine", "Cpu", "Hook", "StopReason", "VmpyError", "FormatError",
           "GuestMemoryError", "disasm", "engines", "__version__"]
