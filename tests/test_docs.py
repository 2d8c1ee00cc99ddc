"""The README's Python examples run as written and print what their
comments say (they are the first code a user copies)."""
import os
import re
import subprocess
import sys

from testenv import ROOT


def python_blocks(path):
    with open(path) as f:
        return re.findall(r"^```python\n(.*?)^```", f.read(), re.S | re.M)


def test_readme_python_examples_run_as_written(tmp_path):
    blocks = python_blocks(os.path.join(ROOT, "README.md"))
    assert len(blocks) >= 3
    script = "\n".join(blocks)
    p = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, PYTHONPATH=ROOT))
    assert p.returncode == 0, p.stderr
    # Each print() carries its expected output in a comment: "# until 84".
    expected = [line.split("#", 1)[1].strip() for line in script.splitlines()
                if line.startswith("print(") and "#" in line]
    out = p.stdout.splitlines()
    assert len(out) == len(expected)
    assert out[0] == expected[0] == "until 84"
    first = eval(expected[1].replace(", ...]", "]"))[0]        # the listing's first entry
    assert eval(out[1])[0] == first
    assert (tmp_path / "out.cov").stat().st_size > 0 and (tmp_path / "base.vmsnap").exists()
