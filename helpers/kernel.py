"""The compiled training epoch (``helpers/kernel.c``), built on first use.

One call trains a whole epoch: each mini-batch's rows are read straight from
``X`` (no gathered copy), their scores under the current and the starting
weights come from register-blocked dot products, and the gradient is summed
over the batch's rows while they are still in cache. No BLAS call and no Python
per mini-batch. ``make bench`` measures it against the machine's limit and
against the NumPy/BLAS epoch it replaced (bench/README.md); the tests check it
against the plain loop of :mod:`helpers.reference`.

The C source is compiled with the machine's C compiler (``$CC``, else ``cc`` or
``gcc``) the first time a process needs it, for this CPU (``-march=native``),
and the library is kept in ``build/kernel/`` (or ``$DD2424_KERNEL_DIR``) under a
name that hashes the source, the flags, the compiler and the CPU: another
machine, compiler or source builds its own, never a stale one. Every number is
computed by one fixed sequence of operations (see the comment at the top of the
C file), so a run gives the same bits every time on one machine, whatever runs
beside it.
"""

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

from helpers.errors import UserError
from helpers.paths import ROOT

SOURCE = Path(__file__).with_name("kernel.c")
FLAGS = ("-O3", "-march=native", "-std=gnu11", "-fPIC", "-shared", "-Wall", "-Wno-psabi")
#: C type and function-name suffix per NumPy dtype name. (NumPy is imported where it is
#: used: `python -m pipeline validate` checks for a compiler before the environment exists.)
TYPES = {"float64": ("double", "f64"), "float32": ("float", "f32")}
DIR_ENV = "DD2424_KERNEL_DIR"


class KernelError(UserError):
    """The training kernel could not be compiled or loaded."""


def find_compiler():
    """The C compiler to use: ``$CC``, else ``cc``, else ``gcc``.

    Raises
    ------
    KernelError
        If there is none.
    """
    cc = os.environ.get("CC", "").strip()
    found = shutil.which(cc) if cc else (shutil.which("cc") or shutil.which("gcc"))
    if not found:
        raise KernelError(f"training needs a C compiler for {SOURCE.name} and found "
                          f"{'none at CC=' + cc if cc else 'no cc or gcc'}: install one "
                          "(Debian/Ubuntu: apt-get install gcc; conda: the c-compiler package) or set CC")
    return found


