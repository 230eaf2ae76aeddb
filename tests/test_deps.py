from helpers.deps import imported_helpers, module_closure, notebook_dependencies
from helpers.pipeline import ROOT


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


def test_training_does_not_depend_on_the_report_code():
    deps = {p.name for p in notebook_dependencies(ROOT / "notebooks/train.ipynb", ROOT / "helpers")}
    assert {"train.py", "model.py", "dataset.py", "pipeline.py"} <= deps
    assert not deps & {"report.py", "render.py", "check.py", "cli.py"}


def test_report_depends_on_the_report_code():
    deps = {p.name for p in notebook_dependencies(ROOT / "notebooks/report.ipynb", ROOT / "helpers")}
    assert {"report.py", "results.py", "settings.py"} <= deps
