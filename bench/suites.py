"""The registered benchmarks.  Importing this module fills the registry.

Ratios are *time* ratios: `t/qemu` = this engine's seconds divided by
qemu-user's seconds on the same workload, so 2.0 means "twice as slow as
qemu" and 0.5 "twice as fast".
"""
import json
import math
import os
import re
import subprocess
import sys
import time

import build
import engines as eng
from registry import benchmark, skipped

HERE = os.path.dirname(os.path.abspath(__file__))

# argv of each workload (sized so native takes ~0.05-0.2 s); quick: 1 rep.
# Ours take the repetitions; CoreMark takes seeds 0 0 0x66 and iterations.
WORKLOAD_REPS = {"int": 8, "mem": 4, "branchy": 3, "fp": 6, "coremark": 1500}


def _workload_args(name, quick, scale=1):
    """scale (bench/run.py --scale) multiplies the work: at the default
    sizes a vmpy CLI run carries ~0.1 s of Python start-up, comparable to
    qemu's whole run, so --scale 10 shows steady-state speed as well."""
    reps = WORKLOAD_REPS.get(name, 4) * max(1, scale)
    if name == "coremark":
        return ["0", "0", "0x66", str(50 if quick else reps)]
    return [str(1 if quick else reps)]


BASELINES = ("native", "qemu", "unicorn")


def _best_interleaved(engines, progs, args, repeat):
    """Best of `repeat` runs per engine.  The engines take turns (round
    robin) so a burst of load from elsewhere on the host hits all of them
    rather than one engine's whole block of runs.  An engine that fails is
    not run again."""
    best = {}
    for _ in range(repeat):
        for e in engines:
            prev = best.get(e.name)
            if prev is not None and prev.error:
                continue
            r = e.run(progs[e.target], args)
            if prev is None or r.error or r.seconds < prev.seconds:
                best[e.name] = r
    return best


def _workload_row(name, ctx):
    args = _workload_args(name, ctx.quick, ctx.args.scale)
    progs = {t: build.build(name, t) for t in ("native", "riscv64")}
    runs = _best_interleaved(ctx.engines, progs, args, ctx.repeat)
    for n, r in runs.items():
        # compare only the workload's own checksum line: an engine may add
        # its own text (e.g. statistics) to stdout
        r.stdout = _checksum_lines(r.stdout, name)
        print("    %-17s %s" % (n, "error" if r.error else
                                "%.3f s" % r.seconds), flush=True)
    # the reference output: native if it ran, else the first that succeeded
    ref = next((r.stdout for n, r in runs.items() if n == "native" and not r.error),
               next((r.stdout for r in runs.values() if not r.error), None))
    insns = _insn_count(runs)
    row = {"args": args, "insns": insns,
           "reference_output": ref.decode(errors="replace").strip() if ref else None,
           "engines": {}}
    for n, r in runs.items():
        ent = {"seconds": r.seconds, "run_seconds": r.inner_seconds,
               "insns": r.insns, "error": r.error,
               "output_ok": bool(ref) and not r.error and r.stdout == ref}
        if not r.error and r.stdout != ref:
            ent["output"] = r.stdout.decode(errors="replace").strip()
        if insns and not r.error:
            ent["mips"] = insns / r.seconds / 1e6
        for b in BASELINES:
            base = runs.get(b)
            if base and not base.error and not r.error:
                ent["t/" + b] = r.seconds / base.seconds
        row["engines"][n] = ent
    return row


def _checksum_lines(out, name):
    """The lines that must agree across engines: our workloads print one
    line starting with their name; CoreMark prints CRCs (its timing lines
    differ from run to run)."""
    if name == "coremark":
        keep = lambda l: b"crc" in l or l.startswith(b"Iterations ")
    else:
        keep = lambda l: l.startswith(name.encode() + b" ")
    return b"\n".join(l for l in out.splitlines() if keep(l))


def _insn_count(runs):
    """Guest instructions: vmpy's count (the interpreter's first)."""
    order = sorted(runs.items(), key=lambda kv: (kv[0] != "vmpy-cli-interp",
                                                 kv[0] != "vmpy-api-interp"))
    for _, r in order:
        if r.insns and not r.error:
            return r.insns
    return None


def _geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else None


def _fmt(x, spec):
    return format(x, spec) if isinstance(x, (int, float)) else "-"


