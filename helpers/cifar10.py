"""CIFAR-10 as the project reads it: the batch files, their verification, the verified pixels.

The python version of CIFAR-10 holds five training batches and a test batch,
each a pickled dict with ``data`` (10000 x 3072 uint8, channel-planar: R, G, B
planes of 32x32, each row-major) and ``labels``. This module

* reads a batch with a restricted unpickler (:mod:`helpers.safe_pickle`);
* verifies the content, not the packaging: the sha256 of each batch's pixel
  array against the official one, and the images per class
  (:func:`verify_batches`);
* writes the verified pixels once as ``.npy`` files (:func:`write_pixels`), with
  a marker ``VERIFIED.json`` recording every file's sha256; later reads go
  through :func:`load_pixels`, which checks those hashes first and never
  unpickles anything (``allow_pickle=False``).

Obtaining and extracting the archive is the build's job (``pipeline.extract``).
"""

import ast
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from helpers.errors import DataError
from helpers.files import file_digest, write_json, write_npy
from helpers.safe_pickle import load_batch_pickle

FOLDER_NAME = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
MARKER = "VERIFIED.json"
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
#: The verified pixels and labels, written by :func:`write_pixels`.
PIXEL_FILES = ("train_pixels.npy", "train_labels.npy", "test_pixels.npy", "test_labels.npy")

#: sha256 of each batch's ``data`` array (uint8, C order, ``arr.tobytes()``).
OFFICIAL_DATA_SHA256 = {
    "data_batch_1": "a50e8b48728e1667d682a807155c375279d5ae321fb12242c02e3104a6bc8b21",
    "data_batch_2": "0b825e5592c3b72ea18d6ec2ff5f5b19d33e41a75f5039054a9bb87be3cf69a0",
    "data_batch_3": "c6ee1dd4601a69ec085d8ebf53ee6441775491a6839a0a9ae8fa198e88a3a429",
    "data_batch_4": "1f6b6c799cff375a9f8fae2fac909d51ee09f38a6a60eebb9e8fec6f47ddc48f",
    "data_batch_5": "58e3bbf713e28357476a351d3a05d056372f94c681d04ca9d62a076fdf2a643b",
    "test_batch": "177777c33ba79825320efa646ad04a94bdc3c80e4ebe3bd21724f8cdfd4b9d56",
}


@dataclass(frozen=True)
class Expected:
    """What a verified data set must contain.

    Attributes
    ----------
    data_sha256 : dict
        Batch name -> sha256 of its ``data`` array bytes.
    train_per_class, test_per_class : int
        Images per class over all training batches, and in the test batch.
    n_classes, dim : int
        Number of classes and of input dimensions (32*32*3).
    """

    data_sha256: dict = field(default_factory=lambda: dict(OFFICIAL_DATA_SHA256))
    train_per_class: int = 5000
    test_per_class: int = 1000
    n_classes: int = 10
    dim: int = 3072


OFFICIAL = Expected()


def sha256_bytes(data):
    """Hex sha256 of a bytes-like object."""
    return hashlib.sha256(data).hexdigest()


def read_batch(path):
    """Read one batch file with the restricted unpickler.

    Returns
    -------
    data : ndarray, (N, 3072) uint8
    labels : ndarray, (N,) int64
    """
    path = Path(path)
    batch = load_batch_pickle(path.read_bytes(), source=path.name)
    try:
        data = np.ascontiguousarray(batch["data"], dtype=np.uint8)
        labels = np.asarray(batch["labels"], dtype=np.int64)
    except KeyError as exc:
        raise DataError(f"{path.name} lacks the field {exc}; it is not a CIFAR-10 batch") from None
    if data.ndim != 2 or labels.shape != (data.shape[0],):
        raise DataError(f"{path.name} has data of shape {data.shape} and {labels.shape} labels")
    return data, labels


