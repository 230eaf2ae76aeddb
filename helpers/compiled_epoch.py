"""The compiled training epoch (``helpers/compiled_epoch.c``), built on first use.

One call trains a whole epoch: each mini-batch's rows are read straight from
``X`` (no gathered copy; uint8 pixels are decoded as they are read), their scores under the current and the starting
weights come from register-blocked dot products, and the gradient is summed
over the batch's rows while they are still in cache. No BLAS call and no Python
per mini-batch. ``make bench`` measures it against the machine's limit and
against the NumPy epoch it stands in for (bench/README.md); the tests check it
against the plain loop of :mod:`helpers.reference`.

The C source is compiled with the machine's C compiler (``$CC``, else ``cc`` or
``gcc``) the first time a process needs it, for this CPU (``-march=native``;
``$DD2424_CFLAGS`` replaces the flags), and the library is kept in
``build/compiled/`` (or ``$DD2424_COMPILED_DIR``; the user's cache folder when the
project's is not writable) under a name that hashes the source, the flags, the
compiler command and version, and the CPU: another machine, compiler or source
builds its own, never a stale one. A library built before is used without a
compiler. Where none can be built or loaded, training uses the NumPy epoch of
:func:`helpers.model.numpy_epoch` (:func:`epoch_function`), which the tests
check the compiled one against. Every number is
computed by one fixed sequence of operations (see the comment at the top of the
C file), so a run gives the same bits every time on one machine, whatever runs
beside it.
"""

import ctypes
import errno
import functools
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from helpers.errors import UserError
from helpers.paths import project_path

SOURCE = Path(__file__).with_name("compiled_epoch.c")
#: -ffp-contract=fast (GCC's default, stated): on x86 the multiply-adds are fused explicitly where the CPU can
#: (vmuladd(), muladd(): see the comment at the top of compiled_epoch.c); elsewhere the compiler fuses the vector ones.
FLAGS = ("-O3", "-march=native", "-ffp-contract=fast", "-std=gnu11", "-fPIC", "-shared", "-Wall", "-Wno-psabi")
#: C type and function-name suffix per NumPy dtype name. (NumPy is imported where it is
#: used: `python -m pipeline validate` checks for a compiler before the environment exists.)
TYPES = {"float64": ("double", "f64"), "float32": ("float", "f32")}
DIR_ENV = "DD2424_COMPILED_DIR"
#: Replaces :data:`FLAGS` when set (e.g. "-O3 -march=x86-64-v2 -fPIC -shared" on a CPU Apple's clang or
#: an older compiler does not know); the library's name hashes them, so it is built again.
FLAGS_ENV = "DD2424_CFLAGS"
#: Which epoch trains: "auto" (the compiled one, else NumPy's with a notice), "compiled" or "numpy".
EPOCH_ENV = "DD2424_EPOCH"
EPOCHS = ("auto", "compiled", "numpy")


class CompileError(UserError):
    """The compiled epoch could not be built or loaded."""


def find_compiler():
    """The C compiler command to use: ``$CC`` (e.g. ``ccache gcc``), else ``cc``, else ``gcc``.

    Returns
    -------
    tuple of str
        The command, its program resolved on the PATH.

    Raises
    ------
    CompileError
        If there is none.
    """
    cc = shlex.split(os.environ.get("CC", ""))
    found = shutil.which(cc[0]) if cc else (shutil.which("cc") or shutil.which("gcc"))
    if not found:
        raise CompileError(f"training needs a C compiler for {SOURCE.name} and found "
                          f"{'none at CC=' + shlex.join(cc) if cc else 'no cc or gcc'}: install one "
                          "(Debian/Ubuntu: apt-get install gcc; conda: the c-compiler package) or set CC")
    return (found, *cc[1:])


