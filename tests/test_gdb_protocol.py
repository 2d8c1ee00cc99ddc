"""The GDB remote serial protocol library (gdb/).

Compiles the library with the native test programs in tests/native/ (unit
tests, fuzzer, fake TCP server with a fake riscv64 target) into tmp_path
and runs them; then lets a real gdb-multiarch talk to the fake server.
Expected values come from the protocol specification and from the fake
target's hand-set state (x1 = 0x1001 ... on hart 0, NOPs at 0x1000, data
byte i at 0x1000+i is i*7+1 from 0x2000 on), never from the library.
"""
import os
import random
import re
import shutil
import socket
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GDB_DIR = os.path.join(ROOT, "gdb")
NATIVE = os.path.join(ROOT, "tests", "native")
CFLAGS = ["-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Wno-unused-parameter"]
SAN = ["-g", "-O1", "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
       "-fno-omit-frame-pointer"]
XML_FILES = {"target.xml": "riscv64-target.xml", "riscv64-cpu.xml": "riscv64-cpu.xml",
             "riscv64-fpu.xml": "riscv64-fpu.xml", "riscv64-csr.xml": "riscv64-csr.xml",
             "riscv64-virtual.xml": "riscv64-virtual.xml"}
GDB = shutil.which("gdb-multiarch")


def lib_sources():
    return sorted(os.path.join(GDB_DIR, f) for f in os.listdir(GDB_DIR) if f.endswith(".c"))


def build(out_dir, name, main_sources, extra=()):
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    exe = os.path.join(str(out_dir), name)
    cmd = (["gcc"] + CFLAGS + SAN + list(extra) + ["-I" + GDB_DIR, "-I" + NATIVE]
           + lib_sources() + list(main_sources) + ["-lpthread", "-o", exe])
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "warning" not in res.stderr, res.stderr
    return exe


@pytest.fixture(scope="module")
def bins(tmp_path_factory):
    d = tmp_path_factory.mktemp("gdbnative")
    fake = os.path.join(NATIVE, "gdb_fake_target.c")
    return {
        "unit": build(d, "gdb_unit", [fake, os.path.join(NATIVE, "gdb_unit.c")]),
        "fuzz": build(d, "gdb_fuzz", [fake, os.path.join(NATIVE, "gdb_fuzz.c")]),
        "server": build(d, "gdb_fake_server", [fake, os.path.join(NATIVE, "gdb_fake_server.c")]),
        "dir": str(d),
    }


def checksum(payload: bytes) -> bytes:
    return b"%02x" % (sum(payload) & 0xFF)


def packet(payload: bytes) -> bytes:
    return b"$" + payload + b"#" + checksum(payload)


# ---- static checks -------------------------------------------------------------


def test_library_compiles_warning_free_with_project_flags():
    for src in lib_sources():
        res = subprocess.run(["gcc"] + CFLAGS + ["-O2", "-Werror", "-Icsrc", "-Igdb",
                                                 "-fsyntax-only", src],
                             cwd=ROOT, capture_output=True, text=True)
        assert res.returncode == 0, (src, res.stderr)


def test_embedded_xml_matches_the_xml_files(tmp_path):
    """gdb/riscv64_xml.c (generated) must equal the shipped .xml files."""
    prog = tmp_path / "dump.c"
    prog.write_text('#include <stdio.h>\n#include "rsp.h"\n'
                    'int main(int c, char **v) { const char *x = gdb_riscv64_xml(v[1]);'
                    ' if (!x) return 3; fputs(x, stdout); return 0; }\n')
    exe = tmp_path / "dump"
    subprocess.run(["gcc"] + CFLAGS + ["-I" + GDB_DIR, str(prog),
                    os.path.join(GDB_DIR, "riscv64_xml.c"), "-o", str(exe)], check=True)
    for annex, fname in XML_FILES.items():
        with open(os.path.join(GDB_DIR, fname)) as f:
            want = f.read()
        got = subprocess.run([str(exe), annex], capture_output=True, text=True)
        assert got.returncode == 0 and got.stdout == want, annex
    assert subprocess.run([str(exe), "nope.xml"]).returncode == 3


