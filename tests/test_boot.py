"""Booting Debian's riscv64 kernel on the virt board (issue 3).

The kernel, OpenSBI and busybox come from Debian (vmpy image fetch
debian-riscv64); the tests skip when they cannot be fetched.  Each boot
takes ~10-20 s with the interpreter."""
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from vmpy import boards, images

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def debian():
    try:
        return images.fetch_debian_riscv64()
    except (RuntimeError, OSError) as e:
        pytest.skip(f"Debian riscv64 images unavailable: {e}")


def boot(debian, initrd, smp=1, **kw):
    return boards.virt(ram="512M", smp=smp, kernel=debian.kernel, initrd=initrd,
                       firmware=debian.firmware, append="console=ttyS0 earlycon=sbi", **kw)


@pytest.mark.parametrize("smp", [1, 2])
def test_boot_to_init_marker_and_poweroff(debian, smp):
    marker = "VMPY-INIT-MARKER-3141"
    with boot(debian, debian.marker_initrd(marker), smp=smp) as b:
        t0 = time.monotonic()
        b.start()
        b.console.expect(marker, timeout=120)
        assert b.wait(30) == "poweroff"
        assert b.exit_code == 0
        log = b.console.log.decode(errors="replace")
        # the kernel saw every hart and the command line from our device tree
        assert f"Brought up 1 node, {smp} CPU" in log or smp == 1
        assert "Kernel command line: console=ttyS0 earlycon=sbi" in log
        print(f"boot to marker with {smp} hart(s): {time.monotonic() - t0:.1f} s")


def test_fw_jump_boots(debian):
    marker = "VMPY-FWJUMP-MARKER"
    with boards.virt(ram="512M", smp=1, kernel=debian.kernel, initrd=debian.marker_initrd(marker),
                     firmware=debian.firmware_jump, append="console=ttyS0") as b:
        b.start()
        b.console.expect(marker, timeout=120)
        assert b.wait(30) == "poweroff"


def test_shell_commands_and_cpuinfo(debian):
    with boot(debian, debian.initrd, smp=2) as b:
        b.start()
        b.console.expect("initramfs ready", timeout=120)
        b.console.expect("# ", timeout=30)
        b.console.write("echo $((6*7)) $(grep -c ^processor /proc/cpuinfo)\n")
        out = b.console.expect(r"# ", timeout=30)
        assert "42 2" in out
        b.console.write("grep -m1 ^isa /proc/cpuinfo\n")
        out = b.console.expect(r"# ", timeout=30)
        assert "rv64imafdc" in out and "sstc" in out
        b.console.write("poweroff -f\n")
        assert b.wait(30) == "poweroff"


def test_stop_interrupts_a_running_guest(debian):
    with boot(debian, debian.initrd) as b:
        b.start()
        time.sleep(1.0)
        t0 = time.monotonic()
        b.stop()
        assert time.monotonic() - t0 < 2.0
        assert b.state == "stopped"


def test_disk_write_survives_restart(debian, tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * (4 << 20))
    text = "VMPY-DISK-PERSIST-271828"
    with boot(debian, debian.initrd, disk=disk) as b:
        b.start()
        b.console.expect("initramfs ready", timeout=120)
        b.console.expect("# ", timeout=30)
        b.console.write(f"echo {text} | dd of=/dev/vda bs=512 seek=3 conv=sync; poweroff -f\n")
        assert b.wait(60) == "poweroff"
    assert disk.read_bytes()[3 * 512:3 * 512 + len(text)] == text.encode()
    with boot(debian, debian.initrd, disk=disk, disk_readonly=True) as b:
        b.start()
        b.console.expect("initramfs ready", timeout=120)
        b.console.expect("# ", timeout=30)
        b.console.write("dd if=/dev/vda bs=512 skip=3 count=1 2>/dev/null | head -c 24; echo\n")
        out = b.console.expect(r"# ", timeout=30)
        assert text in out
        b.console.write("poweroff -f\n")
        assert b.wait(30) == "poweroff"


