"""The README's conda route: an environment made from environment.yml's pip list imports the
project from the notebooks (its last line, ``-e .``, installs it, as ``make venv`` does).

conda itself is not needed to test what matters: conda creates the environment, then runs pip
on the yml's pip section from the yml's folder. This test does the same with a fresh venv of the
current Python, registers a kernel in it as the README says (``ipykernel install --user``, here
into a temporary Jupyter data folder), and runs notebooks/gradient_check.ipynb with that kernel
from another folder, so that only the installed project, not the working directory, can provide
``helpers``. Slow: a full pip install (70 s on the development machine, with a package index nearby).
"""

import json
import os
import subprocess
import venv

import pytest

from helpers.paths import ROOT
from tests.conftest import project_copy

pytestmark = pytest.mark.install   # a tier `make test` runs and `make test-fast` leaves out (pyproject.toml)


def pip_section(text):
    """The list under ``- pip:`` in environment.yml, in order (read with PyYAML, which Jupyter brings)."""
    import yaml

    for item in yaml.safe_load(text)["dependencies"]:
        if isinstance(item, dict) and "pip" in item:
            return [str(line) for line in item["pip"]]
    raise AssertionError("environment.yml has no pip section")


def test_the_pip_section_is_read():
    items = pip_section((ROOT / "environment.yml").read_text())
    assert "papermill==2.7.0" in items or any(i.startswith("papermill==") for i in items)


def test_an_environment_made_the_conda_way_runs_the_notebooks(tmp_path, tiny_data_dir):
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("\n".join(pip_section((ROOT / "environment.yml").read_text())) + "\n")
    # conda runs pip with the yml's folder as working directory: `-e .` is the project (a copy: the editable
    # install writes its metadata beside the sources, where the checkout's own tests read theirs); no bytecode
    # compiled ahead (--no-compile: the same packages, 65 -> 51 s here; Python compiles what the kernel imports)
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-compile", "-r", str(requirements)],
                             cwd=project_copy(tmp_path), capture_output=True, text=True, timeout=1800)
    assert install.returncode == 0, install.stderr[-3000:]

    kernel = f"dd2424-conda-test-{os.getpid()}"
    env = {**os.environ, "JUPYTER_DATA_DIR": str(tmp_path / "jupyter"), "JUPYTER_PATH": "", "MPLBACKEND": "Agg"}
    env.pop("PYTHONPATH", None)
    register = subprocess.run([str(python), "-m", "ipykernel", "install", "--user", "--name", kernel],
                              capture_output=True, text=True, env=env, timeout=120)
    assert register.returncode == 0, register.stderr
    spec = json.loads((tmp_path / "jupyter" / "kernels" / kernel / "kernel.json").read_text())
    assert spec["argv"][0] == str(python)

    # the environment's own papermill and pipeline, run from elsewhere: helpers must come from the install
    run = tmp_path / "run"
    run.mkdir()
    output = tmp_path / "gradcheck.json"
    code = ("import sys; from pipeline.execute import execute; "
            "execute(sys.argv[1], sys.argv[2], {'data_dir': sys.argv[3], 'output': sys.argv[4], 'n_images': 5, "
            "'n_dims': 10, 'n_val': 50, 'search': 'small'}, kernel=sys.argv[5], cwd=sys.argv[6])")
    result = subprocess.run([str(python), "-c", code, str(ROOT / "notebooks" / "gradient_check.ipynb"),
                             str(tmp_path / "executed.ipynb"), str(tiny_data_dir), str(output), kernel, str(run)],
                            cwd=run, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(output.read_text())["rows"]
