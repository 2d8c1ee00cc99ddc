"""The engines a workload runs under, each a small runner class.

Every runner executes one program with arguments and returns a Run: wall
seconds, the program's stdout (the checksum line, compared across engines)
and, when the engine can tell, the number of guest instructions executed.

External engines (native, qemu-user, the Unicorn peer, the vmpy CLI, the
vmpy API) all run in a child process so a crash or hang of one engine cannot
take the harness down, and so every engine pays its own start-up cost the same
way (in-process timings are reported separately where an engine reports them).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TIMEOUT = 600


class Run:
    def __init__(self, seconds, stdout, insns=None, inner_seconds=None,
                 error=None):
        self.seconds = seconds            # wall time of the whole process
        self.stdout = stdout
        self.insns = insns                # guest instructions, if known
        self.inner_seconds = inner_seconds  # time inside the engine's run()
        self.error = error


def _child(cmd, env=None):
    """Runs cmd; returns (wall seconds, completed process or None, error)."""
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT, env=env)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - t0, None, "timeout after %ds" % TIMEOUT
    except OSError as e:
        return time.perf_counter() - t0, None, str(e)
    secs = time.perf_counter() - t0
    if p.returncode != 0:
        tail = p.stderr.decode(errors="replace").strip().splitlines()[-3:]
        return secs, p, "exit status %d: %s" % (p.returncode, " | ".join(tail))
    return secs, p, None


class Engine:
    name = "?"
    target = "riscv64"          # which build of the workload it runs

    def available(self):
        """None if usable, else the reason it is not."""
        return None

    def run(self, prog, args):
        raise NotImplementedError


class Native(Engine):
    name = "native"
    target = "native"

    def run(self, prog, args):
        secs, p, err = _child([prog] + args)
        return Run(secs, p.stdout if p else b"", error=err)


class Qemu(Engine):
    name = "qemu"
    exe = "qemu-riscv64"

    def available(self):
        return None if shutil.which(self.exe) else "qemu-riscv64 not installed"

    def run(self, prog, args):
        secs, p, err = _child([self.exe, prog] + args)
        return Run(secs, p.stdout if p else b"", error=err)


class Unicorn(Engine):
    name = "unicorn"

    def available(self):
        try:
            import unicorn  # noqa: F401
        except ImportError:
            return "unicorn Python binding not installed"
        return None

    def run(self, prog, args):
        env = dict(os.environ, UC_LINUX_TIME="1")
        secs, p, err = _child([sys.executable, os.path.join(HERE, "uc_linux.py"),
                               prog] + args, env=env)
        inner = None
        if p is not None:
            m = re.search(rb"emulation ([0-9.]+) s", p.stderr)
            inner = float(m.group(1)) if m else None
        return Run(secs, p.stdout if p else b"", inner_seconds=inner, error=err)


# ---- vmpy -----------------------------------------------------------------
_NUM = rb"(?<![0-9.])([0-9][0-9_,]*)(?![0-9.])"
_STATS_RES = [
    re.compile(_NUM + rb"\s+(?:instructions|insns)\b", re.I),   # "123 instructions"
    re.compile(rb"(?:instructions|insns|icount|instret)\s*[:=]\s*" + _NUM, re.I),
]
_SECS_RE = re.compile(rb"instructions in ([0-9.]+) s")


def parse_insn_count(text):
    """The instruction count from `vmpy run --stats` output: "N instructions"
    or "instructions: N" (commas and underscores allowed)."""
    for rx in _STATS_RES:
        m = rx.search(text)
        if m:
            return int(re.sub(rb"[_,]", b"", m.group(1)))
    return None


def vmpy_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return env


def vmpy_engines():
    """(engines vmpy has, reason if vmpy is missing).  Detected by trying to
    create a Machine with each engine name in a child process."""
    code = "import vmpy, json\nprint(json.dumps(vmpy.engines()))\n"
    try:
        p = subprocess.run([sys.executable, "-c", code], capture_output=True,
                           timeout=60, env=vmpy_env(), cwd=REPO)
    except (OSError, subprocess.TimeoutExpired) as e:
        return [], str(e)
    if p.returncode != 0:
        last = p.stderr.decode(errors="replace").strip().splitlines()[-1:]
        return [], "vmpy not importable: %s" % " ".join(last)
    try:
        found = json.loads(p.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        return [], "vmpy engine probe printed nothing usable"
    return found, None if found else "vmpy.Machine accepts no engine"


class VmpyCli(Engine):
    """`python -m vmpy run --engine E --stats PROG ARGS`."""

    def __init__(self, engine):
        self.engine = engine
        self.name = "vmpy-cli-" + engine

    def run(self, prog, args):
        cmd = [sys.executable, "-m", "vmpy", "run", "--engine", self.engine,
               "--stats", prog] + args
        secs, p, err = _child(cmd, env=vmpy_env())
        insns = (parse_insn_count(p.stderr) or parse_insn_count(p.stdout)) if p else None
        m = _SECS_RE.search(p.stderr) if p else None
        return Run(secs, p.stdout if p else b"", insns=insns,
                   inner_seconds=float(m.group(1)) if m else None, error=err)


class VmpyApi(Engine):
    """vmpy.Machine(...).linux_exec(...) in a child process (vmpy_api_run.py);
    reports both the child's wall time and the time inside Machine.run()."""

    def __init__(self, engine):
        self.engine = engine
        self.name = "vmpy-api-" + engine

    def run(self, prog, args):
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
            out = f.name
        try:
            cmd = [sys.executable, os.path.join(HERE, "vmpy_api_run.py"),
                   self.engine, out, prog] + args
            secs, p, err = _child(cmd, env=vmpy_env())
            info = {}
            try:
                with open(out) as f:
                    info = json.load(f)
            except (OSError, ValueError):
                pass
        finally:
            os.unlink(out)
        if info.get("error"):       # the child's own account is the useful one
            err = info["error"] if not err else "%s (%s)" % (info["error"], err)
        return Run(secs, p.stdout if p else b"", insns=info.get("insns"),
                   inner_seconds=info.get("run_seconds"), error=err)


def all_engines(want_vmpy=True):
    """The engine list for this machine, plus notes on what is missing."""
    engines = [Native(), Qemu(), Unicorn()]
    notes = {}
    for e in list(engines):
        why = e.available()
        if why:
            notes[e.name] = why
            engines.remove(e)
    if want_vmpy:
        found, why = vmpy_engines()
        if why:
            notes["vmpy"] = why
        for e in found:
            engines += [VmpyCli(e), VmpyApi(e)]
    return engines, notes
