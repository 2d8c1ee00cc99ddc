"""Traces into numpy and coverage (issue 7).

Oracles: the program's layout from riscv64-linux-gnu-nm/objdump (addresses,
instruction encodings), hand-computed memory traffic and register values,
and the Python per-instruction hook (a different path through the core: the
generic hook call-outs, not the trace recorder) for content and order.
Speed is measured in bench/bench_trace.py, never here."""
import os
import re
import struct
import subprocess

import numpy as np
import pytest

import vmpy
from testenv import CROSS_CC, missing

STACK = 0x7f000000
STACK_SIZE = 0x10000
TEXT = 0x10000

SOURCE = r"""
long data[64];
__attribute__((noinline)) long fill(long n) { for (long i = 0; i < n; i++) data[i & 63] = i * 3; return n; }
__attribute__((noinline)) long sum(long n) { long s = 0; for (long i = 0; i < n; i++) s += data[i & 63]; return s; }
long regs_demo(void);
__asm__(".globl regs_demo\n"
        "regs_demo:\n"
        "  .option push\n  .option norvc\n"
        "  addi a0, zero, 5\n"
        "  add a1, a0, a0\n"
        "  sd a1, -8(sp)\n"
        "  addi a2, a1, -3\n"
        "  ret\n"
        "  .option pop\n");
void _start(void) {
    long t = regs_demo();
    for (int r = 0; r < 100; r++) t += fill(64) + sum(64);
    __asm__ volatile("mv a0, %0; ebreak" :: "r"(t));
    for (;;) ;
}
"""


ENGINES = vmpy.engines()


