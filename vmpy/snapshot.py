"""Snapshots, snapshot files, Python peripherals and deterministic time.

    s = m.snapshot()                 # CPU state, RAM, clock, peripheral state
    m.restore(s)                     # in place; fast when s is related to the last mark
    m2 = vmpy.Machine.from_snapshot(s)
    s.save("base.vmsnap"); s2 = vmpy.Snapshot.load("base.vmsnap")
    d = m.snapshot(base=s)           # incremental: only pages that differ from s
    m.deterministic = True           # guest time = instructions retired

Python peripherals (``m.add_peripheral(name, addr, size, device)``) take part
in snapshots when the device has ``snapshot_state()`` (returning JSON-able
data) and ``restore_state(state)``; ``check_state(state)`` may reject a state
before anything is applied.

File format (all integers little-endian)::

    header   b"VMPYSNAP" u16 version u16 flags char isa[16] u32 nsections
    section  char tag[4] u32 flags u64 stored_len u64 raw_len u32 crc32(raw) data[stored_len]
    trailer  b"VMPYEND\\0" sha256(everything before the trailer)

Sections: CORE (the C payload: cpus, RAM without zero pages, clock, device
sections) and PYDV (JSON: Python peripheral states).  A section with flag 1 is
zlib-compressed.  Files are written to a temporary file, fsync'ed and renamed
over the target, so a crash leaves either the old file or the new one.
"""
from __future__ import annotations

# hashlib, json and tempfile are imported where they are used: they cost
# ~15 ms that every `vmpy run` would pay at start-up.
import os
import struct
import zlib
TYPE_CHECKING = False    # typing costs ~8 ms at start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any, Dict, Optional

from . import _core

FormatError = _core.FormatError

MAGIC = b"VMPYSNAP"
TRAILER = b"VMPYEND\0"
VERSION = 1
_HEADER = struct.Struct("<8sHH16sI")
_SECTION = struct.Struct("<4sIQQI")
_FLAG_ZLIB = 1
_MAX_SECTION = 1 << 41            # refuse absurd declared sizes before allocating


class Snapshot:
    """A machine snapshot: the C core's part plus the Python peripherals' states."""

    __slots__ = ("_core", "devices", "__weakref__")

    def __init__(self, core_snap, devices: Optional[Dict[str, Any]] = None):
        self._core = core_snap
        self.devices = dict(devices or {})

    # -- inspecting ---------------------------------------------------------
    isa = property(lambda self: self._core.isa, doc="guest ISA")
    ncpus = property(lambda self: self._core.ncpus, doc="number of cpus")
    stored_pages = property(lambda self: self._core.stored_pages,
                            doc="non-zero RAM pages held by this snapshot itself")

    @property
    def incremental(self) -> bool:
        return self._core.base is not None

    def icount(self, cpu: int = 0) -> int:
        """Instructions retired by cpu when the snapshot was taken."""
        return self._core.icount(cpu)

    def regions(self):
        """[(base, size, perms, "ram"|"mmio")] as snapshotted."""
        return self._core.regions()

    def read(self, addr: int, n: int) -> bytes:
        """Guest RAM as snapshotted."""
        return self._core.read(addr, n)

    def __repr__(self) -> str:
        kind = "incremental" if self.incremental else "full"
        return f"<vmpy.Snapshot {self.isa} {kind} pages={self.stored_pages}>"

    # -- files ------------------------------------------------------------------
    def to_bytes(self, compress: bool = True) -> bytes:
        """The file image (incremental snapshots are flattened: self-contained)."""
        import hashlib
        import json
        sections = [(b"CORE", self._core.serialize()),
                    (b"PYDV", json.dumps(self.devices, sort_keys=True).encode())]
        parts = [_HEADER.pack(MAGIC, VERSION, _FLAG_ZLIB if compress else 0,
                              self.isa.encode().ljust(16, b"\0"), len(sections))]
        for tag, raw in sections:
            stored, flags = raw, 0
            if compress:
                stored, flags = zlib.compress(raw, 1), _FLAG_ZLIB
            parts.append(_SECTION.pack(tag, flags, len(stored), len(raw), zlib.crc32(raw)))
            parts.append(stored)
        body = b"".join(parts)
        return body + TRAILER + hashlib.sha256(body).digest()

    def save(self, path, compress: bool = True) -> None:
        """Write atomically: temporary file in the same directory, fsync, rename."""
        import tempfile
        path = os.fsdecode(path)           # str or bytes in; tempfile wants one kind
        data = self.to_bytes(compress)
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".vmsnap-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        try:
            dfd = os.open(directory, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dfd)
        except OSError:
            pass
        finally:
            os.close(dfd)

    @classmethod
    def from_bytes(cls, data: bytes, isa: Optional[str] = None) -> "Snapshot":
        """Parse a file image; raises vmpy.FormatError for anything malformed."""
        import json
        sections, file_isa = _parse_file(bytes(data))
        if isa is not None and file_isa != isa:
            raise FormatError(f"snapshot is of a {file_isa} machine, not {isa}")
        if b"CORE" not in sections or b"PYDV" not in sections:
            raise FormatError("snapshot file lacks its CORE or PYDV section")
        core = _core.snapshot_deserialize(sections[b"CORE"])
        if core.isa != file_isa:
            raise FormatError(f"snapshot header says {file_isa} but its payload is {core.isa}")
        try:
            devices = json.loads(sections[b"PYDV"].decode())
        except (UnicodeDecodeError, ValueError) as e:
            raise FormatError(f"snapshot's peripheral states are not valid JSON: {e}") from None
        if not isinstance(devices, dict):
            raise FormatError("snapshot's peripheral states are not a JSON object")
        return cls(core, devices)

    @classmethod
    def load(cls, path, isa: Optional[str] = None) -> "Snapshot":
        """Read a snapshot file (vmpy.FormatError if truncated, corrupted, of
        another version or, with isa=, of another architecture)."""
        with open(path, "rb") as f:
            return cls.from_bytes(f.read(), isa)


