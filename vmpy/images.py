"""Guest images: Debian trixie's riscv64 kernel, OpenSBI and busybox, and
busybox initramfs images built with our own cpio (newc) writer.

`vmpy image fetch debian-riscv64` downloads the packages with apt-get through
a private apt configuration (scripts/debian-fetch.sh: the mirror URI comes
from the machine's own apt sources), extracts them with dpkg-deb, and builds
an interactive initramfs.  Everything is cached under the user's cache dir.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import os
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
FETCH_SCRIPT = HERE.parent / "scripts" / "debian-fetch.sh"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "vmpy"


# ---- cpio (newc) ---------------------------------------------------------

class Cpio:
    """Writes a cpio archive in the "newc" format the kernel unpacks."""

    def __init__(self) -> None:
        self._out = io.BytesIO()
        self._ino = 1
        self._dirs: set[str] = set()

    def _entry(self, name: str, mode: int, data: bytes = b"", nlink: int = 1, rdev=(0, 0)):
        name_b = name.encode() + b"\0"
        fields = [self._ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0]
        self._ino += 1
        hdr = b"070701" + b"".join(b"%08X" % f for f in fields)
        self._out.write(hdr + name_b)
        self._pad()
        self._out.write(data)
        self._pad()

    def _pad(self):
        self._out.write(b"\0" * (-self._out.tell() % 4))

    def dir(self, name: str, mode: int = 0o755):
        name = name.strip("/")
        parent = os.path.dirname(name)
        if parent and parent not in self._dirs:
            self.dir(parent)
        if name and name not in self._dirs:
            self._dirs.add(name)
            self._entry(name, stat.S_IFDIR | mode, nlink=2)

    def file(self, name: str, data: bytes, mode: int = 0o644):
        name = name.strip("/")
        if os.path.dirname(name):
            self.dir(os.path.dirname(name))
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name: str, target: str):
        name = name.strip("/")
        if os.path.dirname(name):
            self.dir(os.path.dirname(name))
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name: str, major: int, minor: int, mode: int = 0o600):
        name = name.strip("/")
        if os.path.dirname(name):
            self.dir(os.path.dirname(name))
        self._entry(name, stat.S_IFCHR | mode, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        self._out.write(b"\0" * (-self._out.tell() % 512))
        return self._out.getvalue()


# Kernel modules for the virtio devices (Debian builds them as modules);
# loaded in this order by the interactive init.
VIRTIO_MODULES = ["drivers/virtio/virtio_mmio.ko", "drivers/block/virtio_blk.ko",
                  "drivers/char/hw_random/virtio-rng.ko", "net/core/failover.ko",
                  "drivers/net/net_failover.ko", "drivers/net/virtio_net.ko"]

INIT_MARKER = """#!/bin/busybox sh
/bin/busybox echo {marker}
/bin/busybox poweroff -f
"""

INIT_SHELL = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
for m in /lib/modules/*.ko; do [ -e "$m" ] && insmod "$m" 2>/dev/null; done
echo "vmpy: busybox initramfs ready"
export PATH=/bin HOME=/root PS1='# '
cd /root
while true; do
    setsid cttyhack sh
    echo "vmpy: shell exited, powering off"
    poweroff -f
done
"""


def _initrd_tag() -> str:
    """Names the cached interactive initramfs after what goes into it, so
    that a new module list or init script rebuilds it."""
    return hashlib.sha1((INIT_SHELL + repr(VIRTIO_MODULES)).encode()).hexdigest()[:10]


def build_initramfs(busybox: str | os.PathLike, init_script: str, out: str | os.PathLike,
                    extra: dict[str, bytes] | None = None) -> Path:
    """Writes a gzip'd newc initramfs: busybox at /bin/busybox, /bin/sh, and
    init_script as /init."""
    c = Cpio()
    for d in ("bin", "dev", "proc", "sys", "tmp", "root", "etc", "mnt"):
        c.dir(d)
    c.chardev("dev/console", 5, 1)
    c.chardev("dev/null", 1, 3, 0o666)
    c.file("bin/busybox", Path(busybox).read_bytes(), 0o755)
    c.symlink("bin/sh", "busybox")
    c.file("init", init_script.encode(), 0o755)
    for name, data in (extra or {}).items():
        c.file(name, data, 0o644)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_bytes(gzip.compress(c.finish(), 6, mtime=0))
    tmp.replace(out)
    return out


# ---- Debian packages -------------------------------------------------------

