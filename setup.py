"""Build of vmpy._core: the C core (csrc/), the gdb protocol library (gdb/).

Environment knobs:
  VMPY_SANITIZE=1   build with AddressSanitizer + UBSan (see `make asan`)
  VMPY_DEBUG=1      -O0 -g
  VMPY_NO_REPL=1    leave out the Tcl REPL (tools/repl)
  VMPY_NO_JIT=1     leave out the asmjit JIT engine
  VMPY_ASMJIT_DIR   where scripts/asmjit-fetch.sh unpacks asmjit (build/asmjit-src)
"""
import concurrent.futures
import glob
import hashlib
import os
import shutil
import subprocess
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

# ---- asmjit (the JIT's code generator) --------------------------------------
# Compiled from Debian's source package with -fPIC into a static archive, once
# (keyed by the source path and flags), then linked into the extension with
# our one C++ wrapper, csrc/jit/x86asm.cpp.  Without asmjit the build goes on
# and the "jit"/"auto" engines report that they are not built in.
ASMJIT_DEFS = ["-DASMJIT_STATIC", "-DASMJIT_NO_AARCH64", "-DASMJIT_NO_FOREIGN",
               "-DASMJIT_NO_BUILDER", "-DASMJIT_NO_COMPILER", "-DASMJIT_NO_JIT",
               "-DASMJIT_NO_LOGGING", "-DASMJIT_NO_TEXT", "-DASMJIT_NO_VALIDATION",
               "-DASMJIT_NO_INTROSPECTION"]
CXXFLAGS = ["-std=c++17", "-O2", "-fPIC", "-fvisibility=hidden", "-fno-exceptions",
            "-fno-rtti", "-w"] + ASMJIT_DEFS


def asmjit_source():
    dest = os.environ.get("VMPY_ASMJIT_DIR", os.path.join(HERE, "build", "asmjit-src"))
    hits = glob.glob(os.path.join(dest, "*", "src", "asmjit"))
    if hits:
        return os.path.dirname(hits[0])
    script = os.path.join(HERE, "scripts", "asmjit-fetch.sh")
    try:
        out = subprocess.run([script, dest], check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        print("vmpy: asmjit not available, building without the JIT (%s)" % e)
        return None
    return os.path.join(out.strip(), "src")


def cxx_compile(src, obj, include, flags=None):
    cxx = os.environ.get("CXX", "c++").split()
    if shutil.which("ccache") and "ccache" not in cxx[0]:
        cxx = ["ccache"] + cxx
    subprocess.run(cxx + (flags or CXXFLAGS) + ["-isystem", include, "-c", src, "-o", obj], check=True)


def build_asmjit():
    """Returns the objects to link (archive + wrapper), or [] without asmjit."""
    if os.environ.get("VMPY_NO_JIT"):
        return []
    src = asmjit_source()
    if not src:
        return []
    key = hashlib.sha1((src + " ".join(CXXFLAGS)).encode()).hexdigest()[:12]
    out = os.path.join(HERE, "build", "asmjit-obj", key)
    lib = os.path.join(out, "libasmjit-pic.a")
    os.makedirs(out, exist_ok=True)
    if not os.path.exists(lib):
        cpps = sorted(glob.glob(os.path.join(src, "asmjit", "core", "*.cpp")) +
                      glob.glob(os.path.join(src, "asmjit", "x86", "*.cpp")))
        objs = [os.path.join(out, os.path.basename(c)[:-4] + ".o") for c in cpps]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda co: cxx_compile(co[0], co[1], src), zip(cpps, objs)))
        subprocess.run(["ar", "rcs", lib + ".tmp"] + objs, check=True)
        os.replace(lib + ".tmp", lib)
    wrapper = os.path.join(out, "x86asm.o")
    # our own C++ is held to the same warnings as the C (asmjit's are not ours)
    flags = [f for f in CXXFLAGS if f != "-w"] + ["-Wall", "-Wextra"]
    cxx_compile(os.path.join(HERE, "csrc", "jit", "x86asm.cpp"), wrapper, src, flags)
    return [wrapper, lib]




def project_version():
    with open(os.path.join(HERE, "pyproject.toml")) as f:
        for line in f:
            if line.startswith("version"):
                return line.split("=", 1)[1].strip().strip('"')
    return "0"


# What the JIT's persistent code cache keys on besides the host: a hash of
# every source that shapes generated code (translator, assembler wrapper,
# decoder, the structures the code reads) and of the asmjit it was built
# with.  Written to a generated header that only csrc/jit/codecache.c
# includes, so that ccache recompiles just that file when it changes.
JIT_KEY_SOURCES = ["csrc/jit/*", "csrc/core/riscv64/rv.h", "csrc/core/riscv64/decode.c",
                   "csrc/core/machine.h", "csrc/core/vm.h", "csrc/platform/codemem.h"]


def write_build_id(asmjit_objects):
    h = hashlib.sha256()
    for pattern in JIT_KEY_SOURCES:
        for path in sorted(glob.glob(os.path.join(HERE, pattern))):
            h.update(os.path.relpath(path, HERE).encode() + b"\0")
            with open(path, "rb") as f:
                h.update(f.read())
    h.update(" ".join(asmjit_objects).encode())
    out = os.path.join(HERE, "build", "gen")
    os.makedirs(out, exist_ok=True)
    text = ('/* generated by setup.py: the code cache key (csrc/jit/codecache.c) */\n'
            '#define VMPY_JIT_BUILD_ID "%s"\n#define VMPY_VERSION "%s"\n' % (h.hexdigest()[:32], project_version()))
    path = os.path.join(out, "vmpy_build_id.h")
    try:
        with open(path) as f:
            if f.read() == text:
                return out          # unchanged: keep the mtime
    except OSError:
        pass
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)
    return out


jit_objects = build_asmjit()
if jit_objects:
    cflags.append("-DVMPY_HAVE_ASMJIT=1")
    libraries.append("stdc++")
    include_dirs.append(os.path.relpath(write_build_id(jit_objects), HERE))

# CPython's own CFLAGS carry -O3/-Wstrict-prototypes etc.; ours come last and win.
core = Extension(
    "vmpy._core",
    sources=sources(),
    include_dirs=include_dirs,
    libraries=libraries,
    extra_compile_args=cflags,
    extra_link_args=ldflags,
    extra_objects=jit_objects,
)

setup(ext_modules=[core])
