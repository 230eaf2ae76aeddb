"""A restricted unpickler for the CIFAR-10 python batches.

CIFAR-10's batches are Python 2 pickles, and unpickling untrusted bytes can run
arbitrary code. :func:`load_batch_pickle` only admits the globals that a batch
needs to rebuild its numpy array (``numpy.core.multiarray._reconstruct``,
``numpy.ndarray``, ``numpy.dtype``) and, for copies pickled by Python 3 with
protocol 2, ``_codecs.encode`` restricted to latin-1 text (how such pickles
spell bytes); dicts, lists, bytes and ints need no globals. Anything else raises :class:`~helpers.errors.DataError`.
"""

import io
import pickle

import numpy as np

from helpers.errors import DataError


def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


def _latin1_bytes():
    def encode(text, encoding="latin1"):
        """How protocol-2 pickles written by Python 3 spell a bytes object."""
        if not isinstance(text, str) or encoding.lower().replace("-", "") != "latin1":
            raise DataError(f"refused _codecs.encode({type(text).__name__}, {encoding!r}) in a batch pickle")
        return text.encode("latin1")

    return encode


ALLOWED_GLOBALS = {
    ("_codecs", "encode"): _latin1_bytes,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that refuses every global outside :data:`ALLOWED_GLOBALS`."""

    def find_class(self, module, name):
        factory = ALLOWED_GLOBALS.get((module, name))
        if factory is None:
            raise DataError(
                f"refused to unpickle {module}.{name}: a CIFAR-10 batch only holds "
                "numpy arrays, lists, bytes and ints; the file is not a genuine batch"
            )
        return factory()


def load_batch_pickle(data, source="batch"):
    """Unpickle the bytes of one CIFAR-10 batch safely.

    Parameters
    ----------
    data : bytes
        The pickle's bytes.
    source : str
        A name for the file, used in error messages.

    Returns
    -------
    dict
        The batch with its keys decoded to ``str`` (``data``, ``labels``, ...).
    """
    try:
        obj = RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except DataError as exc:
        raise DataError(f"{source}: {exc}") from None
    except Exception as exc:  # any malformed pickle
        raise DataError(f"{source} is not a readable CIFAR-10 batch ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{source} is not a CIFAR-10 batch (expected a dict, found {type(obj).__name__})")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}
