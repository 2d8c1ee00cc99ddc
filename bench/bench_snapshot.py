"""Snapshot benchmarks: full snapshot, full restore (into a machine whose
mark is unrelated), incremental restore (few and many dirty pages) and
incremental snapshot for 64 MiB, 256 MiB and 1 GiB machines, plus the
per-test reset overhead of the pytest plugin on the example firmware.

Standalone:   python bench/bench_snapshot.py [--sizes 64,256] [--json]
In the suite: registered as "snapshot" when bench/run.py imports this module.
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

RAM = 0x80000000
PAGE = 4096
DIRTY_COUNTS = (10, 1000, 10000)


def _best(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _touch(m, size, n):
    """Writes one byte in n distinct pages spread over the RAM."""
    npages = size // PAGE
    step = max(1, npages // n)
    for i in range(n):
        m.write(RAM + (i * step % npages) * PAGE + 8, b"\x5a")


def bench_size(mib, repeat=5):
    import vmpy
    import vmpy.snapshot  # noqa: F401
    size = mib << 20
    m = vmpy.Machine("riscv64")
    m.map(RAM, size, "rw")
    for off in range(0, size, 1 << 20):          # 1 non-zero page per MiB
        m.write(RAM + off, b"\x11" * PAGE)
    out = {"ram_mib": mib}
    out["snapshot_full_ms"] = _best(m.snapshot, 3) * 1e3
    base = m.snapshot()
    other = m.snapshot()
    def full_restore():
        # Two full snapshots share no base: each restore copies all of RAM.
        m.restore(other)
        m.restore(base)
    out["restore_full_ms"] = _best(full_restore, 3) * 1e3 / 2
    for n in DIRTY_COUNTS:
        def cycle():
            _touch(m, size, n)
            t = time.perf_counter()
            m.restore(base)
            return time.perf_counter() - t
        cycle()
        out[f"restore_{n}_dirty_ms"] = min(cycle() for _ in range(repeat)) * 1e3
        _touch(m, size, n)
        t = time.perf_counter()
        d = m.snapshot(base=base)
        out[f"snapshot_incr_{n}_dirty_ms"] = (time.perf_counter() - t) * 1e3
        out[f"snapshot_incr_{n}_pages"] = d.stored_pages
        m.restore(base)
    return out


def bench_plugin_reset(repeat=20):
    """What the plugin does between tests: restore the baseline (machine,
    RAM, Python peripherals) after a test that ran the firmware a little."""
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "examples", "firmware"))
    import board
    from vmpy.pytest_plugin import _Session
    m = board.make_board()
    m.run(until=m.symbols["main_loop"], timeout=10)
    sess = _Session(m, m.snapshot())
    times = []
    for _ in range(repeat):
        m.run(count=20000)
        t = time.perf_counter()
        sess.reset(None)
        times.append(time.perf_counter() - t)
    times.sort()
    return {"reset_median_us": times[len(times) // 2] * 1e6, "reset_best_us": times[0] * 1e6}


def run_all(sizes=(64, 256, 1024)):
    return {"sizes": [bench_size(s) for s in sizes], "plugin": bench_plugin_reset()}


def report(res):
    for r in res["sizes"]:
        print(f"--- {r['ram_mib']} MiB")
        for k, v in r.items():
            if k != "ram_mib":
                print(f"  {k:28s} {v:10.3f}" if isinstance(v, float) else f"  {k:28s} {v:10d}")
    p = res["plugin"]
    print(f"--- plugin reset: median {p['reset_median_us']:.1f} us, best {p['reset_best_us']:.1f} us")


try:                                # inside bench/run.py
    from registry import benchmark

    @benchmark("snapshot", "snapshot/restore/incremental restore at 64 MiB-1 GiB; plugin reset")
    def _snapshot_bench(ctx):
        res = run_all((64,) if ctx.quick else (64, 256, 1024))
        report(res)
        res["status"] = "ok"
        return res
except ImportError:
    pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="64,256,1024", help="RAM sizes in MiB, comma separated")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    res = run_all(tuple(int(s) for s in args.sizes.split(",")))
    if args.json:
        print(json.dumps(res, indent=2))
        return
    report(res)


if __name__ == "__main__":
    main()
