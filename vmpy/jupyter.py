"""Jupyter display and plots.

Machine, Cpu (its registers), Trace and Coverage have `_repr_html_`, so a
cell that ends with one of them shows an HTML table.  For other views:

    Registers(cpu)                 the integer (and optionally FP/CSR) registers
    Regions(m)                     the memory map
    Disassembly(m, addr, n, pc=)   n instructions from guest memory, pc marked
    plot_pc_heatmap(trace)         where time goes: pc against time, density coloured
    plot_mem_scatter(trace)        which memory is touched: address against time
    profile(trace, symbols)        instructions per function (a pandas Series)

matplotlib and pandas are imported only when a plot or table needs them.
"""
from __future__ import annotations

import html
from typing import Dict, Iterable, Optional, Sequence, Tuple

from . import _core
from .machine import Cpu, Machine
from .trace import Coverage, Trace

_STYLE = ("<style>.vmpy td,.vmpy th{font-family:monospace;padding:1px 8px;text-align:left}"
          ".vmpy .cur{background:#ffe08a}.vmpy caption{text-align:left;font-weight:bold}</style>")
_XREGS = ["zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
          "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6"]


def _table(rows: Iterable[Sequence], header: Sequence[str], caption: str = "",
           marked: Optional[int] = None) -> str:
    out = [_STYLE, '<table class="vmpy">']
    if caption:
        out.append(f"<caption>{html.escape(caption)}</caption>")
    out.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
    for i, row in enumerate(rows):
        cls = ' class="cur"' if marked is not None and i == marked else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "".join(out)


class Registers:
    """A cpu's registers as a table: 4 columns of name = value (hex)."""

    def __init__(self, cpu: Cpu, fp: bool = False, names: Optional[Sequence[str]] = None):
        self.cpu = cpu
        self.names = list(names) if names else _XREGS + (["f%d" % i for i in range(32)] if fp else [])
        self.values = {n: cpu[n] for n in self.names}
        self.values["pc"] = cpu.pc

    def _repr_html_(self) -> str:
        cells = [(n, f"{self.values[n]:#018x}") for n in ["pc"] + self.names]
        rows = []
        for i in range(0, len(cells), 4):
            row = []
            for n, v in cells[i:i + 4]:
                row += [n, v]
            rows.append(row)
        return _table(rows, ["reg", "value"] * 4, f"cpu {self.cpu.index} registers")

    def __repr__(self) -> str:
        return " ".join(f"{n}={v:#x}" for n, v in self.values.items())


class Regions:
    """The memory map of a machine."""

    def __init__(self, m: Machine):
        self.rows = [(f"{b:#x}", f"{b + s:#x}", f"{s:#x}", p, k) for b, s, p, k in m.regions()]

    def _repr_html_(self) -> str:
        return _table(self.rows, ["base", "end", "size", "perms", "kind"], "memory regions")

    def __repr__(self) -> str:
        return "\n".join(" ".join(r) for r in self.rows)


class Disassembly:
    """n instructions from guest memory at addr; the row at pc is highlighted."""

    def __init__(self, m: Machine, addr: int, n: int = 16, pc: Optional[int] = None):
        self.rows = m.disasm(addr, n)
        self.pc = pc

    def _repr_html_(self) -> str:
        mark = next((i for i, r in enumerate(self.rows) if r[0] == self.pc), None)
        return _table([(f"{a:#x}", s, t) for a, s, t in self.rows], ["address", "size", "instruction"],
                      "disassembly", mark)

    def __repr__(self) -> str:
        return "\n".join(f"{'>' if a == self.pc else ' '} {a:#x}: {t}" for a, s, t in self.rows)


# ---- reprs attached to the main classes -------------------------------------------------
def machine_html(m: Machine) -> str:
    cpu = m.cpus[0]
    out = _table([(m.isa, len(m.cpus), m.engine)], ["isa", "cpus", "engine"], "vmpy Machine")
    out += Registers(cpu)._repr_html_() + Regions(m)._repr_html_()
    if _mapped(m, cpu.pc):
        out += Disassembly(m, cpu.pc, 6, cpu.pc)._repr_html_()
    return out


def _mapped(m: Machine, addr: int) -> bool:
    return any(b <= addr < b + s for b, s, p, k in m.regions())


