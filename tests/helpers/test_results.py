import json
import math

import numpy as np
import pytest

from helpers import files as atomic
from helpers.params import validate_params
from helpers.results import load_run, save_run
from helpers.train import TrainResult


def test_write_json_is_atomic_on_failure(tmp_path):
    path = tmp_path / "r.json"
    atomic.write_json(path, {"a": 1})
    with pytest.raises(TypeError):
        atomic.write_json(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_interrupt_inside_atomic_path_keeps_the_old_file(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic.atomic_path(path) as tmp:
            tmp.write_bytes(b"half")
            raise KeyboardInterrupt
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_npz_is_byte_identical_for_equal_arrays(tmp_path):
    W = np.arange(6.0).reshape(2, 3)
    atomic.write_npz(tmp_path / "a.npz", W=W, b=np.ones(2))
    atomic.write_npz(tmp_path / "b.npz", W=W, b=np.ones(2))
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with np.load(tmp_path / "a.npz") as npz:
        np.testing.assert_array_equal(npz["W"], W)


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
