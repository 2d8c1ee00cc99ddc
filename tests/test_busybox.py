"""Debian trixie's riscv64 busybox-static, applet by applet, under vmpy and
under qemu-riscv64: stdout, stderr and exit status must be identical.

Where the host can compute the answer too (hashes, sorting, sums, counts),
qemu's output is checked against it first, so a wrong oracle or a broken
fixture shows up as such instead of as a vmpy bug.
"""
import base64
import gzip
import hashlib
import os
import random
import re
import sys

import pytest

import vmpy
from testenv import _run, vmpy_env

pytestmark = pytest.mark.qemu

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
         "india", "juliett", "kilo", "lima", "mike", "fox", "quick", "brown"]
MTIME = 1700000000          # fixed, so ls -l and gzip headers are reproducible


def make_files(d):
    """The same small tree in every run directory."""
    rng = random.Random(1234)
    text = "".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 9))) + "\n"
                   for _ in range(200))
    nums = "".join("%d\n" % rng.randint(-100000, 100000) for _ in range(300))
    files = {"data.txt": text, "numbers.txt": nums,
             "sub/a.txt": "a\n", "sub/b.bin": "x" * 1000, "sub/.hidden": "",
             "sub/c": "ccc\n"}
    for name, body in files.items():
        p = os.path.join(d, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(body)
        os.utime(p, (MTIME, MTIME))
    os.utime(os.path.join(d, "sub"), (MTIME, MTIME))
    return files


def host_wc(text):
    return "%7d %7d %7d" % (text.count("\n"), len(text.split()), len(text.encode()))


# (id, argv, stdin, host-side check of qemu's (rc, stdout) or None)
CASES = [
    ("echo", ["echo", "hello", "world"], None,
     lambda f, rc, out: out == b"hello world\n"),
    ("printf", ["printf", "%s=%d %x %5.2f %e|%-4s|\\n", "a", "42", "255", "3.14159",
                "1e-300", "z"], None,
     lambda f, rc, out: out == b"a=42 ff  3.14 1.000000e-300|z   |\n"),
    ("sh-loop-arith", ["sh", "-c", "i=0; s=0; while [ $i -lt 100 ]; do s=$((s + i * i)); "
                       "i=$((i + 1)); done; echo $s; "
                       "echo $((0x7fffffffffffffff + 1)) $((-7 / 2)) $((-7 % 2)) $((1 << 40))"],
     None,
     lambda f, rc, out: out == b"%d\n%d -3 -1 %d\n" % (sum(i * i for i in range(100)),
                                                       -(1 << 63), 1 << 40)),
    ("sh-pipes", ["sh", "-c", "for w in c a b; do echo $w; done | sort | tr a-z A-Z; "
                  "cat data.txt | grep -c fox"], None,
     lambda f, rc, out: out.split(b"\n")[:3] == [b"A", b"B", b"C"]),
    ("sh-status", ["sh", "-c", "false; echo $?; true && echo ok; exit 3"], None,
     lambda f, rc, out: rc == 3 and out == b"1\nok\n"),
    ("sha256sum", ["sha256sum", "data.txt"], None,
     lambda f, rc, out: out.split()[0].decode() ==
     hashlib.sha256(f["data.txt"].encode()).hexdigest()),
    ("md5sum", ["md5sum", "data.txt", "numbers.txt"], None,
     lambda f, rc, out: [l.split()[0].decode() for l in out.splitlines()] ==
     [hashlib.md5(f[n].encode()).hexdigest() for n in ("data.txt", "numbers.txt")]),
    ("gzip", ["gzip", "-c", "-9", "data.txt"], None,
     lambda f, rc, out: gzip.decompress(out) == f["data.txt"].encode()),
    ("gzip-roundtrip", ["sh", "-c", "gzip -c data.txt | gunzip -c"], None,
     lambda f, rc, out: out == f["data.txt"].encode()),
    ("sort-n", ["sort", "-n", "numbers.txt"], None,
     lambda f, rc, out: [int(x) for x in out.split()] ==
     sorted(int(x) for x in f["numbers.txt"].split())),
    ("sort-ur", ["sort", "-u", "-r", "data.txt"], None,
     lambda f, rc, out: out.decode().splitlines() ==
     sorted(set(f["data.txt"].splitlines()), reverse=True)),
    ("awk", ["awk", "{ s += $1; n++; if ($1 > m) m = $1 } END { printf \"%d %d %.4f\\n\", "
             "s, m, s / n }", "numbers.txt"], None,
     lambda f, rc, out: out.split()[:2] ==
     [str(sum(int(x) for x in f["numbers.txt"].split())).encode(),
      str(max(int(x) for x in f["numbers.txt"].split())).encode()]),
    ("ls-1a", ["ls", "-1a", "sub"], None,
     lambda f, rc, out: out.decode().split() == [".", "..", ".hidden", "a.txt", "b.bin", "c"]),
    ("ls-l", ["ls", "-ln", "sub"], None,
     lambda f, rc, out: b"1000" in out and out.count(b"\n") == 4),
    ("wc", ["wc", "data.txt"], None,
     lambda f, rc, out: out.decode().split()[:3] == host_wc(f["data.txt"]).split()),
    ("tr", ["tr", "a-z", "A-Z"], b"hello, world\n",
     lambda f, rc, out: out == b"HELLO, WORLD\n"),
    ("sed", ["sed", "-n", "-e", "s/o/0/g", "-e", "2d", "-e", "1,5p", "data.txt"], None,
     lambda f, rc, out: out.decode().splitlines() ==
     [l.replace("o", "0") for i, l in enumerate(f["data.txt"].splitlines()[:5]) if i != 1]),
    ("seq", ["seq", "1", "3", "100"], None,
     lambda f, rc, out: out.split() == [str(i).encode() for i in range(1, 101, 3)]),
    ("expr", ["expr", "7", "*", "6", "+", "1"], None, lambda f, rc, out: out == b"43\n"),
    ("expr-div0", ["expr", "1", "/", "0"], None, lambda f, rc, out: rc == 2),
    ("grep", ["grep", "-n", "fox", "data.txt"], None,
     lambda f, rc, out: len(out.splitlines()) ==
     sum("fox" in l for l in f["data.txt"].splitlines())),
    ("grep-nomatch", ["grep", "zzzz", "data.txt"], None, lambda f, rc, out: rc == 1 and not out),
    ("cat-missing", ["cat", "no-such-file"], None, lambda f, rc, out: rc == 1),
    ("sh-subst", ["sh", "-c", "x=$(seq 1 10 | awk '{ s += $1 } END { print s }'); echo $x; "
                  "echo $(( $(wc -l < data.txt) * 2 )); (cd sub && echo *)"], None,
     lambda f, rc, out: out == b"55\n400\na.txt b.bin c\n"),
    ("head-tail", ["sh", "-c", "head -n 3 data.txt; tail -n 2 data.txt"], None,
     lambda f, rc, out: out.decode().splitlines() ==
     f["data.txt"].splitlines()[:3] + f["data.txt"].splitlines()[-2:]),
    ("cut-uniq", ["sh", "-c", "cut -d ' ' -f 1 data.txt | sort | uniq -c"], None,
     lambda f, rc, out: sorted((int(l.split()[0]), l.split()[1].decode()) for l in out.splitlines())
     == sorted((sum(1 for l in f["data.txt"].splitlines() if l.split()[0] == w), w)
               for w in set(l.split()[0] for l in f["data.txt"].splitlines()))),
    ("od", ["od", "-A", "x", "-t", "x1", "sub/c"], None,
     lambda f, rc, out: out.split()[1:5] == [b"63", b"63", b"63", b"0a"]),
    ("base64", ["base64", "sub/b.bin"], None,
     lambda f, rc, out: base64.b64decode(out) == b"x" * 1000),
    ("tar", ["sh", "-c", "tar cf - sub | tar tf - | sort"], None,
     lambda f, rc, out: out.decode().split() ==
     sorted(["sub/", "sub/.hidden", "sub/a.txt", "sub/b.bin", "sub/c"])),
    # (no xargs: it execs /proc/self/exe, which qemu-user hands to the host)
    ("find", ["sh", "-c", "find sub -type f | sort"], None,
     lambda f, rc, out: out.split() == [b"sub/.hidden", b"sub/a.txt", b"sub/b.bin", b"sub/c"]),
    ("date", ["date", "-u", "-d", "@1700000000", "+%Y-%m-%d %H:%M:%S %j"], None,
     lambda f, rc, out: out == b"2023-11-14 22:13:20 318\n"),
    ("sha1sum-stdin", ["sha1sum"], b"abc",
     lambda f, rc, out: out.split()[0].decode() == hashlib.sha1(b"abc").hexdigest()),
]


@pytest.fixture
def run_dirs(tmp_path):
    """Two identical trees: one for the oracle, one for vmpy (applets may write)."""
    q, v = tmp_path / "q", tmp_path / "v"
    q.mkdir()
    v.mkdir()
    make_files(v)
    return make_files(q), q, v


def guest_env(home):
    return {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "TZ": "UTC", "HOME": str(home)}


@pytest.mark.parametrize("argv,stdin,check", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_applet(busybox, qemu_run, vmpy_run, run_dirs, argv, stdin, check):
    files, qdir, vdir = run_dirs
    want = qemu_run(busybox, argv, stdin, cwd=qdir, env=guest_env(qdir))
    if not check(files, want[0], want[1]):
        # not an AssertionError: a bad oracle must never count as an expected failure
        pytest.fail("oracle (qemu) output unexpected: %r" % (want,))
    got = vmpy_run(busybox, argv, stdin, cwd=vdir, env=guest_env(vdir))
    assert got[0] == want[0], "exit status: vmpy %d, qemu %d; stderr %r" % (got[0], want[0],
                                                                            got[2][-500:])
    assert got[1] == want[1]
    assert got[2] == want[2]


@pytest.mark.parametrize("engine", vmpy.engines())
def test_stats_is_one_line_on_stderr(busybox, engine):
    """`vmpy run --stats`: the guest's exit status, and exactly one line on
    stderr with instructions, seconds and MIPS (plus the JIT's work)."""
    cmd = [sys.executable, "-m", "vmpy", "run", "--engine", engine, "--stats", busybox,
           "sh", "-c", "i=0; while [ $i -lt 200 ]; do i=$((i+1)); done; exit 3"]
    rc, out, err = _run(cmd, env=vmpy_env())
    assert rc == 3 and out == b""
    lines = err.decode().splitlines()
    assert len(lines) == 1, err
    m = re.fullmatch(r"vmpy: (\d+) instructions in ([0-9.]+) s, ([0-9.]+) MIPS \((\w+)"
                     r"(?:; jit: (\d+) blocks compiled, (\d+) loaded from the code cache, [0-9.]+ ms compiling)?\)",
                     lines[0])
    assert m, lines[0]
    n, secs, mips = int(m.group(1)), float(m.group(2)), float(m.group(3))
    assert m.group(4) == engine and n > 100_000
    if secs >= 0.01:        # the rate is the count over the time (both printed rounded)
        assert abs(mips - n / secs / 1e6) <= 0.06 * n / secs / 1e6 + 0.1
    assert (m.group(5) is None) == (engine == "interp")
