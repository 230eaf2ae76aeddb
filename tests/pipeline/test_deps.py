from pipeline.deps import imported_helpers, module_closure, notebook_dependencies, notebook_source
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


def test_display_cells_do_not_make_the_results_depend_on_what_they_import(tmp_path):
    import json

    nb = {"cells": [{"cell_type": "code", "metadata": {}, "source": "from helpers.train import train"},
                    {"cell_type": "code", "metadata": {"tags": ["display"]}, "source": "from helpers.figures import plot_history"}]}
    (tmp_path / "n.ipynb").write_text(json.dumps(nb))
    assert "helpers.figures" not in notebook_source(tmp_path / "n.ipynb")


def test_training_depends_on_what_it_runs_and_nothing_else():
    assert {"train.py", "model.py", "data.py", "cifar10.py", "results.py"} <= deps("train")
    assert {"compiled_epoch.py", "compiled_epoch.c"} <= deps("train")   # editing the compiled epoch retrains
    # plots in the training notebook are display cells: restyling a figure retrains nothing
    assert not deps("train") & {"figures.py", "gradcheck.py", "report.py", "audit.py", "reference.py"}
    # nor does renaming a rendered run page: its names live apart from helpers.paths, which every notebook imports
    assert "paths.py" in deps("train") and "pages.py" not in deps("train") | deps("gradient_check") | deps("figures")
    assert "pages.py" in deps("report")


def test_gradient_check_does_not_depend_on_training_or_the_report():
    assert {"gradcheck.py", "model.py", "data.py"} <= deps("gradient_check")
    assert not deps("gradient_check") & {"train.py", "report.py", "figures.py", "results.py", "compiled_epoch.c"}


def test_figures_depend_on_the_figure_code_not_on_training():
    assert {"figures.py", "results.py"} <= deps("figures")
    assert not deps("figures") & {"train.py", "gradcheck.py", "data.py", "report.py"}


def test_the_report_depends_on_the_audit_and_the_tables_not_on_training():
    assert {"report.py", "audit.py", "original.py", "figures.py", "settings.py"} <= deps("report")
    assert not deps("report") & {"train.py", "model.py", "gradcheck.py"}


def test_the_science_package_never_imports_the_machinery():
    for path in (ROOT / "helpers").glob("*.py"):
        assert "pipeline" not in {alias.split(".")[0] for alias in _imported_names(path.read_text())}, path.name


def test_neither_the_science_nor_the_build_imports_what_measures_them():
    for path in [*(ROOT / "helpers").glob("*.py"), *(ROOT / "pipeline").glob("*.py")]:
        assert "bench" not in {alias.split(".")[0] for alias in _imported_names(path.read_text())}, path.name


def _imported_names(source):
    import ast

    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def _notebook(tmp_path, name, params="lam = 0.1\nquick = False", code="x = lam * 2", outputs=None, meta=None):
    import json

    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# A notebook"},
             {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": params,
              "outputs": [], "execution_count": None},
             {"cell_type": "code", "metadata": meta or {}, "source": code, "outputs": outputs or [],
              "execution_count": 3 if outputs else None}]
    path = tmp_path / name
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_a_notebook_s_code_key_ignores_outputs_metadata_markdown_and_parameter_values(tmp_path):
    from pipeline.deps import notebook_code_key

    key = notebook_code_key(_notebook(tmp_path, "a.ipynb"))
    saved = _notebook(tmp_path, "b.ipynb", params="lam = 1e-3   # another value\nquick = True",
                      outputs=[{"output_type": "stream", "name": "stdout", "text": "0.2\n"}],
                      meta={"collapsed": True, "scrolled": False})
    assert notebook_code_key(saved) == key
    assert notebook_code_key(_notebook(tmp_path, "c.ipynb", code="x = lam * 3")) != key       # code
    assert notebook_code_key(_notebook(tmp_path, "d.ipynb", params="lam = 0.1")) != key        # a parameter's name
    assert notebook_code_key(_notebook(tmp_path, "e.ipynb", params="quick = False\nlam = 0.1")) != key  # their order


def test_parameter_names_reads_plain_and_annotated_assignments():
    from pipeline.deps import parameter_names

    assert parameter_names("lam = 0.1   # λ\nseeds: list = [1]\nimport os\na = b = 2\n") == ["lam", "seeds", "a", "b"]


def test_a_content_key_changes_with_a_byte_or_a_name_and_never_with_a_time(tmp_path):
    import os

    from pipeline.deps import content_key

    pkg = tmp_path / "helpers"
    pkg.mkdir()
    for name, text in (("a.py", "x = 1\n"), ("b.c", "int x;\n")):
        (pkg / name).write_text(text)
    files = [pkg / "a.py", pkg / "b.c"]
    key = content_key(files, tmp_path)
    assert len(key) == 16 and content_key(files[::-1], tmp_path) == key        # the order given does not matter
    os.utime(pkg / "a.py", (1, 1))
    (pkg / "b.c").write_text("int x;\n")                                        # rewritten as it was
    assert content_key(files, tmp_path) == key
    (pkg / "a.py").write_text("x = 2\n")
    assert content_key(files, tmp_path) != key
    (pkg / "a.py").write_text("x = 1\n")
    (pkg / "a.py").rename(pkg / "a2.py")                                        # the same bytes, another module
    assert content_key([pkg / "a2.py", pkg / "b.c"], tmp_path) != key
