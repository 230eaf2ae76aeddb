"""Files: atomic writes (a file is either complete or absent, never half-written) and digests.

Each writer writes into a temporary file in the destination's folder, flushes
and fsyncs it, then renames it over the destination (``os.replace`` is atomic
on POSIX). An interruption (Ctrl-C, SIGTERM, a crash) leaves at most a
``.tmp-*`` file behind, which no reader ever takes for the real one.
"""

import contextlib
import hashlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np


def default_mode(directory=False):
    """The mode a new file (0o666) or folder (0o777) gets under the current umask.

    ``tempfile`` creates private files (0o600) and folders (0o700); results,
    figures and the report should be as readable as any file the user makes.
    """
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; rename it to ``path`` on success.

    On any exception (KeyboardInterrupt included) the temporary file is removed
    and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{path.name}.")
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, default_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes(path, data):
    """Write ``data`` (bytes) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)


def write_text(path, text):
    """Write ``text`` (str, UTF-8) to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path, obj):
    """Write ``obj`` as indented, key-sorted JSON to ``path`` atomically.

    Sorted keys and a fixed layout make the file byte-identical for equal data.
    """
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=True) + "\n")


def write_npy(path, array):
    """Write one numpy array to a ``.npy`` file atomically (no pickled objects)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.lib.format.write_array(fh, np.asarray(array), allow_pickle=False)


def write_npz(path, **arrays):
    """Write numpy arrays to an uncompressed ``.npz`` file atomically.

    Unlike ``np.savez``, every zip entry carries a fixed timestamp, so equal
    arrays give byte-identical files. ``np.load`` reads the result as usual.
    """
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            for name, array in arrays.items():
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.asarray(array), allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                zf.writestr(info, buf.getvalue())


def file_digest(path, algorithm="sha256", chunk=1 << 22):
    """Hex digest (``sha256``, ``md5``, ...) of the file at ``path``, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
