"""Many kernels starting at once (make -j): none races another for a port, none fails, none is noisy."""

import subprocess
import sys
import time

import pytest

from helpers.paths import ROOT

pytestmark = pytest.mark.e2e   # a tier `make test` runs and `make test-fast` leaves out (pyproject.toml)

RUNS = 12

CHILD = """
import sys
from pipeline.execute import execute
execute(sys.argv[1], sys.argv[2], {"x": int(sys.argv[3])})
"""


def test_twelve_notebooks_start_their_kernels_at_once(tmp_path):
    import json

    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "dd2424-a1", "display_name": "Python (dd2424-a1)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("x = 0", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("print(x * x)")]
    nbformat.write(nb, str(tmp_path / "nb.ipynb"))
    start = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "nb.ipynb"), str(tmp_path / f"out{i}.ipynb"),
                               str(i)], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for i in range(RUNS)]
    results = [p.communicate(timeout=600) for p in procs]
    for i, (p, (out, err)) in enumerate(zip(procs, results)):
        assert p.returncode == 0, err
        assert err == "", err  # no traceback, no "Address already in use", no "KeyboardInterrupt caught in kernel"
        executed = json.loads((tmp_path / f"out{i}.ipynb").read_text())
        assert "".join(executed["cells"][-1]["outputs"][0]["text"]) == f"{i * i}\n"
    print(f"{RUNS} runs at once in {time.monotonic() - start:.1f} s")
