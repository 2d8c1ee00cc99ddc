from . import boards, jupyter as jupyter
from ._core import FormatError, GuestMemoryError, VmpyError, disasm
from .machine import Cpu, Hook, Machine, StopReason, engines
from .snapshot import Snapshot
from .trace import Coverage, Trace, TraceOverflow

__version__: str

__all__ = ["Trace", "Coverage", "TraceOverflow", "Snapshot", "boards", "Machine", "Cpu", "Hook", "StopReason",
           "VmpyError", "FormatError", "GuestMemoryError", "disasm", "engines", "__version__"]
