"""vmpy: a scriptable machine emulator with a C core.

    import vmpy
    m = vmpy.Machine("riscv64")
    m.map(0x10000, 0x10000, "rwx")

See docs/python-api.md for the whole API.
"""
from ._core import FormatError, GuestMemoryError, VmpyError, disasm
from .machine import Cpu, Hook, Machine, StopReason, engines
from .snapshot import Snapshot  # noqa: E402
from . import boards  # noqa: E402,F401
from .trace import Coverage, Trace, TraceOverflow  # noqa: E402
from . import jupyter  # noqa: E402,F401  (Cpu._repr_html_)

__version__ = "0.1.0"
__all__ = ["Trace", "Coverage", "TraceOverflow", "Snapshot", "boards", "Machine", "Cpu", "Hook", "StopReason", "VmpyError", "FormatError",
           "GuestMemoryError", "disasm", "engines", "__version__"]