@dataclass
class DebianImage:
    kernel: Path
    firmware: Path          # fw_dynamic.bin
    firmware_jump: Path     # fw_jump.bin
    busybox: Path
    initrd: Path            # interactive busybox initramfs
    modules: Path           # the kernel's /usr/lib/modules/VERSION

    def marker_initrd(self, marker: str) -> Path:
        """An initramfs whose init prints marker and powers off (cached)."""
        safe = "".join(ch for ch in marker if ch.isalnum() or ch in "-_")
        out = cache_dir() / "images" / f"initrd-marker-{safe}.cpio.gz"
        if not out.exists() or out.stat().st_mtime < self.busybox.stat().st_mtime:
            build_initramfs(self.busybox, INIT_MARKER.format(marker=marker), out)
        return out


def _fetch(args: list[str]) -> Path:
    if not FETCH_SCRIPT.exists():
        raise FileNotFoundError(f"{FETCH_SCRIPT} is missing")
    r = subprocess.run(["bash", str(FETCH_SCRIPT), *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"debian-fetch {' '.join(args)} failed: {r.stderr.strip()}")
    return Path(r.stdout.strip().splitlines()[-1])


def fetch_debian_riscv64(refresh: bool = False) -> DebianImage:
    """Fetches (or reuses the cached) Debian trixie riscv64 kernel, OpenSBI
    and busybox, and builds the interactive initramfs."""
    pre = ["--refresh"] if refresh else []
    busybox = _fetch(pre + ["busybox-static", "bin/busybox"])
    kroot = _fetch(pre + ["--follow", "linux-image-riscv64"])
    kernels = sorted((kroot / "boot").glob("vmlinu[xz]-*"))
    if not kernels:
        raise RuntimeError(f"no kernel image under {kroot / 'boot'}")
    sbi = _fetch(pre + ["opensbi"])
    fw_dir = sbi / "usr/lib/riscv64-linux-gnu/opensbi/generic"
    image = DebianImage(kernel=kernels[-1], firmware=fw_dir / "fw_dynamic.bin",
                        firmware_jump=fw_dir / "fw_jump.bin", busybox=busybox,
                        initrd=cache_dir() / "images" / f"debian-riscv64-initrd-{_initrd_tag()}.cpio.gz", modules=kroot)
    mods = sorted((kroot / "usr/lib/modules").glob("*"))
    image.modules = mods[-1] if mods else kroot
    for p in (image.firmware, image.firmware_jump):
        if not p.exists():
            raise RuntimeError(f"{p} missing from the opensbi package")
    if refresh or not image.initrd.exists() or image.initrd.stat().st_mtime < busybox.stat().st_mtime:
        build_initramfs(busybox, INIT_SHELL, image.initrd, extra=_modules(image.modules))
    return image


def _modules(moddir: Path) -> dict[str, bytes]:
    """The virtio modules, decompressed (busybox insmod takes plain .ko)."""
    out = {}
    for i, rel in enumerate(VIRTIO_MODULES):
        for cand, opener in ((moddir / "kernel" / (rel + ".xz"), lzma.decompress),
                             (moddir / "kernel" / rel, lambda b: b)):
            if cand.exists():
                out[f"lib/modules/{i:02d}-{os.path.basename(rel)}"] = opener(cand.read_bytes())
                break
    return out


IMAGES = {"debian-riscv64": fetch_debian_riscv64}


def _cmd_image(args) -> int:
    if args.action == "fetch":
        fn = IMAGES.get(args.name)
        if fn is None:
            print(f"vmpy: unknown image {args.name!r} (have: {', '.join(IMAGES)})")
            return 2
        try:
            img = fn(refresh=args.refresh)
        except (RuntimeError, OSError) as e:
            print(f"vmpy: {e}")
            return 1
        for k in ("kernel", "firmware", "initrd", "busybox"):
            print(f"{k:9} {getattr(img, k)}")
        return 0
    return 2


def add_image_command(subparsers) -> None:
    """Adds `vmpy image fetch NAME` to the CLI's subparsers."""
    p = subparsers.add_parser("image", help="fetch guest images (Debian riscv64 kernel, OpenSBI, busybox)")
    p.add_argument("action", choices=["fetch"])
    p.add_argument("name", nargs="?", default="debian-riscv64", choices=sorted(IMAGES))
    p.add_argument("--refresh", action="store_true", help="re-download the package lists")
    p.set_defaults(func=_cmd_image)