def test_target_description_register_layout():
    """The register names and numbers gdb's RISC-V support expects
    (gdb manual, "RISC-V Features"; csr regnum = 65 + CSR number)."""
    regs = {}
    features = {}
    for fname in XML_FILES.values():
        root = ET.parse(os.path.join(GDB_DIR, fname)).getroot()
        if root.tag == "feature":
            features[root.get("name")] = [r.get("name") for r in root.iter("reg")]
            for r in root.iter("reg"):
                num = int(r.get("regnum"))
                assert num not in regs, ("duplicate regnum", num)
                regs[num] = (r.get("name"), int(r.get("bitsize")))
        else:
            assert root.find("architecture").text == "riscv:rv64"
    abi = ("zero ra sp gp tp t0 t1 t2 fp s1 a0 a1 a2 a3 a4 a5 a6 a7 "
           "s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 t3 t4 t5 t6").split()
    assert [regs[i] for i in range(32)] == [(n, 64) for n in abi]
    assert regs[32] == ("pc", 64)
    assert regs[33] == ("ft0", 64) and regs[33 + 10] == ("fa0", 64) and regs[64] == ("ft11", 64)
    assert regs[65 + 1] == ("fflags", 32) and regs[65 + 2] == ("frm", 32)
    assert regs[65 + 3] == ("fcsr", 32)
    assert regs[65 + 0x300] == ("mstatus", 64) and regs[65 + 0xF14] == ("mhartid", 64)
    assert regs[65 + 0x180] == ("satp", 64)
    assert regs[65 + 4096] == ("priv", 8)
    assert set(features) == {"org.gnu.gdb.riscv.cpu", "org.gnu.gdb.riscv.fpu",
                             "org.gnu.gdb.riscv.csr", "org.gnu.gdb.riscv.virtual"}


# ---- native programs ---------------------------------------------------------