def trace_html(tr: Trace, n: int = 20) -> str:
    info = [(", ".join(tr.kinds), len(tr), tr.limit, tr.overflow,
             "recording" if tr.attached else "closed", "yes" if tr.full else "no")]
    out = _table(info, ["records", "entries", "limit", "overflow", "state", "full"], "vmpy Trace")
    if "pc" in tr.kinds and len(tr):
        rows = tr.disasm(0, min(n, len(tr)))
        out += _table([(i, f"{pc:#x}", t) for i, pc, t in rows], ["#", "pc", "instruction"],
                      f"first {len(rows)} of {len(tr)}")
    if "mem" in tr.kinds:
        mem = tr.mem[:n]
        out += _table([(f"{r['pc']:#x}", "W" if r["is_write"] else "R", f"{r['addr']:#x}", r["size"],
                        f"{r['value']:#x}") for r in mem], ["pc", "", "addr", "size", "value"],
                      f"first {len(mem)} of {len(tr.mem)} memory accesses")
    return out


def coverage_html(cov: Coverage, n: int = 20) -> str:
    b = cov.blocks
    out = _table([(len(b), len(cov.edges))], ["blocks", "edges"], "vmpy Coverage")
    return out + _table([(f"{s:#x}", sz) for s, sz in b[:n].tolist()], ["start", "size"],
                        f"first {min(n, len(b))} blocks")


# ---- analysis and plots ---------------------------------------------------------------------
def profile(trace_or_pcs, symbols: Dict[str, Tuple[int, int]]):
    """Instructions executed per symbol: symbols maps name -> (start, size).
    Returns a pandas Series sorted by count (descending); pcs outside every
    symbol count as '?'."""
    import numpy as np
    import pandas as pd  # type: ignore[import-untyped]
    pcs = trace_or_pcs.pc if isinstance(trace_or_pcs, Trace) else np.asarray(trace_or_pcs, dtype=np.uint64)
    counts = {}
    covered = np.zeros(len(pcs), dtype=bool)
    for name, (start, size) in symbols.items():
        inside = (pcs >= start) & (pcs < start + max(size, 1))
        k = int(inside.sum())
        covered |= inside
        if k:
            counts[name] = k
    rest = int((~covered).sum())
    if rest:
        counts["?"] = rest
    return pd.Series(counts, name="instructions").sort_values(ascending=False)


def plot_pc_heatmap(trace_or_pcs, ax=None, bins: Tuple[int, int] = (200, 120),
                    symbols: Optional[Dict[str, Tuple[int, int]]] = None):
    """2-D histogram of pc against time (instruction index): where the
    program spends its time, phase by phase.  symbols (name -> (start,
    size)) label the y axis.  Returns the matplotlib Axes."""
    import matplotlib.pyplot as plt
    import numpy as np
    pcs = trace_or_pcs.pc if isinstance(trace_or_pcs, Trace) else np.asarray(trace_or_pcs, dtype=np.uint64)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    if len(pcs) == 0:
        ax.set_title("empty trace")
        return ax
    t = np.arange(len(pcs))
    h, xe, ye = np.histogram2d(t, pcs.astype(np.float64), bins=bins)
    ax.imshow(np.log1p(h.T), origin="lower", aspect="auto", cmap="magma",
              extent=(xe[0], xe[-1], ye[0], ye[-1]))
    ax.set_xlabel("instruction #")
    ax.set_ylabel("pc")
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{int(v):#x}"))
    if symbols:
        lo, hi = ye[0], ye[-1]
        for name, (start, size) in symbols.items():
            if lo <= start <= hi:
                ax.axhline(start, color="w", lw=0.3)
                ax.text(xe[-1], start, " " + name, fontsize=7, va="bottom", ha="right", color="w")
    ax.set_title("pc heat map (log density)")
    return ax


def plot_mem_scatter(trace, ax=None, max_points: int = 200_000):
    """Memory accesses: address against access number, reads blue, writes
    red.  Returns the matplotlib Axes."""
    import matplotlib.pyplot as plt
    import numpy as np
    mem = trace.mem
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    if len(mem) > max_points:         # keep the plot responsive: an even sample
        idx = np.linspace(0, len(mem) - 1, max_points).astype(np.int64)
    else:
        idx = np.arange(len(mem))
    sub = mem[idx]
    w = sub["is_write"]
    ax.scatter(idx[~w], sub["addr"][~w].astype(np.float64), s=1, c="tab:blue", label="read")
    ax.scatter(idx[w], sub["addr"][w].astype(np.float64), s=1, c="tab:red", label="write")
    ax.set_xlabel("access #")
    ax.set_ylabel("address")
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{int(v):#x}"))
    ax.legend(loc="upper right", markerscale=8)
    ax.set_title("memory accesses")
    return ax


__all__ = ["Registers", "Regions", "Disassembly", "profile", "plot_pc_heatmap", "plot_mem_scatter"]
