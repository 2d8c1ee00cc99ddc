"""Cold against warm start with the JIT's persistent code cache.

    python bench/bench_codecache.py [--runs K] [--engines auto,jit] [--no-boot] [--no-busybox]

Registered in bench/run.py as "codecache" (`python bench/run.py --only codecache`).

Cold: an empty cache directory (the run compiles everything and writes the
cache when it ends).  Warm: a second run with the directory the cold run
filled.  Measured for `vmpy run` of a few busybox applets (a child process
each: wall time including Python's start-up, and the run's own time from
--stats) and for the Linux boot to the init marker (bench_boot.py's driver,
time to the marker; writing the cache happens after it, reported as
close_s).  Blocks compiled against loaded come from the JIT's counters."""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, REPO)
import vmpy  # noqa: E402
from vmpy import images  # noqa: E402

import bench_boot  # noqa: E402

STATS = re.compile(r"instructions in ([0-9.]+) s")
JIT = re.compile(r"jit: (\d+) blocks compiled, (\d+) loaded")


def applets(tmp):
    """(name, argv after busybox): short runs dominated by start-up and
    compiling, and one long hot loop."""
    data = os.path.join(tmp, "data.bin")
    with open(data, "wb") as f:
        f.write(bytes(range(256)) * (64 << 10))      # 16 MiB
    return [
        ("ls", ["ls", "-la", "/usr/lib"]),
        ("sh-loop", ["sh", "-c", "i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; echo $i"]),
        ("sha256sum-16M", ["sha256sum", data]),
    ]


def run_vmpy(busybox, argv, engine, cache):
    cmd = [sys.executable, "-m", "vmpy", "run", "--stats", "--engine", engine, "--code-cache", cache,
           busybox] + argv
    env = dict(os.environ, PYTHONPATH=REPO)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(argv), p.returncode, p.stderr[-300:]))
    inner = STATS.search(p.stderr)
    jit = JIT.search(p.stderr)
    return {"wall_s": wall, "run_s": float(inner.group(1)) if inner else None,
            "compiled": int(jit.group(1)) if jit else None, "loaded": int(jit.group(2)) if jit else None,
            "stdout": p.stdout}


def cache_bytes(d):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)) if os.path.isdir(d) else 0


def best(rows, key):
    vals = [r[key] for r in rows if r[key] is not None]
    return min(vals) if vals else None


def busybox_bench(engines, runs):
    img = images.fetch_debian_riscv64()
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, argv in applets(tmp):
            for engine in engines:
                cold, warm = [], []
                for _ in range(runs):
                    d = tempfile.mkdtemp(dir=tmp)
                    cold.append(run_vmpy(str(img.busybox), argv, engine, d))
                    warm.append(run_vmpy(str(img.busybox), argv, engine, d))
                    if warm[-1]["stdout"] != cold[-1]["stdout"]:
                        raise RuntimeError("%s: output differs with a warm cache" % name)
                    size = cache_bytes(d)
                    shutil.rmtree(d)
                row = {"applet": name, "engine": engine, "cache_bytes": size}
                for k in ("wall_s", "run_s"):
                    row["cold_" + k], row["warm_" + k] = best(cold, k), best(warm, k)
                for k in ("compiled", "loaded"):
                    row["cold_" + k], row["warm_" + k] = cold[-1][k], warm[-1][k]
                print("  busybox %-14s %-4s cold %.3f s (run %.4f s, %s compiled)  warm %.3f s (run %.4f s, "
                      "%s compiled, %s loaded)  cache %d KiB"
                      % (name, engine, row["cold_wall_s"], row["cold_run_s"], row["cold_compiled"],
                         row["warm_wall_s"], row["warm_run_s"], row["warm_compiled"], row["warm_loaded"],
                         size >> 10), flush=True)
                out.append(row)
    return out


def boot_bench(engines, runs):
    img = images.fetch_debian_riscv64()
    initrd = img.marker_initrd(bench_boot.MARKER)
    out = []
    for engine in engines:
        for run in range(runs):
            d = tempfile.mkdtemp(prefix="vmpy-jit-bench-")
            try:
                row = {"engine": engine, "run": run + 1}
                for phase in ("cold", "warm"):
                    info = {}
                    t, n = bench_boot.time_vmpy(img, initrd, 1, engine, code_cache=d, info=info)
                    js = info.get("jit") or {}
                    row[phase] = {"s": t, "cpu_s": info.get("cpu_s"), "mips": n / t / 1e6,
                                  "close_s": info.get("close_s"),
                                  "compiled": js.get("compiled"), "loaded": js.get("loaded"),
                                  "compile_s": js.get("compile_ns", 0) / 1e9}
                row["cache_bytes"] = cache_bytes(d)
                c, w = row["cold"], row["warm"]
                print("  boot %-4s run %d: cold %.2f s, cpu %.2f s (%s compiled in %.2f s; cache written in %.2f s)"
                      "  warm %.2f s, cpu %.2f s (%s compiled, %s loaded in %.2f s)  gain %.2f s wall, %.2f s cpu"
                      " (%.0f%%)  cache %.1f MiB"
                      % (engine, run + 1, c["s"], c["cpu_s"], c["compiled"], c["compile_s"], c["close_s"],
                         w["s"], w["cpu_s"], w["compiled"], w["loaded"], w["compile_s"], c["s"] - w["s"],
                         c["cpu_s"] - w["cpu_s"], 100 * (c["cpu_s"] - w["cpu_s"]) / c["cpu_s"],
                         row["cache_bytes"] / 2**20), flush=True)
                out.append(row)
            finally:
                shutil.rmtree(d, ignore_errors=True)
    return out


def run_all(engines=("auto", "jit"), runs=1, boot=True, busybox=True):
    engines = [e for e in engines if e in vmpy.engines()]
    if not engines:
        return {"status": "skipped", "reason": "no JIT engine in this build"}
    res = {"status": "ok"}
    if busybox:
        res["busybox"] = busybox_bench(engines, max(runs, 3))
    if boot:
        res["boot"] = boot_bench(engines, runs)
    return res


try:                                # inside bench/run.py
    from registry import benchmark

    @benchmark("codecache", "JIT code cache: cold vs warm start, busybox `vmpy run` and the Linux boot")
    def _codecache_bench(ctx):
        return run_all(runs=1, boot=not ctx.quick)
except ImportError:
    pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--engines", default="auto,jit")
    ap.add_argument("--no-boot", action="store_true")
    ap.add_argument("--no-busybox", action="store_true")
    a = ap.parse_args()
    run_all(tuple(a.engines.split(",")), a.runs, not a.no_boot, not a.no_busybox)
    return 0


if __name__ == "__main__":
    sys.exit(main())
