"""Obtain the CIFAR-10 archive: a local copy, or the official download.

The official archive is downloaded with a progress bar into a temporary file,
its md5 is checked, and only then is it renamed into ``data/``. A local archive
named by ``CIFAR10_ARCHIVE`` is read where it is; once its content has been
verified (see :mod:`pipeline.extract`), :func:`keep_archive` keeps it in
``data/`` too (a hard link where possible, else a copy), so that later runs,
after ``make clean`` as well, need the variable no more.
"""

import contextlib
import hashlib
import http.client
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from helpers.files import default_mode
from helpers.errors import DataError

OFFICIAL_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
OFFICIAL_MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
ARCHIVE_ENV = "CIFAR10_ARCHIVE"

HOW_TO_SUPPLY = (
    f"download it elsewhere and run with {ARCHIVE_ENV}=/path/to/{ARCHIVE_NAME} "
    f"(for example: {ARCHIVE_ENV}=/path/to/{ARCHIVE_NAME} make report)"
)


def check_writable(folder):
    """Create ``folder`` if needed and make sure files can be written in it.

    Raises
    ------
    DataError
        If the folder cannot be created or written to.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise DataError(
            f"cannot write to the data folder {folder} ({exc.strerror or exc}); "
            "make it writable or choose another with DATA_DIR=/writable/folder"
        ) from None


def resolve_local_archive(path):
    """Check that the archive named by ``CIFAR10_ARCHIVE`` exists and is a file."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{ARCHIVE_ENV}={path} does not exist; point it at your copy of {ARCHIVE_NAME}")
    if not path.is_file():
        raise DataError(f"{ARCHIVE_ENV}={path} is not a file; point it at your copy of {ARCHIVE_NAME}")
    return path.resolve()


def download(url, dest, md5=OFFICIAL_MD5, progress=True, timeout=30):
    """Download ``url`` to ``dest`` through a temporary file, checking its md5.

    Parameters
    ----------
    url : str
        Where to download from.
    dest : path-like
        The final file; written only once the md5 matches.
    md5 : str or None
        Expected hex md5 (None skips the check).
    progress : bool
        Show a one-line progress bar on stderr.

    Raises
    ------
    DataError
        No connection, an HTTP error, or a checksum mismatch.
    """
    dest = Path(dest)
    check_writable(dest.parent)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.part-")
    digest = hashlib.md5()
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=timeout)
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise DataError(f"could not download {url} ({reason}); {HOW_TO_SUPPLY}") from None
            total = int(response.headers.get("Content-Length") or 0) or None
            bar = _progress_bar(total, f"downloading {dest.name}", progress)
            try:
                while block := response.read(1 << 20):
                    out.write(block)
                    digest.update(block)
                    bar.update(len(block))
            except (OSError, http.client.HTTPException) as exc:
                raise DataError(f"download of {url} broke off ({exc!r}); run again, or {HOW_TO_SUPPLY}") from None
            finally:
                bar.close()
        if md5 is not None and digest.hexdigest() != md5:
            raise DataError(
                f"downloaded file has md5 {digest.hexdigest()}, expected {md5}: "
                f"the download is corrupt or not the official archive; run again, or {HOW_TO_SUPPLY}"
            )
        os.chmod(tmp, default_mode())
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return dest


def _progress_bar(total, desc, enabled):
    from tqdm import tqdm

    # the terminal's width from stdout (under make's supervisor stderr is a pipe, and tqdm would draw 87 columns)
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, disable=not enabled,
                file=sys.stderr, mininterval=0.5, ncols=shutil.get_terminal_size((100, 24)).columns)


def obtain_archive(data_dir, local=None, url=OFFICIAL_URL, progress=True):
    """Return the path of a CIFAR-10 archive, downloading it if needed.

    Order: ``local`` (the ``CIFAR10_ARCHIVE`` value) if given; else an archive
    already in ``data_dir``; else the official download into ``data_dir``.
    """
    if local:
        return resolve_local_archive(local)
    existing = Path(data_dir) / ARCHIVE_NAME
    if existing.is_file():
        return existing
    return download(url, existing, progress=progress)


def keep_archive(archive, data_dir):
    """Keep the verified local ``archive`` as ``data_dir/cifar-10-python.tar.gz``.

    A hard link where the file system allows one, else a copy; made under a
    temporary name (``.tmp-*``, which ``make clean`` removes) and renamed into
    place, so that an interruption or a full disk leaves no partial archive.
    Call it only once the archive's content has been verified.

    Returns
    -------
    str or None
        ``"link"`` or ``"copy"``, or None if ``data_dir`` already holds that very file.

    Raises
    ------
    OSError
        If neither a link nor a copy could be made (nothing is left behind).
    """
    data_dir = Path(data_dir)
    dest = data_dir / ARCHIVE_NAME
    with contextlib.suppress(OSError):
        if os.path.samefile(archive, dest):
            return None
    data_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=f".tmp-{ARCHIVE_NAME}.")
    os.close(fd)
    try:
        os.unlink(tmp)  # os.link needs a free name; mkstemp only reserved a unique one
        try:
            os.link(archive, tmp)
            how = "link"
        except OSError:  # another file system, or links not allowed: copy
            how = "copy"
            shutil.copyfile(archive, tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.chmod(tmp, default_mode())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return how
