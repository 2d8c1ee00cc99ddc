"""Boards: whole machines with devices, firmware and a kernel.

    m = vmpy.boards.virt(ram="512M", smp=2, kernel=..., initrd=..., firmware=..., append=...)
    m.start()                               # runs in a background thread
    m.console.expect("# ", timeout=60)
    m.console.write("uname -a\\n")
    m.stop()

The board lives in the C core (csrc/devices/board_virt.c); this module
reaches it through the flat interface of csrc/python/board_obj.c with
ctypes, which releases the GIL around each call.
"""
from __future__ import annotations

import ctypes
import errno
import os
import re

from . import _core
from .console import Console

_lib = ctypes.CDLL(_core.__file__)
_B = ctypes.c_void_p
_sig = {
    "vmpy_board_new": (_B, [ctypes.c_uint64, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p,
                            ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int,
                            ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_char_p,
                            ctypes.c_char_p, ctypes.c_size_t]),
    "vmpy_board_net_available": (ctypes.c_int, []),
    "vmpy_board_free": (None, [_B]),
    "vmpy_board_start": (ctypes.c_int, [_B]),
    "vmpy_board_stop": (None, [_B]),
    "vmpy_board_wait": (ctypes.c_int, [_B, ctypes.c_double]),
    "vmpy_board_state": (ctypes.c_int, [_B]),
    "vmpy_board_exit_code": (ctypes.c_int, [_B]),
    "vmpy_board_error": (ctypes.c_char_p, [_B]),
    "vmpy_board_console_read": (ctypes.c_size_t, [_B, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_double]),
    "vmpy_board_console_write": (None, [_B, ctypes.c_char_p, ctypes.c_size_t]),
    "vmpy_board_set_echo_fd": (None, [_B, ctypes.c_int]),
    "vmpy_board_hvc_read": (ctypes.c_size_t, [_B, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_double]),
    "vmpy_board_hvc_write": (ctypes.c_size_t, [_B, ctypes.c_char_p, ctypes.c_size_t]),
    "vmpy_board_icount": (ctypes.c_uint64, [_B]),
    "vmpy_board_run": (ctypes.c_int, [_B, ctypes.c_uint64, ctypes.c_double]),
    "vmpy_board_input_record": (ctypes.c_int, [_B, ctypes.c_int]),
    "vmpy_board_input_pop": (ctypes.c_long, [_B, ctypes.POINTER(ctypes.c_uint64), ctypes.c_char_p,
                                             ctypes.c_size_t]),
    "vmpy_board_input_replay": (ctypes.c_int, [_B, ctypes.c_int]),
    "vmpy_board_input_replay_add": (ctypes.c_int, [_B, ctypes.c_uint64, ctypes.c_char_p, ctypes.c_size_t]),
    "vmpy_board_input_replay_left": (ctypes.c_size_t, [_B]),
    "vmpy_board_set_code_cache": (ctypes.c_int, [_B, ctypes.c_char_p]),
    "vmpy_jit_stats_names": (ctypes.c_char_p, []),
    "vmpy_board_jit_stats": (ctypes.c_int, [_B, ctypes.POINTER(ctypes.c_uint64), ctypes.c_int]),
}
for _name, (_res, _args) in _sig.items():
    _f = getattr(_lib, _name)
    _f.restype = _res
    _f.argtypes = _args

STATES = ["created", "running", "poweroff", "reboot", "stopped", "error"]


def parse_size(v) -> int:
    """'512M', '2G', '1048576' or an int -> bytes."""
    if isinstance(v, int):
        return v
    m = re.fullmatch(r"\s*(\d+)\s*([kKmMgG]?)i?[bB]?\s*", str(v))
    if not m:
        raise ValueError(f"bad size {v!r} (use e.g. 512M or 2G)")
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]
    return int(m.group(1)) * mult


def _path(p):
    if p is None:
        return None
    p = os.fspath(p)
    if not os.path.exists(p):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), p)
    return p.encode()


class _HvcPort:
    """The raw calls a Console needs, for the virtio console (/dev/hvc0)."""

    def __init__(self, board):
        self._board = board

    def _read(self, n: int, timeout: float) -> bytes:
        buf = ctypes.create_string_buffer(n)
        got = _lib.vmpy_board_hvc_read(self._board._h, buf, n, timeout)
        return buf.raw[:got]

    def _write(self, data: bytes) -> None:
        done = _lib.vmpy_board_hvc_write(self._board._h, data, len(data))
        if done < len(data):
            raise BufferError(f"virtio console input full: {done} of {len(data)} bytes queued")

    @property
    def state(self) -> str:
        return self._board.state


