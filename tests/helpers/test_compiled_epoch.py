import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import compiled_epoch as compiled
from helpers.errors import UserError
from helpers.paths import ROOT
from helpers.compiled_epoch import CompileError, compile_library, fused_epoch, library_name, load_function
from helpers.model import numpy_epoch
from tests.conftest import no_compiler

# Every test here builds or loads the compiled epoch (or simulates its absence beside a real compiler).
pytestmark = pytest.mark.usefixtures("c_compiler")


def plain_epoch(X, y, W, b, perm, eta, lam, n_batch, smooth=0.0):
    """The course's epoch (helpers.model.numpy_epoch) on copies: what the compiled epoch must compute.

    The scores are returned without the bias, as the compiled epoch computes them.
    """
    W, b0 = W.copy(), b.copy()
    b = b0.copy()
    scores = np.empty((len(perm), W.shape[0]), dtype=W.dtype)
    numpy_epoch(X, y, W, b, perm, eta, lam, n_batch, previous_scores=scores, smooth=smooth)
    return W, b, scores - b0


def inputs(n, D, K, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 1, (n, D)).astype(dtype)
    y = rng.integers(0, K, n).astype(np.int64)
    W = rng.normal(0, 0.05, (K, D)).astype(dtype)
    b = rng.normal(0, 0.05, K).astype(dtype)
    return X, y, W, b, rng.permutation(n)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 2e-5)], ids=["float64", "float32"])
@pytest.mark.parametrize("n,D,K,n_batch,lam", [
    (50, 37, 3, 7, 0.0),      # no shape fills a register block: only the plain loops
    (120, 64, 10, 100, 0.3),  # the blocked loops, and a last batch of 20
    (203, 3072 + 5, 13, 30, 1.0),  # both, and a tail of columns
], ids=["tails", "blocks", "both"])
@pytest.mark.parametrize("smooth", [0.0, 0.2], ids=["one-hot", "smoothed"])
def test_fused_epoch_matches_a_plain_numpy_epoch(dtype, tol, n, D, K, n_batch, lam, smooth):
    X, y, W, b, perm = inputs(n, D, K, dtype)
    W_ref, b_ref, scores_ref = plain_epoch(X.astype(np.float64), y, W.astype(np.float64), b.astype(np.float64),
                                           perm, 0.05, lam, n_batch, smooth)
    Wc = np.concatenate([W, W])
    bk, scores = b.copy(), np.empty((n, K), dtype=dtype)
    fused_epoch(X, y, Wc, bk, perm, 0.05, lam, n_batch, scores=scores, smooth=smooth)
    assert Wc.dtype == dtype and bk.dtype == dtype
    assert np.abs(Wc[:K] - W_ref).max() < tol * max(1.0, np.abs(W_ref).max())
    assert np.abs(bk - b_ref).max() < tol
    assert np.abs(scores - scores_ref).max() < tol * np.abs(scores_ref).max()
    assert np.array_equal(Wc[K:], W)          # the starting weights are left as they were
    assert np.abs(Wc[:K] - W).max() > 1e-3    # and the trained ones moved