def _parse_file(data: bytes):
    import hashlib
    if len(data) < _HEADER.size + len(TRAILER) + 32:
        raise FormatError("snapshot file is truncated (shorter than its header)")
    magic, version, _flags, isa_raw, nsections = _HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise FormatError("not a vmpy snapshot file (bad magic)")
    if version != VERSION:
        raise FormatError(f"snapshot file version {version} is not supported (this vmpy reads {VERSION})")
    body, trailer = data[:-40], data[-40:]
    if trailer[:8] != TRAILER:
        raise FormatError("snapshot file is truncated (no trailer)")
    if hashlib.sha256(body).digest() != trailer[8:]:
        raise FormatError("snapshot file is corrupted (checksum mismatch)")
    isa = isa_raw.rstrip(b"\0").decode("ascii", "replace")
    if nsections > 16:
        raise FormatError("snapshot file declares too many sections")
    pos, sections = _HEADER.size, {}
    for _ in range(nsections):
        if pos + _SECTION.size > len(body):
            raise FormatError("snapshot file is truncated (section header)")
        tag, flags, stored_len, raw_len, crc = _SECTION.unpack_from(body, pos)
        pos += _SECTION.size
        if flags & ~_FLAG_ZLIB or stored_len > len(body) - pos or raw_len > _MAX_SECTION or tag in sections:
            raise FormatError(f"snapshot file has a malformed section {tag!r}")
        raw = body[pos:pos + stored_len]
        pos += stored_len
        if flags & _FLAG_ZLIB:
            raw = _inflate(raw, raw_len, tag)
        if len(raw) != raw_len or zlib.crc32(raw) != crc:
            raise FormatError(f"snapshot section {tag!r} is corrupted")
        sections[tag] = raw
    if pos != len(body):
        raise FormatError("snapshot file has trailing bytes after its sections")
    return sections, isa


def _inflate(stored: bytes, raw_len: int, tag: bytes) -> bytes:
    d = zlib.decompressobj()
    try:
        raw = d.decompress(stored, raw_len + 1)
    except zlib.error as e:
        raise FormatError(f"snapshot section {tag!r} does not decompress: {e}") from None
    if not d.eof or d.unused_data or len(raw) != raw_len:
        raise FormatError(f"snapshot section {tag!r} has the wrong length")
    return raw


# ---- the Machine methods (vmpy.Machine inherits SnapshotMethods) -------------

def _peripherals(m) -> Dict[str, Any]:
    try:
        return m.__dict__.setdefault("_vmpy_peripherals", {})
    except AttributeError:     # a bare _core.Machine has no __dict__
        return {}


def _stateful(m) -> Dict[str, Any]:
    return {n: d for n, d in _peripherals(m).items() if hasattr(d, "snapshot_state")}