def verify_batches(folder, expected=OFFICIAL):
    """Read every batch in ``folder`` and check its content against ``expected``.

    Returns
    -------
    hashes : dict
        Batch name -> sha256 of its data array.
    batches : dict
        Batch name -> (data (N, 3072) uint8, labels (N,) int64).

    Raises
    ------
    DataError
        A missing batch, a wrong hash, wrong shapes or wrong class counts.
    """
    folder = Path(folder)
    hashes, batches = {}, {}
    train_counts = np.zeros(expected.n_classes, dtype=np.int64)
    for name in (*TRAIN_BATCHES, TEST_BATCH):
        path = folder / name
        if not path.is_file():
            raise DataError(f"the archive lacks {FOLDER_NAME}/{name}; it is not the CIFAR-10 python archive")
        data, labels = read_batch(path)
        if data.shape[1] != expected.dim:
            raise DataError(f"{name} has {data.shape[1]} dimensions per image, expected {expected.dim}")
        digest = sha256_bytes(data.tobytes())
        want = expected.data_sha256.get(name)
        if digest != want:
            raise DataError(
                f"{name}: content sha256 {digest[:16]}... does not match the official CIFAR-10 "
                f"({str(want)[:16]}...); the archive is corrupt or not CIFAR-10"
            )
        if labels.min(initial=0) < 0 or labels.max(initial=0) >= expected.n_classes:
            raise DataError(f"{name} has labels outside 0..{expected.n_classes - 1}")
        counts = np.bincount(labels, minlength=expected.n_classes)
        if name == TEST_BATCH:
            if not np.all(counts == expected.test_per_class):
                raise DataError(f"{name} has {counts.tolist()} images per class, expected {expected.test_per_class} each")
        else:
            train_counts += counts
        hashes[name] = digest
        batches[name] = (data, labels)
    if not np.all(train_counts == expected.train_per_class):
        raise DataError(
            f"the training batches have {train_counts.tolist()} images per class, "
            f"expected {expected.train_per_class} each"
        )
    return hashes, batches


def write_pixels(folder, hashes, batches):
    """Write the verified pixels and labels as ``.npy`` files and the marker, in ``folder``.

    The training batches are concatenated in order (``train_pixels.npy``: (50000, 3072)
    uint8); the marker ``VERIFIED.json`` records the batches' content hashes and every
    written file's sha256. The marker is written last.
    """
    folder = Path(folder)
    arrays = {
        "train_pixels.npy": np.concatenate([batches[n][0] for n in TRAIN_BATCHES]),
        "train_labels.npy": np.concatenate([batches[n][1] for n in TRAIN_BATCHES]),
        "test_pixels.npy": batches[TEST_BATCH][0],
        "test_labels.npy": batches[TEST_BATCH][1],
    }
    for name, array in arrays.items():
        write_npy(folder / name, array)
    files = {name: file_digest(folder / name) for name in PIXEL_FILES}
    write_json(folder / MARKER, {"data_sha256": hashes, "file_sha256": files})


def read_marker(folder):
    """Return the verification marker of a data folder, or None."""
    marker = Path(folder) / MARKER
    if not marker.is_file():
        return None
    try:
        return json.loads(marker.read_text())
    except (OSError, ValueError):
        return None


def check_files(folder):
    """Compare each pixel file's sha256 with the verification marker.

    Returns
    -------
    dict
        The marker's content hashes of the batches.

    Raises
    ------
    DataError
        When the folder was never verified or a file changed since.
    """
    folder = Path(folder)
    marker = read_marker(folder)
    if marker is None:
        raise DataError(f"{folder} has not been verified (no {MARKER}); run `make data` first")
    files = marker.get("file_sha256")
    if not isinstance(files, dict) or not isinstance(marker.get("data_sha256"), dict) or set(files) != set(PIXEL_FILES):
        raise DataError(f"{folder / MARKER} is damaged or from an older version; delete {folder} and run `make data` again")
    for name, digest in files.items():
        path = folder / name
        if not path.is_file() or file_digest(path) != digest:
            raise DataError(f"{path} changed since it was verified; delete {folder} and run `make data` again")
    return marker["data_sha256"]


def count_training_images(folder):
    """Training images in a verified folder, read from the ``.npy`` header (standard library only).

    Returns
    -------
    int or None
        None when the folder holds no verified pixels yet.
    """
    try:
        with open(Path(folder) / "train_labels.npy", "rb") as fh:
            if fh.read(6) != b"\x93NUMPY":
                return None
            major = fh.read(2)[0]
            size = int.from_bytes(fh.read(2 if major == 1 else 4), "little")
            header = ast.literal_eval(fh.read(size).decode("latin1"))
        return int(header["shape"][0])
    except (OSError, ValueError, SyntaxError, KeyError, IndexError, TypeError):
        return None


def load_pixels(folder, mmap=True, verify=True):
    """The verified pixels and labels of ``folder`` (see :func:`write_pixels`).

    ``verify``: check every file's sha256 against the marker first (reads every byte); without it,
    the caller has checked them otherwise (:mod:`helpers.data` compares size and mtime).

    Returns
    -------
    dict
        ``train_pixels`` (50000, 3072) uint8, ``train_labels`` (50000,) int64,
        ``test_pixels`` (10000, 3072) uint8, ``test_labels`` (10000,) int64 and
        ``data_sha256`` (the batches' content hashes). Pixel arrays are
        read-only memory maps when ``mmap``.
    """
    folder = Path(folder)
    hashes = check_files(folder) if verify else (read_marker(folder) or {}).get("data_sha256")
    out = {name[:-4]: np.load(folder / name, mmap_mode="r" if mmap and "pixels" in name else None,
                              allow_pickle=False) for name in PIXEL_FILES}
    out["data_sha256"] = hashes
    return out
