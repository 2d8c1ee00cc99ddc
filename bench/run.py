#!/usr/bin/env python3
"""vmpy benchmark harness: vmpy against native, qemu-user and Unicorn, side
by side in one run.

    python bench/run.py                    # everything, best of 3
    python bench/run.py --quick            # small sizes, one run each
    python bench/run.py --only workloads --workloads int,fp --engines qemu,vmpy
    python bench/run.py --list

Benchmarks live in a registry (bench/registry.py); each is a function taking
a Context and returning a JSON-able dict.  The table goes to stdout and all
numbers to bench/results.json (or --json PATH).  Speed is only measured here,
never asserted in the unit tests.
"""
import argparse
import datetime
import json
import os
import platform
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import registry               # noqa: E402
import suites                 # noqa: E402,F401  (registers the benchmarks)
import bench_snapshot         # noqa: E402,F401  (registers "snapshot")
import bench_boot             # noqa: E402,F401  (registers "boot")
import bench_codecache        # noqa: E402,F401  (registers "codecache")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", action="append", metavar="NAME",
                   help="run only this benchmark (repeatable); see --list")
    p.add_argument("--quick", action="store_true",
                   help="small sizes and a single run: a smoke test")
    p.add_argument("--repeat", type=int, default=None,
                   help="runs per measurement, best kept (default 3, quick 1)")
    p.add_argument("--workloads", help="comma list of workloads (default all)")
    p.add_argument("--scale", type=int, default=1,
                   help="multiply each workload's work (e.g. 10: steady state, start-up amortised)")
    p.add_argument("--engines", help="comma list of engine name prefixes, "
                   "e.g. native,qemu,unicorn,vmpy-cli,vmpy-api-interp")
    p.add_argument("--no-vmpy", action="store_true", help="skip vmpy engines")
    p.add_argument("--hook-count", type=int, default=None,
                   help="instructions for the hook benchmark (default 2M)")
    p.add_argument("--json", default=os.path.join(HERE, "results.json"),
                   help="where to write the results")
    p.add_argument("--list", action="store_true", help="list benchmarks")
    a = p.parse_args(argv)
    if a.repeat is None:
        a.repeat = 1 if a.quick else 3
    if a.repeat < 1:
        p.error("--repeat must be at least 1")
    return a


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.list:
        for b in registry.all_benchmarks():
            print("%-14s %s" % (b.name, b.doc))
        return 0
    try:
        chosen = registry.select(args.only)
    except KeyError as e:
        print("unknown benchmark %s; try --list" % e, file=sys.stderr)
        return 2
    ctx = registry.Context(args)
    load0 = os.getloadavg()[0]
    if load0 > (os.cpu_count() or 1) * 0.5:
        print("warning: load average %.1f on %d cpus; timings will be noisy"
              % (load0, os.cpu_count() or 1))
    results = {}
    for b in chosen:
        print("== %s: %s" % (b.name, b.doc), flush=True)
        try:
            res = b.fn(ctx)
        except Exception as e:       # one broken benchmark must not hide the rest
            res = {"status": "error", "error": "%s: %s" % (type(e).__name__, e)}
        results[b.name] = res
        if res.get("status") in ("skipped", "error"):
            print("   %s: %s" % (res["status"], res.get("reason") or res.get("error")))
        print(flush=True)
    doc = {
        "meta": {
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "host": platform.node(), "machine": platform.machine(),
            "cpu": _cpu_name(), "python": platform.python_version(),
            "quick": args.quick, "repeat": args.repeat, "cpus": os.cpu_count(),
            "loadavg_start": load0, "loadavg_end": os.getloadavg()[0],
            "engine_notes": ctx.engine_notes,
        },
        "benchmarks": results,
    }
    with open(args.json, "w") as f:
        json.dump(doc, f, indent=2)
    print("results written to %s" % args.json)
    # "partial": an engine that is installed failed (crashed, timed out) while
    # the others ran; that is a failed benchmark run too, not a footnote.
    bad = [n for n, r in results.items() if r.get("status") in ("error", "partial")]
    if bad:
        print("failed: %s" % ", ".join(bad), file=sys.stderr)
    return 1 if bad else 0


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())
