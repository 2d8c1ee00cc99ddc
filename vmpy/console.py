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
        self._recorder = None       # record()/replay() (below)
        self._replayer = None

    def _pull(self, timeout: float) -> bytes:
        if self._recorder is not None:
            self._recorder.drain()
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
        if self._replayer is not None and not self._replayer.closed:
            raise RuntimeError("the console is replaying recorded input: live input is refused")
        self._board._write(data)

    def record(self, path) -> "BoardInputRecorder":
        """Log the console input with the instruction count at which each
        byte entered the UART (the log format of Machine.record_input)."""
        self._recorder = BoardInputRecorder(self._board, path)
        return self._recorder

    def replay(self, path) -> "BoardInputReplayer":
        """Feed a recorded log at its instruction counts (start from the
        recording's start state, and drive the board the same way)."""
        self._replayer = BoardInputReplayer(self._board, path)
        return self._replayer

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
    chunks: list[bytes] = []
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


# ---- recording and replaying external input ------------------------------------
#
# A log is a text file of JSON lines: a header, then one event per input,
#   {"format": "vmpy-input-log", "version": 1, "isa": "riscv64", "start_icount": N}
#   {"at": ICOUNT, "device": "uart0", "data": "74"}           (data in hex)
# where ICOUNT is the number of instructions the machine (all cpus) had
# retired when the input arrived.  Events are appended and flushed as they
# come, so a session that dies still leaves every input it received.
#
# Replay runs the machine up to each event's instruction count exactly (it
# splits run() calls there), hands the data to the device, and goes on: the
# guest sees every input at the same instruction as in the recorded session,
# so with deterministic time the whole run repeats instruction for
# instruction.  Replay starts from the state the recording started from
# (restore the same snapshot first); live input is refused meanwhile.

import json as _json

LOG_FORMAT = "vmpy-input-log"
LOG_VERSION = 1


class InputLogError(ValueError):
    pass


def _machine_icount(machine) -> int:
    return sum(c.icount for c in machine.cpus)


def _input_devices(machine):
    """{name: device} of the machine's Python peripherals that take input."""
    return {n: d for n, d in getattr(machine, "peripherals", {}).items() if hasattr(d, "attach_input")}


class _Closing:
    """with recorder: ... closes it at the end."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class InputRecorder(_Closing):
    """Logs every input fed to the machine's input devices (see record_input)."""

    def __init__(self, machine, path):
        self.machine = machine
        self.path = os.fspath(path)
        self.devices = _input_devices(machine)
        if not self.devices:
            raise ValueError("the machine has no input devices (peripherals with attach_input)")
        self._f = open(self.path, "w", encoding="ascii")
        self._write({"format": LOG_FORMAT, "version": LOG_VERSION, "isa": machine.isa,
                     "start_icount": _machine_icount(machine)})
        for name, dev in self.devices.items():
            dev.attach_input(_Tap(self, name))

    def _write(self, obj) -> None:
        self._f.write(_json.dumps(obj, sort_keys=True) + "\n")
        self._f.flush()

    def event(self, device: str, data: bytes) -> None:
        if self._f is None:
            return
        self._write({"at": _machine_icount(self.machine), "device": device, "data": bytes(data).hex()})

    def close(self) -> None:
        if self._f is None:
            return
        for dev in self.devices.values():
            dev.attach_input(None)
        self._f.close()
        self._f = None


class _Tap:
    """What an input device sees while recording or replaying."""

    def __init__(self, owner, name):
        self.owner, self.name = owner, name

    @property
    def replaying(self) -> bool:
        return isinstance(self.owner, InputReplayer)

    def record(self, data: bytes) -> None:
        if isinstance(self.owner, InputRecorder):
            self.owner.event(self.name, data)


def read_input_log(path, isa=None):
    """Parses a log: (header, [(at, device, bytes)]); InputLogError if malformed."""
    events = []
    with open(path, "r", encoding="ascii", errors="strict") as f:
        try:
            lines = f.read().splitlines()
        except UnicodeDecodeError as e:
            raise InputLogError(f"{path}: not an input log ({e})") from None
    if not lines:
        raise InputLogError(f"{path}: empty input log")
    try:
        header = _json.loads(lines[0])
        if not isinstance(header, dict) or header.get("format") != LOG_FORMAT:
            raise InputLogError(f"{path}: not a vmpy input log")
        if header.get("version") != LOG_VERSION:
            raise InputLogError(f"{path}: input log version {header.get('version')!r} is not supported")
        if isa is not None and header.get("isa") != isa:
            raise InputLogError(f"{path}: recorded on a {header.get('isa')} machine, not {isa}")
        last = header.get("start_icount")
        if not isinstance(last, int) or last < 0:
            raise InputLogError(f"{path}: bad start_icount")
        for n, line in enumerate(lines[1:], 2):
            ev = _json.loads(line)
            at, dev, data = ev.get("at"), ev.get("device"), ev.get("data")
            if not isinstance(at, int) or at < last or not isinstance(dev, str) or not isinstance(data, str):
                raise InputLogError(f"{path}:{n}: malformed event")
            events.append((at, dev, bytes.fromhex(data)))
            last = at
    except (ValueError, AttributeError) as e:
        if isinstance(e, InputLogError):
            raise
        raise InputLogError(f"{path}: malformed input log ({e})") from None
    return header, events


