import json
import math

import numpy as np
import pytest

from helpers.params import validate_params
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