def test_cli_boot_ctrl_a_x_quits_and_restores_terminal(debian):
    pexpect = pytest.importorskip("pexpect")
    code = ("import argparse, sys; from vmpy import boards;"
            "p = argparse.ArgumentParser(); s = p.add_subparsers(dest='c', required=True);"
            "boards.add_boot_command(s); a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))")
    child = pexpect.spawn(sys.executable, ["-c", code, "boot", "--kernel", str(debian.kernel),
                                           "--initrd", str(debian.initrd), "--firmware", str(debian.firmware)],
                          cwd=ROOT, timeout=120, encoding="utf-8")
    child.expect("initramfs ready")
    child.expect("# ")
    child.sendline("echo typed-$((40+2))")
    child.expect("typed-42")
    child.send("\x01x")
    child.expect("terminated by Ctrl-A X")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_virtio_console_both_ways(debian):
    """A second console: Linux's virtio_console (built in) makes /dev/hvc0;
    guest output reaches board.hvc and host input reaches the guest."""
    with boot(debian, debian.initrd, hvc=True) as b:
        b.start()
        b.console.expect("initramfs ready", timeout=120)
        b.console.expect("# ", timeout=30)
        b.console.write("cat /sys/bus/virtio/devices/*/device; echo VMPY-HVC-OUT-$((3*7)) > /dev/hvc0\n")
        out = b.console.expect(r"# ", timeout=30)
        assert "0x0003" in out          # virtio device id 3 enumerated
        assert "VMPY-HVC-OUT-21" in b.hvc.expect("VMPY-HVC-OUT-21", timeout=30)
        # fd 3 holds /dev/hvc0 open from before stty until head has read:
        # input that reaches a tty nobody holds open is discarded at its last
        # close, so a host write that raced `stty ... < /dev/hvc0` was lost.
        b.console.write("exec 3<>/dev/hvc0; stty -echo <&3; echo HVC-READY-$((2*3)); "
                        "head -n1 <&3 | tr a-z A-Z; exec 3<&-\n")
        b.console.expect("HVC-READY-6", timeout=30)
        b.hvc.write("from-the-host\n")
        assert "FROM-THE-HOST" in b.console.expect("FROM-THE-HOST", timeout=30)
        b.console.write("poweroff -f\n")
        assert b.wait(30) == "poweroff"


def test_virtio_net_reaches_host_loopback(debian):
    """virtio-net on libslirp: the guest configures 10.0.2.15, pings the
    gateway and fetches a page from an HTTP server on the host's loopback
    (which slirp maps to 10.0.2.2); a host port forwarded to the guest
    reaches a server there."""
    import http.server
    import threading
    if not boards.net_available():
        pytest.fail("vmpy was built without libslirp (scripts/setup.sh installs libslirp-dev)")
    body = b"VMPY-NET-PAGE-1618"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        with socket.socket() as s:      # a free host port for the forward
            s.bind(("127.0.0.1", 0))
            fwd = s.getsockname()[1]
        with boot(debian, debian.initrd, net=True, hostfwd=f"tcp:{fwd}:80") as b:
            b.start()
            b.console.expect("initramfs ready", timeout=120)
            b.console.expect("# ", timeout=30)
            b.console.write("cat /sys/class/net/eth0/address; ip link set eth0 up; "
                            "ip addr add 10.0.2.15/24 dev eth0; ping -c1 -W5 10.0.2.2\n")
            out = b.console.expect(r"# ", timeout=60)
            assert "52:54:00:12:34:56" in out
            assert "1 packets received" in out, out
            port = srv.server_address[1]
            b.console.write(f"wget -q -O - http://10.0.2.2:{port}/ ; echo\n")
            out = b.console.expect(r"# ", timeout=60)
            assert body.decode() in out, out
            # and the other way: host 127.0.0.1:fwd reaches busybox httpd on guest port 80
            b.console.write("mkdir -p /tmp/www; echo VMPY-HOSTFWD-OK > /tmp/www/index.html; "
                            "httpd -p 80 -h /tmp/www; until netstat -ltn | grep -q :80; do sleep 1; done; echo listening-$((40+2))\n")
            b.console.expect("listening-42", timeout=30)
            with urllib.request.urlopen(f"http://127.0.0.1:{fwd}/index.html", timeout=60) as r:
                assert r.read().strip() == b"VMPY-HOSTFWD-OK"
            b.console.write("poweroff -f\n")
            assert b.wait(30) == "poweroff"
    finally:
        srv.shutdown()


def test_cli_boot_with_piped_commands(debian):
    """README's main job: commands piped into `vmpy boot` run at the shell
    prompt, poweroff ends vmpy with status 0."""
    r = subprocess.run([sys.executable, "-m", "vmpy", "boot", "--kernel", str(debian.kernel),
                        "--initrd", str(debian.initrd), "--firmware", str(debian.firmware)],
                       input=b"uname -m; echo piped-$((6*7)); poweroff -f\n", capture_output=True,
                       cwd=ROOT, timeout=300)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, out[-2000:] + r.stderr.decode(errors="replace")
    assert "\nriscv64" in out.replace("\r", "") and "piped-42" in out


def test_cli_boot_names_a_missing_file(tmp_path):
    """A wrong --kernel/--firmware path: one line naming the file, status 1
    (no image is fetched: --firmware is given)."""
    missing = str(tmp_path / "no-such-Image")
    r = subprocess.run([sys.executable, "-m", "vmpy", "boot", "--firmware", missing, "--kernel", missing],
                       stdin=subprocess.DEVNULL, capture_output=True, cwd=ROOT, timeout=60)
    assert r.returncode == 1
    assert r.stderr.decode() == f"vmpy: {missing}: No such file or directory\n"
