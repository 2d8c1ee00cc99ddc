"""Instruction traces into numpy, and basic-block coverage (drcov export).

    tr = m.trace("pc", "insn", "mem", begin=lo, end=hi)   # recorded in C
    m.run(count=1_000_000)
    tr.pc, tr.insn        # numpy uint64 / uint32 arrays, zero copy
    tr.mem                # structured: pc, addr, size, value, is_write
    tr.regs               # structured, one per instruction: rd (0 = none), value after it
    tr.to_pandas(); tr.disasm(0, 20); tr.close()

    cov = m.coverage(); m.run(...); cov.blocks; cov.save_drcov("out.cov")

Buffers.  Every stream is reserved once at `limit` entries (address space
only; memory is committed as it fills), so it never moves: an array you got
stays valid and unchanged while recording goes on, and simply does not grow
(ask for tr.pc again to see new entries).  When a stream is full, `overflow`
decides: "stop" ends the run before the next traced instruction
(StopReason.STOP, tr.full is True), "error" ends it and run() raises
TraceOverflow, "drop" keeps the newest `limit` entries (a ring; once it has
wrapped, the arrays are copies in execution order rather than views).

Memory events are recorded only for instructions in [begin, end), and only
for data addresses in [mem_begin, mem_end).
"""
from __future__ import annotations

import os
import struct
import weakref
TYPE_CHECKING = False    # typing costs ~8 ms at start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Iterable, List, Optional, Sequence, Tuple

from . import _core
from .machine import Machine, StopReason

_KINDS = {"pc": _core.TRACE_PC, "insn": _core.TRACE_INSN, "mem": _core.TRACE_MEM, "regs": _core.TRACE_REGS}
_POLICIES = {"stop": _core.TRACE_STOP, "drop": _core.TRACE_RING, "ring": _core.TRACE_RING,
             "error": _core.TRACE_ERROR}


class TraceOverflow(_core.VmpyError):
    """A trace with overflow="error" filled up; the run stopped before the next instruction."""


def _np():
    import numpy
    return numpy


def mem_dtype():
    """numpy dtype of Trace.mem entries (matches vm_trace_mem in csrc/core/trace.h)."""
    np = _np()
    return np.dtype({"names": ["pc", "addr", "value", "size", "is_write"],
                     "formats": ["<u8", "<u8", "<u8", "<u4", "?"],
                     "offsets": [0, 8, 16, 24, 28], "itemsize": 32})


