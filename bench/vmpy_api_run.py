"""Child process for the in-process vmpy variant: runs one static Linux
program with vmpy.Machine(...).linux_exec(...) and writes a JSON summary
(time inside run(), instructions, stop reason, exit code) to a file, because
the guest owns this process's stdout.

Usage: python bench/vmpy_api_run.py ENGINE OUT.json PROGRAM [ARGS...]
"""
import json
import sys
import time


def icount(m):
    """Instructions retired, from whichever spelling the binding offers."""
    for obj in [m.cpus[0], m]:
        for attr in ("icount", "insn_count", "instret", "instructions"):
            v = getattr(obj, attr, None)
            if callable(v):
                try:
                    v = v()
                except Exception:
                    v = None
            if isinstance(v, int):
                return v
    stats = getattr(m, "stats", None)
    if callable(stats):
        try:
            s = stats()
            for k in ("instructions", "insns", "icount"):
                if isinstance(s, dict) and isinstance(s.get(k), int):
                    return s[k]
        except Exception:
            pass
    return None


def main(argv):
    engine, out, prog, args = argv[1], argv[2], argv[3], argv[4:]
    info = {}
    code = 0
    try:
        import vmpy
        m = vmpy.Machine("riscv64", engine=engine)
        m.linux_exec(prog, argv=[prog] + args, env=["PATH=/usr/bin", "LANG=C"])
        t0 = time.perf_counter()
        reason = m.run()
        info["run_seconds"] = time.perf_counter() - t0
        info["reason"] = str(getattr(reason, "value", reason))
        info["insns"] = icount(m)
        if info["reason"] != "exit":
            info["error"] = "stopped: %s" % info["reason"]
            code = 1
        else:
            code = m.exit_code
    except Exception as e:          # report, do not crash the harness
        info["error"] = "%s: %s" % (type(e).__name__, e)
        code = 1
    sys.stdout.flush()
    with open(out, "w") as f:
        json.dump(info, f)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