def cpu_signature():
    """What the compiled code depends on about this CPU: its model and instruction-set flags."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return f"{platform.machine()} {platform.processor()}"
    keep = [line for line in info.splitlines() if line.split(":")[0].strip() in ("model name", "flags", "Features")]
    return "\n".join(dict.fromkeys(keep))   # the first processor's lines, each once


@functools.lru_cache(maxsize=None)
def _compiler_version(cc):
    out = subprocess.run([cc, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()[0] if out.stdout else cc


def _type_name(dtype):
    import numpy as np

    return np.dtype(dtype).name


def library_name(dtype, cc, flags=FLAGS):
    """File name of the compiled library for ``dtype``: it hashes everything that changes the code."""
    ctype, suffix = TYPES[_type_name(dtype)]
    h = hashlib.sha256()
    for part in (SOURCE.read_bytes(), " ".join(flags).encode(), ctype.encode(),
                 _compiler_version(cc).encode(), cpu_signature().encode()):
        h.update(part)
        h.update(b"\0")
    return f"kernel-{suffix}-{h.hexdigest()[:16]}.so"


def kernel_dir():
    """Where compiled libraries are kept: ``$DD2424_KERNEL_DIR`` or ``build/kernel`` of the project."""
    return Path(os.environ.get(DIR_ENV) or ROOT / "build" / "kernel")


def compile_library(dtype, folder, flags=FLAGS):
    """Compile the kernel for ``dtype`` into ``folder`` (if not there yet) and return its path.

    ``flags``: the compiler's flags (the tests also build it for other instruction sets).
    Parallel processes may compile at once: each writes under a temporary name
    and renames it, so a library is never seen half-written.
    """
    cc = find_compiler()
    folder = Path(folder)
    path = folder / library_name(dtype, cc, flags)
    if path.is_file():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    ctype, suffix = TYPES[_type_name(dtype)]
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    os.close(fd)
    try:
        cmd = [cc, *flags, f"-DREAL={ctype}", f"-DSUFFIX={suffix}", "-o", tmp, str(SOURCE), "-lm"]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            last = " | ".join((out.stderr or out.stdout).strip().splitlines()[-3:])
            raise KernelError(f"compiling {SOURCE.name} with {cc} failed: {last}")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


@functools.lru_cache(maxsize=None)
def load_function(dtype):
    """The compiled ``fused_epoch_f64`` or ``fused_epoch_f32`` (compiled first if needed)."""
    name = _type_name(dtype)
    if name not in TYPES:
        raise KernelError(f"the training kernel works in float64 or float32, not {name}")
    try:
        path = compile_library(dtype, kernel_dir())
    except OSError:   # the project folder is not writable: a private temporary folder
        path = compile_library(dtype, Path(tempfile.gettempdir()) / f"dd2424-kernel-{os.getuid()}")
    return library_function(path, dtype)


def library_function(path, dtype):
    """The epoch function of the compiled library at ``path`` for ``dtype``, with its argument types."""
    fn = getattr(ctypes.CDLL(str(path)), f"fused_epoch_{TYPES[_type_name(dtype)][1]}")
    p, i64, f64 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double
    fn.argtypes = [p, i64, p, p, i64, i64, p, p, i64, f64, f64, p]
    fn.restype = ctypes.c_int
    return fn


def _check(name, a, dtype, shape, writeable=False):
    """Refuse an array the kernel cannot use in place (a copy of X would cost a second data set)."""
    if a.dtype != dtype or a.shape != shape or not a.flags.c_contiguous or (writeable and not a.flags.writeable):
        raise ValueError(f"{name}: expected a C-contiguous{' writeable' if writeable else ''} {dtype} array "
                         f"of shape {shape}, got {a.dtype} {a.shape}"
                         f"{'' if a.flags.c_contiguous else ', not C-contiguous'}")


def fused_epoch(X, labels, Wc, b, perm, eta, lam, n_batch, scores=None, function=None):
    """One epoch of mini-batch gradient descent, updating ``Wc[:K]`` and ``b`` in place.

    Parameters
    ----------
    X : ndarray, (N, D), float64 or float32, C-contiguous (a read-only memory map is fine)
    labels : ndarray, (N,), int64, values in ``[0, K)``
    Wc : ndarray, (2K, D), X's dtype
        Rows ``:K``: the weights W, trained in place; rows ``K:``: the weights W0
        the epoch started from, left as they are.
    b : ndarray, (K,), X's dtype, updated in place
    perm : ndarray, (n,), int64, values in ``[0, N)``
        Visiting order: batch j is ``perm[j*n_batch:(j+1)*n_batch]`` (the last may be smaller).
    eta, lam : float
        Learning rate; L2 penalty ``lam * ||W||^2`` (b is not penalised).
    n_batch : int
    scores : ndarray, (n, K), X's dtype, or None
        If given, ``scores[i]`` receives ``X[perm[i]] W0^T`` (no bias).
    function : the compiled epoch to call, or None for this machine's (:func:`load_function`)

    Every mini-batch's scores are computed under both W and W0 whether or not
    ``scores`` is given, so W and b get the same bits either way.
    """
    import numpy as np

    N, D = X.shape
    K = b.shape[0]
    n = perm.shape[0]
    _check("X", X, X.dtype, (N, D))
    _check("labels", labels, np.dtype(np.int64), (N,))
    _check("Wc", Wc, X.dtype, (2 * K, D), writeable=True)
    _check("b", b, X.dtype, (K,), writeable=True)
    _check("perm", perm, np.dtype(np.int64), (n,))
    if scores is not None:
        _check("scores", scores, X.dtype, (n, K), writeable=True)
    if n and (perm.min() < 0 or perm.max() >= N):
        raise ValueError(f"perm: indices must lie in [0, {N})")
    if n_batch < 1:
        raise ValueError(f"n_batch must be at least 1, got {n_batch}")
    fn = function or load_function(X.dtype)
    status = fn(X.ctypes.data, D, labels.ctypes.data, perm.ctypes.data, n, int(n_batch), Wc.ctypes.data,
                b.ctypes.data, K, float(eta), float(lam), None if scores is None else scores.ctypes.data)
    if status != 0:
        raise MemoryError("the training kernel could not allocate its work buffers")
