"""The Tcl REPL debugger: Machine.tcl(), Machine.repl() and `vmpy repl`.

    m.tcl("reg a0")        # one command, result as a str (VmpyError on a Tcl error)
    m.repl()               # interactive: line editing, history, completion, Ctrl-C

    vmpy repl ./prog ARGS...            # interactive session on a Linux program
    vmpy repl --script check.tcl        # exit status 0 unless the script fails or calls exit N
    vmpy repl --boot --firmware fw.bin  # the REPL drives a virt board (options of `vmpy boot`)

The commands are C functions over the core (tools/repl/); `help` lists them.
Machine.tcl() and Machine.repl() call tcl() and repl() here.
"""
from __future__ import annotations

import os
import sys
from typing import List, Optional

from . import _core
from .machine import Machine

HISTORY_FILE = "~/.vmpy_repl_history"
HISTORY_LENGTH = 1000


def _write(text: str, stream: int) -> None:
    """REPL output goes to whatever sys.stdout/sys.stderr are now (a notebook
    cell, pytest's capture), not to the process's file descriptors."""
    f = sys.stderr if stream == 2 else sys.stdout
    f.write(text)
    f.flush()


def interpreter(machine: Machine) -> "_core.TclRepl":
    """The Tcl interpreter attached to machine, made on first use."""
    if not hasattr(_core, "TclRepl"):
        raise _core.VmpyError("vmpy was built without Tcl (install tcl8.6-dev and rebuild)")
    t = machine.__dict__.get("_vmpy_tcl")
    if t is None:
        t = _core.TclRepl(machine)
        t.set_output(_write)
        machine.__dict__["_vmpy_tcl"] = t
    return t


_CAPSULE_NAME = b"vmpy.board"   # the capsule keeps a pointer to these bytes: module lifetime


def board_interpreter(board) -> "_core.TclRepl":
    """A Tcl interpreter driving a virt board (vmpy.boards.virt) that has not
    been started: the REPL runs its harts itself (run/step/cont, console
    expect), `console` and `dev` names work, a power-off is the exit.
    Drop the interpreter before closing the board."""
    import ctypes
    if not hasattr(_core, "TclRepl"):
        raise _core.VmpyError("vmpy was built without Tcl (install tcl8.6-dev and rebuild)")
    if board.state != "created":
        raise RuntimeError(f"the board is {board.state}: the REPL drives a board that has not started")
    new = ctypes.pythonapi.PyCapsule_New
    new.restype = ctypes.py_object
    new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    t = _core.TclRepl(new(board._h, _CAPSULE_NAME, None), board)
    t.set_output(_write)
    return t


def tcl(self: Machine, script: str) -> str:
    """Evaluate Tcl (one or more REPL commands); returns the result string.

    A Tcl error raises vmpy.VmpyError (its .errorinfo has the Tcl stack);
    `exit N` raises SystemExit(N)."""
    return interpreter(self).eval(script)


def repl(self: Machine) -> int:
    """Run the interactive REPL on the terminal, attached to this machine.
    Returns the status given to `exit` (0 at end of input)."""
    return interact(interpreter(self))


# -- interactive --------------------------------------------------------------

class _Completer:
    """Tab completion: command names for the first word, symbols after."""

    def __init__(self, t) -> None:
        self.t = t
        self.matches: List[str] = []

    def __call__(self, text: str, state: int) -> Optional[str]:
        if state == 0:
            import readline
            line = readline.get_line_buffer()[:readline.get_begidx()]
            first = not line.strip() or line.rstrip().endswith(("[", ";"))
            try:
                names = self.t.names(text, not first)
            except Exception:   # completion must never break the prompt
                names = []
            self.matches = sorted(set(n.lstrip(":") if not text.startswith(":") else n for n in names))
        return self.matches[state] if state < len(self.matches) else None


def _setup_readline(t):
    """Line editing and history (GNU readline or libedit, whichever Python
    has); returns a function that saves the history, or None."""
    try:
        import readline
    except ImportError:
        return None
    readline.set_completer(_Completer(t))
    readline.set_completer_delims(" \t\n[]{}();\"$")
    if "libedit" in (readline.__doc__ or ""):
        readline.parse_and_bind("bind ^I rl_complete")
    else:
        readline.parse_and_bind("tab: complete")
    path = os.path.expanduser(HISTORY_FILE)
    try:
        readline.read_history_file(path)
    except OSError:
        pass
    readline.set_history_length(HISTORY_LENGTH)

    def save():
        try:
            readline.write_history_file(path)
        except OSError:
            pass
    return save


