"""Extract the CIFAR-10 archive safely and verify its content.

The archive is extracted into a temporary folder beside the destination; the
batches are checked against the official content (sha256 of each batch's pixel
array, images per class); a marker ``VERIFIED.json`` recording each file's
sha256 is written; only then is the folder renamed into place. An interrupted
run therefore never leaves a folder that a later run accepts.

Members that would land outside the target (absolute paths, ``..``), links and
device files are refused.
"""

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from helpers.atomic import default_mode, write_json
from helpers.errors import DataError
from helpers.safe_pickle import load_batch_pickle

FOLDER_NAME = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
MARKER = "VERIFIED.json"
#: Largest member and largest total the extraction accepts (the real batches are 31 MB each,
#: 178 MB in all): a crafted archive cannot fill the disk before verification.
MAX_MEMBER_BYTES = 256 * 2**20
MAX_TOTAL_BYTES = 1024 * 2**20

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


def file_sha256(path, chunk=1 << 22):
    """Hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def check_member(member, wanted_root=FOLDER_NAME):
    """Refuse a tar member that is unsafe to extract.

    Raises
    ------
    DataError
        For absolute paths, ``..`` components, links, devices and FIFOs.
    """
    name = member.name
    parts = PurePosixPath(name).parts
    if name.startswith(("/", "\\")) or PurePosixPath(name).is_absolute() or ".." in parts:
        raise DataError(f"refused archive member {name!r}: it would be written outside the data folder")
    if member.issym() or member.islnk():
        raise DataError(f"refused archive member {name!r}: links are not allowed in the CIFAR-10 archive")
    if not (member.isfile() or member.isdir()):
        raise DataError(f"refused archive member {name!r}: only regular files and folders are allowed")
    if parts and parts[0] != wanted_root:
        raise DataError(f"refused archive member {name!r}: expected everything under {wanted_root}/")


def extract_members(archive, dest):
    """Extract the archive's members into ``dest`` after checking each one."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                check_member(member)
            total = sum(m.size for m in members)
            if total > MAX_TOTAL_BYTES or any(m.size > MAX_MEMBER_BYTES for m in members):
                raise DataError(f"{archive} unpacks to {total / 2**20:.0f} MiB or has an oversized member; "
                                "the CIFAR-10 archive unpacks to 178 MiB: it is not CIFAR-10")
            # Python's own "data" filter too, where this Python has it (3.10.12+, 3.11.4+)
            extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            for member in members:
                tar.extract(member, dest, set_attrs=False, **extra)
    except DataError:
        raise
    except (EOFError, zlib.error) as exc:
        raise DataError(f"{archive} is truncated or corrupt ({exc}); download it again") from None
    except tarfile.ReadError as exc:
        raise DataError(f"{archive} is not a gzip-compressed tar archive ({_describe_start(archive)}; {exc})") from None
    except tarfile.TarError as exc:
        raise DataError(f"{archive} could not be extracted ({exc}); download it again") from None


def _describe_start(path):
    with open(path, "rb") as fh:
        head = fh.read(64)
    if b"<html" in head.lower() or b"<!doctype" in head.lower():
        return "it looks like an HTML page, perhaps an error page saved under the archive's name"
    if head[:2] != b"\x1f\x8b":
        return "it does not start with the gzip signature"
    return "its gzip stream is damaged"


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


def verify_folder(folder, expected=OFFICIAL):
    """Check the extracted batches' content against ``expected``.

    Returns
    -------
    dict
        Batch name -> sha256 of its data array.

    Raises
    ------
    DataError
        A missing batch, a wrong hash, wrong shapes or wrong class counts.
    """
    folder = Path(folder)
    hashes = {}
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
    if not np.all(train_counts == expected.train_per_class):
        raise DataError(
            f"the training batches have {train_counts.tolist()} images per class, "
            f"expected {expected.train_per_class} each"
        )
    return hashes


def read_marker(folder):
    """Return the verification marker of an extracted folder, or None."""
    marker = Path(folder) / MARKER
    if not marker.is_file():
        return None
    try:
        return json.loads(marker.read_text())
    except (OSError, ValueError):
        return None


def extract_and_verify(archive, data_dir, expected=OFFICIAL):
    """Extract ``archive`` into ``data_dir/cifar-10-batches-py`` and verify it.

    Nothing is done when that folder already carries a marker. Otherwise the
    archive is extracted into a temporary folder, verified, marked and renamed
    into place.

    Returns
    -------
    Path
        The verified folder.
    """
    data_dir = Path(data_dir)
    final = data_dir / FOLDER_NAME
    if read_marker(final) is not None:
        return final
    from helpers.download import check_writable

    check_writable(data_dir)
    tmp = Path(tempfile.mkdtemp(dir=data_dir, prefix=".tmp-extract-"))
    try:
        extract_members(archive, tmp)
        folder = tmp / FOLDER_NAME
        hashes = verify_folder(folder, expected)
        files = {name: file_sha256(folder / name) for name in (*TRAIN_BATCHES, TEST_BATCH)}
        write_json(folder / MARKER, {"data_sha256": hashes, "file_sha256": files})
        os.chmod(folder, default_mode(directory=True))
        if final.exists():  # an unmarked (unverified) leftover: replace it
            shutil.rmtree(final)
        os.replace(folder, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
