"""Trace throughput: a PC trace recorded in C into numpy (m.trace("pc"))
against a Python per-instruction hook collecting the same addresses
(m.on_code(lambda cpu, addr, size: pcs.append(addr))), on the first N
instructions of the `int` workload.  Both lists of addresses are compared:
they must be identical in content and order, or the benchmark fails.

Reported: instructions/s plain (no recording), into numpy (pc; pc+insn;
pc+insn+mem+regs), with the Python hook, and ratio = hook time / trace time.

Standalone:   python bench/bench_trace.py [--count N] [--engine interp] [--json]
In the suite: registered as "trace" when bench/suites.py imports this module.
"""
import argparse
import json
import mmap
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))


def _vmpy_engines():
    import vmpy                     # lazily: bench/run.py loads without vmpy
    return vmpy.engines()


def _machine(prog, engine):
    import vmpy
    m = vmpy.Machine("riscv64", engine=engine)
    m.linux_exec(prog, argv=[prog, "1000"], env=["LANG=C"])
    return m


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def measure(prog, count, engine="interp", repeat=3, hook_count=None):
    """Best-of-repeat timings; hook_count (default count) may be smaller so
    the slow Python side stays bearable; the equality check then uses the
    common prefix, which is every address the hook collected."""
    import numpy as np
    hook_count = hook_count or count
    res = {"instructions": count, "hook_instructions": hook_count, "engine": engine}

    def plain():
        m = _machine(prog, engine)
        return _timed(lambda: m.run(count=count))[0]

    # Both timings include setting the recorder up (m.trace / m.on_code).
    def traced(*what):
        m = _machine(prog, engine)

        def go():
            tr = m.trace(*what, limit=count)
            m.run(count=count)
            if "pc" in what:
                np.asarray(tr.pc)
            return tr
        return _timed(go)

    def hooked():
        m = _machine(prog, engine)
        pcs = []

        def go():
            m.on_code(lambda cpu, addr, size: pcs.append(addr))
            m.run(count=hook_count)
        return _timed(go)[0], pcs

    # Later traces of a process reuse released streams (csrc/core/trace_mem.c);
    # the first one, on fresh memory, is measured in new processes
    # (measure_fresh).  The machine is shared and noisy: the best of `repeat`
    # runs, interleaving the variants, after one trace to warm up.
    traced("pc")
    best = {}
    tr = None
    for _ in range(repeat):
        best["plain_s"] = min(best.get("plain_s", 1e9), plain())
        s, t = traced("pc")
        if s < best.get("trace_pc_s", 1e9):
            best["trace_pc_s"], tr = s, t
        best["trace_pc_insn_s"] = min(best.get("trace_pc_insn_s", 1e9), traced("pc", "insn")[0])
        best["trace_all_s"] = min(best.get("trace_all_s", 1e9), traced("pc", "insn", "mem", "regs")[0])
    res.update(best)
    hs, pcs = min((hooked() for _ in range(max(1, repeat - 1))), key=lambda x: x[0])
    res["hook_s"] = hs
    pc = tr.pc
    res["recorded"] = int(len(pc))
    res["identical"] = bool(len(pcs) == hook_count and np.array_equal(pc[:hook_count],
                                                                      np.array(pcs, dtype=np.uint64)))
    for k in ("plain", "trace_pc", "trace_pc_insn", "trace_all"):
        res[k + "_ips"] = count / res[k + "_s"]
    res["hook_ips"] = hook_count / hs
    res["ratio_trace_vs_hook"] = res["trace_pc_ips"] / res["hook_ips"]
    return res


# One measurement in a new Python process: the way a user meets it (a notebook
# or a script that traces once).  The child prints the seconds of the
# recorder's set-up and run only; the count is checked after the clock stops.
_CHILD = r"""
import sys, time
prog, count, engine, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
if mode == "fill":                  # the floor: numpy filling a fresh array of the trace's size
    import numpy as np
    t = time.perf_counter()
    np.empty(count, dtype=np.uint64).fill(1)
    print(time.perf_counter() - t)
    sys.exit(0)
import vmpy
m = vmpy.Machine("riscv64", engine=engine)
m.linux_exec(prog, argv=[prog, "1000"], env=["LANG=C"])
pcs = []
t = time.perf_counter()
if mode == "trace":
    tr = m.trace("pc", limit=count)
else:
    m.on_code(lambda cpu, addr, size: pcs.append(addr))
m.run(count=count)
s = time.perf_counter() - t
got = len(tr) if mode == "trace" else len(pcs)
if got != count:
    sys.exit("recorded %d of %d" % (got, count))
print(s)
"""


def _child_seconds(prog, count, engine, mode):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(HERE)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    p = subprocess.run([sys.executable, "-c", _CHILD, prog, str(count), engine, mode],
                       capture_output=True, text=True, timeout=600, env=env)
    if p.returncode:
        raise RuntimeError("fresh-process %s child failed: %s" % (mode, p.stderr.strip()[-500:]))
    return float(p.stdout)


def measure_fresh(prog, count, hook_count, engine="interp", processes=7):
    """The first trace and the first hook of a process, each in `processes`
    new processes (alternating), as medians: ratio = hook time per
    instruction / trace time per instruction."""
    ts, hs, fs = [], [], []
    for _ in range(processes):
        ts.append(_child_seconds(prog, count, engine, "trace"))
        hs.append(_child_seconds(prog, hook_count, engine, "hook"))
        fs.append(_child_seconds(prog, count, engine, "fill"))
    t_ips = [count / s for s in ts]
    h_ips = [hook_count / s for s in hs]
    return {"processes": processes, "trace_s_median": statistics.median(ts),
            "fill_s_median": statistics.median(fs), "fill_s_min": min(fs), "fill_s_max": max(fs),
            "trace_ips_median": statistics.median(t_ips), "trace_ips_min": min(t_ips), "trace_ips_max": max(t_ips),
            "hook_ips_median": statistics.median(h_ips), "hook_ips_min": min(h_ips), "hook_ips_max": max(h_ips),
            "ratio_median": statistics.median(t_ips) / statistics.median(h_ips),
            "ratios_sorted": sorted(t / statistics.median(h_ips) for t in t_ips)}


