"""Per-instruction Python hook rate: vmpy `m.on_code(cb)` against Unicorn's
UC_HOOK_CODE, both with a callback that only counts, on the same program
truncated to the same instruction budget (run(count=N) / emu_start(count=N)).

Each measurement runs in a child process:
    python bench/hooks.py unicorn PROG COUNT
    python bench/hooks.py vmpy:ENGINE PROG COUNT
and prints one JSON line {"calls", "seconds", "base_seconds"}; base_seconds
is the same budget without the hook, so the per-hook cost can be separated
from plain execution.
"""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def measure_unicorn(prog, count):
    sys.path.insert(0, HERE)
    from uc_linux import LinuxUC
    base = LinuxUC(prog, [prog]).run(count=count)
    calls, secs = LinuxUC(prog, [prog]).count_hook(count)
    return {"calls": calls, "seconds": secs, "base_seconds": base}


def measure_vmpy(engine, prog, count):
    import vmpy

    def machine():
        m = vmpy.Machine("riscv64", engine=engine)
        m.linux_exec(prog, argv=[prog], env=["PATH=/usr/bin", "LANG=C"])
        return m

    m = machine()
    t0 = time.perf_counter()
    m.run(count=count)
    base = time.perf_counter() - t0

    m = machine()
    calls = [0]

    def cb(cpu, addr, size):
        calls[0] += 1
    m.on_code(cb)
    t0 = time.perf_counter()
    reason = m.run(count=count)
    secs = time.perf_counter() - t0
    return {"calls": calls[0], "seconds": secs, "base_seconds": base,
            "reason": str(getattr(reason, "value", reason))}


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    who, prog, count = argv[1], argv[2], int(argv[3])
    if who == "unicorn":
        res = measure_unicorn(prog, count)
    elif who.startswith("vmpy:"):
        res = measure_vmpy(who[5:], prog, count)
    else:
        print("unknown engine %r" % who, file=sys.stderr)
        return 2
    sys.stdout.flush()
    # the guest may have written to stdout: the JSON is the last line
    print("\n" + json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