class Trace(_core.Trace):
    """Per-instruction recording in C.  See the module docstring."""

    overflow: str                # set by __new__
    kinds: Tuple[str, ...]

    def _repr_html_(self) -> str:
        from .jupyter import trace_html
        return trace_html(self)

    def __new__(cls, machine: Machine, *what: str, begin: int = 0, end: Optional[int] = None,
                mem_begin: int = 0, mem_end: Optional[int] = None, limit: int = 1 << 20,
                overflow: str = "stop"):
        if not what:
            what = ("pc",)
        bits = 0
        for w in what:
            if w not in _KINDS:
                raise ValueError(f"unknown trace kind {w!r}: use {', '.join(_KINDS)}")
            bits |= _KINDS[w]
        if overflow not in _POLICIES:
            raise ValueError(f"overflow must be 'stop', 'drop' or 'error', not {overflow!r}")
        for name, v in (("begin", begin), ("end", end), ("mem_begin", mem_begin), ("mem_end", mem_end)):
            if v is not None and not 0 <= v < 1 << 64:
                raise ValueError(f"{name} must be an address between 0 and 2**64-1")
        if not 0 < limit < 1 << 64:
            raise ValueError("limit must be positive")
        self = super().__new__(cls, machine, bits, begin, end or 0, mem_begin, mem_end or 0,
                               limit, _POLICIES[overflow])
        self.overflow = overflow
        self.kinds = tuple(k for k in _KINDS if bits & _KINDS[k])
        _register(machine, self)
        return self

    def __init__(self, *args, **kw):
        pass

    # -- data ---------------------------------------------------------------
    def _array(self, stream: int, dtype):
        np = _np()
        count, total = self.counts(stream)
        a = np.frombuffer(memoryview(self.view(stream)), dtype=dtype)
        if total > count:        # a wrapped ring: oldest entry at total % limit
            k = total % self.limit
            a = np.concatenate((a[k:], a[:k]))
        return a

    def _need(self, kind: str):
        if kind not in self.kinds:
            raise ValueError(f"this trace does not record {kind!r} (it records {', '.join(self.kinds)})")

    @property
    def pc(self):
        """numpy uint64 array: the pc of each traced instruction, in order."""
        self._need("pc")
        return self._array(_core.TS_PC, "<u8")

    @property
    def insn(self):
        """numpy uint32 array: the raw bits of each instruction (16-bit ones zero-extended)."""
        self._need("insn")
        return self._array(_core.TS_INSN, "<u4")

    @property
    def mem(self):
        """numpy structured array: pc, addr, value, size, is_write per data access."""
        self._need("mem")
        return self._array(_core.TS_MEM, mem_dtype())

    @property
    def regs(self):
        """numpy structured array, one per instruction: rd (integer register
        written, 0 for none) and value (its value after the instruction)."""
        self._need("regs")
        np = _np()
        rd = self._array(_core.TS_RD, "u1")
        val = self._array(_core.TS_RDVAL, "<u8")
        out = np.empty(len(rd), dtype=[("rd", "u1"), ("value", "<u8")])
        out["rd"] = rd
        out["value"] = val
        return out

    def __len__(self) -> int:
        return self.counts(_core.TS_PC if ("pc" in self.kinds or "insn" in self.kinds or "regs" in self.kinds)
                           else _core.TS_MEM)[0]

    @property
    def total(self) -> int:
        """Instructions ever recorded (more than len() once a ring dropped some)."""
        return self.counts(_core.TS_PC)[1]

    @property
    def dropped(self) -> int:
        c, t = self.counts(_core.TS_PC)
        return t - c

    # -- views ----------------------------------------------------------------
    def to_pandas(self):
        """A DataFrame with one row per instruction (pc, insn, rd, rd_value as
        recorded), or per memory access for a memory-only trace."""
        import pandas as pd  # type: ignore[import-untyped]
        if not any(k in self.kinds for k in ("pc", "insn", "regs")):
            return pd.DataFrame(self.mem)
        cols = {}
        if "pc" in self.kinds:
            cols["pc"] = self.pc
        if "insn" in self.kinds:
            cols["insn"] = self.insn
        if "regs" in self.kinds:
            r = self.regs
            cols["rd"] = r["rd"]
            cols["rd_value"] = r["value"]
        return pd.DataFrame(cols)

    def mem_frame(self):
        """The memory accesses as a DataFrame."""
        import pandas as pd  # type: ignore[import-untyped]
        return pd.DataFrame(self.mem)

    def disasm(self, i: int = 0, n: int = 1) -> List[Tuple[int, int, str]]:
        """[(index, pc, text)] for entries i..i+n, from the recorded instruction
        bits when the trace has them, else from guest memory now."""
        self._need("pc")
        pcs = self.pc[i:i + n]
        words = self.insn[i:i + n] if "insn" in self.kinds else None
        out = []
        for k, pc in enumerate(pcs):
            pc = int(pc)
            if words is not None:
                text = _core.disasm(int(words[k]).to_bytes(4, "little"), pc)[0][2]
            else:
                got = self.machine.disasm(pc, 1)
                text = got[0][2] if got else "?"
            out.append((i + k, pc, text))
        return out

    # -- life cycle -------------------------------------------------------------
    def __enter__(self) -> "Trace":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "recording" if self.attached else "closed"
        return f"<vmpy.Trace {'+'.join(self.kinds)} {len(self)} entries, {state}>"


