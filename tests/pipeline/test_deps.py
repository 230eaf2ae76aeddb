from pipeline.deps import imported_helpers, module_closure, notebook_dependencies
from helpers.paths import ROOT


def test_imported_helpers_sees_top_level_and_function_level_imports():
    src = ("import os\nfrom helpers.model import evaluate\nimport helpers.train\nfrom helpers import params\n"
           "def f():\n    from helpers.figures import plot_history\n")
    assert imported_helpers(src) == {"model", "train", "params", "figures"}


def test_closure_follows_imports(tmp_path):
    pkg = tmp_path / "helpers"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from helpers.b import x\n")
    (pkg / "b.py").write_text("def g():\n    from helpers.c import y\n")
    (pkg / "c.py").write_text("")
    (pkg / "d.py").write_text("")
    assert [p.name for p in module_closure({"a"}, pkg)] == ["__init__.py", "a.py", "b.py", "c.py"]


def deps(stem):
    return {p.name for p in notebook_dependencies(ROOT / "notebooks" / f"{stem}.ipynb", ROOT / "helpers")}


def test_training_depends_on_what_it_runs_and_nothing_else():
    assert {"train.py", "model.py", "dataset.py", "pipeline.py", "figures.py", "results.py"} <= deps("train")
    assert not deps("train") & {"gradcheck.py", "report.py", "render.py", "check.py", "cli.py", "execute.py"}


def test_gradient_check_does_not_depend_on_training_or_the_report():
    assert {"gradcheck.py", "model.py", "dataset.py"} <= deps("gradient_check")
    assert not deps("gradient_check") & {"train.py", "report.py", "figures.py", "pipeline.py"}


def test_weights_figure_depends_on_the_figure_code_not_on_training():
    assert {"figures.py", "results.py"} <= deps("weights")
    assert not deps("weights") & {"train.py", "gradcheck.py", "dataset.py", "report.py"}


def test_the_report_depends_on_all_of_helpers():
    makefile = (ROOT / "Makefile").read_text()
    rule = makefile.split("$(REPORT_DIR)/index.html:", 1)[1].split("$(EXECUTE) notebooks/report.ipynb", 1)[0]
    assert "$(HELPERS)" in rule and "$(SETTINGS)" in rule and "notebooks/report.ipynb" in rule
