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
import os
import re

from . import _core
from .console import Console

_lib = ctypes.CDLL(_core.__file__)
_B = ctypes.c_void_p
_sig = {
    "vmpy_board_new": (_B, [ctypes.c_uint64, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p,
                            ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int,
                            ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]),
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
    "vmpy_board_icount": (ctypes.c_uint64, [_B]),
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
        raise FileNotFoundError(p)
    return p.encode()


class Board:
    """A running or runnable board; use as a context manager to stop it."""

    def __init__(self, handle):
        self._h = handle
        self.console = Console(self)

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


def virt(ram="512M", smp: int = 1, kernel=None, initrd=None, firmware=None, append: str | None = None,
         disk=None, disk_readonly: bool = False, rng: bool = True) -> Board:
    """Builds QEMU's riscv `virt` board.  firmware is OpenSBI (fw_dynamic.bin
    or fw_jump.bin) or a bare-metal program loaded at 0x80000000; kernel a
    RISC-V Linux Image.  With no firmware, the default Debian image is
    fetched (vmpy image fetch debian-riscv64)."""
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
                            err, len(err))
    if not h:
        raise RuntimeError(err.value.decode(errors="replace") or "cannot build the board")
    return Board(h)


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
                     disk_readonly=args.readonly, rng=True)
    except (RuntimeError, OSError, ValueError) as e:
        print(f"vmpy: {e}", file=sys.stderr)
        return 1
    with board:
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
    p.add_argument("--engine", default=None, help="execution engine (interp, jit, auto)")
    p.set_defaults(func=_cmd_boot)
