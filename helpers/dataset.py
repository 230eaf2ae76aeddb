"""Load the verified CIFAR-10 batches as normalised training, validation and test sets.

Split: the five training batches are concatenated in order (50000 images); the
last ``n_val`` (default 5000, i.e. the second half of ``data_batch_5``) form the
validation set, the first 45000 the training set; ``test_batch`` is the test set.
Pixels are scaled to [0, 1], then every dimension is normalised with the mean
and standard deviation of the *training* set, for all three sets alike.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers.archive import FOLDER_NAME, MARKER, TEST_BATCH, TRAIN_BATCHES, file_sha256, read_batch, read_marker
from helpers.errors import DataError
from helpers.paths import project_path

N_CLASSES = 10


@dataclass
class Split:
    """One part of the data set.

    Attributes
    ----------
    X : ndarray, (N, D)
        Normalised images, one per row, channel-planar (R, G, B planes of 32x32).
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
        Per-dimension training mean and std of the [0, 1] pixels.
    data_sha256 : dict
        sha256 of each batch's raw data array (from the verification marker).
    """

    train: Split
    val: Split
    test: Split
    mean: np.ndarray
    std: np.ndarray
    data_sha256: dict


def dataset_folder(data_dir):
    """The verified batches folder inside ``data_dir`` (relative to the project root)."""
    return project_path(data_dir) / FOLDER_NAME


def one_hot(y, n_classes=N_CLASSES, dtype=np.float64):
    """One-hot encode labels ``y`` (N,) into an (N, K) array."""
    Y = np.zeros((y.shape[0], n_classes), dtype=dtype)
    Y[np.arange(y.shape[0]), y] = 1
    return Y


def check_files(folder):
    """Compare each batch file's sha256 with the verification marker.

    This runs before any batch is unpickled, so bytes that changed after
    verification are never loaded.

    Returns
    -------
    dict
        The marker's data hashes.
    """
    folder = Path(folder)
    marker = read_marker(folder)
    if marker is None:
        raise DataError(f"{folder} has not been verified (no {MARKER}); run `make data` first")
    if not isinstance(marker.get("file_sha256"), dict) or not isinstance(marker.get("data_sha256"), dict):
        raise DataError(f"{folder / MARKER} is damaged; delete {folder} and run `make data` again")
    for name, digest in marker["file_sha256"].items():
        path = folder / name
        if not path.is_file() or file_sha256(path) != digest:
            raise DataError(f"{path} changed since it was verified; delete {folder} and run `make data` again")
    return marker["data_sha256"]


def _column_stats(X, chunk=4096):
    """Per-column mean and std (float64) of X (N, D) without a full-size temporary."""
    mean = X.mean(axis=0, dtype=np.float64)
    ss = np.zeros(X.shape[1], dtype=np.float64)
    for start in range(0, X.shape[0], chunk):
        block = X[start:start + chunk].astype(np.float64) - mean
        ss += np.einsum("ij,ij->j", block, block)
    return mean, np.sqrt(ss / X.shape[0])


def _normalise_inplace(X, mean, std, chunk=4096):
    for start in range(0, X.shape[0], chunk):
        block = X[start:start + chunk]
        block -= mean
        block /= std


def load_dataset(folder, n_val=5000, dtype=np.float64):
    """Load, split and normalise the verified CIFAR-10 batches in ``folder``.

    Parameters
    ----------
    folder : path-like
        A folder written by :func:`helpers.archive.extract_and_verify`.
    n_val : int
        Number of validation images, taken from the end of the training batches.
    dtype : numpy dtype
        float64 (default) or float32 for the inputs.

    Returns
    -------
    Dataset
    """
    folder = Path(folder)
    hashes = check_files(folder)
    parts = [read_batch(folder / name) for name in TRAIN_BATCHES]
    n_all = sum(d.shape[0] for d, _ in parts)
    if not 0 < n_val < n_all:
        raise DataError(f"n_val={n_val} must be between 1 and {n_all - 1}")
    dim = parts[0][0].shape[1]
    X_all = np.empty((n_all, dim), dtype=dtype)
    row = 0
    for data, _ in parts:
        np.divide(data, 255, out=X_all[row:row + data.shape[0]], dtype=dtype, casting="unsafe")
        row += data.shape[0]
    y_all = np.concatenate([labels for _, labels in parts])
    del parts
    n_train = n_all - n_val
    X_train, X_val = X_all[:n_train], X_all[n_train:]
    mean, std = _column_stats(X_train)
    std = np.where(std > 0, std, 1.0)
    mean_d, std_d = mean.astype(dtype), std.astype(dtype)
    _normalise_inplace(X_all, mean_d, std_d)
    test_data, y_test = read_batch(folder / TEST_BATCH)
    X_test = np.divide(test_data, 255, dtype=dtype)
    _normalise_inplace(X_test, mean_d, std_d)
    y_train, y_val = y_all[:n_train], y_all[n_train:]
    return Dataset(
        train=Split(X_train, y_train, one_hot(y_train, dtype=dtype)),
        val=Split(X_val, y_val, one_hot(y_val, dtype=dtype)),
        test=Split(X_test, y_test, one_hot(y_test, dtype=dtype)),
        mean=mean,
        std=std,
        data_sha256=hashes,
    )