def cpu_signature():
    """What the compiled code depends on about this CPU: its model and instruction-set flags."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return f"{platform.machine()} {platform.processor()}"
    keep = [line for line in info.splitlines() if line.split(":")[0].strip() in ("model name", "flags", "Features")]
    return "\n".join(dict.fromkeys(keep))   # each distinct line once


@functools.lru_cache(maxsize=None)
def _compiler_version(cc):
    out = subprocess.run([*cc, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()[0] if out.stdout else " ".join(cc)


def _type_name(dtype):
    return np.dtype(dtype).name


def _digest(*parts):
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def code_key(dtype, flags=FLAGS):
    """What the compiled code is made from, apart from the compiler: the source, the flags, the C type, the CPU."""
    ctype, _ = TYPES[_type_name(dtype)]
    return _digest(SOURCE.read_bytes(), " ".join(flags), ctype, cpu_signature())


def library_name(dtype, cc, flags=FLAGS):
    """File name of the compiled library for ``dtype``: it hashes everything that changes the code.

    ``epoch-<type>-<code key>-<compiler key>.so``: the compiler's key covers the
    whole command (arguments given in ``CC`` included) and its version, so a
    library is found again without a compiler (:func:`cached_library`).
    """
    _, suffix = TYPES[_type_name(dtype)]
    return f"epoch-{suffix}-{code_key(dtype, flags)}-{_digest(shlex.join(cc), _compiler_version(cc))}.so"


def cached_library(dtype, folders, flags=FLAGS):
    """The newest library already built from this source, flags and CPU by any compiler, or None."""
    _, suffix = TYPES[_type_name(dtype)]
    found = [p for folder in folders for p in Path(folder).glob(f"epoch-{suffix}-{code_key(dtype, flags)}-*.so")]
    return max(found, key=lambda p: p.stat().st_mtime_ns, default=None)


def default_flags(system=None, machine=None):
    """:data:`FLAGS` for this platform: on arm64 macOS, ``-mcpu=apple-m1`` instead of ``-march=native``,
    which Apple's clang refuses on arm64 (and ``-Wno-psabi``, a GCC option, left out)."""
    system, machine = system or platform.system(), machine or platform.machine()
    if system == "Darwin" and machine in ("arm64", "aarch64"):
        return tuple("-mcpu=apple-m1" if f == "-march=native" else f for f in FLAGS if f != "-Wno-psabi")
    return FLAGS


def compile_flags():
    """The compiler's flags: :func:`default_flags`, or ``$DD2424_CFLAGS`` (split like a shell) when set."""
    text = os.environ.get(FLAGS_ENV, "").strip()
    return tuple(shlex.split(text)) if text else default_flags()


def library_dir():
    """Where compiled libraries are kept: ``$DD2424_COMPILED_DIR`` (relative: to the project's root)
    or ``build/compiled`` of the project."""
    return project_path(os.environ.get(DIR_ENV) or "build/compiled")


def user_cache_dir():
    """The fallback when the project's folder is not writable: the user's own cache folder."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dd2424-a1" / "compiled"


def compile_library(dtype, folder, flags=FLAGS):
    """Compile the epoch for ``dtype`` into ``folder`` (if not there yet) and return its path.

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
        cmd = [*cc, *flags, f"-DREAL={ctype}", f"-DSUFFIX={suffix}", "-o", tmp, str(SOURCE), "-lm"]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            last = " | ".join((out.stderr or out.stdout).strip().splitlines()[-3:])
            raise CompileError(f"compiling {SOURCE.name} with {shlex.join(cc)} failed: {last}")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o755 & ~umask)   # mkstemp made it private; a library is read like any build output
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


@functools.lru_cache(maxsize=None)
def load_function(dtype):
    """The compiled ``fused_epoch_f64`` or ``fused_epoch_f32``: a library built before, else compiled now.

    A library already built from this source, flags and CPU is used without
    looking for a compiler. Raises :class:`CompileError` where none can be built or loaded.
    """
    name = _type_name(dtype)
    if name not in TYPES:
        raise CompileError(f"the compiled epoch works in float64 or float32, not {name}")
    flags = compile_flags()
    try:
        try:
            find_compiler()
        except CompileError:
            path = cached_library(dtype, (library_dir(), user_cache_dir()), flags)
            if path is None:
                raise
        else:
            try:
                path = compile_library(dtype, library_dir(), flags)
            except OSError as exc:   # the project's folder is not writable or read-only: the user's own cache
                if not (isinstance(exc, PermissionError) or exc.errno == errno.EROFS):
                    raise
                path = compile_library(dtype, user_cache_dir(), flags)
        return library_function(path, dtype)
    except OSError as exc:
        raise CompileError(f"the compiled epoch could not be built or loaded ({exc}); "
                          f"set {DIR_ENV} to a writable folder on a file system that allows executables") from exc


