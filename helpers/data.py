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
* ``norm``: the mean and std of each dimension (the course), of each colour
  channel, or of every pixel at once; ``stats``: of the training set (the
  course) or of all 50000 training-batch images; ``val``: the last ``n_val``
  images validate (the course) or the first;
* ``dtype``: float64 (the default) or float32;
* ``test_batch`` is always the test set.

The pixels are on disk once, as the verified uint8 arrays of
``data/cifar-10-batches-py/`` (184 MB), mapped read-only into memory so that
parallel runs share one copy through the page cache. A variant is applied when
a run reads its rows: each set's ``X`` is a :class:`ScaledPixels`, which
decodes the rows asked for (:func:`decode`), and the compiled epoch decodes a
mini-batch's rows as it reads them. Only each variant's statistics (the
training set's mean and std, 50 KB) are kept, in ``data/cache/<key>/``: they
take the whole training set to compute. The cache's marker records each file's
sha256, size and modification time and those of the pixel files; a cache
that does not match is rebuilt, never used.
"""

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from helpers.cifar10 import FOLDER_NAME, PIXEL_FILES, load_pixels, read_marker
from helpers.errors import DataError
from helpers.files import default_mode, file_digest, write_json, write_npy
from helpers.model import one_hot
from helpers.params import DataOptions, validate_params
from helpers.paths import project_path

N_CLASSES = 10
CACHE_MARKER = "CACHE.json"
ARRAYS = ("mean", "std")
#: 2: the statistics only (1 held a float copy of every set, 3.5 GB for the five variants).
CACHE_FORMAT = 2


def decode(pixels, dtype, mean=None, std=None):
    """uint8 pixels -> ``dtype`` values in [0, 1], then ``(x - mean) / std`` if given (each step rounded
    to ``dtype``, as the compiled epoch's decode_vec and decode_range do it)."""
    X = np.divide(pixels, 255, dtype=dtype, casting="unsafe")
    if mean is not None:
        X -= mean
        X /= std
    return X


class ScaledPixels:
    """Images kept as uint8 pixels and decoded as they are read: the (N, D) array
    ``decode(pixels, dtype, mean, std)`` without holding it.

    Indexing gives decoded ndarrays (``X[rows]``, ``X[rows, columns]``); ``np.asarray(X)``
    decodes everything. The compiled epoch reads ``pixels``, ``norm_mean`` and ``norm_std`` itself.

    Attributes
    ----------
    pixels : ndarray, (N, D) uint8
        Usually a read-only memory map of the verified pixels.
    dtype : numpy.dtype
    norm_mean, norm_std : ndarray, (D,) of ``dtype``, or None (pixels scaled to [0, 1] only)
        (not ``mean`` and ``std``: those would hide ndarray's methods of the same names)
    """

    ndim = 2

    def __init__(self, pixels, dtype, mean=None, std=None):
        self.pixels, self.dtype = pixels, np.dtype(dtype)
        self.norm_mean = None if mean is None else np.ascontiguousarray(mean, dtype=self.dtype)
        self.norm_std = None if std is None else np.ascontiguousarray(std, dtype=self.dtype)

    @property
    def shape(self):
        return self.pixels.shape

    @property
    def nbytes(self):
        """The bytes held: the pixels'."""
        return self.pixels.nbytes

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key):
        rows, columns = key if isinstance(key, tuple) else (key, slice(None))
        if self.norm_mean is None:
            return decode(self.pixels[rows, columns], self.dtype)
        return decode(self.pixels[rows, columns], self.dtype, self.norm_mean[columns], self.norm_std[columns])

    def __array__(self, dtype=None, copy=None):
        X = self[:]
        return X if dtype is None else X.astype(dtype, copy=False)

    @property
    def T(self):
        return np.asarray(self).T

    def rows(self, stop):
        """The first ``stop`` rows, still decoded as read."""
        return ScaledPixels(self.pixels[:stop], self.dtype, self.norm_mean, self.norm_std)


@dataclass
class Split:
    """One part of the data set.

    Attributes
    ----------
    X : ndarray or ScaledPixels, (N, D)
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


def column_stats(X, chunk=4096):
    """Per-column mean and std (float64) of X: (N, D), without a full-size temporary."""
    mean = X.mean(axis=0, dtype=np.float64)
    ss = np.zeros(X.shape[1], dtype=np.float64)
    for start in range(0, X.shape[0], chunk):
        block = X[start:start + chunk].astype(np.float64) - mean
        ss += np.einsum("ij,ij->j", block, block)
    return mean, np.sqrt(ss / X.shape[0])


def scale(pixels, dtype, mean=None, std=None, chunk=4096):
    """:func:`decode` in row chunks (no full-size temporary beside the result)."""
    X = np.empty(pixels.shape, dtype=dtype)
    for start in range(0, pixels.shape[0], chunk):
        X[start:start + chunk] = decode(pixels[start:start + chunk], dtype, mean, std)
    return X


def split_slices(n_images, options):
    """The training and validation rows of the training batches (``n_images`` of them) for ``options``."""
    if options.split == "one-batch":
        batch = n_images // 5  # the five training batches are concatenated in order
        return slice(0, batch), slice(batch, 2 * batch)
    if not 0 < options.n_val < n_images:
        raise DataError(f"n_val={options.n_val} must be between 1 and {n_images - 1}")
    if options.val == "first":
        return slice(options.n_val, n_images), slice(0, options.n_val)
    return slice(0, n_images - options.n_val), slice(n_images - options.n_val, n_images)


def pooled_stats(mean, std, norm, channels=3):
    """Per-dimension ``mean`` and ``std`` pooled as ``norm`` says, still one value per dimension, (D,).

    ``"dimension"``: unchanged. ``"channel"``: each channel's mean and std over its pixels (the data are
    channel-planar: R plane, G plane, B plane), repeated over the channel's dimensions. ``"pixel"``: one
    mean and std over every dimension. Pooled exactly from the columns' (equal-count) statistics: the
    pooled variance is the mean of the column variances plus the variance of the column means.
    """
    if norm == "dimension":
        return mean, std
    groups = channels if norm == "channel" else 1
    m = mean.reshape(groups, -1)
    pooled_mean = m.mean(axis=1, keepdims=True)
    pooled_var = (std.reshape(groups, -1) ** 2 + (m - pooled_mean) ** 2).mean(axis=1, keepdims=True)
    shape = m.shape
    return np.broadcast_to(pooled_mean, shape).reshape(-1).copy(), np.broadcast_to(np.sqrt(pooled_var), shape).reshape(-1).copy()


def variant_stats(train_pixels, options):
    """The ``mean`` and ``std`` (float64, (D,)) a variant normalises with, from [0, 1] pixels: of its training
    set (or of all ``train_pixels`` when ``options.stats == "all"``), pooled as ``options.norm`` says; a std of 0
    becomes 1."""
    train, _ = split_slices(train_pixels.shape[0], options)
    rows = slice(None) if options.stats == "all" else train
    mean, std = pooled_stats(*column_stats(scale(train_pixels[rows], np.float64)), options.norm)
    return {"mean": mean, "std": np.where(std > 0, std, 1.0)}


def cache_folder(data_dir, options):
    """Where the cache of ``options`` lives under ``data_dir``."""
    return project_path(data_dir) / "cache" / options.key


def _stat(path):
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def pixel_stats(data_dir):
    """Size and modification time of each verified pixel file: a cache built from other files is stale."""
    folder = project_path(data_dir) / FOLDER_NAME
    return {name: _stat(folder / name) for name in PIXEL_FILES}


def read_cache_marker(folder, options, source_sha256, pixels=None):
    """The cache marker if every file matches it (name, size, mtime) and it was built, in this format,
    from the same options, source data and pixel files (``pixels``: :func:`pixel_stats`); None otherwise."""
    try:
        marker = json.loads((Path(folder) / CACHE_MARKER).read_text())
        if (marker.get("format") != CACHE_FORMAT or marker["options"] != asdict(options)
                or marker["data_sha256"] != source_sha256 or (pixels is not None and marker["pixels"] != pixels)):
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
    """Build the cache of a data variant (its statistics) from the verified pixels, atomically, as one folder.

    Returns
    -------
    Path
        The cache folder.
    """
    data_dir = project_path(data_dir)
    pixels = load_pixels(data_dir / FOLDER_NAME)   # checks every pixel file against its verified sha256
    final = cache_folder(data_dir, options)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".tmp-{options.key}-"))
    try:
        files = {}
        for name, array in variant_stats(pixels["train_pixels"], options).items():
            path = tmp / f"{name}.npy"
            write_npy(path, array)
            files[name] = {"sha256": file_digest(path), "stat": None}
        for name in ARRAYS:  # the stat of each file as it will stay after the rename
            files[name]["stat"] = _stat(tmp / f"{name}.npy")
        write_json(tmp / CACHE_MARKER, {"format": CACHE_FORMAT, "options": asdict(options),
                                        "data_sha256": pixels["data_sha256"], "pixels": pixel_stats(data_dir),
                                        "files": files})
        os.chmod(tmp, default_mode(directory=True))
        if final.exists():  # stale, damaged or of an older format: replace it
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
    marker = read_marker(project_path(data_dir) / FOLDER_NAME)
    if marker is None or not isinstance(marker.get("data_sha256"), dict):
        raise DataError(f"{project_path(data_dir) / FOLDER_NAME} has not been verified; run `make data` first")
    return marker["data_sha256"]


def load_dataset(data_dir="data", options=None, **kwargs):
    """The training, validation and test sets of a data variant: the verified pixels, decoded as read.

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
        Its ``X`` are :class:`ScaledPixels` over read-only memory maps of the pixels.
    """
    options = options or DataOptions(**kwargs)
    hashes = source_hashes(data_dir)
    folder = cache_folder(data_dir, options)
    if read_cache_marker(folder, options, hashes, pixel_stats(data_dir)) is None:
        build_cache(data_dir, options)
    marker = read_cache_marker(folder, options, hashes, pixel_stats(data_dir))
    if marker is None:
        raise DataError(f"the data cache {folder} was changed while it was read; run again")
    stats = {name: np.load(folder / f"{name}.npy", allow_pickle=False) for name in ARRAYS}
    P = load_pixels(project_path(data_dir) / FOLDER_NAME, verify=False)   # the marker's stats matched above
    dtype = np.dtype(options.dtype)
    m, s = (stats["mean"].astype(dtype), stats["std"].astype(dtype)) if options.normalise else (None, None)
    train, val = split_slices(P["train_pixels"].shape[0], options)

    def split(pixels, labels):
        y = np.asarray(labels)
        return Split(ScaledPixels(pixels, dtype, m, s), y, one_hot(y, dtype=dtype))

    return Dataset(train=split(P["train_pixels"][train], P["train_labels"][train]),
                   val=split(P["train_pixels"][val], P["train_labels"][val]),
                   test=split(P["test_pixels"], P["test_labels"]),
                   mean=stats["mean"], std=stats["std"], options=options, data_sha256=hashes)


#: What ``quick=True`` in the training notebook keeps: training, validation and test images, epochs.
QUICK = {"n_train": 2000, "n_val": 500, "n_test": 1000, "n_epochs": 5}


def subset(split, n):
    """The first ``n`` examples of ``split`` (still decoded as read where ``split`` is)."""
    X = split.X.rows(n) if isinstance(split.X, ScaledPixels) else split.X[:n]
    return Split(X, split.y[:n], split.Y[:n])


def quick_dataset(data, setting=None):
    """A small version of ``data`` for exploring in seconds (sizes in :data:`QUICK`).

    With a ``setting`` (TrainParams): ``(data, setting)``, the setting cut to QUICK's epochs and its
    n_batch checked against the smaller training set.
    """
    small = replace(data, train=subset(data.train, QUICK["n_train"]), val=subset(data.val, QUICK["n_val"]),
                    test=subset(data.test, QUICK["n_test"]))
    if setting is None:
        return small
    quick = {**setting.as_dict(), "n_epochs": min(setting.n_epochs, QUICK["n_epochs"])}
    return small, validate_params(n_train=small.train.n, **quick)
