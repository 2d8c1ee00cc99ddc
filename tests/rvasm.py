"""Assemble small RISC-V snippets with Debian's cross binutils (the
independent oracle for encodings) into raw bytes for tests."""
import hashlib
import os
import shutil
import subprocess
import tempfile

import pytest

AS = "riscv64-linux-gnu-as"
LD = "riscv64-linux-gnu-ld"
OBJCOPY = "riscv64-linux-gnu-objcopy"
_cache = {}


def asm(source: str, march: str = "rv64gc_zba_zbb_zbs") -> bytes:
    """Assemble and link source at address 0 (no relaxation) to raw bytes.
    Linking resolves pc-relative references such as `la`, so the bytes run
    at any base address."""
    key = hashlib.sha256((march + source).encode()).hexdigest()
    if key in _cache:
        return _cache[key]
    if shutil.which(AS) is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI is missing {AS}")
        pytest.skip(f"{AS} not available")
    with tempfile.TemporaryDirectory() as d:
        src, obj, elf, out = (os.path.join(d, n) for n in ("a.s", "a.o", "a.elf", "a.bin"))
        with open(src, "w") as f:
            f.write(".option norelax\n" + source + "\n")
        subprocess.run([AS, f"-march={march}", "-o", obj, src], check=True, capture_output=True)
        subprocess.run([LD, "--no-relax", "-Ttext=0", "-e", "0", "-o", elf, obj], check=True, capture_output=True)
        subprocess.run([OBJCOPY, "-O", "binary", "-j", ".text", elf, out], check=True, capture_output=True)
        with open(out, "rb") as f:
            data = f.read()
    _cache[key] = data
    return data
