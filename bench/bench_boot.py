"""Boot-to-marker time: vmpy's virt board against qemu-system-riscv64, with
the same Debian kernel, OpenSBI (fw_dynamic) and initramfs, in one run.

    python bench/bench_boot.py [--smp N] [--runs K] [--engines interp,auto,jit]

Registered in bench/run.py as "boot" (`python bench/run.py --only boot`).

The initramfs's init prints a marker and powers off; the time is from
starting the machine to seeing the marker on the console."""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vmpy  # noqa: E402
from vmpy import boards, images  # noqa: E402

MARKER = "VMPY-BENCH-BOOT-MARKER"
APPEND = "console=ttyS0 earlycon=sbi"


def time_vmpy(img, initrd, smp, engine=None, code_cache=None, info=None):
    """Seconds to the marker and instructions run.  With code_cache, the
    JIT's code cache directory; info (a dict) gets the process's CPU time
    to power-off, the JIT's counters and the seconds the board took to
    close (the cache is written then)."""
    # The board picks its engine from VMPY_ENGINE (as `vmpy boot --engine`).
    if engine:
        os.environ["VMPY_ENGINE"] = engine
    else:
        os.environ.pop("VMPY_ENGINE", None)
    t0, c0 = time.monotonic(), time.process_time()
    with boards.virt(ram="512M", smp=smp, kernel=img.kernel, initrd=initrd, firmware=img.firmware,
                     append=APPEND, code_cache=code_cache) as b:
        b.start()
        b.console.expect(MARKER, timeout=600)
        t = time.monotonic() - t0
        b.wait(60)
        n = b.icount
        if info is not None:
            info["cpu_s"] = time.process_time() - c0      # less sensitive to a busy host
            info["jit"] = b.jit_stats()
            t1 = time.monotonic()
            b.close()
            info["close_s"] = time.monotonic() - t1
        return t, n


def time_qemu(img, initrd, smp):
    qemu = shutil.which("qemu-system-riscv64")
    if not qemu:
        return None
    cmd = [qemu, "-M", "virt", "-m", "512M", "-smp", str(smp), "-nographic", "-bios", str(img.firmware),
           "-kernel", str(img.kernel), "-initrd", str(initrd), "-append", APPEND]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    buf = b""
    t = None
    while True:
        chunk = p.stdout.read1(4096)
        if not chunk:
            break
        buf += chunk
        if t is None and MARKER.encode() in buf:
            t = time.monotonic() - t0
    p.wait(timeout=60)
    return t


def run_all(smp=1, runs=1, engines=("interp", "auto")):
    img = images.fetch_debian_riscv64()
    initrd = img.marker_initrd(MARKER)
    res = {"smp": smp, "runs": []}
    for run in range(runs):
        tq = time_qemu(img, initrd, smp)
        row = {"qemu_s": tq}
        line = f"smp={smp} run {run + 1}: qemu-system-riscv64 " + (f"{tq:.2f} s" if tq else "not installed")
        for e in [e for e in engines if e in vmpy.engines()]:
            tv, n = time_vmpy(img, initrd, smp, e)
            row[e] = {"s": tv, "mips": n / tv / 1e6, "t/qemu": tv / tq if tq else None}
            line += f", vmpy-{e} {tv:.2f} s ({n / tv / 1e6:.0f} MIPS" + \
                (f", {tv / tq:.2f}x qemu)" if tq else ")")
        print(line, flush=True)
        res["runs"].append(row)
    return res


try:                                # inside bench/run.py
    from registry import benchmark

    @benchmark("boot", "Linux boot-to-marker time vs qemu-system-riscv64 (issue 3, issue 4)")
    def _boot_bench(ctx):
        res = run_all(1, 1, ("interp", "auto", "jit"))
        res["status"] = "ok"
        return res
except ImportError:
    pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--smp", type=int, default=1)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--engines", default="interp,auto,jit")
    a = ap.parse_args()
    run_all(a.smp, a.runs, tuple(a.engines.split(",")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