def build_info(dtype="float64"):
    """What the compiled epoch for ``dtype`` is built with: compiler command and version, flags, library name.

    For a library found without a compiler, the compiler is unknown (None); its name still hashes it.
    """
    flags = compile_flags()
    try:
        cc = find_compiler()
    except CompileError:
        path = cached_library(dtype, (library_dir(), user_cache_dir()), flags)
        return {"compiler": None, "version": None, "flags": list(flags), "library": path.name if path else None}
    return {"compiler": shlex.join(cc), "version": _compiler_version(cc), "flags": list(flags),
            "library": library_name(dtype, cc, flags)}


def epoch_choice():
    """``$DD2424_EPOCH``: auto (the default), compiled or numpy."""
    choice = os.environ.get(EPOCH_ENV, "").strip().lower() or "auto"
    if choice not in EPOCHS:
        raise UserError(f"{EPOCH_ENV}={choice!r}: expected one of {', '.join(EPOCHS)}")
    return choice


def compiler_notice(dtype="float64"):
    """A notice if training would fall back to the NumPy epoch (no compiler, no library built before), else None
    (``python -m pipeline validate`` asks, so that the build says so before its first run)."""
    if epoch_choice() == "numpy":
        return None
    try:
        find_compiler()
    except CompileError as exc:
        if cached_library(dtype, (library_dir(), user_cache_dir()), compile_flags()) is None:
            return (f"notice: {exc}. Training will use the NumPy epoch, about 3 times slower than the compiled one "
                    f"(`make bench`).")
    return None


@functools.lru_cache(maxsize=None)
def epoch_function(dtype):
    """The compiled epoch for ``dtype``, or None to train with :func:`helpers.model.numpy_epoch`.

    With ``DD2424_EPOCH=auto`` (the default), an epoch that cannot be built or
    loaded prints one notice (on stderr, once per process) and gives None;
    ``compiled`` raises :class:`CompileError` instead; ``numpy`` always gives None.
    """
    choice = epoch_choice()
    if choice == "numpy":
        return None
    try:
        return load_function(dtype)
    except CompileError as exc:
        if choice == "compiled":
            raise
        print(f"notice: training with the NumPy epoch, about 3 times slower: {exc}", file=sys.stderr, flush=True)
        return None


def library_function(path, dtype):
    """The epoch function of the compiled library at ``path`` for ``dtype``, with its argument types.

    Its ``pixels`` attribute is the same epoch over uint8 pixels decoded as they are read
    (``fused_epoch_pixels_f64``).
    """
    name = _type_name(dtype)
    library = ctypes.CDLL(str(path))
    fn = getattr(library, f"fused_epoch_{TYPES[name][1]}")
    p, i64, f64 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double
    fn.argtypes = [p, i64, p, p, i64, i64, p, p, i64, f64, f64, f64, p]
    fn.restype = ctypes.c_int
    fn.dtype_name = name   # fused_epoch checks it against the arrays
    fn.pixels = getattr(library, f"fused_epoch_pixels_{TYPES[name][1]}")
    fn.pixels.argtypes = [p, p, p, i64, p, p, i64, i64, p, p, i64, f64, f64, f64, p]
    fn.pixels.restype = ctypes.c_int
    return fn