def pixel_inputs(n, D, K, dtype, normalise, seed=0, every_value=False):
    """uint8 pixels as a ScaledPixels (the training set's statistics, as helpers.data uses them), the
    same images decoded into an array, and labels, weights, order. ``every_value``: pixel (i, d) is
    (i + d) % 256, so that with n >= 256 every column, hence every vector lane, decodes every value."""
    from helpers.data import ScaledPixels, scale

    rng = np.random.default_rng(seed)
    P = rng.integers(0, 256, (n, D), dtype=np.uint8)
    if every_value:
        P[:] = (np.arange(n)[:, None] + np.arange(D)[None, :]) % 256
    P[:, 1] = 7                                              # a constant column: std 0 -> 1
    mean = (P / 255).mean(axis=0) if normalise else None
    std = np.where((P / 255).std(axis=0) > 0, (P / 255).std(axis=0), 1.0) if normalise else None
    m, s = (mean.astype(dtype), std.astype(dtype)) if normalise else (None, None)
    _, y, W, b, perm = inputs(n, D, K, dtype, seed)
    return ScaledPixels(P, dtype, m, s), scale(P, dtype, m, s), y, W, b, perm


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("normalise", [True, False], ids=["normalised", "raw"])
@pytest.mark.parametrize("n,D,K,n_batch", [
    (50, 37, 2, 7),           # fewer classes than a register block: rows decoded whole, one by one
    (120, 64, 10, 100),       # the decoding vector loop, and a last batch of 20
    (203, 3072 + 5, 13, 30),  # both, a tail of columns and leftover rows
], ids=["tails", "blocks", "both"])
def test_the_epoch_over_pixels_has_the_bits_of_the_epoch_over_the_decoded_array(dtype, normalise, n, D, K, n_batch):
    """Decoding a mini-batch's rows as they are read changes nothing: W, b and the scores are bitwise
    those of training on the decoded array (as data/cache held before)."""
    X, decoded, y, W, b, perm = pixel_inputs(n, D, K, dtype, normalise)
    out = []
    for data in (X, decoded):
        Wc, bk, scores = np.concatenate([W, W]), b.copy(), np.empty((n, K), dtype=dtype)
        fused_epoch(data, y, Wc, bk, perm, 0.05, 0.3, n_batch, scores=scores)
        out.append((Wc, bk, scores))
    assert all(np.array_equal(a, c) for a, c in zip(*out))
    assert np.abs(out[0][0][:K] - W).max() > 1e-4    # it trained


def test_pixels_with_a_mean_and_no_std_or_of_another_type_are_refused():
    X, _, y, W, b, perm = pixel_inputs(20, 8, 3, np.float64, True)
    X.norm_std = None
    with pytest.raises(ValueError, match="norm_mean and norm_std are given together"):
        fused_epoch(X, y, np.concatenate([W, W]), b, perm, 0.1, 0.0, 5)
    X, _, y, W, b, perm = pixel_inputs(20, 8, 3, np.float64, True)
    X.pixels = X.pixels.astype(np.int16)
    with pytest.raises(ValueError, match="X.pixels: expected a C-contiguous uint8"):
        fused_epoch(X, y, np.concatenate([W, W]), b, perm, 0.1, 0.0, 5)


def _cpu_flags():
    try:
        return next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return []


@pytest.mark.compiler
@pytest.mark.skipif(platform.machine() != "x86_64", reason="builds the compiled epoch for other x86-64 instruction sets")
@pytest.mark.parametrize("march,needs", [("x86-64", "sse2"), ("haswell", "avx2"), ("native", "sse2"),
                                         ("haswell -mtune=znver3", "avx2")])
def test_the_compiled_epoch_builds_and_agrees_for_each_instruction_set(tmp_path, march, needs):
    """Its vector width and register blocks follow the target (SSE2, AVX2, AVX-512): each build
    computes the plain epoch, an example's scores have the same bits wherever it falls in a batch, and
    a gradient column the same bits in the blocked and the plain loop. Tuned for AMD Zen 3, GCC 12 left a
    loop with one accumulator unfused unless the source fuses it (vmuladd)."""
    if needs not in _cpu_flags():
        pytest.skip(f"this CPU lacks {needs}")
    flags = tuple(x for f in compiled.FLAGS for x in (f"-march={march}".split() if f == "-march=native" else [f]))
    fn = compiled.library_function(compile_library(np.float64, tmp_path, flags), np.float64)
    n, D, K = 230, 3072 + 3, 10
    X, y, W, b, perm = inputs(n, D, K, np.float64, seed=3)
    W_ref, b_ref, scores_ref = plain_epoch(X, y, W, b, perm, 0.05, 0.1, 30)
    by_example = []
    for order in (perm, perm[::-1].copy()):
        Wc, bk, scores = np.concatenate([W, W]), b.copy(), np.empty((n, K))
        fused_epoch(X, y, Wc, bk, order, 0.05, 0.1, 30, scores=scores, function=fn)
        if order is perm:
            assert np.abs(Wc[:K] - W_ref).max() < 1e-12 and np.abs(bk - b_ref).max() < 1e-12
            assert np.abs(scores - scores_ref).max() < 1e-12 * np.abs(scores_ref).max()
        s = np.empty_like(scores)
        s[order] = scores
        by_example.append(s)
    assert np.array_equal(*by_example)
    X[:, -1] = X[:, 0]   # a column summed in the blocked loop and one in the plain loop: the same bits
    W[:, -1] = W[:, 0]
    Wc = np.concatenate([W, W])
    fused_epoch(X, y, Wc, b.copy(), perm, 0.05, 0.1, 30, function=fn)
    assert np.array_equal(Wc[:K, -1], Wc[:K, 0])


