"""vmpy: a scriptable machine emulator with a C core.

    import vmpy
    m = vmpy.Machine("riscv64")
    m.map(0x10000, 0x10000, "rwx")

See docs/python-api.md for the whole API.
"""
from ._core import FormatError, GuestMemoryError, VmpyError, disasm
from .machine import Cpu, Hook, Machine, StopReason

__version__ = "0.1.0"
__all__ = ["Machine", "Cpu", "Hook", "StopReason", "VmpyError", "FormatError",
           "GuestMemoryError", "disasm", "__version__"]
