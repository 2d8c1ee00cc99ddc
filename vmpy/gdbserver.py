"""Serve a machine to gdb: Machine.gdb_serve(port), `vmpy run --gdb PORT`
and `vmpy boot --gdb PORT` (BoardGdbServer: every hart a gdb thread).

    srv = m.gdb_serve(1234)          # returns once gdb has connected
    ...                              # Python may inspect m while gdb has it stopped
    srv.wait()                       # until gdb detaches, kills or disconnects
    srv.close()                      # the machine is Python's again

The stub runs on background threads (vmpy._core.GdbServer); while it lives
the machine is lent to it, so Machine.run() raises until close().  gdb's
`monitor CMD` runs Tcl REPL commands.  See docs/debugging.md.
Hooks added from Python keep firing while gdb runs the machine.
"""
from __future__ import annotations

import argparse
import os
import sys
TYPE_CHECKING = False    # typing costs ~8 ms at start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Optional

from . import _core
from .machine import Machine

__all__ = ["GdbServer", "BoardGdbServer", "gdb_serve", "add_gdb_option", "serve_for_cli",
           "serve_board_for_cli"]


class GdbServer:
    """A gdb remote-protocol server for one machine (one gdb session)."""

    def __init__(self, machine: Machine, port: int = 0, host: str = "127.0.0.1",
                 exec_file: Optional[str] = None):
        self._srv = _core.GdbServer(machine, port, host, exec_file)
        self.machine = machine
        self.host = host

    @property
    def port(self) -> Optional[int]:
        """The TCP port listened on (useful with port=0)."""
        return self._srv.port

    @property
    def state(self) -> str:
        """listening, connected, detached, killed, closed or exited."""
        return self._srv.state

    @property
    def exit_code(self) -> Optional[int]:
        """The guest's exit code if it exited while gdb was attached."""
        return self._srv.exit_code

    def wait_connected(self, timeout: Optional[float] = None) -> bool:
        return self._srv.wait_connected(timeout)

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait until the gdb session ends; False on timeout."""
        return self._srv.wait(timeout)

    def close(self) -> None:
        """Drop gdb (if attached), stop the machine, give it back to Python."""
        self._srv.close()

    def __enter__(self) -> "GdbServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<GdbServer {self.host}:{self.port} {self.state}>"


_STATES = ["listening", "connected", "detached", "killed", "closed", "exited"]


class BoardGdbServer:
    """A gdb server for a `virt` board (vmpy.boards.virt): every hart is a
    gdb thread.  The board must not be started while this lives; close()
    stops the harts and hands the board back (board.start() then runs it on).
    A power-off under gdb is reported to gdb as the program's exit."""

    def __init__(self, board, port: int = 0, host: str = "127.0.0.1"):
        import ctypes
        from .boards import _lib
        self._g = None
        self._final: tuple[str, Optional[int]] = ("closed", None)
        self._lib = _lib
        for name, res, args in (
                ("vmpy_gdb_board_new", ctypes.c_void_p,
                 [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]),
                ("vmpy_gdb_port", ctypes.c_int, [ctypes.c_void_p]),
                ("vmpy_gdb_wait", ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]),
                ("vmpy_gdb_state", ctypes.c_int, [ctypes.c_void_p]),
                ("vmpy_gdb_exit_code", ctypes.c_int, [ctypes.c_void_p]),
                ("vmpy_gdb_free", None, [ctypes.c_void_p])):
            f = getattr(_lib, name)
            f.restype, f.argtypes = res, args
        if board.state != "created":
            raise RuntimeError(f"the board is {board.state}: serve it to gdb before starting it")
        err = ctypes.c_int(0)
        self._g = _lib.vmpy_gdb_board_new(board._h, host.encode(), int(port), ctypes.byref(err))
        if not self._g:
            raise OSError(err.value, f"cannot serve gdb on {host}:{port}: {os.strerror(err.value)}")
        self.board = board
        self.host = host

    @property
    def port(self) -> Optional[int]:
        return self._lib.vmpy_gdb_port(self._g) if self._g else None

    @property
    def state(self) -> str:
        if not self._g:
            return self._final[0]
        return _STATES[self._lib.vmpy_gdb_state(self._g)]

    @property
    def exit_code(self) -> Optional[int]:
        if not self._g:
            return self._final[1]
        return self._lib.vmpy_gdb_exit_code(self._g) if self.state == "exited" else None

    def _wait(self, what: int, timeout: Optional[float]) -> bool:
        # short pieces: ctypes drops the GIL, and Ctrl-C stays responsive
        import time
        end = None if timeout is None else time.monotonic() + timeout
        while self._g:
            left = 0.2 if end is None else min(0.2, end - time.monotonic())
            if left < 0:
                return False
            if self._lib.vmpy_gdb_wait(self._g, what, int(left * 1000)):
                return True
        return True

    def wait_connected(self, timeout: Optional[float] = None) -> bool:
        return self._wait(0, timeout)

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait until the gdb session ends; False on timeout."""
        return self._wait(1, timeout)

    def close(self) -> None:
        """Drop gdb, stop the harts, hand the board back.  The state and
        exit code stay readable."""
        if self._g:
            self._final = (self.state, self.exit_code)
            self._lib.vmpy_gdb_free(self._g)
            self._g = None

    def __del__(self):
        # the stub's threads must stop before the board can go
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self) -> "BoardGdbServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<BoardGdbServer {self.host}:{self.port} {self.state}>"


def gdb_serve(self: Machine, port: int = 0, wait: bool = True, host: str = "127.0.0.1",
              timeout: Optional[float] = None, exec_file: Optional[str] = None) -> GdbServer:
    """Serve this machine to gdb on host:port (loopback unless told otherwise).

    wait=True returns once gdb has connected (at most timeout seconds, then
    TimeoutError); wait=False returns at once while the server listens in
    the background.  After linux_exec, gdb also gets the program path and
    auxv (exec_file overrides the path).
    """
    if exec_file is None:
        exec_file = getattr(self, "_exec_file", None)
    srv = GdbServer(self, port, host, exec_file)
    if wait and not srv.wait_connected(timeout):
        srv.close()
        raise TimeoutError(f"no gdb connected to {host}:{srv.port} within {timeout} s")
    return srv


# ---- the command line -------------------------------------------------------

def add_gdb_option(parser: argparse.ArgumentParser) -> None:
    """Adds --gdb PORT (and --gdb-host) to a `vmpy run`/`boot` parser."""
    parser.add_argument("--gdb", type=int, metavar="PORT", default=None,
                        help="stop before the first instruction and wait for gdb on PORT")
    parser.add_argument("--gdb-host", default="127.0.0.1", metavar="ADDR",
                        help="address for --gdb to listen on (default 127.0.0.1)")


def serve_for_cli(machine: Machine, port: int, host: str = "127.0.0.1",
                  exec_file: Optional[str] = None) -> Optional[int]:
    """Waits for gdb and lets it drive the machine until the session ends.

    Returns the guest's exit code if it exited under gdb, 137 if gdb killed
    it, or None if gdb detached or went away: the caller then runs the
    machine on to its end, as gdbserver lets a detached process go on.
    """
    if exec_file is not None:
        exec_file = os.path.abspath(exec_file)
    srv = machine.gdb_serve(port, wait=False, host=host, exec_file=exec_file)
    print(f"vmpy: waiting for gdb on {host}:{srv.port}", file=sys.stderr, flush=True)
    try:
        srv.wait()
    finally:
        srv.close()
    if srv.state == "exited":
        return srv.exit_code
    if srv.state == "killed":
        return 137
    return None


def serve_board_for_cli(board, port: int, host: str = "127.0.0.1") -> Optional[int]:
    """`vmpy boot --gdb PORT`: gdb drives the board (console output still
    goes to stdout) until the session ends.  Returns the exit code if the
    guest powered off under gdb, 137 if gdb killed it, None if gdb detached
    or went away (the caller then boots on interactively)."""
    srv = BoardGdbServer(board, port, host)
    print(f"vmpy: waiting for gdb on {host}:{srv.port} (each hart is a gdb thread)",
          file=sys.stderr, flush=True)
    board.set_echo_fd(sys.stdout.fileno())
    try:
        srv.wait()
        state, code = srv.state, srv.exit_code
    finally:
        srv.close()
        board.set_echo_fd(-1)
    if state == "exited":
        return code
    if state == "killed":
        return 137
    return None