class Board:
    """A running or runnable board; use as a context manager to stop it."""

    def __init__(self, handle, hvc: bool = False):
        self._h = handle
        self.console = Console(self)
        # The virtio console (/dev/hvc0 in the guest), when built with hvc=True.
        self.hvc = Console(_HvcPort(self)) if hvc else None

    # the raw calls the console uses
    def _read(self, n: int, timeout: float) -> bytes:
        buf = ctypes.create_string_buffer(n)
        got = _lib.vmpy_board_console_read(self._h, buf, n, timeout)
        return buf.raw[:got]

    def _write(self, data: bytes) -> None:
        _lib.vmpy_board_console_write(self._h, data, len(data))

    def start(self) -> "Board":
        if _lib.vmpy_board_start(self._h):
            raise RuntimeError("the board is already started")
        return self

    def stop(self) -> None:
        if self._h:
            _lib.vmpy_board_stop(self._h)

    def wait(self, timeout: float | None = None) -> str:
        """Waits for the guest to power off / stop; returns the state name."""
        return STATES[_lib.vmpy_board_wait(self._h, -1.0 if timeout is None else float(timeout))]

    @property
    def state(self) -> str:
        return STATES[_lib.vmpy_board_state(self._h)]

    @property
    def exit_code(self) -> int:
        return _lib.vmpy_board_exit_code(self._h)

    @property
    def error(self) -> str:
        return (_lib.vmpy_board_error(self._h) or b"").decode(errors="replace")

    @property
    def icount(self) -> int:
        return _lib.vmpy_board_icount(self._h)

    def jit_stats(self) -> dict | None:
        """The JIT's counters (compiled, loaded, cache_*; see Machine.jit_stats),
        or None under the interpreter."""
        names = _lib.vmpy_jit_stats_names().decode().rstrip(",").split(",")
        out = (ctypes.c_uint64 * len(names))()
        n = _lib.vmpy_board_jit_stats(self._h, out, len(names))
        return dict(zip(names[:n], out[:n])) if n else None

    # -- snapshots and deterministic time (issue 8); the board must be stopped --
    def run(self, count: int, timeout: float | None = None) -> str:
        """Runs count instructions (all harts) on this thread, for at most
        timeout seconds if given; returns the state ("stopped" when the count
        or the time ran out)."""
        if count <= 0:
            raise ValueError("count must be positive")
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be positive")
        st = _lib.vmpy_board_run(self._h, int(count), float(timeout or 0.0))
        if st < 0:
            raise RuntimeError("the board is running in its thread (stop it first)")
        return STATES[st]

    def snapshot(self, base=None):
        """CPU state, RAM and every device's state (vmpy.Snapshot)."""
        from .snapshot import Snapshot
        if base is not None and not isinstance(base, Snapshot):
            raise TypeError("base must be a vmpy.Snapshot")
        self._join_if_stopped()
        return Snapshot(_core.snapshot_take(self._h, base._core if base else None))

    def _join_if_stopped(self) -> None:
        """A guest that powered off has left the run thread: join it."""
        if self.state != "running":
            self.stop()

    def restore(self, snap) -> None:
        """Puts the board in the snapshot's state (taken from a board built
        the same way); on vmpy.FormatError nothing has changed."""
        from .snapshot import Snapshot
        if not isinstance(snap, Snapshot):
            raise TypeError("restore() takes a vmpy.Snapshot")
        self._join_if_stopped()
        _core.snapshot_restore(self._h, snap._core)

    @property
    def deterministic(self) -> bool:
        return _core.clock_query(self._h)[0]

    @deterministic.setter
    def deterministic(self, on: bool) -> None:
        _core.clock_set_deterministic(self._h, bool(on))

    def seed(self, seed: int) -> None:
        """Seed of the deterministic random stream (virtio-rng)."""
        _core.clock_seed(self._h, int(seed))

    def set_echo_fd(self, fd: int) -> None:
        """Copies console output to fd as it comes (-1: off)."""
        _lib.vmpy_board_set_echo_fd(self._h, fd)

    def close(self) -> None:
        if self._h:
            _lib.vmpy_board_free(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def net_available() -> bool:
    """Was vmpy built with libslirp, so that virt(net=True) works?"""
    return bool(_lib.vmpy_board_net_available())


def virt(ram="512M", smp: int = 1, kernel=None, initrd=None, firmware=None, append: str | None = None,
         disk=None, disk_readonly: bool = False, rng: bool = True, hvc: bool = False,
         net: bool = False, hostfwd: str | None = None, code_cache=None) -> Board:
    """Builds QEMU's riscv `virt` board.  firmware is OpenSBI (fw_dynamic.bin
    or fw_jump.bin) or a bare-metal program loaded at 0x80000000; kernel a
    RISC-V Linux Image.  With no firmware, the default Debian image is
    fetched (vmpy image fetch debian-riscv64).  hvc=True adds a virtio
    console (/dev/hvc0), reachable as board.hvc.  net=True adds a virtio-net
    card on libslirp user networking (guest 10.0.2.15, host loopback seen
    as 10.0.2.2); hostfwd="tcp:HOSTPORT:GUESTPORT[,...]" forwards host ports
    on 127.0.0.1 to the guest.  code_cache is a directory for the JIT's
    persistent code cache (written when the board is closed): a later boot
    with the same directory starts with the compiled code of this one."""
    if (net or hostfwd) and not net_available():
        raise RuntimeError("virtio-net needs libslirp: this vmpy was built without it "
                           "(apt-get install libslirp-dev, then rebuild)")
    if firmware is None:
        # No firmware given: the default Debian image (kernel and initrd
        # too, unless given).  With a firmware, nothing is added: bare-metal
        # programs run as the firmware alone.
        from .images import fetch_debian_riscv64
        img = fetch_debian_riscv64()
        firmware = img.firmware
        if kernel is None:
            kernel = img.kernel
            initrd = initrd or img.initrd
    if append is None:
        append = "console=ttyS0 earlycon=sbi"
    err = ctypes.create_string_buffer(512)
    h = _lib.vmpy_board_new(parse_size(ram), int(smp), _path(firmware), _path(kernel), _path(initrd),
                            append.encode(), _path(disk), int(bool(disk_readonly)), int(bool(rng)),
                            int(bool(hvc)), int(bool(net or hostfwd)), hostfwd.encode() if hostfwd else None,
                            err, len(err))
    if not h:
        raise RuntimeError(err.value.decode(errors="replace") or "cannot build the board")
    if code_cache is not None:
        _lib.vmpy_board_set_code_cache(h, os.fsencode(os.path.expanduser(os.fspath(code_cache))))
    return Board(h, hvc=bool(hvc))


# ---- `vmpy boot` ------------------------------------------------------------

def _cmd_boot(args) -> int:
    import os
    import sys
    from .console import interactive
    if args.engine:
        os.environ["VMPY_ENGINE"] = args.engine
    try:
        board = virt(ram=args.ram, smp=args.smp, kernel=args.kernel, initrd=args.initrd,
                     firmware=args.firmware, append=args.append, disk=args.disk,
                     disk_readonly=args.readonly, rng=True, net=args.net or bool(args.hostfwd),
                     hostfwd=args.hostfwd, code_cache=args.code_cache)
    except OSError as e:
        print(f"vmpy: {e.filename}: {e.strerror}" if e.filename and e.strerror else f"vmpy: {e}",
              file=sys.stderr)
        return 1
    except (RuntimeError, ValueError) as e:
        print(f"vmpy: {e}", file=sys.stderr)
        return 1
    with board:
        if getattr(args, "gdb", None) is not None:
            from .gdbserver import serve_board_for_cli
            try:
                code = serve_board_for_cli(board, args.gdb, args.gdb_host)
            except OSError as e:
                print(f"vmpy: {e}", file=sys.stderr)
                return 1
            if code is not None:
                return code
        return interactive(board)


def add_boot_command(subparsers) -> None:
    """Adds `vmpy boot` to the CLI's subparsers."""
    p = subparsers.add_parser("boot", help="boot Linux on the riscv64 virt board (Ctrl-A X quits)")
    p.add_argument("--kernel", help="RISC-V Linux Image (default: Debian's, fetched if needed)")
    p.add_argument("--initrd", help="initramfs (default: a busybox shell)")
    p.add_argument("--firmware", "--bios", dest="firmware", help="OpenSBI fw_dynamic.bin or fw_jump.bin")
    p.add_argument("--append", default=None, help="kernel command line (default: console=ttyS0 earlycon=sbi)")
    p.add_argument("--ram", "-m", default="512M", help="RAM size (default 512M)")
    p.add_argument("--smp", type=int, default=1, help="number of harts")
    p.add_argument("--disk", help="raw disk image for virtio-blk")
    p.add_argument("--readonly", action="store_true", help="attach the disk read-only")
    p.add_argument("--net", action="store_true",
                   help="virtio-net on user-mode networking (libslirp): guest 10.0.2.15, host 10.0.2.2")
    p.add_argument("--hostfwd", help="forward host ports to the guest: tcp:HOSTPORT:GUESTPORT[,...] (implies --net)")
    from .gdbserver import add_gdb_option
    add_gdb_option(p)
    p.add_argument("--engine", default=None, help="execution engine (interp, jit, auto)")
    p.add_argument("--code-cache", metavar="DIR", default=None,
                   help="keep the JIT's compiled code in DIR for later boots (e.g. ~/.cache/vmpy/jit)")
    p.set_defaults(func=_cmd_boot)