def first_touch_rates(mib=64, probes=3):
    """GB/s at which this machine hands out fresh anonymous memory (page
    fault + the kernel zeroing the page), with 4 KiB pages and with 2 MiB
    pages where the kernel gives them: what a first trace pays per byte.
    Several probes, since a virtual machine's host may back some memory
    lazily (then the first touch is far slower)."""
    out = {"4k_gbs": [], "2m_gbs": []}
    for _ in range(probes):
        for name, advice in (("4k", None), ("2m", getattr(mmap, "MADV_HUGEPAGE", None))):
            if name == "2m" and advice is None:
                continue
            size = mib << 20
            mm = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            if advice is not None:
                mm.madvise(advice)
            t = time.perf_counter()
            for off in range(0, size, 4096):   # every page: a 2 MiB fault covers 512 of them
                mm[off] = 1
            out[name + "_gbs"].append(size / (time.perf_counter() - t) / 1e9)
            mm.close()
    return out


def report_fresh(res):
    f = res.get("fresh")
    if not f:
        return
    print("  first recorder of a new process, %d processes each (median, range):" % f["processes"])
    print("    %-32s %10.1f Minsn/s (%.1f-%.1f)" % ('trace("pc")', f["trace_ips_median"] / 1e6,
                                                 f["trace_ips_min"] / 1e6, f["trace_ips_max"] / 1e6))
    print("    %-32s %10.1f Minsn/s (%.1f-%.1f)" % ("Python on_code hook", f["hook_ips_median"] / 1e6,
                                                 f["hook_ips_min"] / 1e6, f["hook_ips_max"] / 1e6))
    print("    trace/hook speed ratio: %.0fx (each trace against the median hook: %s)"
          % (f["ratio_median"], " ".join("%.0f" % r for r in f["ratios_sorted"])))
    print("    the trace took %.1f ms (median); numpy filling a fresh uint64 array of the same %d entries"
          " in a new process: %.1f ms (%.1f-%.1f)" % (f["trace_s_median"] * 1e3, res["instructions"],
                                                   f["fill_s_median"] * 1e3, f["fill_s_min"] * 1e3,
                                                   f["fill_s_max"] * 1e3))
    ft = res.get("first_touch")
    if ft:
        print("    fresh memory from the kernel here (GB/s, per probe): %s" % "; ".join(
            "%s pages %s" % (k[:2], " ".join("%.1f" % v for v in vs)) for k, vs in sorted(ft.items()) if vs))


def report(res):
    print("engine %s, %d instructions (hook: %d)" % (res["engine"], res["instructions"], res["hook_instructions"]))
    for k, label in (("plain", "no recording"), ("trace_pc", 'trace("pc") into numpy'),
                     ("trace_pc_insn", 'trace("pc", "insn")'), ("trace_all", 'trace(pc, insn, mem, regs)'),
                     ("hook", "Python on_code hook, list.append")):
        print("  %-34s %10.1f Minsn/s" % (label, res[k + "_ips"] / 1e6))
    print("  trace/hook speed ratio: %.0fx; identical content and order: %s"
          % (res["ratio_trace_vs_hook"], res["identical"]))
    report_fresh(res)


def run_bench(quick=False, repeat=5, engines=("interp",)):
    import build
    prog = build.build("int", "riscv64")
    count = 300_000 if quick else 5_000_000
    hook_count = count if quick else 1_000_000
    out = {"engines": {}}
    for e in engines:
        r = measure(prog, count, e, 1 if quick else max(repeat, 5), hook_count)
        r["fresh"] = measure_fresh(prog, count, hook_count, e, 2 if quick else 7)
        r["first_touch"] = first_touch_rates()
        report(r)
        out["engines"][e] = r
    bad = [e for e, r in out["engines"].items() if not r["identical"]]
    out["status"] = "error" if bad else "ok"
    if bad:
        out["error"] = "trace and hook disagree under %s" % ", ".join(bad)
    return out


try:                                # inside bench/run.py
    from registry import benchmark

    @benchmark("trace", "PC trace into numpy vs a Python per-instruction hook (issue 7)")
    def _trace_bench(ctx):
        return run_bench(ctx.quick, ctx.repeat, _vmpy_engines())
except ImportError:
    pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=5_000_000)
    ap.add_argument("--hook-count", type=int, default=1_000_000)
    ap.add_argument("--engine", default=None, help="default: every engine available")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--fresh", type=int, default=7,
                    help="new processes for the first-trace/first-hook medians (0: skip)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    import build
    prog = build.build("int", "riscv64")
    out = {}
    for e in ([a.engine] if a.engine else _vmpy_engines()):
        out[e] = measure(prog, a.count, e, a.repeat, min(a.hook_count, a.count))
        if a.fresh:
            out[e]["fresh"] = measure_fresh(prog, a.count, min(a.hook_count, a.count), e, a.fresh)
            out[e]["first_touch"] = first_touch_rates()
        if not a.json:
            report(out[e])
    if a.json:
        print(json.dumps(out, indent=2))
    return 0 if all(r["identical"] for r in out.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
