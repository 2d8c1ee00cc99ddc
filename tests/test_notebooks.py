"""Executes every notebook in notebooks/ headless (nbclient + ipykernel) and
fails on any error in any cell.  The notebooks assert their own results
(against values computed in Python by hand), so a wrong answer is an error
too.  The kernel inherits this process's environment (PYTHONPATH), so it
imports the vmpy under test."""
import glob
import os
import shutil

import pytest

from testenv import CROSS_CC, ROOT, missing

NOTEBOOKS = sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb")))


def test_there_are_notebooks():
    names = [os.path.basename(p) for p in NOTEBOOKS]
    assert len(names) >= 4, names


def _needs_linux(path):
    return "linux" in os.path.basename(path)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[os.path.basename(p) for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    if shutil.which(CROSS_CC) is None:
        missing(CROSS_CC)
    if _needs_linux(path):
        from vmpy import images
        try:
            images.fetch_debian_riscv64()
        except (RuntimeError, OSError) as e:
            pytest.skip(f"Debian riscv64 images unavailable: {e}")
    nb = nbformat.read(path, as_version=4)
    env_path = os.environ.get("PYTHONPATH", "")
    if ROOT not in env_path.split(os.pathsep):
        os.environ["PYTHONPATH"] = ROOT + (os.pathsep + env_path if env_path else "")
    os.environ.setdefault("MPLBACKEND", "Agg")
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()          # raises CellExecutionError on the first failing cell
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    # every notebook shows something: at least one rich (HTML or image) output
    rich = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if set(o.get("data", {})) & {"text/html", "image/png"}]
    assert rich or _needs_linux(path)
