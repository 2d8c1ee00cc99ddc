"""Build of vmpy._core: the C core (csrc/), the gdb protocol library (gdb/).

Environment knobs:
  VMPY_SANITIZE=1   build with AddressSanitizer + UBSan (see `make asan`)
  VMPY_DEBUG=1      -O0 -g
  VMPY_NO_REPL=1    leave out the Tcl REPL (tools/repl)
"""
import glob
import os
import sysconfig

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def sources():
    found = []
    patterns = ["csrc/**/*.c", "gdb/*.c"]
    if not os.environ.get("VMPY_NO_REPL"):
        patterns.append("tools/repl/*.c")
    for pattern in patterns:
        found += glob.glob(os.path.join(HERE, pattern), recursive=True)
    # setuptools wants paths relative to setup.py
    return sorted(os.path.relpath(p, HERE) for p in found)


cflags = ["-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Wno-unused-parameter",
          "-fno-strict-overflow", "-fvisibility=hidden"]
ldflags = []
if os.environ.get("VMPY_DEBUG"):
    cflags += ["-O0", "-g"]
else:
    cflags += ["-O2", "-g"]
if os.environ.get("VMPY_SANITIZE"):
    san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]
    cflags += san
    ldflags += san

include_dirs = ["csrc", "gdb"]
libraries = ["m", "pthread"]
# Tcl 8.6 (Debian tcl8.6-dev) for the REPL in tools/repl.
TCL_INC = "/usr/include/tcl8.6"
if os.path.exists(os.path.join(TCL_INC, "tcl.h")) and not os.environ.get("VMPY_NO_REPL"):
    include_dirs.append(TCL_INC)
    libraries.append("tcl8.6")
    cflags.append("-DVMPY_HAVE_TCL=1")

# libslirp (Debian libslirp-dev) for virtio-net's user-mode networking.
# Optional: without it the board has no network card and says why.
if os.path.exists("/usr/include/slirp/libslirp.h"):
    libraries.append("slirp")
    cflags.append("-DVMPY_HAVE_SLIRP=1")
else:
    print("vmpy: libslirp-dev not found, building without virtio-net (apt-get install libslirp-dev)")

# CPython's own CFLAGS carry -O3/-Wstrict-prototypes etc.; ours come last and win.
core = Extension(
    "vmpy._core",
    sources=sources(),
    include_dirs=include_dirs,
    libraries=libraries,
    extra_compile_args=cflags,
    extra_link_args=ldflags,
)

setup(ext_modules=[core])
