import enum
from typing import Callable, Optional, Union
import os
from . import _core

Cpu = _core.Cpu
Hook = _core.Hook

class StopReason(str, enum.Enum):
    UNTIL: str
    COUNT: str
    TIMEOUT: str
    STOP: str
    FAULT: str
    TRAP: str
    INVALID: str
    EXIT: str
    BREAKPOINT: str
    WATCHPOINT: str
    ERROR: str
    WFI: str

def parse_perms(perms: Union[str, int]) -> int: ...

class Machine(_core.Machine):
    def map(self, addr: int, size: int, perms: Union[str, int] = "rwx") -> None: ...  # type: ignore[override]
    def protect(self, addr: int, size: int, perms: Union[str, int]) -> None: ...  # type: ignore[override]
    def load_elf(self, image: Union[str, os.PathLike, bytes], bias: int = 0) -> int: ...
    def linux_exec(self, path, argv=None, env=None) -> None: ...  # type: ignore[override]
    def run(self, start: Optional[int] = None, until: Optional[int] = None,  # type: ignore[override]
            count: Optional[int] = None, timeout: Optional[float] = None) -> StopReason: ...
    def step(self, n: int = 1) -> StopReason: ...
    def on_code(self, callback: Callable[[Cpu, int, int], object], begin: int = 0, end: Optional[int] = None) -> Hook: ...
    def on_block(self, callback: Callable[[Cpu, int, int], object], begin: int = 0, end: Optional[int] = None) -> Hook: ...
    def on_mem_read(self, callback: Callable[[Cpu, int, int, int], object], begin: int = 0, end: Optional[int] = None) -> Hook: ...
    def on_mem_write(self, callback: Callable[[Cpu, int, int, int], object], begin: int = 0, end: Optional[int] = None) -> Hook: ...
    def on_mem_fetch(self, callback: Callable[[Cpu, int, int, int], object], begin: int = 0, end: Optional[int] = None) -> Hook: ...
    def on_mem_fault(self, callback: Callable[[Cpu, str, int, int], bool], begin: int = 0, end: Optional[int] = None) -> Hook: ...
    def on_trap(self, callback: Callable[[Cpu, int, int], bool]) -> Hook: ...
    def on_invalid_insn(self, callback: Callable[[Cpu, int, int], bool]) -> Hook: ...
