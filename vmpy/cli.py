"""The vmpy command line: `vmpy run PROGRAM [ARGS...]` and friends."""
from __future__ import annotations

import argparse
import os
import sys
import time

from . import FormatError, GuestMemoryError, Machine, VmpyError


def _cmd_run(args) -> int:
    m = Machine("riscv64", engine=args.engine,
                code_cache=os.path.expanduser(args.code_cache) if args.code_cache else None)
    m.set_verbose(args.verbose)
    if args.deterministic:          # before exec: AT_RANDOM comes from the seeded stream too
        m.deterministic = True
        m.seed_random(args.seed)
    prog = args.program
    try:
        m.linux_exec(prog, [prog] + args.args, [f"{k}={v}" for k, v in os.environ.items()])
    except FileNotFoundError:       # exit statuses as a shell's: 127 not found, 126 cannot run
        print(f"vmpy: {prog}: no such file", file=sys.stderr)
        return 127
    except (OSError, FormatError, GuestMemoryError, VmpyError, ValueError) as e:
        why = os.strerror(e.errno) if isinstance(e, OSError) and e.errno else str(e)
        print(f"vmpy: {why}" if prog in why else f"vmpy: {prog}: {why}", file=sys.stderr)
        return 126
    cpu = m.cpus[0]
    t0 = time.perf_counter()
    if args.gdb is not None:
        from .gdbserver import serve_for_cli
        code = serve_for_cli(m, args.gdb, args.gdb_host, exec_file=prog)
        if code is not None:
            return code
    try:
        reason = m.run()
    except KeyboardInterrupt:
        _die_of_sigint()
    seconds = time.perf_counter() - t0
    if args.code_cache:
        try:
            m.code_cache_save()
        except (OSError, VmpyError) as e:
            print(f"vmpy: {e}", file=sys.stderr)
    if args.stats:
        n = cpu.icount
        mips = n / seconds / 1e6 if seconds > 0 else 0.0
        js = m.jit_stats()
        jit = (f"; jit: {js['compiled']} blocks compiled, {js['loaded']} loaded from the code cache,"
               f" {js['compile_ns'] / 1e6:.1f} ms compiling") if js else ""
        # one line (scripts parse it): count, time, rate, engine and JIT work
        print(f"vmpy: {n} instructions in {seconds:.3f} s, {mips:.1f} MIPS ({m.engine}{jit})", file=sys.stderr)
    if reason == "exit":
        return m.exit_code
    pc = cpu.pc
    where = m.disasm(pc, 1)
    insn = where[0][2] if where else "?"
    if reason == "fault":
        f = cpu.fault()
        print(f"vmpy: guest {f['error']} fault: {'read' if f['access'] == 'r' else 'write' if f['access'] == 'w' else 'fetch'}"
              f" of {f['addr']:#x} at pc {pc:#x} ({insn})", file=sys.stderr)
        return 139
    if reason == "invalid":
        print(f"vmpy: illegal instruction at pc {pc:#x} ({insn})", file=sys.stderr)
        return 132
    cause, tval = cpu.trap()
    print(f"vmpy: guest stopped ({reason}, cause {cause}, tval {tval:#x}) at pc {pc:#x} ({insn})", file=sys.stderr)
    return 134


def _die_of_sigint() -> None:
    """Ctrl-C: end as the guest would under its default SIGINT action (and
    as qemu-user does), killed by the signal, so that a shell sees status
    130 and stops a script.  A guest's SIGINT handler is not run: only the
    signals a guest raises itself, or its faults raise, reach its handlers."""
    import signal
    sys.stdout.flush()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)
    raise SystemExit(130)           # not reached unless SIGINT is blocked


def build_parser(only_run: bool = False) -> argparse.ArgumentParser:
    """only_run: leave out the other subcommands, whose modules (images,
    repl) cost ~20 ms of imports that `vmpy run` would pay on every start."""
    p = argparse.ArgumentParser(prog="vmpy", description="vmpy: a scriptable machine emulator")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a static riscv64 Linux ELF (like qemu-riscv64)",
                       description="Run a static riscv64 Linux program in Linux user mode, with the "
                                   "host's stdio, files and environment.",
                       epilog="Exit status: the program's, or 128+N if it died of signal N (a bad "
                              "memory access: 139, an illegal instruction: 132); 127 if PROGRAM does "
                              "not exist, 126 if it cannot run (not a static riscv64 ELF). Ctrl-C "
                              "ends it: vmpy dies of SIGINT.")
    r.add_argument("--engine", default=None, help="execution engine: auto (default with the JIT built in), jit, interp")
    r.add_argument("--stats", action="store_true", help="print instructions, seconds and MIPS on stderr")
    r.add_argument("--verbose", action="store_true", help="warn about unsupported syscalls")
    r.add_argument("--deterministic", action="store_true",
                   help="guest time from instructions retired, seeded randomness (no host time or entropy)")
    r.add_argument("--seed", type=int, default=0, help="seed of the deterministic random stream")
    r.add_argument("--code-cache", metavar="DIR", default=None,
                   help="keep the JIT's compiled code in DIR for later runs (e.g. ~/.cache/vmpy/jit)")
    from .gdbserver import add_gdb_option
    add_gdb_option(r)
    r.add_argument("program", help="a static riscv64 Linux ELF (e.g. Debian's busybox-static)")
    r.add_argument("args", nargs=argparse.REMAINDER, help="its arguments (argv[1:])")
    r.set_defaults(func=_cmd_run)
    if only_run:
        return p
    from .boards import add_boot_command
    from .images import add_image_command
    from .repl import add_repl_command
    add_boot_command(sub)
    add_image_command(sub)
    add_repl_command(sub)
    return p


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(only_run=argv[:1] == ["run"]).parse_args(argv)
    return args.func(args)
