import json
import math
import platform
import warnings
from dataclasses import asdict, replace
from types import SimpleNamespace

import numpy as np
import pytest

from helpers import paths, results
from helpers.params import DataOptions, validate_params
from helpers.results import load_run, save_run
from helpers.train import TrainResult


def test_save_and_load_a_run_with_a_diverged_history(tmp_path):
    params = validate_params(0, 0.1, 10, 2)
    history = {k: [1.0, float("nan")] for k in ("train_loss", "train_cost", "train_accuracy",
                                                "val_loss", "val_cost", "val_accuracy")}
    result = TrainResult(W=np.ones((10, 4)), b=np.zeros(10), history=history, diverged_at=1, seconds=1.5)
    test = {"loss": float("inf"), "cost": float("nan"), "accuracy": 0.1}
    save_run(tmp_path, params, result, test, {"x": "y"}, n_train=20, n_val=5)
    text = (tmp_path / "results.json").read_text()
    json.loads(text)  # strict JSON: NaN and inf are stored as strings
    assert "NaN" not in text and "Infinity" not in text
    doc = load_run(tmp_path)
    assert doc["diverged_at"] == 1 and doc["epochs_run"] == 1
    assert math.isnan(doc["history"]["val_cost"][1]) and doc["test"]["loss"] == float("inf")
    np.testing.assert_array_equal(doc["W"], np.ones((10, 4)))
    # results.json depends only on the inputs: saving again gives the same bytes
    save_run(tmp_path, params, result, test, {"x": "y"}, n_train=20, n_val=5)
    assert (tmp_path / "results.json").read_text() == text


def test_spread_over_seeds_and_a_diverged_seed():
    from helpers.results import spread, summarise

    s = spread([0.40, 0.42])
    assert s["mean"] == pytest.approx(0.41) and s["std"] == pytest.approx(0.0141421356) and s["n"] == 2
    assert spread([0.3])["std"] == 0.0
    assert math.isnan(summarise([{"loss": 1.0, "cost": 1.0, "accuracy": 0.3},
                                 {"loss": float("nan"), "cost": 1.0, "accuracy": 0.2}])["loss"]["mean"])


# --- what a run's files hold ----------------------------------------------------------------------------

def make_result(seed=0, diverged_at=None, epochs=2):
    history = {k: [0.5 + seed] * (epochs + 1) for k in ("train_loss", "train_cost", "train_accuracy",
                                                        "val_loss", "val_cost", "val_accuracy")}
    return TrainResult(W=np.full((10, 3), float(seed)), b=np.arange(10.0) + seed, history=history,
                       diverged_at=diverged_at, seconds=1.5 + seed, epoch="numpy")


@pytest.mark.parametrize("options", [None, DataOptions(n_val=30, dtype="float32")])
def test_save_run_writes_every_field_and_three_files(tmp_path, options):
    params = validate_params(0.1, 0.001, 100, 2, seed=7)
    test = {"loss": 1.25, "cost": 1.5, "accuracy": 0.25}
    path = save_run(tmp_path, params, make_result(), test, {"data_batch_1": "abc"}, options=options,
                    variant="course", n_train=200, n_val=30, seconds=9.5)
    assert path == tmp_path / "results.json"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json", "timing.json", "weights.npz"]
    assert json.loads((tmp_path / "timing.json").read_text()) == {"train_seconds": 1.5, "total_seconds": 9.5}
    doc = load_run(tmp_path)
    assert doc["params"] == params.as_dict() and doc["params"]["seed"] == 7
    assert doc["data"] == (None if options is None else asdict(options))
    assert (doc["variant"], doc["n_train"], doc["n_val"]) == ("course", 200, 30)
    assert doc["data_sha256"] == {"data_batch_1": "abc"} and doc["test"] == test
    assert doc["epochs_run"] == 2 and doc["diverged_at"] is None  # 3 history entries: before and after 2 epochs
    assert doc["epoch"] == "numpy"                                # which epoch trained, as the result says
    assert doc["provenance"]["compiled_epoch"] is None and doc["provenance"]["cpu"]["model"]   # where it ran
    assert doc["versions"] == results.package_versions()
    np.testing.assert_array_equal(doc["b"], np.arange(10.0))


