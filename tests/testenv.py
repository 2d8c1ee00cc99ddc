"""Helpers shared by the test modules and conftest.py: paths, tool names and
the environment rules for oracle and vmpy processes.

Test modules import these from here, never from `conftest`: pytest loads
examples/conftest.py under the same module name, so `from conftest import`
would find whichever conftest was imported last."""
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CROSS_CC = os.environ.get("VMPY_CROSS_CC", "riscv64-linux-gnu-gcc")
QEMU = os.environ.get("VMPY_QEMU", "qemu-riscv64")
MARCH = "rv64gc_zba_zbb_zbs"
RUN_TIMEOUT = 60
# Set by `make asan` for the sanitized vmpy; the oracle tools (qemu, gcc)
# must not get the ASan runtime preloaded, vmpy's own process must keep it.
SANITIZER_VARS = ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "PYTHONPATH",
                  "PYTHONSAFEPATH")


def tool_env(env=None):
    """The environment for an oracle/tool process: env (or ours) minus LD_PRELOAD."""
    env = dict(os.environ if env is None else env)
    env.pop("LD_PRELOAD", None)
    return env


def vmpy_env(env=None):
    """The environment for a vmpy process: env, plus the sanitizer settings
    of this process if any (they reach the guest too, like any variable)."""
    if env is None:
        return None
    env = dict(env)
    for k in SANITIZER_VARS:
        if k in os.environ and k not in env:
            env[k] = os.environ[k]
    return env


def missing(what):
    """Skip (or, under CI, fail) because a needed tool is absent."""
    if os.environ.get("CI"):
        pytest.fail("CI is missing %s (scripts/setup.sh should install it)" % what)
    pytest.skip("%s not available" % what)


def _run(cmd, stdin=None, timeout=RUN_TIMEOUT, cwd=None, env=None):
    """Run cmd; (returncode, stdout bytes, stderr bytes). A timeout is a test
    failure with the command named, never a hang."""
    if isinstance(stdin, str):
        stdin = stdin.encode()
    extra = {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout, cwd=cwd, env=env,
                           **extra)
    except subprocess.TimeoutExpired:
        pytest.fail("timed out after %ss: %s" % (timeout, " ".join(map(str, cmd))))
    return p.returncode, p.stdout, p.stderr
