"""The board for the thermostat firmware suite: built once per session, and
the baseline snapshot is taken when the firmware first reaches main_loop."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import board  # noqa: E402


@pytest.fixture(scope="session")
def vmpy_board():
    return board.make_board


@pytest.fixture(scope="session")
def vmpy_baseline_until():
    return "main_loop"