def _check(name, a, dtype, shape, writeable=False):
    """Refuse an array the compiled epoch cannot use in place (a copy of X would cost a second data set)."""
    if a.dtype != dtype or a.shape != shape or not a.flags.c_contiguous or (writeable and not a.flags.writeable):
        raise ValueError(f"{name}: expected a C-contiguous{' writeable' if writeable else ''} {dtype} array "
                         f"of shape {shape}, got {a.dtype} {a.shape}"
                         f"{'' if a.flags.c_contiguous else ', not C-contiguous'}")


def fused_epoch(X, labels, Wc, b, perm, eta, lam, n_batch, scores=None, function=None, smooth=0.0):
    """One epoch of mini-batch gradient descent, updating ``Wc[:K]`` and ``b`` in place.

    Parameters
    ----------
    X : ndarray, (N, D), float64 or float32, C-contiguous (a read-only memory map is fine), or
        :class:`helpers.data.ScaledPixels`: uint8 pixels, each mini-batch's rows decoded as they are
        read (the same bits as training on the decoded array)
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
    smooth : float
        Label smoothing of the targets (:func:`helpers.model.targets`); 0, the course's one-hot.

    Every mini-batch's scores are computed under both W and W0 whether or not
    ``scores`` is given, so W and b get the same bits either way.
    """
    N, D = X.shape
    K = b.shape[0]
    n = perm.shape[0]
    if X.dtype.name not in TYPES or not X.dtype.isnative:
        raise ValueError(f"X: expected float64 or float32 in the machine's byte order, got {X.dtype.str}")
    if K < 1:
        raise ValueError("b: at least one class")
    pixels = getattr(X, "pixels", None)   # helpers.data.ScaledPixels: decoded as read
    if pixels is None:
        _check("X", X, X.dtype, (N, D))
    else:
        _check("X.pixels", pixels, np.dtype(np.uint8), (N, D))
        if (X.norm_mean is None) != (X.norm_std is None):
            raise ValueError("X: norm_mean and norm_std are given together or not at all")
        if X.norm_mean is not None:
            _check("X.norm_mean", X.norm_mean, X.dtype, (D,))
            _check("X.norm_std", X.norm_std, X.dtype, (D,))
    _check("labels", labels, np.dtype(np.int64), (N,))
    _check("Wc", Wc, X.dtype, (2 * K, D), writeable=True)
    _check("b", b, X.dtype, (K,), writeable=True)
    _check("perm", perm, np.dtype(np.int64), (n,))
    if scores is not None:
        _check("scores", scores, X.dtype, (n, K), writeable=True)
    if n and (perm.min() < 0 or perm.max() >= N):
        raise ValueError(f"perm: indices must lie in [0, {N})")
    if N and (labels.min() < 0 or labels.max() >= K):
        raise ValueError(f"labels: classes must lie in [0, {K})")
    if n_batch < 1:
        raise ValueError(f"n_batch must be at least 1, got {n_batch}")
    if not 0 <= smooth < 1:
        raise ValueError(f"smooth must lie in [0, 1), got {smooth}")
    n_batch = min(int(n_batch), max(n, 1))   # larger: one batch of all rows (and no overflow in C)
    fn = function or load_function(X.dtype)
    if getattr(fn, "dtype_name", X.dtype.name) != X.dtype.name:
        raise ValueError(f"function: a {fn.dtype_name} epoch cannot train {X.dtype.name} arrays")
    out = None if scores is None else scores.ctypes.data
    if pixels is None:
        status = fn(X.ctypes.data, D, labels.ctypes.data, perm.ctypes.data, n, n_batch, Wc.ctypes.data,
                    b.ctypes.data, K, float(eta), float(lam), float(smooth), out)
    else:
        mean, std = (None, None) if X.norm_mean is None else (X.norm_mean.ctypes.data, X.norm_std.ctypes.data)
        status = fn.pixels(pixels.ctypes.data, mean, std, D, labels.ctypes.data, perm.ctypes.data, n, n_batch,
                           Wc.ctypes.data, b.ctypes.data, K, float(eta), float(lam), float(smooth), out)
    if status != 0:
        raise MemoryError("the compiled epoch could not allocate its work buffers")