def test_minus_infinity_survives_the_round_trip(tmp_path):
    test = {"loss": float("-inf"), "cost": float("inf"), "accuracy": float("nan")}
    save_run(tmp_path, validate_params(0, 0.1, 10, 2), make_result(), test, {})
    assert '"-inf"' in (tmp_path / "results.json").read_text()
    doc = load_run(tmp_path, weights=False)
    assert doc["test"]["loss"] == float("-inf") and doc["test"]["cost"] == float("inf")
    assert math.isnan(doc["test"]["accuracy"]) and "W" not in doc and "b" not in doc


def test_load_run_refuses_pickled_weights(tmp_path):
    save_run(tmp_path, validate_params(0, 0.1, 10, 2), make_result(), {}, {})
    np.savez(tmp_path / "weights.npz", W=np.array([{"not": "numbers"}], dtype=object), b=np.zeros(10))
    with pytest.raises(ValueError, match="allow_pickle"):
        load_run(tmp_path)


def test_package_versions_name_python_and_the_installed_packages(monkeypatch):
    monkeypatch.setattr(results, "PACKAGES", ("numpy", "surely-not-an-installed-package"))
    assert results.package_versions() == {"python": platform.python_version(), "numpy": np.__version__,
                                          "surely-not-an-installed-package": None}


# --- the spread over seeds ---------------------------------------------------------------------------------

def test_summarise_gives_each_metrics_spread():
    tests = [{"loss": 1.0, "cost": 2.0, "accuracy": 0.30}, {"loss": 3.0, "cost": 2.0, "accuracy": 0.40}]
    s = results.summarise(tests)
    # loss (1, 3): mean 2, sample std sqrt(((1-2)^2 + (3-2)^2) / 1) = sqrt(2); cost constant: std 0
    assert s["loss"] == {"mean": 2.0, "std": pytest.approx(np.sqrt(2.0)), "min": 1.0, "max": 3.0, "n": 2}
    assert s["cost"] == {"mean": 2.0, "std": 0.0, "min": 2.0, "max": 2.0, "n": 2}
    assert s["accuracy"]["mean"] == pytest.approx(0.35) and s["accuracy"]["min"] == 0.30


def test_spread_with_an_infinite_seed_warns_nothing():
    # mean (inf + 0.4) / 2 = inf; the std needs inf - inf = nan; min and max stay exact
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = results.spread([0.4, float("inf")])
    assert s["mean"] == float("inf") and math.isnan(s["std"])
    assert (s["min"], s["max"], s["n"]) == (0.4, float("inf"), 2)


# --- a setting's group of runs ------------------------------------------------------------------------------

def fake_dataset():
    return SimpleNamespace(data_sha256={"test_batch": "f00"}, options=DataOptions(n_val=30),
                           train=SimpleNamespace(n=170), val=SimpleNamespace(n=30))


def save_two_seeds(root):
    setting = validate_params(0.1, 0.001, 100, 2, seed=0)
    runs = {5: make_result(5), 3: make_result(3, diverged_at=1)}
    tests = {5: {"loss": 1.0, "cost": 1.5, "accuracy": 0.25}, 3: {"loss": 3.0, "cost": 3.5, "accuracy": 0.35}}
    return setting, tests, results.save_runs(root, "course", setting, fake_dataset(), runs, tests)


