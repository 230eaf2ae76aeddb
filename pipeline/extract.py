"""Extract the CIFAR-10 archive safely and verify its content.

The archive is extracted into a temporary folder beside the destination; the
batches are checked against the official content (:func:`helpers.cifar10.verify_batches`);
the verified pixels are written as ``.npy`` files with a marker ``VERIFIED.json``
recording each file's sha256 (:func:`helpers.cifar10.write_pixels`), the pickled
batches are removed; only then is the folder renamed into place. An interrupted
run therefore never leaves a folder that a later run accepts.

Members that would land outside the target (absolute paths, ``..``), links and
device files are refused.
"""

import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath

from helpers.cifar10 import FOLDER_NAME, OFFICIAL, PIXEL_FILES, read_marker, verify_batches, write_pixels
from helpers.errors import DataError
from helpers.files import default_mode

#: Largest member and largest total the extraction accepts (the real batches are 31 MB each,
#: 178 MB in all): a crafted archive cannot fill the disk before verification.
MAX_MEMBER_BYTES = 256 * 2**20
MAX_TOTAL_BYTES = 1024 * 2**20


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


def extract_and_verify(archive, data_dir, expected=OFFICIAL):
    """Extract ``archive`` into ``data_dir/cifar-10-batches-py`` and verify it.

    Nothing is done when that folder already carries a marker of this version
    (one that lists the ``.npy`` pixel files). Otherwise the
    archive is extracted into a temporary folder, verified, marked and renamed
    into place.

    Returns
    -------
    Path
        The verified folder.
    """
    data_dir = Path(data_dir)
    final = data_dir / FOLDER_NAME
    marker = read_marker(final) or {}
    if set(marker.get("file_sha256") or ()) == set(PIXEL_FILES):
        return final
    from pipeline.download import check_writable

    check_writable(data_dir)
    tmp = Path(tempfile.mkdtemp(dir=data_dir, prefix=".tmp-extract-"))
    try:
        extract_members(archive, tmp)
        folder = tmp / FOLDER_NAME
        hashes, batches = verify_batches(folder, expected)
        write_pixels(folder, hashes, batches)
        for name in batches:  # the pickles: never read again
            (folder / name).unlink()
        os.chmod(folder, default_mode(directory=True))
        if final.exists():  # an unverified leftover, or one of an older version: replace it
            shutil.rmtree(final)
        os.replace(folder, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
