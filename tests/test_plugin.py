"""The pytest plugin, driven as a user would: a generated suite run by a
pytest subprocess against the example firmware's board."""
import os
import re
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CONFTEST = """
import importlib.metadata, sys
import pytest
sys.path.insert(0, {board_dir!r})
_installed = any(ep.value == "vmpy.pytest_plugin"
                 for ep in importlib.metadata.entry_points(group="pytest11"))
pytest_plugins = [] if _installed else ["vmpy.pytest_plugin"]

@pytest.fixture(scope="session")
def vmpy_board():
    import board
    return board.make_board

@pytest.fixture(scope="session")
def vmpy_baseline_until():
    return "main_loop"
"""


def run_suite(tmp_path, tests: str, *args):
    (tmp_path / "conftest.py").write_text(CONFTEST.format(board_dir=os.path.join(ROOT, "examples", "firmware")))
    (tmp_path / "test_gen.py").write_text(textwrap.dedent(tests))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT] + sys.path))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)


def test_plugin_module_imports_cleanly():
    r = subprocess.run([sys.executable, "-c", "import vmpy.pytest_plugin as p; print(p.vmpy_machine)"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr


def test_failure_report_shows_pc_symbol_and_uart(tmp_path):
    r = run_suite(tmp_path, """
        def test_fails(vmpy_machine):
            vmpy_machine.temp.temperature_mc = 40000
            vmpy_machine.run(count=3, timeout=10)
            assert vmpy_machine.gpio.out == 99
    """)
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout
    assert "vmpy machine" in out
    assert re.search(r"pc=0x8000[0-9a-f]{4} \((main_loop|read_temp)\+0x[0-9a-f]+\)", out), out
    assert "| fw v1 ready" in out                # the last UART lines


def test_marker_fails_a_test_over_budget(tmp_path):
    r = run_suite(tmp_path, """
        import pytest

        @pytest.mark.vmpy_max_insns(500)
        def test_too_long(vmpy_machine):
            vmpy_machine.run(count=10000)

        @pytest.mark.vmpy_max_insns(10000)
        def test_fits(vmpy_machine):
            vmpy_machine.run(count=500)
            assert vmpy_machine.cpus[0].icount > 500
    """, "-rA")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "1 failed, 1 passed" in r.stdout
    assert "budget of 500 instructions" in r.stdout and "main_loop" in r.stdout


def test_every_test_starts_from_the_baseline(tmp_path):
    r = run_suite(tmp_path, """
        def test_a(vmpy_machine):
            vmpy_machine.write(vmpy_machine.symbols["threshold_mc"], b"\\0\\0\\0\\0")
            vmpy_machine.uart.output += b"junk"
            vmpy_machine.gpio.press()
            vmpy_machine.run(count=5000)

        def test_b(vmpy_machine, vmpy_baseline, vmpy_uart):
            m = vmpy_machine
            assert m.read(m.symbols["threshold_mc"], 4) == (30000).to_bytes(4, "little")
            assert vmpy_uart.output == b"fw v1 ready\\n"
            assert m.gpio.inputs == 0
            assert m.cpus[0].icount == vmpy_baseline.icount(0)
    """)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 passed" in r.stdout


def test_missing_board_is_a_clear_error(tmp_path):
    (tmp_path / "conftest.py").write_text(
        "import importlib.metadata\n"
        "_i = any(ep.value == 'vmpy.pytest_plugin' for ep in importlib.metadata.entry_points(group='pytest11'))\n"
        "pytest_plugins = [] if _i else ['vmpy.pytest_plugin']\n")
    (tmp_path / "test_x.py").write_text("def test_x(vmpy_machine):\n    pass\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT] + sys.path))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode != 0
    assert "vmpy_board" in r.stdout + r.stderr
