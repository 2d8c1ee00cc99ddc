"""Builds the benchmark workloads, once: results are cached under bench/.cache
keyed by a hash of the source, the compiler and the flags, so a rerun of the
harness does not recompile (and a changed source or flag does)."""
import hashlib
import os
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = os.path.join(HERE, "workloads")
CACHE = os.path.join(HERE, ".cache")

# -ffp-contract=off on both sides: no FMA fusion, so FP checksums agree.
COMMON = ["-O2", "-ffp-contract=off"]
TARGETS = {
    "native": (["gcc"], COMMON, ["-lm"]),
    "riscv64": (["riscv64-linux-gnu-gcc"], COMMON + ["-static"], ["-lm"]),
}


class BuildError(Exception):
    pass


# CoreMark (optional): never committed.  Put a checkout of
# github.com/eembc/coremark in bench/.cache/coremark or point COREMARK_DIR at
# one; the workload appears when its sources are found.
COREMARK_SRCS = ["core_list_join.c", "core_main.c", "core_matrix.c",
                 "core_state.c", "core_util.c", "posix/core_portme.c"]


def coremark_dir():
    d = os.environ.get("COREMARK_DIR") or os.path.join(CACHE, "coremark")
    ok = all(os.path.exists(os.path.join(d, f)) for f in COREMARK_SRCS)
    return d if ok else None


def workload_names():
    names = sorted(f[:-2] for f in os.listdir(WORKLOADS) if f.endswith(".c"))
    return names + (["coremark"] if coremark_dir() else [])


def _sources(name):
    """(source files, extra compiler flags) of a workload."""
    if name == "coremark":
        d = coremark_dir()
        if not d:
            raise BuildError("CoreMark sources not found (see build.py)")
        return ([os.path.join(d, f) for f in COREMARK_SRCS],
                ["-I" + d, "-I" + os.path.join(d, "posix"),
                 '-DFLAGS_STR="-O2"'])
    src = os.path.join(WORKLOADS, name + ".c")
    if not os.path.exists(src):
        raise BuildError("no workload %r" % name)
    return [src], []


def _key(srcs, extra, target):
    cc, flags, libs = TARGETS[target]
    h = hashlib.sha256()
    for src in srcs:
        with open(src, "rb") as f:
            h.update(f.read())
    h.update(" ".join(cc + flags + extra + libs).encode())
    h.update((shutil.which(cc[0]) or "").encode())
    return h.hexdigest()[:16]


def build(name, target):
    """Returns the path of workload `name` compiled for `target`."""
    if target not in TARGETS:
        raise BuildError("unknown target %r" % target)
    srcs, extra = _sources(name)
    cc, flags, libs = TARGETS[target]
    if not shutil.which(cc[0]):
        raise BuildError("compiler %s not found" % cc[0])
    os.makedirs(CACHE, exist_ok=True)
    out = os.path.join(CACHE, "%s.%s.%s" % (name, target,
                                            _key(srcs, extra, target)))
    if os.path.exists(out):
        return out
    tmp = out + ".tmp%d" % os.getpid()
    cmd = cc + flags + extra + ["-o", tmp] + srcs + libs
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise BuildError("%s failed:\n%s" % (" ".join(cmd), r.stderr))
    os.replace(tmp, out)
    return out