@pytest.fixture(scope="module")
def prog(tmp_path_factory):
    d = tmp_path_factory.mktemp("trace")
    src = d / "prog.c"
    src.write_text(SOURCE)
    exe = d / "prog"
    try:
        subprocess.run([CROSS_CC, "-O1", "-march=rv64gc", "-mabi=lp64d", "-nostdlib", "-static",
                        "-fno-pic", "-Wl,--no-relax", "-Wl,-Ttext=%#x" % TEXT, "-o", str(exe), str(src)],
                       check=True, capture_output=True)
    except FileNotFoundError:
        missing(CROSS_CC)
    nm = subprocess.run([CROSS_CC.replace("gcc", "nm"), str(exe)], check=True, capture_output=True, text=True).stdout
    syms = {}
    for line in nm.splitlines():
        parts = line.split()
        if len(parts) == 3:
            syms[parts[2]] = int(parts[0], 16)
    dump = subprocess.run([CROSS_CC.replace("gcc", "objdump"), "-d", str(exe)], check=True,
                          capture_output=True, text=True).stdout
    insns = {}      # pc -> (encoding, mnemonic)
    for line in dump.splitlines():
        m = re.match(r"\s+([0-9a-f]+):\s+([0-9a-f]{4,8})\s+(\S+)", line)
        if m:
            insns[int(m.group(1), 16)] = (int(m.group(2), 16), m.group(3))
    sizes = {}
    for line in subprocess.run([CROSS_CC.replace("gcc", "nm"), "-S", str(exe)], check=True,
                               capture_output=True, text=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 4:
            sizes[parts[3]] = int(parts[1], 16)
    return {"path": str(exe), "syms": syms, "insns": insns, "sizes": sizes}


def machine(prog, engine="interp"):
    m = vmpy.Machine("riscv64", engine=engine)
    entry = m.load_elf(prog["path"])
    m.map(STACK, STACK_SIZE)
    m.cpus[0]["sp"] = STACK + STACK_SIZE
    m.cpus[0].pc = entry
    return m


def hook_pcs(prog, engine, count=None, begin=0, end=None):
    m = machine(prog, engine)
    pcs = []
    m.on_code(lambda cpu, addr, size: pcs.append(addr), begin, end)
    m.run(count=count)
    return pcs, m


# ---- pc and insn --------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_pc_trace_equals_python_hook(prog, engine):
    want, mh = hook_pcs(prog, engine)
    m = machine(prog, engine)
    tr = m.trace("pc", "insn")
    assert m.run() == "trap"                     # the final ebreak
    assert tr.pc.dtype == np.uint64 and tr.insn.dtype == np.uint32
    assert tr.pc.tolist() == want
    assert m.cpus[0].icount == mh.cpus[0].icount


@pytest.mark.parametrize("engine", ENGINES)
def test_trace_across_runs_with_count_limits(prog, engine):
    want, _ = hook_pcs(prog, engine)
    m = machine(prog, engine)
    tr = m.trace("pc")
    done = 0
    for n in (1, 7, 100, 3, 5000, 999):
        assert m.run(count=n) == "count"
        done += n
        assert m.cpus[0].icount == done
        assert len(tr) == done
    m.run()
    assert tr.pc.tolist() == want


def test_insn_words_match_objdump(prog):
    m = machine(prog)
    tr = m.trace("pc", "insn")
    m.run()
    seen = {}
    for pc, word in zip(tr.pc.tolist(), tr.insn.tolist()):
        seen[pc] = word
    assert len(seen) > 30
    for pc, word in seen.items():
        assert prog["insns"][pc][0] == word, hex(pc)


def test_address_range_filter(prog):
    lo = prog["syms"]["fill"]
    hi = lo + prog["sizes"]["fill"]
    want, _ = hook_pcs(prog, "interp", begin=lo, end=hi)
    m = machine(prog)
    tr = m.trace("pc", begin=lo, end=hi)
    m.run()
    pcs = tr.pc
    assert len(pcs) > 100 and pcs.min() >= lo and pcs.max() < hi
    assert pcs.tolist() == want


def test_range_cutting_blocks(prog):
    """A range boundary inside a block (per-instruction recording)."""
    lo = prog["syms"]["fill"] + 2
    hi = prog["syms"]["sum"] + 6
    want, _ = hook_pcs(prog, "interp", begin=lo, end=hi)
    m = machine(prog)
    tr = m.trace("pc", begin=lo, end=hi)
    m.run()
    assert tr.pc.tolist() == want


def test_several_traces_at_once(prog):
    full, _ = hook_pcs(prog, "interp")
    lo = prog["syms"]["sum"]
    hi = lo + prog["sizes"]["sum"]
    m = machine(prog)
    a = m.trace("pc")
    b = m.trace("pc", "insn", begin=lo, end=hi)
    m.run(count=1234)
    c = m.trace("pc")                        # added between runs
    m.run()
    assert a.pc.tolist() == full
    assert b.pc.tolist() == [p for p in full if lo <= p < hi]
    assert c.pc.tolist() == full[1234:]


# ---- memory and registers --------------------------------------------------------------
def sd_pc(prog, func):
    lo = prog["syms"][func]
    hi = lo + prog["sizes"][func]
    found = [pc for pc, (enc, mn) in prog["insns"].items() if lo <= pc < hi and mn in ("sd", "c.sd")]
    assert len(found) == 1, found
    return found[0]


def test_memory_trace_hand_computed(prog):
    data = prog["syms"]["data"]
    lo = prog["syms"]["fill"]
    m = machine(prog)
    tr = m.trace("mem", begin=lo, end=lo + prog["sizes"]["fill"], mem_begin=data, mem_end=data + 512)
    m.run()
    mem = tr.mem
    assert len(mem) == 100 * 64
    i = np.tile(np.arange(64, dtype=np.uint64), 100)
    assert (mem["addr"] == data + 8 * i).all()
    assert (mem["value"] == 3 * i).all()
    assert (mem["size"] == 8).all() and mem["is_write"].all()
    assert (mem["pc"] == sd_pc(prog, "fill")).all()


def test_memory_reads_and_writes(prog):
    data = prog["syms"]["data"]
    m = machine(prog)
    tr = m.trace("pc", "mem", mem_begin=data, mem_end=data + 512)
    m.run()
    mem = tr.mem
    reads = mem[~mem["is_write"]]
    assert len(reads) == 100 * 64
    # sum() reads what fill() wrote just before: data[i] == 3 * i
    assert (reads["value"] == 3 * (reads["addr"] - data) // 8).all()
    assert set(reads["pc"].tolist()) <= set(range(prog["syms"]["sum"], prog["syms"]["sum"] + prog["sizes"]["sum"]))
    df = tr.to_pandas()
    assert list(df.columns) == ["pc"] and len(df) == len(tr.pc)


def test_registers_written(prog):
    lo = prog["syms"]["regs_demo"]
    m = machine(prog)
    tr = m.trace("pc", "regs", begin=lo, end=lo + 20)
    m.run(count=40)
    regs = tr.regs
    got = list(zip(tr.pc.tolist(), regs["rd"].tolist(), regs["value"].tolist()))
    # addi a0,zero,5 / add a1,a0,a0 / sd (no rd) / addi a2,a1,-3 / ret (jalr x0: no rd)
    assert got == [(lo, 10, 5), (lo + 4, 11, 10), (lo + 8, 0, 0), (lo + 12, 12, 7), (lo + 16, 0, 0)]


def test_registers_complete_at_run_end(prog):
    """The last instruction of a run gets its value when the run ends."""
    lo = prog["syms"]["regs_demo"]
    m = machine(prog)
    tr = m.trace("regs", begin=lo, end=lo + 20)
    m.run(until=lo + 4)                       # runs the first addi only... and what led there
    assert tr.regs.tolist() == [(10, 5)]


# ---- buffers and overflow ----------------------------------------------------------------
def test_zero_copy_views_survive_growth_and_close(prog):
    m = machine(prog)
    tr = m.trace("pc")
    m.run(count=1000)
    a = tr.pc
    assert not a.flags.writeable and len(a) == 1000
    first = a.copy()
    m.run(count=1000)
    b = tr.pc
    assert len(b) == 2000 and np.shares_memory(a, b)
    assert (a == first).all() and (b[:1000] == first).all()
    tr.close()
    m.run(count=1000)
    assert len(tr.pc) == 2000
    del tr                                      # the arrays keep the buffers alive
    assert (b[:1000] == first).all()
    mv = memoryview(b)
    assert mv.readonly


def test_overflow_stop_then_continue(prog):
    full, _ = hook_pcs(prog, "interp")
    m = machine(prog)
    tr = m.trace("pc", limit=1000, overflow="stop")
    got = []
    while True:
        r = m.run()
        got += tr.pc.tolist()
        if r != "stop":
            break
        assert tr.full and 900 < len(tr) <= 1000
        tr.clear()
    assert r == "trap"
    assert got == full


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("limit", [1, 2, 3, 5, 17, 64])
def test_overflow_stop_at_every_block_boundary(prog, engine, limit):
    # Small limits make the trace fill at many different block boundaries,
    # including blocks entered straight from the one before (chained): each
    # stop must come before the block that does not fit, with the count and
    # the recorded pcs exactly what ran.
    full, _ = hook_pcs(prog, engine)
    m = machine(prog, engine)
    tr = m.trace("pc", limit=limit, overflow="stop")
    got = []
    for _ in range(len(full) + 2):
        r = m.run()
        assert len(tr) <= limit
        got += tr.pc.tolist()
        if r != "stop":
            break
        assert tr.full and m.cpus[0].icount == len(got)
        tr.clear()
    assert r == "trap"                 # the final ebreak: recorded, not retired
    assert got == full and m.cpus[0].icount == len(got) - 1


def test_overflow_drop_keeps_newest(prog):
    full, _ = hook_pcs(prog, "interp")
    m = machine(prog)
    tr = m.trace("pc", "insn", limit=777, overflow="drop")
    assert m.run() == "trap"
    assert len(tr) == 777 and tr.total == len(full) and tr.dropped == len(full) - 777
    assert tr.pc.tolist() == full[-777:]
    assert tr.insn.tolist() == [prog["insns"][p][0] for p in full[-777:]]


def test_overflow_error_raises(prog):
    m = machine(prog)
    tr = m.trace("pc", limit=500, overflow="error")
    with pytest.raises(vmpy.TraceOverflow):
        m.run()
    assert 400 < m.cpus[0].icount == len(tr) <= 500


def test_memory_overflow_stop(prog):
    data = prog["syms"]["data"]
    m = machine(prog)
    tr = m.trace("mem", mem_begin=data, mem_end=data + 512, limit=100)
    assert m.run() == "stop"
    assert tr.full and 98 <= len(tr.mem) <= 100


def test_bad_arguments(prog):
    m = machine(prog)
    with pytest.raises(ValueError):
        m.trace("pcs")
    with pytest.raises(ValueError):
        m.trace("pc", overflow="explode")
    with pytest.raises(ValueError):
        m.trace("pc", limit=0)
    with pytest.raises(ValueError):
        m.trace("pc", begin=10, end=5)
    with pytest.raises(ValueError):
        m.trace("pc", begin=-1)
    with pytest.raises(ValueError):
        m.trace("pc", limit=1 << 70)
    with pytest.raises(ValueError):
        m.trace("pc", limit=1 << 40)         # more than the core reserves
    with pytest.raises(ValueError):
        m.trace("pc", end=1 << 64)
    tr = m.trace("pc")
    with pytest.raises(ValueError):
        tr.mem
    for stream in (-1, 99, 1 << 32):        # 2**32 once wrapped to stream 0
        with pytest.raises(ValueError, match="no trace stream"):
            tr.counts(stream)
        with pytest.raises(ValueError, match="no trace stream"):
            tr.view(stream)
    with pytest.raises(TypeError):
        vmpy.Trace(object(), "pc")


def test_disasm_and_pandas(prog):
    m = machine(prog)
    tr = m.trace("pc", "insn")
    m.run(count=50)
    rows = tr.disasm(3, 5)
    assert [r[0] for r in rows] == [3, 4, 5, 6, 7]
    capstone = pytest.importorskip("capstone")
    cs = capstone.Cs(capstone.CS_ARCH_RISCV, capstone.CS_MODE_RISCV64 | capstone.CS_MODE_RISCVC)
    for i, pc, text in rows:
        assert pc == tr.pc[i]
        word = prog["insns"][pc][0]
        ref = next(cs.disasm(word.to_bytes(4, "little"), pc))
        assert text.split()[0] == ref.mnemonic, (hex(pc), text, ref.mnemonic)
    df = tr.to_pandas()
    assert len(df) == 50 and (df["pc"].to_numpy() == tr.pc).all()


# ---- coverage -------------------------------------------------------------------------------
def parse_drcov(path):
    """A small independent drcov reader: header lines, module table, BB table."""
    with open(path, "rb") as f:
        raw = f.read()
    lines = []
    pos = 0
    while True:
        nl = raw.index(b"\n", pos)
        line = raw[pos:nl].decode()
        pos = nl + 1
        lines.append(line)
        if line.startswith("BB Table:"):
            break
    assert lines[0] == "DRCOV VERSION: 2"
    assert lines[1].startswith("DRCOV FLAVOR:")
    mt = re.match(r"Module Table: version 2, count (\d+)$", lines[2])
    assert mt
    assert lines[3] == "Columns: id, base, end, entry, checksum, timestamp, path"
    mods = []
    for line in lines[4:4 + int(mt.group(1))]:
        cols = [c.strip() for c in line.split(",", 6)]
        mods.append((int(cols[0]), int(cols[1], 16), int(cols[2], 16), cols[6]))
    nbb = int(re.match(r"BB Table: (\d+) bbs$", lines[-1]).group(1))
    body = raw[pos:]
    assert len(body) == 8 * nbb
    bbs = [struct.unpack_from("<IHH", body, 8 * i) for i in range(nbb)]
    return mods, bbs


def test_coverage_blocks_and_drcov(prog, tmp_path):
    m = machine(prog)
    cov = m.coverage()
    m.run()
    blocks = cov.blocks
    starts = set(blocks["start"].tolist())
    for f in ("_start", "fill", "sum", "regs_demo"):
        assert prog["syms"][f] in starts, f
    text_end = max(prog["insns"]) + 4
    assert all(TEXT <= s < text_end for s in starts)
    # every block starts on an instruction boundary and ends after a whole instruction
    for s, size in blocks.tolist():
        assert s in prog["insns"] and s + size in set(prog["insns"]) | {text_end, text_end - 2}
    # edges: fill's loop branches back into fill; _start calls fill and sum
    edges = {tuple(e) for e in cov.edges.tolist()}
    assert any(b == prog["syms"]["fill"] for a, b in edges)
    assert any(b == prog["syms"]["sum"] for a, b in edges)

    out = tmp_path / "out.cov"
    n = cov.save_drcov(out, modules=[(prog["path"], TEXT, text_end)])
    mods, bbs = parse_drcov(out)
    assert mods == [(0, TEXT, text_end, prog["path"])]
    assert n == len(bbs) == len(blocks)
    assert sorted((TEXT + off, size) for off, size, mid in bbs) == sorted(blocks.tolist())
    assert all(mid == 0 for _, _, mid in bbs)


def test_coverage_default_modules_and_range(prog, tmp_path):
    lo = prog["syms"]["sum"]
    hi = lo + prog["sizes"]["sum"]
    m = machine(prog)
    cov = m.coverage(lo, hi)
    m.run()
    assert all(lo <= s < hi for s in cov.blocks["start"].tolist()) and len(cov) >= 2
    mods, bbs = parse_drcov(_save(cov, tmp_path / "d.cov"))
    assert len(mods) >= 1 and len(bbs) == len(cov)
    cov.close()
    cov.clear()
    assert len(cov) == 0


def _save(cov, path):
    cov.save_drcov(path)
    return path


def test_trace_and_coverage_with_python_hooks(prog):
    """Hooks, traces and coverage together: each sees every instruction once."""
    want, _ = hook_pcs(prog, "interp")
    m = machine(prog)
    pcs = []
    m.on_code(lambda cpu, addr, size: pcs.append(addr))
    tr = m.trace("pc")
    cov = m.coverage()
    m.run()
    assert pcs == want and tr.pc.tolist() == want
    assert prog["syms"]["sum"] in set(cov.blocks["start"].tolist())


# ---- leaving a block early -----------------------------------------------------------------
def _raw_machine(code, engine="interp"):
    m = vmpy.Machine("riscv64", engine=engine)
    m.map(TEXT, 0x10000, "rwx")
    m.write(TEXT, code)
    m.cpus[0].pc = TEXT
    return m


@pytest.mark.parametrize("kinds", [("pc", "insn"), ("pc", "regs")], ids=["block", "per-insn"])
@pytest.mark.parametrize("engine", ENGINES)
def test_fault_mid_block(engine, kinds):
    from rvasm import asm
    code = asm("addi a0, zero, 1\naddi a1, zero, 2\nlui a2, 0x40000\nld a3, 0(a2)\naddi a4, zero, 3\nebreak\n",
               march="rv64g")
    m = _raw_machine(code, engine)
    tr = m.trace(*kinds)
    assert m.run() == "fault"
    # the faulting load started (as a Python code hook would have seen it); nothing after it
    assert tr.pc.tolist() == [TEXT, TEXT + 4, TEXT + 8, TEXT + 12]
    assert m.cpus[0].pc == TEXT + 12 and m.cpus[0].icount == 3


def test_python_hook_stops_mid_block(prog):
    full, _ = hook_pcs(prog, "interp")
    assert prog["insns"][prog["syms"]["sum"] + 2][1] == "blez"
    target = prog["syms"]["sum"] + 8      # c.mv; blez (4 bytes); c.li a4; c.li a0 <- mid-block
    m = machine(prog)
    hits = []

    def stop_once(cpu, addr, size):
        if not hits:
            hits.append(addr)
            m.stop()
    m.on_code(stop_once, target, target + 1)
    tr = m.trace("pc")
    assert m.run() == "stop"
    assert tr.pc.tolist() == full[:full.index(target)]
    m.run()
    assert tr.pc.tolist() == full


# ---- Jupyter reprs and plots ------------------------------------------------------------------
def test_html_reprs(prog):
    import html as _html
    from vmpy.jupyter import Disassembly, Regions, Registers
    m = machine(prog)
    m.cpus[0]["a0"] = 0x1234
    page = m._repr_html_()
    assert "<table" in page and "0x0000000000001234" in page            # a0
    assert "%#x" % STACK in page and "%#x" % (STACK + STACK_SIZE) in page   # the stack region
    assert "<table" in m.cpus[0]._repr_html_()
    assert "rw" in Regions(m)._repr_html_()
    pc = prog["syms"]["fill"]
    d = Disassembly(m, pc, 4, pc=pc + 4)
    page = d._repr_html_()
    assert page.count("<tr") == 5 and 'class="cur"' in page
    assert [r[0] for r in d.rows][:1] == [pc]
    assert "a0" in Registers(m.cpus[0], names=["a0"])._repr_html_()
    tr = m.trace("pc", "insn", "mem")
    cov = m.coverage()
    m.run(count=30)
    page = tr._repr_html_()
    assert "vmpy Trace" in page and "%#x" % int(tr.pc[0]) in page
    assert "<&" not in page
    assert "vmpy Coverage" in cov._repr_html_()
    assert _html.escape("<") not in Registers(m.cpus[0])._repr_html_()


def test_profile_and_plots(prog):
    pytest.importorskip("pandas")
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from vmpy.jupyter import plot_mem_scatter, plot_pc_heatmap, profile
    m = machine(prog)
    data = prog["syms"]["data"]
    tr = m.trace("pc", "mem", mem_begin=data, mem_end=data + 512)
    m.run()
    syms = {f: (prog["syms"][f], prog["sizes"][f]) for f in ("fill", "sum", "_start")}
    prof = profile(tr, syms)
    # by the trace itself: instructions whose pc lies in each function
    pcs = tr.pc
    for f, (a, n) in syms.items():
        assert prof[f] == int(((pcs >= a) & (pcs < a + n)).sum())
    assert prof.sum() == len(pcs)
    ax = plot_pc_heatmap(tr, symbols=syms)
    assert ax.images and ax.get_xlabel() == "instruction #"
    ax = plot_mem_scatter(tr)
    offsets = np.concatenate([c.get_offsets() for c in ax.collections])
    assert len(offsets) == len(tr.mem)
    assert offsets[:, 1].min() == data and offsets[:, 1].max() == data + 504


# ---- long traces: the prefault helper (platform/prefault.c) --------------------------
# A count-down loop whose pcs are known in closed form: `addi a0,a0,-1` at
# LOOP, `bnez a0` at LOOP+4, then `ebreak`.  Long enough to cross many
# prefault windows (2^20 entries each), with the helper on and off.
LOOP = 0x10000
LOOP_CODE = struct.pack("<3I", 0xFFF50513, 0xFE051EE3, 0x00100073)


def loop_machine(n, engine):
    m = vmpy.Machine("riscv64", engine=engine)
    m.map(LOOP, 0x1000, "rx")
    m.write(LOOP, LOOP_CODE)
    m.cpus[0].pc = LOOP
    m.cpus[0]["a0"] = n
    return m


@pytest.mark.parametrize("prefault", ["1", "0"])
@pytest.mark.parametrize("engine", ENGINES)
def test_long_trace_exact_across_prefault_windows(engine, prefault, monkeypatch):
    monkeypatch.setenv("VMPY_TRACE_PREFAULT", prefault)
    n = 1_600_000                                    # 3.2M instructions + ebreak
    m = loop_machine(n, engine)
    tr = m.trace("pc", "insn", limit=4_000_000)     # 48 MB of streams
    assert m.run() == "trap"
    want = np.empty(2 * n + 1, dtype=np.uint64)
    want[0::2] = LOOP
    want[1::2] = LOOP + 4
    want[-1] = LOOP + 8
    assert len(tr) == 2 * n + 1
    assert np.array_equal(tr.pc, want)
    assert np.array_equal(tr.insn[:2], [0xFFF50513, 0xFE051EE3]) and tr.insn[-1] == 0x00100073


@pytest.mark.parametrize("prefault", ["1", "0"])
def test_long_ring_trace_wraps_exactly(prefault, monkeypatch):
    monkeypatch.setenv("VMPY_TRACE_PREFAULT", prefault)
    n = 1_500_000
    m = loop_machine(n, "interp")
    tr = m.trace("pc", limit=1_000_001, overflow="drop")   # keeps entries 2,000,000 and on
    assert m.run() == "trap"
    assert tr.total == 2 * n + 1 and len(tr) == 1_000_001
    pc = tr.pc
    assert pc[-1] == LOOP + 8
    assert np.all(pc[0:-1:2] == LOOP) and np.all(pc[1:-1:2] == LOOP + 4)
