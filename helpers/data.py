"""Training, validation and test sets from the verified CIFAR-10 pixels, in the variants the audit needs.

A data variant is a :class:`helpers.params.DataOptions`:

* ``split="course"`` (the default): the five training batches in order (50000
  images); the last ``n_val`` (default 5000, the second half of
  ``data_batch_5``) are the validation set, the rest the training set;
* ``split="one-batch"``: ``data_batch_1`` (10000) for training and
  ``data_batch_2`` (10000) for validation, the split of the assignment's first
  exercise;
* ``normalise=True`` (the default): pixels scaled to [0, 1], then every
  dimension normalised with the mean and std of the *training* set, for all
  three sets alike; ``normalise=False`` keeps the [0, 1] pixels;
* ``test_batch`` is always the test set.

:func:`load_dataset` builds a variant once into a cache of ``.npy`` files
(``data/cache/<key>/``) and afterwards maps them read-only into memory, so that
parallel runs share one copy through the page cache. The cache's marker records
each file's sha256, size and modification time; a cache whose files do not
match it is rebuilt, never used.
"""

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from helpers.cifar10 import FOLDER_NAME, load_pixels
from helpers.errors import DataError
from helpers.files import default_mode, file_digest, write_json, write_npy
from helpers.params import DataOptions
from helpers.paths import project_path

N_CLASSES = 10
CACHE_MARKER = "CACHE.json"
ARRAYS = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test", "mean", "std")


@dataclass
class Split:
    """One part of the data set.

    Attributes
    ----------
    X : ndarray, (N, D)
        Images, one per row, channel-planar (R, G, B planes of 32x32).
    y : ndarray, (N,) int64
        Labels in 0..K-1.
    Y : ndarray, (N, K)
        One-hot labels.
    """

    X: np.ndarray
    y: np.ndarray
    Y: np.ndarray

    @property
    def n(self):
        return self.X.shape[0]


@dataclass
class Dataset:
    """Training, validation and test splits plus the preprocessing statistics.

    Attributes
    ----------
    train, val, test : Split
    mean, std : ndarray, (D,)
        Per-dimension mean and std of the training set's [0, 1] pixels (float64),
        whether or not they were used to normalise.
    options : DataOptions
    data_sha256 : dict
        sha256 of each batch's raw data array (from the verification marker).
    """

    train: Split
    val: Split
    test: Split
    mean: np.ndarray
    std: np.ndarray
    options: DataOptions
    data_sha256: dict


def one_hot(y, n_classes=N_CLASSES, dtype=np.float64):
    """One-hot encode labels ``y`` (N,) into an (N, K) array."""
    Y = np.zeros((y.shape[0], n_classes), dtype=dtype)
    Y[np.arange(y.shape[0]), y] = 1
    return Y


def column_stats(X, chunk=4096):
    """Per-column mean and std (float64) of X: (N, D), without a full-size temporary."""
    mean = X.mean(axis=0, dtype=np.float64)
    ss = np.zeros(X.shape[1], dtype=np.float64)
    for start in range(0, X.shape[0], chunk):
        block = X[start:start + chunk].astype(np.float64) - mean
        ss += np.einsum("ij,ij->j", block, block)
    return mean, np.sqrt(ss / X.shape[0])


def scale(pixels, dtype, mean=None, std=None, chunk=4096):
    """uint8 pixels (N, D) -> ``dtype`` values in [0, 1], then ``(x - mean) / std`` if given."""
    X = np.empty(pixels.shape, dtype=dtype)
    for start in range(0, pixels.shape[0], chunk):
        block = X[start:start + chunk]
        np.divide(pixels[start:start + chunk], 255, out=block, dtype=dtype, casting="unsafe")
        if mean is not None:
            block -= mean
            block /= std
    return X


def build_arrays(pixels, options):
    """The preprocessed arrays of a data variant, in memory.

    Parameters
    ----------
    pixels : dict
        From :func:`helpers.cifar10.load_pixels`.
    options : DataOptions

    Returns
    -------
    dict
        ``X_train``, ``y_train``, ``X_val``, ``y_val``, ``X_test``, ``y_test``, ``mean``, ``std``.
    """
    P, labels = pixels["train_pixels"], pixels["train_labels"]
    if options.split == "one-batch":
        batch = P.shape[0] // 5  # the five training batches are concatenated in order
        train, val = slice(0, batch), slice(batch, 2 * batch)
    else:
        if not 0 < options.n_val < P.shape[0]:
            raise DataError(f"n_val={options.n_val} must be between 1 and {P.shape[0] - 1}")
        train, val = slice(0, P.shape[0] - options.n_val), slice(P.shape[0] - options.n_val, P.shape[0])
    dtype = np.dtype(options.dtype)
    mean, std = column_stats(scale(P[train], np.float64))
    std = np.where(std > 0, std, 1.0)
    m, s = (mean.astype(dtype), std.astype(dtype)) if options.normalise else (None, None)
    return {
        "X_train": scale(P[train], dtype, m, s), "y_train": np.asarray(labels[train]),
        "X_val": scale(P[val], dtype, m, s), "y_val": np.asarray(labels[val]),
        "X_test": scale(pixels["test_pixels"], dtype, m, s), "y_test": np.asarray(pixels["test_labels"]),
        "mean": mean, "std": std,
    }