def _print_table(rows, engine_names):
    hdr = "%-8s %-17s %8s %8s %8s %5s %9s %9s %9s" % (
        "workload", "engine", "wall s", "run() s", "MIPS", "out",
        "t/native", "t/qemu", "t/unicorn")
    print(hdr)
    print("-" * len(hdr))
    for w, row in rows.items():
        for n in engine_names:
            e = row["engines"].get(n)
            if e is None:
                continue
            if e["error"]:
                print("%-8s %-17s  ERROR %s" % (w, n, e["error"][:80]))
                continue
            print("%-8s %-17s %8.3f %8s %8s %5s %9s %9s %9s" % (
                w, n, e["seconds"], _fmt(e["run_seconds"], "8.3f"),
                _fmt(e.get("mips"), "8.1f"), "ok" if e["output_ok"] else "BAD",
                _fmt(e.get("t/native"), "9.2f"), _fmt(e.get("t/qemu"), "9.2f"),
                _fmt(e.get("t/unicorn"), "9.2f")))
        print("%-8s %-17s %s" % (w, "instructions", row["insns"] or "unknown"))
    print("t/X = engine wall seconds / X wall seconds (>1: slower than X); "
          "MIPS = guest instructions (vmpy's count) / wall seconds")


@benchmark("workloads", "int/mem/branchy/fp programs on every engine")
def bench_workloads(ctx):
    names = build.workload_names()
    if ctx.args.workloads:
        want = ctx.args.workloads.split(",")
        names = [n for n in names if n in want]
    ctx.engines                      # detect engines (fills engine_notes)
    for n, why in ctx.engine_notes.items():
        print("  note: %s unavailable: %s" % (n, why))
    rows = {}
    for w in names:
        print("  running %s ..." % w, flush=True)
        rows[w] = _workload_row(w, ctx)
    enames = [e.name for e in ctx.engines]
    _print_table(rows, enames)
    summary = {}
    for n in enames:
        summary[n] = {"geomean t/" + b: _geomean(
            [rows[w]["engines"][n].get("t/" + b) for w in rows])
            for b in BASELINES}
    print("geometric means of time ratios over workloads:")
    for n, s in summary.items():
        print("  %-17s %s" % (n, "  ".join(
            "%s=%s" % (k[8:], _fmt(v, ".2f")) for k, v in s.items())))
    startup = _python_startup(ctx.repeat)
    print("every vmpy wall time above includes this Python's start-up: %s s for `python -c pass`"
          " (site-packages .pth hooks included), %s s for `python -c 'import vmpy'` (best of %d)"
          % (_fmt(startup["python"], ".3f"), _fmt(startup["import_vmpy"], ".3f"), ctx.repeat))
    bad = [(w, n) for w in rows for n, e in rows[w]["engines"].items()
           if not e["error"] and not e["output_ok"]]
    errors = [(w, n) for w in rows for n, e in rows[w]["engines"].items()
              if e["error"]]
    status = "error" if bad else "partial" if errors else "ok"
    return {"status": status, "workloads": rows, "summary": summary, "python_startup": startup,
            "mismatched_outputs": bad, "engine_errors": errors,
            **({"error": "outputs differ: %s" % bad} if bad else {})}


def _python_startup(repeat):
    """Best wall seconds of a bare Python start and of one that imports
    vmpy: the share of a vmpy-cli/vmpy-api wall time that is the host's
    Python (its site-packages hooks included) rather than vmpy."""
    out = {}
    for key, code in (("python", "pass"), ("import_vmpy", "import vmpy")):
        best = None
        for _ in range(max(3, repeat)):
            t0 = time.perf_counter()
            p = subprocess.run([sys.executable, "-c", code], capture_output=True, env=eng.vmpy_env())
            dt = time.perf_counter() - t0
            if p.returncode == 0 and (best is None or dt < best):
                best = dt
        out[key] = best
    return out


# ---- hook rate ---------------------------------------------------------------
def _hook_child(who, prog, count):
    cmd = [sys.executable, os.path.join(HERE, "hooks.py"), who, prog, str(count)]
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=eng.TIMEOUT,
                           env=eng.vmpy_env())
    except subprocess.TimeoutExpired:
        return {"error": "timeout"}
    lines = p.stdout.decode(errors="replace").strip().splitlines()
    if p.returncode != 0 or not lines:
        tail = p.stderr.decode(errors="replace").strip().splitlines()[-2:]
        return {"error": "exit %d: %s" % (p.returncode, " | ".join(tail))}
    try:
        return json.loads(lines[-1])
    except ValueError:
        return {"error": "no result line"}


