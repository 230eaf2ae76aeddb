"""The notebooks: committed clean, thin, parameterized, executable top to bottom under papermill on tiny data."""

import json
import re
from urllib.parse import unquote

import nbformat
import pytest

from helpers.errors import UserError
from helpers.paths import ROOT
from helpers.settings import parse_settings, parse_variants, read_setting_rows, read_variants, training_pairs
from tests.conftest import committed_text
from pipeline.check import check_report
from pipeline.execute import NotebookError, execute, notebook_parameters
from pipeline.render import external_references, render_html, render_runs

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SETTINGS = "lam,eta,n_batch,n_epochs,variants\n0,0.1,100,40,all\n0.1,0.001,100,40,all\n0,1e305,20,3,\n"   # the last: course only
VARIANTS = ("name,seeds,overrides,description\ncourse,1 2,,the course\n"
            "raw,3,normalise=false,no normalisation\n")


def test_the_four_notebooks_exist():
    assert {p.stem for p in NOTEBOOKS} == {"gradient_check", "train", "figures", "report"}


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
    assert {"run", "seeds", "quick"} <= notebook_parameters(ROOT / "notebooks/train.ipynb")
    nb = nbformat.read(str(ROOT / "notebooks/train.ipynb"), as_version=4)
    assert '"lam": 0.1' in nb.cells[1].source and "lambda" in nb.cells[1].source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_thin_and_define_nothing(path):
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            code = "\n".join(line.split("#", 1)[0] for line in cell.source.splitlines())
            assert not re.search(r"^\s*(def|class)\s|lambda\b", code, re.M), f"{path.name}: logic belongs in helpers/"
            if "parameters" not in cell.metadata.get("tags", []):
                assert len(cell.source.splitlines()) <= 15, f"{path.name}: a cell of {len(cell.source.splitlines())} lines"


def test_runs_by_hand_go_to_scratch_not_to_what_make_tracks():
    for stem, name in (("train", "results_dir"), ("figures", "figures_dir"), ("gradient_check", "output")):
        nb = nbformat.read(str(ROOT / "notebooks" / f"{stem}.ipynb"), as_version=4)
        params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])][0].source
        assert re.search(rf'^{name} = "scratch/', params, re.M), stem


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory, tiny_data_dir):
    """The whole report pipeline with papermill on the tiny data set (its tests are of the e2e tier)."""
    out = tmp_path_factory.mktemp("pipeline")
    (out / "settings.csv").write_text(SETTINGS)
    (out / "variants.csv").write_text(VARIANTS)
    (settings, trained_in), variants = read_setting_rows(out / "settings.csv"), read_variants(out / "variants.csv")
    # executed notebooks where make keeps them, so that the report's provenance pages can be rendered
    execute(ROOT / "notebooks/gradient_check.ipynb", out / "results/executed/gradient_check.ipynb",
            {"data_dir": str(tiny_data_dir), "output": str(out / "results/gradcheck.json"),
             "n_images": 5, "n_dims": 6, "n_val": 50, "search": "small"})
    for v, s in training_pairs(settings, variants, trained_in):   # the rows as make trains them
        params = {"run": {"lam": s.lam, "eta": s.eta, "n_batch": s.n_batch, "n_epochs": s.n_epochs, **v.train, **v.data},
                  "seeds": list(v.seeds), "variant": v.name, "data_dir": str(tiny_data_dir),
                  "results_dir": str(out / "results"), "n_val": 50}
        execute(ROOT / "notebooks/train.ipynb", out / f"results/{v.name}/{s.setting_id}/train.ipynb", params)
    for s in settings:
        execute(ROOT / "notebooks/figures.ipynb", out / f"results/course/{s.setting_id}/figures.ipynb",
                {"run": {"lam": s.lam, "eta": s.eta, "n_batch": s.n_batch, "n_epochs": s.n_epochs},
                 "results_dir": str(out / "results"), "figures_dir": str(out / "figures")})
    execute(ROOT / "notebooks/report.ipynb", out / "executed/report.ipynb",
            {"settings_file": str(out / "settings.csv"), "variants_file": str(out / "variants.csv"),
             "results_dir": str(out / "results"), "figures_dir": str(out / "figures"),
             "gradcheck_file": str(out / "results/gradcheck.json")})
    render_runs(out / "results", out / "report/runs", settings)
    render_html(out / "executed/report.ipynb", out / "report/index.html")
    return out, settings, variants


