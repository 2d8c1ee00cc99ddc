"""The console of a board (its UART) from Python: read, write, expect; and
the interactive terminal of `vmpy boot` (raw mode, Ctrl-A X quits, the
terminal always restored)."""
from __future__ import annotations

import os
import re
import select
import sys
import time


class ConsoleTimeout(TimeoutError):
    pass


class Console:
    def __init__(self, board):
        self._board = board
        self.buffer = b""           # received and not yet consumed by expect()
        self.log = bytearray()      # everything received

    def _pull(self, timeout: float) -> bytes:
        data = self._board._read(65536, timeout)
        if data:
            self.log += data
            self.buffer += data
        return data

    def read(self, timeout: float = 0.0) -> bytes:
        """Returns what the guest wrote since the last read/expect."""
        self._pull(timeout)
        data, self.buffer = self.buffer, b""
        return data

    def write(self, data) -> None:
        if isinstance(data, str):
            data = data.encode()
        self._board._write(data)

    def expect(self, pattern, timeout: float = 30.0) -> str:
        """Waits until pattern (a regex, str or bytes) appears in the output;
        returns the text up to and including the match and consumes it."""
        if isinstance(pattern, str):
            pattern = pattern.encode()
        rx = re.compile(pattern) if isinstance(pattern, bytes) else pattern
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.buffer)
            if m:
                out, self.buffer = self.buffer[:m.end()], self.buffer[m.end():]
                return out.decode(errors="replace")
            left = deadline - time.monotonic()
            state = self._board.state
            if left <= 0 or (state != "running" and not self._pull(0)):
                tail = self.buffer[-400:].decode(errors="replace")
                raise ConsoleTimeout(f"{pattern!r} not seen after {timeout}s (board {state}); last output:\n{tail}")
            self._pull(min(left, 0.2))


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        b = os.read(fd, 65536)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def _wait_prompt(board, prompt: bytes = b"# ", timeout: float = 300.0) -> None:
    try:
        board.console.expect(re.escape(prompt), timeout=timeout)
    except ConsoleTimeout:
        pass


def interactive(board, stdin_fd: int | None = None, stdout_fd: int | None = None) -> int:
    """Connects the terminal to the board's console until the guest powers
    off or the user types Ctrl-A X.  Returns the exit status."""
    import termios
    import tty
    stdin_fd = sys.stdin.fileno() if stdin_fd is None else stdin_fd
    stdout_fd = sys.stdout.fileno() if stdout_fd is None else stdout_fd
    board.set_echo_fd(stdout_fd)
    saved = None
    if os.isatty(stdin_fd):
        saved = termios.tcgetattr(stdin_fd)
    quit_requested = False
    try:
        if saved is not None:
            tty.setraw(stdin_fd)
        board.start()
        ctrl_a = False
        while board.state == "running":
            r, _, _ = select.select([stdin_fd], [], [], 0.1)
            if not r:
                continue
            data = os.read(stdin_fd, 65536)
            if saved is None and data:
                # Input from a pipe or file: a serial line that the guest
                # has not opened yet drops what arrives, so hold the input
                # back until the shell's first prompt.
                data += _read_all(stdin_fd)
                _wait_prompt(board)
                board._write(data.replace(b"\n", b"\r"))
                data = b""
            if not data:
                # End of input: run until the guest powers off (or Ctrl-C).
                while board.wait(0.2) == "running":
                    pass
                break
            out = bytearray()
            for b in data:
                if ctrl_a:
                    ctrl_a = False
                    if b in (ord("x"), ord("X")):
                        quit_requested = True
                        break
                    out.append(b)          # Ctrl-A Ctrl-A sends one Ctrl-A, as in QEMU
                elif b == 1:
                    ctrl_a = True
                else:
                    out.append(b)
            if out:
                board._write(bytes(out))
            if quit_requested:
                break
    finally:
        board.stop()
        board.set_echo_fd(-1)
        if saved is not None:
            termios.tcsetattr(stdin_fd, termios.TCSADRAIN, saved)
    if quit_requested:
        os.write(stdout_fd, b"\r\nvmpy: terminated by Ctrl-A X\r\n")
        return 0
    state = board.state
    if state == "poweroff":
        return board.exit_code
    if state == "error":
        os.write(stdout_fd, f"\r\nvmpy: {board.error}\r\n".encode())
        return 1
    return 0
