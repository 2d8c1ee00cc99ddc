#!/usr/bin/env python3
"""Reads a VMPY_JIT_DUMP file (every block the JIT compiled: guest
instructions and host bytes) and disassembles the host code with capstone.

    VMPY_JIT_DUMP=/tmp/blocks python3 -m vmpy run --engine jit PROG
    scripts/jitdump.py /tmp/blocks --pc 0x10a3c          # one block
    perf record -o /tmp/p.data python3 -m vmpy run --engine jit PROG
    scripts/jitdump.py /tmp/blocks --perf /tmp/p.data --top 5

With --perf, samples in the JIT's code memory (perf names it memfd:vmpy-jit
and reports offsets into it) are mapped to blocks; the hottest blocks are
printed with each host instruction's share of all samples.  Code memory is
reused after a flush, so a run that flushed maps offsets to the last block
compiled there."""
import argparse
import bisect
import collections
import re
import subprocess
import sys


def parse(path):
    blocks, cur = [], None
    for line in open(path):
        if line.startswith("block "):
            f = dict(kv.split("=") for kv in line.split()[1:])
            cur = {"pc": int(f["pc"], 16), "off": int(f["off"], 16), "size": int(f["size"]),
                   "guest": [], "host": b""}
            blocks.append(cur)
        elif line.startswith("host "):
            cur["host"] = bytes.fromhex(line.split()[1])
        elif cur is not None:
            cur["guest"].append(line.rstrip())
    return blocks


def perf_samples(data):
    """{offset in code memory: samples} from perf's per-address report."""
    out = subprocess.run(["perf", "report", "-i", data, "--stdio", "--sort", "dso,sym", "-F", "sample,dso,sym"],
                         capture_output=True, text=True).stdout
    hits, total = collections.Counter(), 0
    for line in out.splitlines():
        m = re.match(r"\s*(\d+)\s+(\S+)", line)
        if not m:
            continue
        n = int(m.group(1))
        total += n
        a = re.search(r"\[\.\] 0x([0-9a-f]+)", line)
        if "vmpy-jit" in m.group(2) and a:
            hits[int(a.group(1), 16)] += n
    return hits, total


def show(b, hits=None, total=1):
    import capstone
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    n = sum(hits.get(b["off"] + i, 0) for i in range(b["size"])) if hits else 0
    print(f"== block pc={b['pc']:#x} off={b['off']:#x} size={b['size']}"
          + (f"  {100 * n / total:.2f}% of samples" if hits else ""))
    print("\n".join(b["guest"]))
    for ins in md.disasm(b["host"], b["off"]):
        pct = ""
        if hits:
            h = hits.get(ins.address, 0)
            pct = f"{100 * h / total:6.2f}%" if h else " " * 7
        print(f"  {pct} {ins.address:#8x}: {ins.mnemonic} {ins.op_str}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dump")
    ap.add_argument("--pc", type=lambda s: int(s, 0), help="only the block(s) at this guest pc")
    ap.add_argument("--perf", help="perf.data of the same run: show the hottest blocks")
    ap.add_argument("--top", type=int, default=10)
    args = ap.parse_args()
    blocks = parse(args.dump)
    if args.perf:
        hits, total = perf_samples(args.perf)
        latest = {}
        for b in blocks:          # later blocks overwrite flushed ones at the same offset
            latest[b["off"]] = b
        offs = sorted(latest)
        per = collections.Counter()
        for a, n in hits.items():
            i = bisect.bisect_right(offs, a) - 1
            if i >= 0 and a < offs[i] + latest[offs[i]]["size"]:
                per[offs[i]] += n
        jit = sum(hits.values())
        print(f"{100 * jit / max(total, 1):.1f}% of samples in JIT code, {len(latest)} blocks")
        for off, n in per.most_common(args.top):
            show(latest[off], hits, total)
        return
    for b in blocks:
        if args.pc is None or b["pc"] == args.pc:
            show(b)


if __name__ == "__main__":
    sys.exit(main())