@pytest.mark.e2e
def test_pipeline_writes_results_figures_and_a_checked_report(pipeline):
    out, settings, variants = pipeline
    for s in settings[:2]:
        for v in variants:
            summary = json.loads((out / "results" / v.name / s.setting_id / "summary.json").read_text())
            assert summary["seeds"] == list(v.seeds)
            for seed in v.seeds:
                doc = json.loads((out / "results" / v.name / s.setting_id / f"seed{seed}" / "results.json").read_text())
                assert doc["params"]["seed"] == seed and doc["variant"] == v.name
                assert doc["data"]["normalise"] == v.data.get("normalise", True)
                assert len(doc["history"]["val_accuracy"]) == s.n_epochs + 1
        assert (out / "figures" / f"{s.setting_id}_curves.png").stat().st_size > 1000
        assert (out / "figures" / f"{s.setting_id}_weights.png").stat().st_size > 1000
    assert len(json.loads((out / "results/gradcheck.json").read_text())["rows"]) == 8
    html = (out / "report/index.html").read_text()
    summary = check_report(out / "report/index.html", settings[:2], variants, out / "results/findings.json")
    assert summary.startswith("report ok: 2 settings") and "2 variants" in summary and "counts as in" in summary
    assert external_references(html) == []
    assert "Implementation Documentation" in html and "helpers.train" in html and "3 Reproduction audit" in html
    assert "pipeline." not in html.split("2.6 The data flow")[1].split("3 Reproduction audit")[0]
    assert "helpers.data.load_dataset(" not in html and "Appendix: provenance" in html     # no API listing
    for anchor in re.findall(r'href="#([^"]+)"', html.split("Contents.")[1].split("1 Assignment Report</h2>")[0]):
        assert f'id="{unquote(anchor)}"' in html, anchor                                # every contents link lands
    # the 24 numbers' table, Figure 4, the audit's formulas, the answer's formulas and its detail per number,
    # every variant's Table 1, every run
    assert html.count("<details>") == 7
    formulas = html.split("How a configuration is scored, named and calibrated")[1].split("</details>")[0]
    assert "Student" in formulas and "<li>" in formulas      # the formulas are inside their fold, not under it
    for s in settings[:2]:   # provenance one click away: the runs behind Table 1 and the figures, with their code
        assert f'href="runs/train_{s.setting_id}.html"' in html and f'href="runs/figures_{s.setting_id}.html"' in html
        page = (out / "report/runs" / f"train_{s.setting_id}.html").read_text()
        assert "train_seeds" in page and external_references(page) == []   # the code, offline
    # the first screen defines its words before the summary uses them
    first_use = html.index("Reproducibility summary")
    for term in ("spread", "configuration", "z", "Within the printed digits"):
        assert -1 < html.find(f"<strong>{term}</strong>") < first_use, term
    # the findings, as data, for the README (make readme)
    found = json.loads((out / "results/findings.json").read_text())
    assert found["build"] == "make report" and set(found["sections"]) == {"1.1", "Table 1"}
    # run pages: their title, a link back to what they feed, the notebook's math drawn (no TeX source left)
    page = (out / "report/runs" / f"train_{settings[0].setting_id}.html").read_text()
    assert f"<title>Training, {settings[0].label}" in page and 'href="../index.html#table1"' in page
    assert 'class="math"' in page and "$S = X W^\\top" not in page
    assert '<small class="range">' in html and '<span class="num">' in html   # min–max shown; numbers kept whole
    assert "report.load_records(" not in html  # no code shown
    assert "hl-ipython3" not in html  # no highlighted code cell


@pytest.mark.e2e
def test_the_training_notebook_shows_images_and_curves_inline(pipeline):
    out, settings, _ = pipeline
    nb = nbformat.read(str(out / f"results/course/{settings[0].setting_id}/train.ipynb"), as_version=4)
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3  # a few training images with labels, the curves, the rows of W


@pytest.mark.e2e
def test_the_training_notebook_shows_one_mini_batch_step_before_training(pipeline):
    out, settings, _ = pipeline
    nb = nbformat.read(str(out / f"results/course/{settings[0].setting_id}/train.ipynb"), as_version=4)
    step = next(c for c in nb.cells if c.get("id") == "train-step")
    text = "".join(o.get("text", "") for o in step.outputs)
    assert re.search(r"X \(100, 3072\), W \(10, 3072\), b \(10,\) -> S and P \(100, 10\)", text), text
    before, after = map(float, re.search(r"cost of this mini-batch: ([\d.]+) before the step, ([\d.]+) after", text).groups())
    assert after < before          # one step of gradient descent lowers the mini-batch's cost


