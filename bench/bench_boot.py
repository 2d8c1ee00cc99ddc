"""Boot-to-marker time: vmpy's virt board against qemu-system-riscv64, with
the same Debian kernel, OpenSBI (fw_dynamic) and initramfs, in one run.

    python bench/bench_boot.py [--smp N] [--runs K]

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
from vmpy import boards, images  # noqa: E402

MARKER = "VMPY-BENCH-BOOT-MARKER"
APPEND = "console=ttyS0 earlycon=sbi"


def time_vmpy(img, initrd, smp):
    t0 = time.monotonic()
    with boards.virt(ram="512M", smp=smp, kernel=img.kernel, initrd=initrd, firmware=img.firmware,
                     append=APPEND) as b:
        b.start()
        b.console.expect(MARKER, timeout=600)
        t = time.monotonic() - t0
        b.wait(60)
        return t, b.icount


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--smp", type=int, default=1)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--engines", default="default",
                    help="comma list of vmpy engines (interp,jit,auto; default: the default one)")
    a = ap.parse_args()
    img = images.fetch_debian_riscv64()
    initrd = img.marker_initrd(MARKER)
    for run in range(a.runs):
        tq = time_qemu(img, initrd, a.smp)
        tqs = f"{tq:.2f} s" if tq else "not installed"
        for engine in a.engines.split(","):
            if engine != "default":
                os.environ["VMPY_ENGINE"] = engine      # read by the virt board
            tv, n = time_vmpy(img, initrd, a.smp)
            os.environ.pop("VMPY_ENGINE", None)
            ratio = f"{tv / tq:.2f}x" if tq else "n/a"
            print(f"smp={a.smp} run {run + 1}: vmpy[{engine}] {tv:.2f} s ({n / tv / 1e6:.0f} MIPS), "
                  f"qemu-system-riscv64 {tqs}, ratio {ratio}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
