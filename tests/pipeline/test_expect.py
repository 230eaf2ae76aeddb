"""A training group checked against the run make asked for; the files a rule promises."""

import json

import pytest

from helpers.errors import UserError
from pipeline.expect import check_group, expect_files

ASKED = {"lam": 0.1, "eta": 0.001, "n_batch": 100, "n_epochs": 40, "init_std": 0.01, "seeds": [1, 2],
         "split": "course", "normalise": True, "dtype": "float64", "n_val": 5000, "quick": False}


def group(tmp_path, seeds=(1, 2), epochs_run=40, diverged_at=None, **changed):
    params = {"lam": 0.1, "eta": 0.001, "n_batch": 100, "n_epochs": 40, "init_std": 0.01}
    data = {"split": "course", "normalise": True, "dtype": "float64", "n_val": 5000}
    for k, v in changed.items():
        (params if k in params else data)[k] = v
    for seed in seeds:
        folder = tmp_path / f"seed{seed}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "results.json").write_text(json.dumps({"params": {**params, "seed": seed}, "data": data,
                                                         "epochs_run": epochs_run, "diverged_at": diverged_at}))
    (tmp_path / "summary.json").write_text(json.dumps({"seeds": list(seeds)}))
    return tmp_path / "summary.json"


def test_the_run_make_asked_for_passes(tmp_path):
    check_group(group(tmp_path), ASKED)


def test_a_diverged_run_may_stop_early(tmp_path):
    check_group(group(tmp_path, epochs_run=3, diverged_at=3), ASKED)


@pytest.mark.parametrize("changed, message", [
    ({"n_epochs": 5}, "n_epochs = 5, not 40"),
    ({"lam": 0.0}, "lam = 0.0, not 0.1"),
    ({"init_std": 0.1}, "init_std = 0.1, not 0.01"),
    ({"normalise": False}, "normalise = False, not True"),
    ({"n_val": 50}, "n_val = 50, not 5000"),
    ({"epochs_run": 5}, "5 epochs run, not 40"),
])
def test_a_run_that_is_not_the_one_asked_for_fails_with_one_line(tmp_path, changed, message):
    with pytest.raises(UserError, match=f"seed1/results.json is not the run make asked for: {message}"):
        check_group(group(tmp_path, **changed), ASKED)


def test_other_seeds_fail(tmp_path):
    with pytest.raises(UserError, match=r"holds seeds \[1\], not the \[1, 2\] make asked for"):
        check_group(group(tmp_path, seeds=(1,)), ASKED)


def test_a_promised_file_that_was_not_written_is_named(tmp_path):
    (tmp_path / "a.png").write_bytes(b"png")
    expect_files([tmp_path / "a.png"])
    with pytest.raises(UserError, match="the notebook ran but did not write .*b.png"):
        expect_files([tmp_path / "a.png", tmp_path / "b.png"])