@pytest.mark.e2e
def test_a_diverged_run_is_shown_not_a_crash(pipeline):
    out, settings, variants = pipeline
    diverged = settings[2]
    doc = json.loads((out / "results/course" / diverged.setting_id / "seed1/results.json").read_text())
    assert doc["diverged_at"] == 1 and doc["epochs_run"] == 1
    html = (out / "report/index.html").read_text()
    assert f'<tr data-run-id="{diverged.setting_id}">' in html
    assert "2 of 2 diverged" in html
    assert f'id="fig1-{diverged.setting_id}"' in html and f'id="fig2-{diverged.setting_id}"' in html
    with pytest.raises(UserError, match=f"Table 1 .* of {re.escape(diverged.setting_id)} is (nan|inf)"):
        check_report(out / "report/index.html", settings, variants)


@pytest.mark.e2e
def test_report_check_fails_on_a_missing_setting_or_variant(pipeline):
    out, settings, variants = pipeline
    extra = parse_settings(committed_text("settings.csv"))[1:2]
    with pytest.raises(UserError, match="figure fig1-.* is missing"):
        check_report(out / "report/index.html", settings[:2] + extra, variants)
    with pytest.raises(UserError, match="the variant ranking lacks init-std-0.1, .*one-batch"):
        check_report(out / "report/index.html", settings[:2], parse_variants(committed_text("variants.csv")))


def _tampered(out, tmp_path, old, new, count=1):
    html = (out / "report/index.html").read_text()
    assert old in html, old
    path = tmp_path / "index.html"
    path.write_text(html.replace(old, new, count))
    if not (tmp_path / "runs").exists():
        (tmp_path / "runs").symlink_to(out / "report/runs")      # the pages its links lead to
    return path


@pytest.mark.e2e
def test_report_check_fails_on_a_wrong_verdict_count_or_value(pipeline, tmp_path):
    out, settings, variants = pipeline
    html = (out / "report/index.html").read_text()
    verdict = re.search(r'<td data-col="verdict">([a-z ]+)</td>', html).group(1)
    with pytest.raises(UserError, match="not one of reproduced, within the printed digits, explained, unexplained"):
        check_report(_tampered(out, tmp_path, f'<td data-col="verdict">{verdict}</td>',
                               '<td data-col="verdict">not reproduced</td>'), settings[:2], variants)
    count = re.search(r'<span data-count="reproduced"></span>(\d+)', html)   # as nbconvert renders the mark
    wrong = f'<span data-count="reproduced"></span>{int(count.group(1)) + 1}'
    with pytest.raises(UserError, match="the summary counts"):
        check_report(_tampered(out, tmp_path, count.group(0), wrong), settings[:2], variants)
    ours = re.search(r'<td data-col="ours">(.*?)</td>', html).group(0)     # its numbers may be wrapped whole
    with pytest.raises(UserError, match="is not a finite number"):
        check_report(_tampered(out, tmp_path, ours, '<td data-col="ours">nan ± nan</td>'), settings[:2], variants)


@pytest.mark.e2e
def test_the_training_notebook_runs_with_its_defaults_from_notebooks_folder(tmp_path, tiny_data_dir):
    # as in JupyterLab: working directory notebooks/, only the quick switch and the tiny data changed
    execute(ROOT / "notebooks/train.ipynb", tmp_path / "t.ipynb",
            {"quick": True, "data_dir": str(tiny_data_dir), "n_val": 50, "results_dir": str(tmp_path / "r")},
            cwd=ROOT / "notebooks")
    assert (tmp_path / "r" / "explore" / "lam0.1_eta0.001_nb100_ep5" / "summary.json").is_file()


@pytest.mark.e2e
def test_a_failing_notebook_names_the_run_and_the_notebook(tmp_path, tiny_data_dir):
    with pytest.raises(NotebookError) as info:
        execute(ROOT / "notebooks/train.ipynb", tmp_path / "failed.ipynb",
                {"run": {"lam": 0, "eta": -1}, "data_dir": str(tiny_data_dir), "n_val": 50,
                 "results_dir": str(tmp_path / "results")}, label="setting X")
    message = str(info.value)
    assert "setting X failed" in message and "eta=-1 is out of range" in message
    assert str(tmp_path / "failed.ipynb") in message
    assert (tmp_path / "failed.ipynb").exists()
    assert not (tmp_path / "results").exists()


def test_unknown_parameter_is_an_error(tmp_path):
    with pytest.raises(UserError, match="unknown parameter.*lamda.*it accepts: .*run"):
        execute(ROOT / "notebooks/train.ipynb", tmp_path / "x.ipynb", {"lamda": 0.1})
    assert not (tmp_path / "x.ipynb").exists()