class Coverage(_core.Coverage):
    """Basic blocks and edges executed while attached (recorded in C)."""

    def _repr_html_(self) -> str:
        from .jupyter import coverage_html
        return coverage_html(self)

    def __new__(cls, machine: Machine, begin: int = 0, end: Optional[int] = None):
        if not 0 <= begin < 1 << 64 or (end is not None and not 0 <= end < 1 << 64):
            raise ValueError("coverage ranges are addresses between 0 and 2**64-1")
        return super().__new__(cls, machine, begin, end or 0)

    def __init__(self, *args, **kw):
        pass

    @property
    def blocks(self):
        """numpy structured array (start, size) sorted by start."""
        np = _np()
        return np.frombuffer(self.block_pairs(), dtype=[("start", "<u8"), ("size", "<u8")])

    @property
    def edges(self):
        """numpy uint64 array of shape (n, 2): (from block start, to block start)."""
        np = _np()
        return np.frombuffer(self.edge_pairs(), dtype="<u8").reshape(-1, 2)

    def __len__(self) -> int:
        return len(self.block_pairs()) // 16

    def default_modules(self) -> List[Tuple[str, int, int]]:
        """One module per executable RAM region: (name, base, end)."""
        return [(f"region_{base:#x}", base, base + size)
                for base, size, perms, kind in self.machine.regions() if "x" in perms and kind == "ram"]

    def save_drcov(self, path, modules: Optional[Sequence[Tuple[str, int, int]]] = None) -> int:
        """Write the blocks in drcov format (version 2, module table version 2),
        as DynamoRIO's drcov, Lighthouse and other readers expect.  modules:
        (path, base, end) per module; blocks outside every module are left
        out.  Returns the number of blocks written."""
        if modules is None:
            modules = self.default_modules()
        mods = [(os.fspath(p), int(b), int(e)) for p, b, e in modules]
        entries = []
        for start, size in self.block_pairs_list():
            for mid, (_, base, end) in enumerate(mods):
                if base <= start < end:
                    if start - base >= 1 << 32:
                        break
                    entries.append(struct.pack("<IHH", start - base, min(size, 0xffff), mid))
                    break
        head = ["DRCOV VERSION: 2", "DRCOV FLAVOR: vmpy",
                f"Module Table: version 2, count {len(mods)}",
                "Columns: id, base, end, entry, checksum, timestamp, path"]
        for mid, (p, base, end) in enumerate(mods):
            head.append(f"{mid:3d}, {base:#018x}, {end:#018x}, 0x0000000000000000, 0x00000000, 0x00000000, {p}")
        head.append(f"BB Table: {len(entries)} bbs")
        with open(path, "wb") as f:
            f.write(("\n".join(head) + "\n").encode())
            f.write(b"".join(entries))
        return len(entries)

    def block_pairs_list(self) -> Iterable[Tuple[int, int]]:
        raw = self.block_pairs()
        return struct.iter_unpack("<QQ", raw)

    def __enter__(self) -> "Coverage":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<vmpy.Coverage {len(self)} blocks, {len(self.edge_pairs()) // 16} edges>"


# -- the machine's side ---------------------------------------------------------
_traces: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _register(machine, tr) -> None:
    _traces.setdefault(machine, weakref.WeakSet()).add(tr)


def check_overflow(machine) -> None:
    """After a run that ended with "error": raise TraceOverflow if a trace
    with overflow="error" is why."""
    for tr in list(_traces.get(machine, ())):
        if tr.full and tr.overflow == "error" and tr.attached:
            raise TraceOverflow(f"trace buffer full ({tr.limit} entries); the run stopped before pc "
                                f"{machine.cpus[0].pc:#x}")


__all__ = ["Trace", "Coverage", "TraceOverflow", "mem_dtype", "StopReason"]