@benchmark("hooks", "Python per-instruction hook rate: vmpy on_code vs UC_HOOK_CODE")
def bench_hooks(ctx):
    count = ctx.args.hook_count or (200_000 if ctx.quick else 2_000_000)
    prog = build.build("int", "riscv64")
    who = []
    if not eng.Unicorn().available():
        who.append("unicorn")
    who += ["vmpy:" + e for e in ctx.vmpy_found()]
    res = {"instructions": count, "engines": {}}
    for w in who:
        best = None
        for _ in range(ctx.repeat):
            r = _hook_child(w, prog, count)
            if "error" in r:
                best = r
                break
            r["hooks_per_sec"] = r["calls"] / r["seconds"] if r["seconds"] else None
            extra = r["seconds"] - r.get("base_seconds", 0)
            r["ns_per_hook"] = extra / r["calls"] * 1e9 if r["calls"] else None
            if best is None or r["seconds"] < best["seconds"]:
                best = r
        res["engines"][w] = best
    uc = res["engines"].get("unicorn", {})
    print("%-14s %10s %12s %12s %10s" % ("engine", "calls", "hooks/s",
                                         "ns/hook", "vs unicorn"))
    for w, r in res["engines"].items():
        if "error" in r:
            print("%-14s ERROR %s" % (w, r["error"][:90]))
            continue
        ratio = (r["hooks_per_sec"] / uc["hooks_per_sec"]
                 if uc.get("hooks_per_sec") and r.get("hooks_per_sec") else None)
        r["rate/unicorn"] = ratio
        print("%-14s %10d %12.0f %12.0f %10s" % (
            w, r["calls"], r["hooks_per_sec"] or 0, r["ns_per_hook"] or 0,
            _fmt(ratio, ".2f")))
        if r["calls"] != count:
            print("  note: %s made %d calls for %d instructions" % (w, r["calls"], count))
    print("rate/unicorn = hooks per second / Unicorn's (>1: vmpy's hooks are faster)")
    if not res["engines"]:
        return skipped("neither unicorn nor vmpy available")
    res["status"] = "error" if any("error" in r for r in res["engines"].values()) else "ok"
    return res


import bench_trace  # noqa: E402,F401  (registers "trace")

_JIT_STATS_RE = re.compile(rb"jit: (\d+) blocks compiled \((\d+) refused\), (\d+) bytes, "
                           rb"([0-9.]+) us/block, (\d+) flushes")


@benchmark("jit-latency", "JIT compile latency per block, code size (engine jit)")
def bench_jit_latency(ctx):
    """Runs each workload once under `vmpy run --engine jit` with
    VMPY_JIT_STATS=1; the engine reports blocks, bytes and compile time."""
    if "jit" not in (ctx.vmpy_engines if hasattr(ctx, "vmpy_engines") else eng.vmpy_engines()[0]):
        return skipped("vmpy has no jit engine (built without asmjit)")
    res = {"workloads": {}}
    names = ctx.args.workloads.split(",") if ctx.args.workloads else build.workload_names()
    for name in names:
        prog = build.build(name, "riscv64")
        env = dict(eng.vmpy_env(), VMPY_JIT_STATS="1")
        p = subprocess.run([sys.executable, "-m", "vmpy", "run", "--engine", "jit", prog]
                           + _workload_args(name, True), capture_output=True, env=env,
                           timeout=eng.TIMEOUT)
        m = _JIT_STATS_RE.search(p.stderr)
        if not m:
            res["workloads"][name] = {"error": p.stderr.decode(errors="replace")[-300:]}
            continue
        row = {"blocks": int(m.group(1)), "refused": int(m.group(2)),
               "code_bytes": int(m.group(3)), "us_per_block": float(m.group(4)),
               "flushes": int(m.group(5))}
        res["workloads"][name] = row
        print("    %-10s %6d blocks %8.1f us/block %7.0f bytes/block" %
              (name, row["blocks"], row["us_per_block"],
               row["code_bytes"] / max(row["blocks"], 1)), flush=True)
    res["status"] = "ok"
    return res
