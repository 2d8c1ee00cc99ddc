"""vmpy: a scriptable machine emulator with a C core.

    import vmpy
    m = vmpy.Machine("riscv64")
    m.map(0x10000, 0x10000, "rwx")

See docs/python-api.md for the whole API.
"""
from ._core import FormatError, GuestMemoryError, VmpyError, disasm
from .machine import Cpu, Hook, Machine, StopReason
# These add their methods to Machine (snapshot/restore, gdb_serve, tcl/repl).
from . import snapshot as _snapshot  # noqa: E402,F401
from . import gdbserver as _gdbserver  # noqa: E402,F401
from . import repl as _repl  # noqa: E402,F401
from .snapshot import Snapshot  # noqa: E402
from . import boards  # noqa: E402,F401
from . import trace as _trace  # noqa: E402,F401  (Machine.trace, Machine.coverage)
from .trace import Coverage, Trace, TraceOverflow  # noqa: E402
from . import jupyter  # noqa: E402,F401  (_repr_html_ for Machine, Cpu, Trace, Coverage)

__version__ = "0.1.0"
__all__ = ["Trace", "Coverage", "TraceOverflow", "Snapshot", "boards", "Machine", "Cpu", "Hook", "StopReason", "VmpyError", "FormatError",
           "GuestMemoryError", "disasm", "__version__"]
