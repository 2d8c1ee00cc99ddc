"""Loads the vmpy pytest plugin for the example suites when it is not
installed as a pytest11 entry point (a source checkout)."""
import importlib.metadata

_installed = any(ep.value == "vmpy.pytest_plugin"
                 for ep in importlib.metadata.entry_points(group="pytest11"))
pytest_plugins = [] if _installed else ["vmpy.pytest_plugin"]
