"""Results files of a training run: written atomically, read back for the report.

A run's folder ``results/<run_id>/`` holds

* ``results.json``: parameters, history, test loss/cost/accuracy, divergence,
  seed, package versions and data hashes. It depends only on the inputs, so
  equal runs give byte-identical files;
* ``weights.npz``: ``W: (K, D)`` and ``b: (K,)``;
* ``timing.json``: wall times, kept apart because they differ on every run.

``results.json`` is written last: its presence means the run is complete.
"""

import json
import platform
from pathlib import Path

import numpy as np

from helpers.atomic import write_json, write_npz

PACKAGES = ("numpy", "matplotlib", "pandas", "nbconvert", "papermill")


def package_versions():
    """Versions of Python and the main packages."""
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def run_dir(results_root, params):
    """The folder of the run with ``params`` under ``results_root``."""
    return Path(results_root) / params.run_id


def _clean(value):
    """JSON-safe floats: NaN and infinities become strings."""
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def save_run(folder, params, result, test_metrics, data_sha256, dtype="float64", n_train=None, n_val=None, seconds=None):
    """Write a run's weights, timing and results files (results.json last).

    Parameters
    ----------
    folder : path-like
    params : helpers.params.TrainParams
    result : helpers.train.TrainResult
    test_metrics : dict
        ``loss``, ``cost``, ``accuracy`` on the test set.
    data_sha256 : dict
        Batch name -> sha256 of its data array.
    """
    folder = Path(folder)
    write_npz(folder / "weights.npz", W=result.W, b=result.b)
    write_json(folder / "timing.json", {"train_seconds": result.seconds, "total_seconds": seconds})
    doc = {
        "run_id": params.run_id,
        "params": params.as_dict(),
        "seed": params.seed,
        "dtype": dtype,
        "n_train": n_train,
        "n_val": n_val,
        "history": result.history,
        "epochs_run": len(result.history["train_cost"]) - 1,
        "diverged_at": result.diverged_at,
        "test": test_metrics,
        "versions": package_versions(),
        "data_sha256": data_sha256,
    }
    write_json(folder / "results.json", _clean(doc))
    return folder / "results.json"


def _restore(value):
    if isinstance(value, str) and value in ("nan", "inf", "-inf"):
        return float(value)
    if isinstance(value, dict):
        return {k: _restore(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v) for v in value]
    return value


def load_run(folder):
    """Read a run's ``results.json`` (NaN/inf restored) and its weights.

    Returns
    -------
    dict
        The results document plus ``W`` and ``b`` arrays.
    """
    folder = Path(folder)
    doc = _restore(json.loads((folder / "results.json").read_text()))
    with np.load(folder / "weights.npz") as npz:
        doc["W"], doc["b"] = npz["W"], npz["b"]
    return doc
