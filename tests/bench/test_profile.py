"""make profile: the breakdown of a build from the files it leaves behind."""

import json

import pytest

from bench.profile import format_profile, profile, read_wall


def executed_notebook(path, input_path, cells, total):
    nb = {"metadata": {"papermill": {"duration": total, "input_path": input_path}},
          "cells": [{"cell_type": "code", "source": src, "metadata": {"tags": tags, "papermill": {"duration": d}}}
                    for src, tags, d in cells]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb))


def test_the_profile_splits_a_build_into_training_and_the_rest(tmp_path):
    r = tmp_path / "results"
    for i in range(2):
        executed_notebook(r / f"v/s{i}/train.ipynb", "notebooks/train.ipynb",
                          [("data = load_dataset(x)", [], 0.1), ("results = train_seeds(a)", [], 20.0),
                           ("show(plot_history(h))", ["display"], 0.5), ("evaluate_seeds(t)", [], 0.4),
                           ("save_runs(r)", [], 0.2)], 23.0)
        (r / f"v/s{i}/seed1").mkdir(parents=True)
        (r / f"v/s{i}/seed1/timing.json").write_text(json.dumps({"train_seconds": 19.0}))
    executed_notebook(r / "executed/report.ipynb", "notebooks/report.ipynb", [("x", [], 1.0)], 3.0)
    (tmp_path / "wall.json").write_text('{"start": 100, "end": 125}')
    p = profile(r, read_wall(tmp_path / "wall.json"), cores=2)
    assert p["runs"] == 2 and p["train_seconds"] == 38.0 and p["ideal"] == 19.0
    assert p["ratio"] == pytest.approx(25 / 19)
    steps = p["notebooks"]["train"]["steps"]
    assert steps["training cell"] == 40.0 and steps["data"] == pytest.approx(0.2) and steps["plots"] == 1.0
    assert steps["kernel start and papermill"] == pytest.approx(2 * (23.0 - 21.2))
    assert p["notebooks"]["report"]["count"] == 1
    text = "\n".join(format_profile(p))
    assert "1.32 x (training / cores)" in text


def test_without_a_recorded_wall_time_it_says_so(tmp_path):
    assert read_wall(tmp_path / "none.json") is None
    assert "no wall time recorded" in "\n".join(format_profile(profile(tmp_path, None, 2)))


def test_every_module_the_makefile_runs_with_python_m_is_found_from_the_project_folder():
    """The Makefile's recipes run in the project folder: ``-m bench.profile`` works there though bench/ is no
    installed package, and a module moved or renamed without the Makefile fails here."""
    import importlib.util
    import re

    from helpers.paths import ROOT

    modules = set(re.findall(r"-m ((?:bench|pipeline)(?:\.\w+)*)", (ROOT / "Makefile").read_text()))
    assert {"bench.bench", "bench.profile", "bench.mutation", "pipeline", "pipeline.layout_check", "pipeline.pdf"} <= modules
    assert [m for m in sorted(modules) if importlib.util.find_spec(m) is None] == []
