"""The notebooks: committed clean, parameterized, and executable under papermill on tiny data."""

import json
import re

import nbformat
import pytest

from pipeline.check import check_report
from helpers.errors import UserError
from pipeline.execute import NotebookError, execute, notebook_parameters
from helpers.paths import ROOT
from pipeline.render import external_references, render_html
from helpers.settings import read_settings

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_four_notebooks_exist():
    assert {p.stem for p in NOTEBOOKS} == {"gradient_check", "train", "weights", "report"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs_and_with_a_parameters_cell(path):
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert nb.metadata.kernelspec.name == "dd2424-a1"


def test_training_notebook_calls_lambda_lam():
    assert {"lam", "eta", "n_batch", "n_epochs", "init_std", "seed"} <= notebook_parameters(ROOT / "notebooks/train.ipynb")


def test_notebooks_are_thin():
    for path in NOTEBOOKS:
        nb = nbformat.read(str(path), as_version=4)
        lines = sum(len(c.source.splitlines()) for c in nb.cells if c.cell_type == "code")
        assert lines < 40, f"{path.name} has {lines} lines of code; logic belongs in helpers/"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, tiny_data_dir):
    """Run the whole report pipeline with papermill on the tiny data set."""
    out = tmp_path_factory.mktemp("pipeline")
    settings = out / "settings.csv"
    # the third setting's step is absurd: W overflows and the run diverges
    settings.write_text("lam,eta,n_batch,n_epochs\n0,0.1,20,2\n0.1,0.01,25,3\n0,1e305,20,3\n")
    runs = read_settings(settings)
    common = {"data_dir": str(tiny_data_dir), "results_dir": str(out / "results"),
              "figures_dir": str(out / "figures"), "n_val": 50}
    execute(ROOT / "notebooks/gradient_check.ipynb", out / "executed/gradient_check.ipynb",
            {"data_dir": str(tiny_data_dir), "output": str(out / "results/gradcheck.json"),
             "n_images": 5, "n_dims": 6, "n_val": 50}, progress=False)
    for p in runs:
        execute(ROOT / "notebooks/train.ipynb", out / f"executed/train_{p.run_id}.ipynb",
                {**p.as_dict(), **common}, progress=False)
        execute(ROOT / "notebooks/weights.ipynb", out / f"executed/weights_{p.run_id}.ipynb",
                {"run_dir": str(out / "results" / p.run_id),
                 "figure": str(out / "figures" / f"{p.run_id}_weights.png")}, progress=False)
    execute(ROOT / "notebooks/report.ipynb", out / "executed/report.ipynb",
            {"settings_file": str(settings), "results_dir": str(out / "results"),
             "figures_dir": str(out / "figures"), "gradcheck_file": str(out / "results/gradcheck.json")},
            progress=False)
    render_html(out / "executed/report.ipynb", out / "report/index.html")
    return out, runs


def test_pipeline_writes_results_figures_and_a_checked_report(pipeline):
    out, runs = pipeline
    runs = runs[:2]
    for p in runs:
        doc = json.loads((out / "results" / p.run_id / "results.json").read_text())
        assert doc["params"] == p.as_dict()
        assert len(doc["history"]["val_accuracy"]) == p.n_epochs + 1
        assert (out / "figures" / f"{p.run_id}_curves.png").stat().st_size > 1000
        assert (out / "figures" / f"{p.run_id}_weights.png").stat().st_size > 1000
    gradcheck = json.loads((out / "results/gradcheck.json").read_text())
    assert len(gradcheck["rows"]) == 8
    html = (out / "report/index.html").read_text()
    assert check_report(out / "report/index.html", runs).startswith("report ok: 2 settings")
    assert external_references(html) == []
    assert "Implementation Documentation" in html and "helpers.train" in html
    assert "report = collect_report(" not in html  # no code shown
    assert "hl-ipython3" not in html  # no highlighted code cell


def test_a_diverged_run_is_shown_not_a_crash(pipeline):
    out, runs = pipeline
    diverged = runs[2]
    doc = json.loads((out / "results" / diverged.run_id / "results.json").read_text())
    assert doc["diverged_at"] == 1 and doc["epochs_run"] == 1
    html = (out / "report/index.html").read_text()
    assert f'<tr data-run-id="{diverged.run_id}">' in html
    assert "diverged at epoch 1" in html
    assert f'id="fig1-{diverged.run_id}"' in html and f'id="fig2-{diverged.run_id}"' in html
    with pytest.raises(UserError, match=f"Table 1 .* of {re.escape(diverged.run_id)} is (nan|inf)"):
        check_report(out / "report/index.html", runs)


def test_report_check_fails_on_a_missing_setting(pipeline):
    out, runs = pipeline
    extra = read_settings(ROOT / "settings.csv")[:1]
    with pytest.raises(UserError, match="figure fig1-.* is missing"):
        check_report(out / "report/index.html", runs[:2] + extra)


def test_a_failing_notebook_names_the_run_and_the_notebook(tmp_path, tiny_data_dir):
    with pytest.raises(NotebookError) as info:
        execute(ROOT / "notebooks/train.ipynb", tmp_path / "failed.ipynb",
                {"lam": 0, "eta": -1, "data_dir": str(tiny_data_dir), "n_val": 50,
                 "results_dir": str(tmp_path / "results")}, label="setting X",
                progress=False)
    message = str(info.value)
    assert "setting X failed" in message and "eta=-1 is out of range" in message
    assert str(tmp_path / "failed.ipynb") in message
    assert (tmp_path / "failed.ipynb").exists()
    assert not (tmp_path / "results").exists()


def test_unknown_parameter_is_an_error(tmp_path):
    with pytest.raises(UserError, match="unknown parameter.*lamda.*it accepts: .*lam"):
        execute(ROOT / "notebooks/train.ipynb", tmp_path / "x.ipynb", {"lamda": 0.1}, progress=False)
    assert not (tmp_path / "x.ipynb").exists()