def test_unit_byte_exact(bins):
    res = subprocess.run([bins["unit"]], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    m = re.search(r"gdb_unit: (\d+) checks, 0 failures", res.stdout)
    assert m and int(m.group(1)) > 150, res.stdout
    assert "runtime error" not in res.stderr and "AddressSanitizer" not in res.stderr


def test_fuzz_short_run(bins):
    seed = random.randrange(1, 1 << 30)
    res = subprocess.run([bins["fuzz"], "3", str(seed)], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "runtime error" not in res.stderr and "AddressSanitizer" not in res.stderr
    m = re.search(r"gdb_fuzz: (\d+) packets fed, (\d+) handled, \d+ writes, 0 bad output",
                  res.stdout)
    assert m, res.stdout
    assert int(m.group(1)) > 10000 and int(m.group(2)) > 5000, res.stdout


# ---- the fake server over TCP ------------------------------------------------------


class Server:
    def __init__(self, exe):
        self.proc = subprocess.Popen([exe], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"port (\d+)", line)
        assert m, line + self.proc.stderr.read()
        self.port = int(m.group(1))

    def finish(self, timeout=10):
        out, err = self.proc.communicate(timeout=timeout)
        assert "AddressSanitizer" not in err and "runtime error" not in err, err
        return out.strip(), self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def server(bins):
    s = Server(bins["server"])
    yield s
    s.kill()


def connect(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_until(sock, pattern, timeout=5.0):
    data = b""
    deadline = time.time() + timeout
    while not re.search(pattern, data):
        sock.settimeout(max(0.01, deadline - time.time()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    return data


def test_socket_ctrl_c_interrupts_a_running_target(server):
    sock = connect(server.port)
    sock.sendall(packet(b"c"))
    assert recv_until(sock, rb"\+", 2) == b"+"
    # The fake target runs until interrupted: no stop reply may come yet.
    assert recv_until(sock, rb"\$", 0.5) == b""
    sock.sendall(b"\x03")
    reply = recv_until(sock, rb"#[0-9a-f]{2}")
    assert reply == packet(b"T02thread:1;"), reply
    sock.sendall(b"+" + packet(b"p20"))            # pc moved on
    reply = recv_until(sock, rb"#[0-9a-f]{2}")
    m = re.fullmatch(rb"\+\$([0-9a-f]{16})#([0-9a-f]{2})", reply)
    assert m and int.from_bytes(bytes.fromhex(m.group(1).decode()), "little") > 0x1000, reply
    sock.sendall(b"+" + packet(b"D"))
    assert recv_until(sock, rb"#9a") == b"+" + packet(b"OK")
    sock.close()
    assert server.finish() == ("end detached", 0)


def test_socket_abrupt_disconnect_while_running(server):
    sock = connect(server.port)
    sock.sendall(packet(b"c"))
    assert recv_until(sock, rb"\+", 2) == b"+"
    sock.close()
    assert server.finish(timeout=10) == ("end closed", 0)


def test_socket_garbage_then_valid_packet(server):
    rng = random.Random(1234)
    sock = connect(server.port)
    junk = bytes(rng.randrange(256) for _ in range(200000)).replace(b"\x03", b"x")
    sock.sendall(junk)
    sock.sendall(b"#00" + packet(b"QStartNoAckMode"))
    data = recv_until(sock, re.escape(packet(b"OK")), 10)
    assert data.endswith(b"+" + packet(b"OK")), data[-200:]
    sock.sendall(packet(b"qC") + packet(b"m2000,4"))
    data = recv_until(sock, re.escape(packet(b"01080f16")))
    assert data == packet(b"QC1") + packet(b"01080f16"), data
    sock.sendall(packet(b"k"))
    sock.close()
    assert server.finish() == ("end killed", 0)


# ---- real gdb ----------------------------------------------------------------------


def run_gdb(port, commands, timeout=60):
    args = [GDB, "-nx", "-batch", "-ex", "set architecture riscv:rv64",
            "-ex", "target remote 127.0.0.1:%d" % port]
    for c in commands:
        args += ["-ex", c]
    res = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    return res.stdout + res.stderr


@pytest.mark.skipif(GDB is None, reason="gdb-multiarch not installed")
def test_real_gdb_session(server):
    out = run_gdb(server.port, [
        "info registers ra sp a0 pc",
        "p $ft0", "p $fcsr", "p $priv", "p $mhartid",
        "x/4xw 0x2000",
        "x/2i 0x1000",
        "info threads",
        "break *0x1010", "continue", "p $pc",
        "stepi", "p/x $pc",
        "delete",
        "watch *(char*)0x2100", "continue",
        "monitor echo hello from monitor",
        "set var *(int*)0x2000 = 0x12345678", "x/1xw 0x2000",
        "set var $a0 = 0x42", "p/x $a0",
        "thread 2", "p $mhartid", "p/x $ra",
        "detach",
    ])
    for want in [
        r"ra\s+0x1001\s", r"sp\s+0x1002\s", r"a0\s+0x100a\s", r"pc\s+0x1000\s",
        r"\$1 = \{float = 0, double = 0\}", r"\$2 = 0\n", r"\$3 = 3 '\\003'", r"\$4 = 0\n",
        r"0x2000:\s+0x160f0801\s+0x322b241d\s+0x4e474039\s+0x6a635c55",
        r"0x1000:\s+(nop|addi\s+zero,zero,0)",
        r"Thread 1 \(hart 0\)", r"Thread 2 \(hart 1\)",
        r"Breakpoint 1, 0x0+1010 in", r"\$5 = .*0x1010\n", r"\$6 = 0x1014\n",
        r"Hardware watchpoint 2: \*\(char\*\)0x2100",
        r"Old value = 1 '\\001'\s+New value = 2 '\\002'",
        r"hello from monitor",
        r"0x2000:\s+0x12345678",
        r"\$7 = 0x42",
        r"\$8 = 1\n", r"\$9 = 0x2001",
        r"\[Inferior 1 \(Remote target\) detached\]",
    ]:
        assert re.search(want, out), (want, out)
    assert "warning: Architecture rejected" not in out
    assert server.finish() == ("end detached", 0)


@pytest.mark.skipif(GDB is None, reason="gdb-multiarch not installed")
def test_real_gdb_ctrl_c(server):
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(GDB, ["-nx", "-q", "-iex", "set style enabled off"], timeout=20,
                          encoding="utf-8", env=dict(os.environ, TERM="dumb"))
    try:
        child.expect(r"\(gdb\) ")
        child.sendline("set pagination off")
        child.expect(r"\(gdb\) ")
        child.sendline("set architecture riscv:rv64")
        child.expect(r"\(gdb\) ")
        child.sendline("target remote 127.0.0.1:%d" % server.port)
        child.expect(r"0x0+1000 in")
        child.expect(r"\(gdb\) ")
        child.sendline("continue")
        child.expect("Continuing.")
        time.sleep(0.5)
        child.sendcontrol("c")
        child.expect("received signal SIGINT")
        child.expect(r"\(gdb\) ")
        child.sendline("p $pc > 0x1000")
        child.expect(r"\$1 = 1")
        child.expect(r"\(gdb\) ")
        child.sendline("kill")
        child.expect(r"\[Inferior 1 \(process \d+\) killed\]|Kill the program")
        child.sendline("y")
        child.sendline("quit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    out, rc = server.finish()
    assert rc == 0 and out in ("end killed", "end closed"), out
