"""Results files of the runs: written atomically, read back for the figures, the audit and the report.

A run's folder ``results/<variant>/<setting_id>/seed<N>/`` holds

* ``results.json``: parameters, data options, history, test loss/cost/accuracy,
  divergence, which epoch trained (compiled or NumPy), package versions, provenance (commit, CPU,
  compiler and flags, BLAS: :mod:`helpers.provenance`) and data hashes. It depends only on the inputs,
  the commit and the machine, so equal runs of one commit give byte-identical files;
* ``weights.npz``: ``W: (K, D)`` and ``b: (K,)``;
* ``timing.json``: wall times, kept apart because they differ on every run.

``results.json`` is written last: its presence means the run is complete. The
setting's folder ``results/<variant>/<setting_id>/`` gets a ``summary.json``
once every seed is saved (the single-run values and their mean and std): its
presence means the whole group is complete.
"""

import json
import platform
from dataclasses import asdict, replace
from importlib import metadata
from pathlib import Path

import numpy as np

from helpers.files import write_json, write_npz
from helpers.params import group_dir as folder_of_group
from helpers.paths import project_path
from helpers.provenance import run_provenance

PACKAGES = ("numpy", "matplotlib", "pandas", "nbconvert", "papermill")
METRICS = ("loss", "cost", "accuracy")


def package_versions():
    """Versions of Python and the main packages."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def group_dir(results_root, variant, setting):
    """The folder of a setting's runs in a variant (:func:`helpers.params.group_dir`), as a Path."""
    return Path(folder_of_group(results_root, variant, setting))


def _clean(value):
    """JSON-safe floats: NaN and infinities become strings."""
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _restore(value):
    if isinstance(value, str) and value in ("nan", "inf", "-inf"):
        return float(value)
    if isinstance(value, dict):
        return {k: _restore(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v) for v in value]
    return value


def save_run(folder, params, result, test_metrics, data_sha256, options=None, variant=None, n_train=None,
             n_val=None, seconds=None):
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
    options : helpers.params.DataOptions or None
    variant : str or None
        The variant's name.
    """
    folder = Path(folder)
    write_npz(folder / "weights.npz", W=result.W, b=result.b)
    write_json(folder / "timing.json", {"train_seconds": result.seconds, "total_seconds": seconds})
    doc = {
        "params": params.as_dict(),
        "variant": variant,
        "data": asdict(options) if options is not None else None,
        "n_train": n_train,
        "n_val": n_val,
        "history": result.history,
        "epochs_run": len(result.history["train_cost"]) - 1,
        "diverged_at": result.diverged_at,
        "epoch": result.epoch,
        "test": test_metrics,
        "versions": package_versions(),
        "provenance": run_provenance(result.epoch, result.W.dtype.name),
        "data_sha256": data_sha256,
    }
    write_json(folder / "results.json", _clean(doc))
    return folder / "results.json"


def spread(values):
    """Mean, sample std (ddof 1; 0 for one value), min, max and count of ``values``.

    A value that is nan or infinite (a diverged run) makes the statistics nan.
    """
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
                "min": float(v.min()), "max": float(v.max()), "n": int(v.size)}


def summarise(tests):
    """The :func:`spread` of each test metric over seeds.

    Parameters
    ----------
    tests : list of dict
        ``loss``, ``cost``, ``accuracy`` per seed.

    Returns
    -------
    dict
        metric -> {"mean", "std", "min", "max", "n"}.
    """
    return {m: spread([t[m] for t in tests]) for m in METRICS}


def save_group(folder, seeds, tests):
    """Write the setting's ``summary.json``: each seed's test metrics and their summary (last).

    Returns
    -------
    Path
    """
    doc = {"seeds": list(seeds), "test": [dict(t) for t in tests], "summary": summarise(tests)}
    write_json(Path(folder) / "summary.json", _clean(doc))
    return Path(folder) / "summary.json"


def save_runs(results_root, variant, setting, data, results, tests):
    """Save every seed's run of ``setting`` (see :func:`save_run`), then the group's summary.

    Parameters
    ----------
    results_root : path-like
        Relative paths are relative to the project root.
    variant : str
    setting : helpers.params.TrainParams
    data : helpers.data.Dataset
    results : dict
        seed -> helpers.train.TrainResult.
    tests : dict
        seed -> test metrics.

    Returns
    -------
    Path
        The group's folder.
    """
    folder = group_dir(project_path(results_root), variant, setting)
    for seed, result in results.items():
        save_run(folder / f"seed{seed}", replace(setting, seed=seed), result, tests[seed], data.data_sha256,
                 options=data.options, variant=variant, n_train=data.train.n, n_val=data.val.n)
    save_group(folder, list(results), [tests[s] for s in results])
    return folder


def test_table(results, tests):
    """Test loss, cost and accuracy per seed, with the epochs run, as a pandas table."""
    import pandas as pd

    rows = [{"seed": seed, **tests[seed], "epochs run": len(r.history["train_cost"]) - 1,
             "status": f"diverged at epoch {r.diverged_at}" if r.diverged_at else "completed"}
            for seed, r in results.items()]
    return pd.DataFrame(rows).set_index("seed")


def load_run(folder, weights=True):
    """Read a run's ``results.json`` (NaN/inf restored) and, if ``weights``, its W and b.

    Returns
    -------
    dict
        The results document plus ``W`` and ``b`` arrays.
    """
    folder = Path(folder)
    doc = _restore(json.loads((folder / "results.json").read_text()))
    if weights:
        with np.load(folder / "weights.npz", allow_pickle=False) as npz:
            doc["W"], doc["b"] = npz["W"], npz["b"]
    return doc


def load_group(results_root, variant, setting, weights=False):
    """The runs of a setting in a variant, in the order of its ``summary.json``.

    Returns
    -------
    list of dict
        One results document per seed (see :func:`load_run`), each with its ``seed``.
    """
    folder = group_dir(project_path(results_root), variant, setting)
    summary = json.loads((folder / "summary.json").read_text())
    return [load_run(folder / f"seed{seed}", weights=weights) for seed in summary["seeds"]]