class SnapshotMethods:
    """Snapshots, Python peripherals, deterministic time and input
    record/replay: the part of vmpy.Machine that lives in this module."""

    def add_peripheral(self, name: str, addr: int, size: int, device) -> Any:
        """Map a Python device (read(offset, size), write(offset, size, value)) at
        addr.  Devices with snapshot_state()/restore_state() join snapshots."""
        periph = _peripherals(self)
        if name in periph:
            raise ValueError(f"a peripheral named {name!r} already exists")
        self.mmio_map(addr, size, read=getattr(device, "read", None), write=getattr(device, "write", None))
        periph[name] = device
        pending = self.__dict__.get("_vmpy_pending_devices", {})
        if name in pending and hasattr(device, "restore_state"):
            device.restore_state(pending.pop(name))
        return device

    def snapshot(self, base: Optional[Snapshot] = None) -> Snapshot:
        """Snapshot the machine; with base=, an incremental one holding only the
        pages that differ from base."""
        import json
        if base is not None and not isinstance(base, Snapshot):
            raise TypeError("base must be a vmpy.Snapshot")
        devices = {n: d.snapshot_state() for n, d in _stateful(self).items()}
        # A JSON round trip: fails now (not at save time) on non-JSON state, and
        # the snapshot keeps its own copy, as a file would.
        devices = json.loads(json.dumps(devices))
        return Snapshot(_core.snapshot_take(self, base._core if base else None), devices)

    def restore(self, snap: Snapshot) -> None:
        """Put the machine in the snapshot's state.  Everything is validated first:
        on vmpy.FormatError nothing has changed."""
        if not isinstance(snap, Snapshot):
            raise TypeError("restore() takes a vmpy.Snapshot")
        if snap.isa != self.isa:
            raise FormatError(f"snapshot is of a {snap.isa} machine, this one is {self.isa}")
        devs = _stateful(self)
        missing = sorted(set(devs) - set(snap.devices))
        extra = sorted(set(snap.devices) - set(devs))
        if missing or extra:
            raise FormatError(f"snapshot's peripherals do not match the machine's "
                              f"(missing state for {missing}, state for unknown {extra})")
        for name, dev in devs.items():
            check = getattr(dev, "check_state", None)
            if check is not None and not check(snap.devices[name]):
                raise FormatError(f"snapshot's state for peripheral {name!r} is invalid")
        _core.snapshot_restore(self, snap._core)
        for name, dev in devs.items():
            import copy
            dev.restore_state(copy.deepcopy(snap.devices[name]))

    @classmethod
    def from_snapshot(cls, snap: Snapshot, engine: Optional[str] = None, board=None):
        """A new machine in the snapshot's state.  MMIO devices cannot come from a
        file: board(machine) (if given) attaches them first; otherwise peripheral
        states wait for add_peripheral() of the same name."""
        kw = {"cpus": snap.ncpus}
        if engine is not None:
            kw["engine"] = engine
        m = cls(snap.isa, **kw)
        if board is not None:
            board(m)
            m.restore(snap)
            return m
        pending = dict(snap.devices)
        m.__dict__["_vmpy_pending_devices"] = pending
        _core.snapshot_restore(m, snap._core)
        return m

    @property
    def deterministic(self) -> bool:
        """True: guest time is derived from instructions retired (and guest
        randomness from a seeded stream)."""
        return _core.clock_query(self)[0]

    @deterministic.setter
    def deterministic(self, on: bool) -> None:
        _core.clock_set_deterministic(self, bool(on))

    def configure_clock(self, ns_per_insn: int = 1, realtime_base_ns: int = 1704067200 * 10**9) -> None:
        """Deterministic-mode clock: ns per instruction and the wall-clock time at 0."""
        _core.clock_configure(self, ns_per_insn, realtime_base_ns)

    def seed_random(self, seed: int) -> None:
        """Seed of the deterministic random stream (getrandom, AT_RANDOM, virtio-rng)."""
        _core.clock_seed(self, int(seed))

    def guest_time_ns(self) -> tuple:
        """(monotonic_ns, realtime_ns) as the guest would read them now."""
        _, mono, real = _core.clock_query(self)
        return mono, real

    def record_input(self, path):
        """Log every input fed to the machine's input devices (UARTs) with the
        instruction count at which it arrived; returns the recorder (close() it,
        or use it as a context manager)."""
        from .console import InputRecorder
        return InputRecorder(self, path)

    def replay_input(self, path):
        """Replay a log from record_input(): run() now stops at each recorded
        instruction count and feeds the input there.  Start from the state the
        recording started from.  Returns the replayer (close() it to stop)."""
        from .console import InputReplayer
        return InputReplayer(self, path)

    @property
    def peripherals(self) -> Dict[str, Any]:
        """{name: device} added with add_peripheral()."""
        return dict(_peripherals(self))