def test_save_runs_writes_each_seed_then_the_summary(tmp_path):
    setting, tests, folder = save_two_seeds(tmp_path)
    assert folder == results.group_dir(tmp_path, "course", setting) == tmp_path / "course" / setting.setting_id
    assert sorted(p.name for p in folder.iterdir()) == ["seed3", "seed5", "summary.json"]
    doc = load_run(folder / "seed3")
    assert doc["params"] == asdict(replace(setting, seed=3)) and doc["variant"] == "course"
    assert (doc["n_train"], doc["n_val"], doc["diverged_at"]) == (170, 30, 1) and doc["test"] == tests[3]
    assert doc["data"] == asdict(DataOptions(n_val=30)) and doc["data_sha256"] == {"test_batch": "f00"}
    np.testing.assert_array_equal(doc["W"], np.full((10, 3), 3.0))
    summary = json.loads((folder / "summary.json").read_text())
    # seeds in the order they were given; loss (1, 3): mean 2, sample std sqrt(2)
    assert summary["seeds"] == [5, 3] and summary["test"] == [tests[5], tests[3]]
    assert summary["summary"]["loss"] == {"mean": 2.0, "std": pytest.approx(np.sqrt(2.0)), "min": 1.0,
                                          "max": 3.0, "n": 2}


def test_save_group_stores_a_diverged_seed_as_strict_json(tmp_path):
    path = results.save_group(tmp_path, [1, 2], [{"loss": 1.0, "cost": 1.0, "accuracy": 0.3},
                                                  {"loss": float("nan"), "cost": 1.0, "accuracy": 0.2}])
    assert path == tmp_path / "summary.json"
    doc = json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert doc["test"][1]["loss"] == "nan" and doc["summary"]["loss"]["mean"] == "nan"
    assert doc["summary"]["accuracy"]["mean"] == pytest.approx(0.25)


@pytest.mark.parametrize("kwargs, weights", [({}, False), ({"weights": True}, True)])  # no weights by default
def test_load_group_reads_the_runs_in_the_summarys_order(tmp_path, monkeypatch, kwargs, weights):
    monkeypatch.setattr(paths, "ROOT", tmp_path)  # a relative results folder is taken from the project root
    setting, _, _ = save_two_seeds("results")
    docs = results.load_group("results", "course", replace(setting, seed=99), **kwargs)
    assert [d["params"]["seed"] for d in docs] == [5, 3]
    assert ("W" in docs[0]) == weights and ("b" in docs[1]) == weights
    if weights:
        np.testing.assert_array_equal(docs[1]["b"], np.arange(10.0) + 3)


def test_test_table_has_a_row_per_seed_with_its_status():
    runs = {5: make_result(5, epochs=4), 3: make_result(3, diverged_at=2, epochs=2)}
    tests = {5: {"loss": 1.0, "cost": 1.5, "accuracy": 0.25}, 3: {"loss": 3.0, "cost": 3.5, "accuracy": 0.35}}
    df = results.test_table(runs, tests)
    assert df.index.name == "seed" and list(df.index) == [5, 3]
    assert list(df.columns) == ["loss", "cost", "accuracy", "epochs run", "status"]
    assert df.loc[5].tolist() == [1.0, 1.5, 0.25, 4, "completed"]
    assert df.loc[3].tolist() == [3.0, 3.5, 0.35, 2, "diverged at epoch 2"]


def test_a_run_trained_by_the_compiled_epoch_records_its_build_for_its_dtype(c_compiler, tmp_path):
    result = TrainResult(W=np.zeros((10, 3), dtype=np.float32), b=np.zeros(10, dtype=np.float32),
                         history={k: [0.5, 0.4] for k in ("train_loss", "train_cost", "train_accuracy", "val_loss",
                                                          "val_cost", "val_accuracy")}, epoch="compiled")
    save_run(tmp_path, validate_params(0.1, 0.001, 100, 1), result, {"loss": 1, "cost": 1, "accuracy": 0.5}, {})
    build = load_run(tmp_path, weights=False)["provenance"]["compiled_epoch"]
    assert build["library"].startswith("epoch-f32-") and build["flags"]      # the float32 library, not float64's
