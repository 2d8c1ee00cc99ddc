"""The thermostat firmware's behaviour, each test from the same baseline
(the firmware has printed its banner and reached main_loop)."""
import pytest

import vmpy


def loop(m, n=1):
    """Runs n iterations of the firmware's main loop."""
    for _ in range(n):
        m.run(until=m.symbols["main_loop"] + 2, timeout=5)   # leave the loop head
        assert m.run(until="main_loop", timeout=5) == "until"


def test_banner(vmpy_machine, vmpy_uart):
    assert vmpy_uart.output == b"fw v1 ready\n"
    assert vmpy_machine.cpus[0].pc == vmpy_machine.symbols["main_loop"]


def test_fan_switches_on_when_hot(vmpy_machine):
    vmpy_machine.temp.temperature_mc = 31500
    loop(vmpy_machine)
    assert vmpy_machine.uart.output.endswith(b"FAN on (T=31.500)\n")
    assert vmpy_machine.gpio.out & 1


def test_fan_hysteresis(vmpy_machine):
    m = vmpy_machine
    m.temp.temperature_mc = 35000
    loop(m)
    m.temp.temperature_mc = 28500            # within 2 degC of the threshold: stays on
    loop(m, 3)
    assert m.gpio.out & 1
    m.temp.temperature_mc = 27999
    loop(m)
    assert not m.gpio.out & 1
    assert m.uart.lines()[-2:] == ["FAN on (T=35.000)", "FAN off (T=27.999)"]


def test_negative_temperature_report(vmpy_machine, vmpy_uart):
    vmpy_machine.temp.temperature_mc = -4250
    vmpy_uart.feed(b"t")
    loop(vmpy_machine)
    assert vmpy_uart.lines()[-1] == "T=-4.250 C"


def test_button_toggles_led_once_per_press(vmpy_machine):
    m = vmpy_machine
    m.gpio.press()
    loop(m, 3)                               # held: one toggle only
    m.gpio.release()
    loop(m)
    m.gpio.press()
    loop(m)
    assert m.uart.lines()[1:] == ["LED on", "LED off"]
    assert not m.gpio.out & 4


def test_threshold_in_ram(vmpy_machine):
    """Firmware variables are guest RAM: change the threshold in place."""
    m = vmpy_machine
    m.write(m.symbols["threshold_mc"], (20000).to_bytes(4, "little"))
    loop(m)
    assert b"FAN on" in m.uart.output


def test_state_does_not_leak_between_tests(vmpy_machine, vmpy_baseline):
    """Runs after tests that heated the sensor and pressed buttons."""
    m = vmpy_machine
    assert m.temp.temperature_mc == 22500 and m.gpio.out == 0 and m.gpio.inputs == 0
    assert m.read(m.symbols["threshold_mc"], 4) == (30000).to_bytes(4, "little")
    assert m.cpus[0].icount == vmpy_baseline.icount(0)


@pytest.mark.vmpy_max_insns(20000)
def test_main_loop_is_cheap(vmpy_machine):
    loop(vmpy_machine, 20)


@pytest.mark.vmpy_max_insns(1000)
def test_budget_marker_stops_a_runaway(vmpy_machine):
    """A run that would never end fails at the budget, not at a timeout."""
    from vmpy.pytest_plugin import BudgetExceeded
    with pytest.raises(BudgetExceeded, match="budget of 1000"):
        vmpy_machine.run(until="fw_main")     # never reached again: main_loop runs forever


def test_uptime_is_deterministic(vmpy_machine, vmpy_baseline):
    m = vmpy_machine
    m.deterministic = True
    base = m.snapshot()
    outputs = []
    for _ in range(2):
        m.restore(base)
        m.uart.feed(b"u")
        loop(m, 2)
        outputs.append(bytes(m.uart.output))
    assert outputs[0] == outputs[1] and b"uptime " in outputs[0]
    assert isinstance(m, vmpy.Machine)