def assert_pixels_train_the_bits_of_the_decoded_array(fn, dtype, seed):
    """Every pixel value decoded in every vector lane of ``fn``'s build, normalised and raw: the epoch
    over the pixels ends with the bits of the epoch over the decoded array."""
    for normalise in (True, False):
        P, decoded, y, W, b, perm = pixel_inputs(260, 3072 + 3, 10, dtype, normalise, seed=seed, every_value=True)
        out = []
        for data in (P, decoded):
            Wc, bk = np.concatenate([W, W]), b.copy()
            fused_epoch(data, y, Wc, bk, perm, 0.05, 0.1, 30, function=fn)
            out.append((Wc, bk))
        assert all(np.array_equal(a, c) for a, c in zip(*out))


@pytest.mark.compiler
@pytest.mark.skipif(platform.machine() != "x86_64", reason="builds the compiled epoch for other x86-64 instruction sets")
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("march,needs", [("x86-64", "sse2"), ("haswell", "avx2"), ("native", "sse2")])
def test_each_instruction_set_decodes_every_pixel_value_in_every_lane(tmp_path, march, needs, dtype):
    """The pixels are widened to floats in vector lanes of 2 to 16 (SSE2 to AVX-512, float64 or
    float32): each build gives the bits of helpers.data.decode."""
    if needs not in _cpu_flags():
        pytest.skip(f"this CPU lacks {needs}")
    flags = tuple(f"-march={march}" if f == "-march=native" else f for f in compiled.FLAGS)
    fn = compiled.library_function(compile_library(dtype, tmp_path, flags), dtype)
    assert_pixels_train_the_bits_of_the_decoded_array(fn, dtype, seed=3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_gradient_column_has_the_same_bits_in_the_blocked_and_the_leftover_loops(dtype):
    """Column 0 is summed in the register-blocked loop, the last column (D is not a multiple of
    the vector width) in the plain one: with the same inputs they end with the same bits."""
    X, y, W, b, perm = inputs(300, 3072 + 3, 10, dtype, seed=4)
    X[:, -1] = X[:, 0]
    W[:, -1] = W[:, 0]
    Wc = np.concatenate([W, W])
    fused_epoch(X, y, Wc, b.copy(), perm, 0.05, 0.1, 100)
    assert np.array_equal(Wc[:10, -1], Wc[:10, 0]) and not np.array_equal(Wc[:10, 0], W[:, 0])


def test_a_batch_larger_than_the_data_is_one_batch_of_all_rows():
    X, y, W, b, perm = inputs(50, 16, 3, np.float64)
    out = []
    for n_batch in (50, 2 ** 61):
        Wc, bk = np.concatenate([W, W]), b.copy()
        fused_epoch(X, y, Wc, bk, perm, 0.1, 0.0, n_batch)
        out.append((Wc, bk))
    assert all(np.array_equal(a, c) for a, c in zip(*out))


def test_fused_epoch_is_bitwise_repeatable():
    X, y, W, b, perm = inputs(300, 3072, 10, np.float64)
    out = []
    for _ in range(2):
        Wc, bk, scores = np.concatenate([W, W]), b.copy(), np.empty((300, 10))
        fused_epoch(X, y, Wc, bk, perm, 0.05, 0.1, 100, scores=scores)
        out.append((Wc, bk, scores))
    assert all(np.array_equal(a, c) for a, c in zip(*out))


def test_a_diverging_epoch_gives_nan_or_inf_not_garbage():
    X, y, W, b, perm = inputs(40, 16, 3, np.float64)
    X[perm[0], 0] = 1e308
    Wc, bk = np.concatenate([W, W]), b.copy()
    Wc[:3, 0] = 1e10
    fused_epoch(X, y, Wc, bk, perm, 0.1, 0.0, 10)
    assert not np.isfinite(Wc[:3]).all()


@pytest.mark.parametrize("change,message", [
    (lambda a: a.update(labels=a["labels"].astype(np.int32)), "labels"),
    (lambda a: a.update(X=np.asfortranarray(a["X"])), "not C-contiguous"),
    (lambda a: a.update(perm=a["perm"] + 1), r"perm: indices must lie in \[0, 20\)"),
    (lambda a: a["Wc"].setflags(write=False), "writeable"),
    (lambda a: a.update(b=a["b"].astype(np.float32)), "b: expected"),
    (lambda a: a.update(labels=a["labels"] + 3), r"labels: classes must lie in \[0, 3\)"),
    (lambda a: a.update(b=a["b"][:0], Wc=a["Wc"][:0]), "at least one class"),
    (lambda a: a.update(X=a["X"].astype(">f8")), "machine's byte order"),
])
def test_fused_epoch_refuses_arrays_it_cannot_use_in_place(change, message):
    X, y, W, b, perm = inputs(20, 8, 3, np.float64)
    args = {"X": X, "labels": y, "Wc": np.concatenate([W, W]), "b": b, "perm": perm}
    change(args)
    with pytest.raises(ValueError, match=message):
        fused_epoch(args["X"], args["labels"], args["Wc"], args["b"], args["perm"], 0.1, 0.0, 5)


def test_a_compiled_epoch_of_another_dtype_is_refused():
    X, y, W, b, perm = inputs(20, 8, 3, np.float32)
    with pytest.raises(ValueError, match="a float64 epoch cannot train float32"):
        fused_epoch(X, y, np.concatenate([W, W]), b, perm, 0.1, 0.0, 5, function=load_function(np.float64))


def test_cc_may_be_a_command_with_arguments_and_the_library_is_readable_by_others(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", f"env {Path(compiled.find_compiler()[0]).name}")   # as CC="ccache gcc"
    path = compile_library(np.float64, tmp_path)
    assert compiled.find_compiler()[0].endswith("env")
    old = os.umask(0o022)
    os.umask(old)
    if old & 0o044 == 0:
        assert path.stat().st_mode & 0o755 == 0o755


def test_an_unwritable_project_folder_falls_back_to_the_user_s_cache(monkeypatch, tmp_path):
    real = compiled.compile_library
    folders = []

    def compile_or_refuse(dtype, folder, flags=compiled.FLAGS):
        folders.append(Path(folder))
        if len(folders) == 1:
            raise PermissionError(13, "Permission denied", str(folder))
        return real(dtype, folder, flags)

    monkeypatch.setattr(compiled, "compile_library", compile_or_refuse)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    compiled.load_function.cache_clear()
    try:
        assert compiled.load_function(np.float64) is not None
    finally:
        compiled.load_function.cache_clear()
    assert folders[1] == tmp_path / "cache" / "dd2424-a1" / "compiled"


def test_a_library_that_cannot_be_loaded_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(compiled, "compile_library", lambda dtype, folder, flags=compiled.FLAGS: tmp_path / "missing.so")
    compiled.load_function.cache_clear()
    try:
        with pytest.raises(CompileError, match="could not be built or loaded"):
            compiled.load_function(np.float64)
    finally:
        compiled.load_function.cache_clear()


def test_a_compile_error_is_a_clear_error_and_leaves_no_file(monkeypatch, tmp_path):
    broken = tmp_path / "compiled_epoch.c"
    broken.write_text("int f( {\n")
    monkeypatch.setattr(compiled, "SOURCE", broken)
    out = tmp_path / "lib"
    with pytest.raises(CompileError, match="compiling compiled_epoch.c with .* failed"):
        compile_library(np.float64, out)
    assert list(out.iterdir()) == []


def test_the_library_is_built_once_and_named_after_what_it_is_built_from(monkeypatch, tmp_path):
    path = compile_library(np.float64, tmp_path)
    stamp = path.stat().st_mtime_ns
    assert compile_library(np.float64, tmp_path) == path and path.stat().st_mtime_ns == stamp
    cc = compiled.find_compiler()
    assert library_name(np.float32, cc) != path.name
    edited = tmp_path / "compiled_epoch.c"
    edited.write_text(compiled.SOURCE.read_text() + "\n/* edited */\n")
    monkeypatch.setattr(compiled, "SOURCE", edited)
    assert library_name(np.float64, cc) != path.name
    monkeypatch.setattr(compiled, "cpu_signature", lambda: "another CPU")
    monkeypatch.setattr(compiled, "SOURCE", Path(compiled.__file__).with_name("compiled_epoch.c"))
    assert library_name(np.float64, cc) != path.name


def test_parallel_processes_compile_into_one_folder_without_harm(tmp_path):
    code = ("import sys, numpy as np; from helpers.compiled_epoch import compile_library; "
            "print(compile_library(np.float64, sys.argv[1]))")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
             for _ in range(3)]
    paths = {p.communicate()[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(paths) == 1
    assert [f.name for f in tmp_path.iterdir()] == [Path(paths.pop()).name]   # no temporary file left


def test_the_library_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(compiled.DIR_ENV, str(tmp_path))
    assert compiled.library_dir() == tmp_path
    monkeypatch.delenv(compiled.DIR_ENV)
    assert compiled.library_dir() == ROOT / "build" / "compiled"
    monkeypatch.setenv(compiled.DIR_ENV, "relative/k")
    assert compiled.library_dir() == ROOT / "relative" / "k"   # relative to the project, not the cwd
    assert os.path.basename(compiled.SOURCE) == "compiled_epoch.c"


def test_the_compiled_epoch_can_be_required_or_refused(monkeypatch, tmp_path, fresh_choice):
    no_compiler(monkeypatch, tmp_path)
    monkeypatch.setenv(compiled.EPOCH_ENV, "compiled")
    with pytest.raises(CompileError, match="needs a C compiler"):
        compiled.epoch_function(np.dtype(np.float64))
    monkeypatch.delenv("CC")
    monkeypatch.setenv(compiled.EPOCH_ENV, "numpy")
    compiled.epoch_function.cache_clear()
    assert compiled.epoch_function(np.dtype(np.float64)) is None     # a compiler is there, numpy was asked for
    monkeypatch.setenv(compiled.EPOCH_ENV, "fast")
    compiled.epoch_function.cache_clear()
    with pytest.raises(UserError, match="DD2424_EPOCH='fast': expected one of auto, compiled, numpy"):
        compiled.epoch_function(np.dtype(np.float64))


def test_a_library_built_before_is_used_without_a_compiler(monkeypatch, tmp_path, fresh_choice):
    monkeypatch.setenv(compiled.DIR_ENV, str(tmp_path / "lib"))
    built = compile_library(np.float64, tmp_path / "lib")
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    assert compiled.cached_library(np.float64, [tmp_path / "lib"]) == built
    assert compiled.epoch_function(np.dtype(np.float64)) is not None
    assert compiled.cached_library(np.float32, [tmp_path / "lib"]) is None          # another type: not that one
    monkeypatch.setattr(compiled, "cpu_signature", lambda: "another CPU")
    assert compiled.cached_library(np.float64, [tmp_path / "lib"]) is None          # another CPU: not that one


def test_the_library_s_name_covers_the_arguments_given_in_cc_and_the_flags(monkeypatch):
    cc = compiled.find_compiler()
    plain = library_name(np.float64, cc)
    assert library_name(np.float64, (*cc, "-mno-fma")) != plain
    assert library_name(np.float64, cc, (*compiled.FLAGS, "-mno-fma")) != plain
    assert plain.startswith(f"epoch-f64-{compiled.code_key(np.float64)}-")


def test_the_flags_can_be_replaced_by_one_environment_variable(monkeypatch, tmp_path):
    assert compiled.compile_flags() == compiled.FLAGS
    monkeypatch.setenv(compiled.FLAGS_ENV, "-O2 -march=x86-64 -fPIC -shared")
    assert compiled.compile_flags() == ("-O2", "-march=x86-64", "-fPIC", "-shared")
    if platform.machine() == "x86_64":
        path = compile_library(np.float64, tmp_path, compiled.compile_flags())
        fn = compiled.library_function(path, np.float64)
        X, y, W, b, perm = inputs(60, 40, 3, np.float64)
        W_ref, b_ref, _ = plain_epoch(X, y, W, b, perm, 0.05, 0.1, 7)
        Wc, bk = np.concatenate([W, W]), b.copy()
        fused_epoch(X, y, Wc, bk, perm, 0.05, 0.1, 7, function=fn)
        assert np.abs(Wc[:3] - W_ref).max() < 1e-12


def test_a_read_only_project_folder_falls_back_to_the_user_s_cache(monkeypatch, tmp_path, fresh_choice):
    import errno

    real = compiled.compile_library
    folders = []

    def read_only_first(dtype, folder, flags=compiled.FLAGS):
        folders.append(Path(folder))
        if len(folders) == 1:
            raise OSError(errno.EROFS, "Read-only file system", str(folder))
        return real(dtype, folder, flags)

    monkeypatch.setattr(compiled, "compile_library", read_only_first)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert compiled.load_function(np.float64) is not None
    assert folders[1] == tmp_path / "cache" / "dd2424-a1" / "compiled"


@pytest.mark.compiler
@pytest.mark.parametrize("compiler", ["gcc", "clang"])
def test_it_builds_and_agrees_with_gcc_and_with_clang(monkeypatch, tmp_path, compiler):
    """Both compilers build the epoch with the default flags, and it computes the course's epoch.
    A missing clang is a skip, or a failure where CI asks for it (CLANG_TESTS=required)."""
    import shutil

    if not shutil.which(compiler):
        if os.environ.get("CLANG_TESTS") == "required":
            pytest.fail(f"{compiler} is not installed (CI installs Debian's clang package)", pytrace=False)
        pytest.skip(f"{compiler} is not installed")
    monkeypatch.setenv("CC", compiler)
    path = compile_library(np.float64, tmp_path, compiled.compile_flags())
    assert compiler in compiled.build_info()["version"].lower()          # the library is this compiler's
    fn = compiled.library_function(path, np.float64)
    X, y, W, b, perm = inputs(203, 3072 + 5, 10, np.float64, seed=5)
    W_ref, b_ref, scores_ref = plain_epoch(X, y, W, b, perm, 0.05, 0.1, 30)
    Wc, bk, scores = np.concatenate([W, W]), b.copy(), np.empty((203, 10))
    fused_epoch(X, y, Wc, bk, perm, 0.05, 0.1, 30, scores=scores, function=fn)
    assert np.abs(Wc[:10] - W_ref).max() < 1e-12 * max(1.0, np.abs(W_ref).max())
    assert np.abs(bk - b_ref).max() < 1e-12 and np.abs(scores - scores_ref).max() < 1e-12 * np.abs(scores_ref).max()
    for dtype in (np.float64, np.float32):   # and decodes pixels as helpers.data.decode does
        fn = compiled.library_function(compile_library(dtype, tmp_path, compiled.compile_flags()), dtype)
        assert_pixels_train_the_bits_of_the_decoded_array(fn, dtype, seed=5)