def cache_folder(data_dir, options):
    """Where the cache of ``options`` lives under ``data_dir``."""
    return project_path(data_dir) / "cache" / options.key


def _stat(path):
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def read_cache_marker(folder, options, source_sha256):
    """The cache marker if every file matches it (name, size, mtime) and it was built from
    the same options and source data; None otherwise."""
    try:
        marker = json.loads((Path(folder) / CACHE_MARKER).read_text())
        if marker["options"] != asdict(options) or marker["data_sha256"] != source_sha256:
            return None
        for name in ARRAYS:
            if _stat(Path(folder) / f"{name}.npy") != marker["files"][name]["stat"]:
                return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return marker


def verify_cache(folder):
    """Check every cache file's sha256 against the marker (reads every byte).

    Raises
    ------
    DataError
        When a file differs from what the cache was built with.
    """
    folder = Path(folder)
    marker = json.loads((folder / CACHE_MARKER).read_text())
    for name in ARRAYS:
        if file_digest(folder / f"{name}.npy") != marker["files"][name]["sha256"]:
            raise DataError(f"{folder / name}.npy does not match its cache marker; delete {folder}")


def build_cache(data_dir, options):
    """Build the cache of a data variant from the verified pixels (atomically, as one folder).

    Returns
    -------
    Path
        The cache folder.
    """
    data_dir = project_path(data_dir)
    pixels = load_pixels(data_dir / FOLDER_NAME)
    final = cache_folder(data_dir, options)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".tmp-{options.key}-"))
    try:
        files = {}
        for name, array in build_arrays(pixels, options).items():
            path = tmp / f"{name}.npy"
            write_npy(path, array)
            files[name] = {"sha256": file_digest(path), "stat": None}
        for name in ARRAYS:  # the stat of each file as it will stay after the rename
            files[name]["stat"] = _stat(tmp / f"{name}.npy")
        write_json(tmp / CACHE_MARKER, {"options": asdict(options), "data_sha256": pixels["data_sha256"],
                                        "files": files})
        os.chmod(tmp, default_mode(directory=True))
        if final.exists():  # stale or damaged: replace it
            shutil.rmtree(final)
        try:
            os.replace(tmp, final)
        except OSError:  # another process built it meanwhile
            if read_cache_marker(final, options, pixels["data_sha256"]) is None:
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def source_hashes(data_dir):
    """The content hashes of the verified batches in ``data_dir`` (from their marker)."""
    from helpers.cifar10 import read_marker

    marker = read_marker(project_path(data_dir) / FOLDER_NAME)
    if marker is None or not isinstance(marker.get("data_sha256"), dict):
        raise DataError(f"{project_path(data_dir) / FOLDER_NAME} has not been verified; run `make data` first")
    return marker["data_sha256"]


def load_dataset(data_dir="data", options=None, **kwargs):
    """The training, validation and test sets of a data variant, from its cache.

    Parameters
    ----------
    data_dir : path-like
        The data folder (relative paths are relative to the project root), holding
        the verified ``cifar-10-batches-py/``.
    options : DataOptions or None
        The variant; or give its fields as keyword arguments (``split``, ``n_val``,
        ``normalise``, ``dtype``).

    Returns
    -------
    Dataset
        Its ``X`` arrays are read-only memory maps of the cache.
    """
    options = options or DataOptions(**kwargs)
    hashes = source_hashes(data_dir)
    folder = cache_folder(data_dir, options)
    if read_cache_marker(folder, options, hashes) is None:
        build_cache(data_dir, options)
    marker = read_cache_marker(folder, options, hashes)
    if marker is None:
        raise DataError(f"the data cache {folder} was changed while it was read; run again")
    a = {name: np.load(folder / f"{name}.npy", mmap_mode="r" if name.startswith("X") else None,
                       allow_pickle=False) for name in ARRAYS}
    dtype = np.dtype(options.dtype)
    splits = {s: Split(a[f"X_{s}"], a[f"y_{s}"], one_hot(a[f"y_{s}"], dtype=dtype)) for s in ("train", "val", "test")}
    return Dataset(**splits, mean=a["mean"], std=a["std"], options=options, data_sha256=hashes)


#: What ``quick=True`` in the training notebook keeps: training, validation and test images, epochs.
QUICK = {"n_train": 2000, "n_val": 500, "n_test": 1000, "n_epochs": 5}


def subset(split, n):
    """The first ``n`` examples of ``split``."""
    return Split(split.X[:n], split.y[:n], split.Y[:n])


def quick_dataset(data):
    """A small version of ``data`` for exploring in seconds (sizes in :data:`QUICK`)."""
    from dataclasses import replace

    return replace(data, train=subset(data.train, QUICK["n_train"]), val=subset(data.val, QUICK["n_val"]),
                   test=subset(data.test, QUICK["n_test"]))