class InputReplayer(_Closing):
    """Feeds a recorded log back at the recorded instruction counts (see replay_input)."""

    def __init__(self, machine, path):
        self.machine = machine
        self.header, self.events = read_input_log(path, machine.isa)
        self.devices = _input_devices(machine)
        unknown = sorted({d for _, d, _ in self.events} - set(self.devices))
        if unknown:
            raise InputLogError(f"the log has input for devices this machine does not have: {unknown}")
        now = _machine_icount(machine)
        if self.events and self.events[0][0] < now:
            raise InputLogError(f"the log's first input is at instruction {self.events[0][0]}, but the "
                                f"machine is already at {now} (restore the recording's start state first)")
        self._next = 0
        for name, dev in self.devices.items():
            dev.attach_input(_Tap(self, name))
        self._had_run = "run" in machine.__dict__       # e.g. the pytest plugin's guard
        self._inner_run = machine.run
        machine.run = self.run

    @property
    def done(self) -> bool:
        """True once every recorded input has been delivered."""
        return self._next == len(self.events)

    def _deliver_due(self) -> None:
        now = _machine_icount(self.machine)
        while self._next < len(self.events) and self.events[self._next][0] <= now:
            _, dev, data = self.events[self._next]
            self.devices[dev].feed_replayed(data)
            self._next += 1

    def run(self, start=None, until=None, count=None, timeout=None):
        """Machine.run, split at each recorded input's instruction count."""
        if count == 0:                       # as Machine.run: nothing runs, "count"
            return self._inner_run(start=start, until=until, count=0, timeout=timeout)
        while True:
            self._deliver_due()
            if self.done:
                return self._inner_run(start=start, until=until, count=count, timeout=timeout)
            gap = self.events[self._next][0] - _machine_icount(self.machine)
            step = gap if count is None else min(gap, count)
            before = _machine_icount(self.machine)
            reason = self._inner_run(start=start, until=until, count=step, timeout=timeout)
            start = None
            if count is not None:
                count -= _machine_icount(self.machine) - before
            if reason != "count" or (count is not None and count <= 0):
                return reason                # the caller's stop; due input goes in next time
            # else: at the next input's instruction count; deliver it and go on

    def close(self) -> None:
        if self.machine.__dict__.get("run") == self.run:
            if self._had_run:
                self.machine.run = self._inner_run
            else:
                del self.machine.__dict__["run"]
        for dev in self.devices.values():
            dev.attach_input(None)


class BoardInputRecorder(_Closing):
    """Console input of a board, recorded in C and written out here."""

    def __init__(self, board, path):
        from .boards import _lib
        self._lib, self._board = _lib, board
        self._f = open(os.fspath(path), "w", encoding="ascii")
        self._f.write(_json.dumps({"format": LOG_FORMAT, "version": LOG_VERSION, "isa": "riscv64",
                                   "start_icount": board.icount}, sort_keys=True) + "\n")
        self._f.flush()
        if _lib.vmpy_board_input_record(board._h, 1):
            raise MemoryError("cannot start recording")

    def drain(self) -> None:
        """Writes out what was recorded so far."""
        import ctypes
        if self._f is None:
            return
        at, buf = ctypes.c_uint64(), ctypes.create_string_buffer(4096)
        while True:
            n = self._lib.vmpy_board_input_pop(self._board._h, ctypes.byref(at), buf, len(buf))
            if n < 0:
                break
            self._f.write(_json.dumps({"at": at.value, "device": "console", "data": buf.raw[:n].hex()},
                                      sort_keys=True) + "\n")
        self._f.flush()

    def close(self) -> None:
        if self._f is None:
            return
        self.drain()
        self._lib.vmpy_board_input_record(self._board._h, 0)
        self._f.close()
        self._f = None


class BoardInputReplayer(_Closing):
    def __init__(self, board, path):
        from .boards import _lib
        _header, events = read_input_log(path, "riscv64")
        bad = sorted({d for _, d, _ in events} - {"console"})
        if bad:
            raise InputLogError(f"the log has input for devices a board console does not take: {bad}")
        if events and events[0][0] < board.icount:
            raise InputLogError(f"the log's first input is at instruction {events[0][0]}, but the board "
                                f"is already at {board.icount} (restore the recording's start state first)")
        self._lib, self._board, self.closed = _lib, board, False
        if _lib.vmpy_board_input_replay(board._h, 1):
            raise MemoryError("cannot start replaying")
        for at, _dev, data in events:
            if _lib.vmpy_board_input_replay_add(board._h, at, data, len(data)):
                raise MemoryError("cannot queue the log")

    @property
    def done(self) -> bool:
        return self._lib.vmpy_board_input_replay_left(self._board._h) == 0

    def close(self) -> None:
        if not self.closed:
            self._lib.vmpy_board_input_replay(self._board._h, 0)
            self.closed = True