def interact(t) -> int:
    """The read-eval-print loop over a TclRepl.  Multi-line input continues
    until the Tcl command is complete.  Ctrl-C at the prompt drops the line;
    while the guest runs it stops the guest."""
    save = _setup_readline(t)
    t.set_verbose(True)
    print("vmpy REPL: Tcl with emulator commands; `help` lists them, Ctrl-D quits.")
    buf = ""
    try:
        while True:
            prompt = "... " if buf else "(%s) vmpy> " % t.where()
            try:
                line = input(prompt)
            except EOFError:
                print()
                return 0
            except KeyboardInterrupt:
                print("^C")
                buf = ""
                continue
            buf += line + "\n"
            if not t.complete(buf):
                continue
            script, buf = buf, ""
            if not script.strip():
                continue
            try:
                result = t.eval(script)
            except SystemExit as e:
                return e.code if isinstance(e.code, int) else 0
            except _core.VmpyError as e:
                print("error: %s" % e, file=sys.stderr)
                continue
            except KeyboardInterrupt:
                print("^C")
                continue
            if result:
                print(result)
    finally:
        t.set_verbose(False)
        if save:
            save()


# -- command line -------------------------------------------------------------

def _load(t, program: str, args: List[str]) -> Optional[int]:
    t.setvar("::vmpy::load_words", [program] + list(args))   # no quoting games
    try:
        t.eval("load elf {*}$::vmpy::load_words")
    except _core.VmpyError as e:
        print("vmpy repl: %s" % e, file=sys.stderr)
        return 127 if not os.path.exists(program) else 126
    return None


def _run_script_or_prompt(t, args) -> int:
    if args.script is None:
        return interact(t)
    t.setvar("::argv0", [args.script])
    try:
        t.source(args.script)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 0
    except _core.VmpyError as e:
        print(getattr(e, "errorinfo", None) or str(e), file=sys.stderr)
        return 1
    return 0


def _cmd_repl_boot(args) -> int:
    """`vmpy repl --boot [boot options] [--script F] [ARGS...]`: the REPL on a
    virt board; the console prints to stdout as the guest writes."""
    from . import boards
    try:
        board = boards.virt(ram=args.ram, smp=args.smp, kernel=args.kernel, initrd=args.initrd,
                            firmware=args.firmware, append=args.append, disk=args.disk,
                            disk_readonly=args.readonly, rng=True)
    except FileNotFoundError as e:
        print(f"vmpy: no such file: {e}", file=sys.stderr)
        return 1
    except (RuntimeError, OSError, ValueError) as e:
        print(f"vmpy: {e}", file=sys.stderr)
        return 1
    try:
        sys.stdout.flush()
        board.set_echo_fd(sys.stdout.fileno())
        t = board_interpreter(board)
        words = ([args.program] if args.program else []) + list(args.args)
        t.setvar("::argv", words)
        try:
            return _run_script_or_prompt(t, args)
        finally:
            del t                      # the interpreter goes before the board
    finally:
        board.set_echo_fd(-1)
        board.close()


def _cmd_repl(args) -> int:
    if args.boot:
        return _cmd_repl_boot(args)
    m = Machine("riscv64", engine=args.engine)
    t = interpreter(m)
    if args.program:
        rc = _load(t, args.program, args.args)
        if rc is not None:
            return rc
    t.setvar("::argv", [args.program] + args.args if args.program else [])
    return _run_script_or_prompt(t, args)


def add_repl_command(subparsers) -> None:
    """Adds `vmpy repl` to the CLI's argparse subparsers."""
    import argparse
    r = subparsers.add_parser("repl", help="Tcl debugger REPL (interactive, or --script FILE)")
    r.add_argument("--script", metavar="FILE", help="run a Tcl script instead of the interactive prompt")
    r.add_argument("--engine", default=None, help="execution engine (interp)")
    b = r.add_argument_group("--boot: the REPL on the riscv64 virt board (the options of `vmpy boot`)")
    b.add_argument("--boot", action="store_true",
                   help="drive a virt board instead of a Linux program; PROGRAM ARGS... become $argv")
    b.add_argument("--kernel", help="RISC-V Linux Image (default: Debian's, fetched if needed)")
    b.add_argument("--initrd", help="initramfs (default: a busybox shell)")
    b.add_argument("--firmware", "--bios", dest="firmware",
                   help="OpenSBI fw_dynamic.bin / fw_jump.bin, or a bare-metal program at 0x80000000")
    b.add_argument("--append", default=None, help="kernel command line")
    b.add_argument("--ram", "-m", default="512M", help="RAM size (default 512M)")
    b.add_argument("--smp", type=int, default=1, help="number of harts")
    b.add_argument("--disk", help="raw disk image for virtio-blk")
    b.add_argument("--readonly", action="store_true", help="attach the disk read-only")
    r.add_argument("program", nargs="?", help="static riscv64 Linux ELF to load (load elf)")
    r.add_argument("args", nargs=argparse.REMAINDER, help="the program's arguments")
    r.set_defaults(func=_cmd_repl)


def main(argv=None) -> int:
    """`python -m vmpy.repl ...`: the same as `vmpy repl ...`."""
    import argparse
    p = argparse.ArgumentParser(prog="vmpy")
    add_repl_command(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(["repl"] + list(sys.argv[1:] if argv is None else argv))
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
