"""The benchmark harness still runs, and its programs agree on every engine.

bench/run.py --quick builds the workloads (native and riscv64), runs each
under native, qemu-riscv64, Unicorn and every vmpy engine, and checks each
engine's checksum line against native's: a differential test of the engines
on real programs as much as a guard against the harness rotting.  Timings
are printed by the harness and never asserted here.
"""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys

from testenv import CROSS_CC, QEMU, ROOT, missing, tool_env

# CoreMark is left out: its sources are fetched, and this test needs no network.
WORKLOADS = "int,mem,branchy,fp"


def test_quick_workloads_match_native_on_every_engine(tmp_path):
    for tool in (CROSS_CC, QEMU, "gcc"):
        if shutil.which(tool) is None:
            missing(tool)
    if importlib.util.find_spec("unicorn") is None:
        missing("unicorn (PyPI)")
    out = tmp_path / "results.json"
    p = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "run.py"), "--quick",
                        "--only", "workloads", "--workloads", WORKLOADS, "--json", str(out)],
                       capture_output=True, text=True, timeout=600, env=tool_env())
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    res = json.loads(out.read_text())["benchmarks"]["workloads"]
    assert res["status"] == "ok", (res.get("mismatched_outputs"), res.get("engine_errors"))
    assert sorted(res["workloads"]) == sorted(WORKLOADS.split(","))
    for name, w in res["workloads"].items():
        engines = w["engines"]
        # Every vmpy engine in both forms, and the three references.
        for e in ("native", "qemu", "unicorn", "vmpy-cli-interp", "vmpy-api-interp",
                  "vmpy-cli-jit", "vmpy-api-jit", "vmpy-cli-auto", "vmpy-api-auto"):
            assert e in engines, (name, e, sorted(engines))
            assert engines[e]["error"] is None, (name, e, engines[e]["error"])
            assert engines[e]["output_ok"], (name, e)
        # MIPS is computed from vmpy's own instruction count, which is exact:
        # the three engines retire the same number for the same process (the
        # CLI and the API differ, as they pass the guest different
        # environments).  These workloads never read the clock.
        for form in ("cli", "api"):
            counts = {e: engines[e]["insns"] for e in engines if e.startswith("vmpy-%s-" % form)}
            assert len(set(counts.values())) == 1 and min(counts.values()) > 1_000_000, (name, counts)


def test_regfile_microbenchmark_builds_clean_and_runs(tmp_path):
    exe = tmp_path / "regfile"
    subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(exe),
                    os.path.join(ROOT, "bench", "micro", "regfile.c")], check=True)
    p = subprocess.run([str(exe), "100000"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    rows = re.findall(r"^(fixed|decoded|word), (no store|store) +([0-9.]+) ns/iteration$",
                      p.stdout, re.M)
    assert len(rows) == 6 and all(float(t) > 0 for _, _, t in rows), p.stdout
    for form in ("decoded", "word"):
        assert re.search(r"^%s/fixed: [0-9.]+ with the store, [0-9.]+ without$" % form, p.stdout, re.M)
    bad = subprocess.run([str(exe), "0"], capture_output=True, text=True, timeout=10)
    assert bad.returncode == 2 and "usage" in bad.stderr
