"""Shared fixtures: small CIFAR-10-format archives that the tests build themselves."""

import io
import json
import os
import pickle
import re
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from helpers import compiled_epoch as compiled
from helpers.cifar10 import FOLDER_NAME, TEST_BATCH, TRAIN_BATCHES, Expected, sha256_bytes
from helpers.paths import ROOT

def synthetic_split(n, seed, dim=20, dtype=np.float64):
    """A learnable split: class centres plus unit Gaussian noise, X: (n, dim), labels in 0..9."""
    from helpers.data import Split, one_hot

    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0, 1, size=(10, dim))
    y = rng.integers(0, 10, n)
    X = (centres[y] + rng.normal(0, 1.0, size=(n, dim))).astype(dtype)
    return Split(X, y, one_hot(y, dtype=dtype))


PER_CLASS_PER_BATCH = 4   # 40 images per training batch, 200 in all
TEST_PER_CLASS = 3        # 30 test images


def make_batches(seed=0, per_class=PER_CLASS_PER_BATCH, test_per_class=TEST_PER_CLASS):
    """Random uint8 batches in the official shapes (rows of 3072), balanced classes.

    Returns
    -------
    dict
        Batch name -> (data (N, 3072) uint8, labels list of int).
    """
    rng = np.random.default_rng(seed)
    batches = {}
    for name in TRAIN_BATCHES + (TEST_BATCH,):
        k = test_per_class if name == TEST_BATCH else per_class
        labels = np.repeat(np.arange(10), k)
        rng.shuffle(labels)
        # class-dependent mean so a classifier can learn something
        base = rng.integers(0, 256, size=(10, 3072))
        noise = rng.integers(-40, 41, size=(labels.size, 3072))
        data = np.clip(base[labels] + noise, 0, 255).astype(np.uint8)
        batches[name] = (data, labels.tolist())
    return batches


def batch_pickle(data, labels, name):
    """Pickle a batch as the official archive does (protocol 2, a dict)."""
    return pickle.dumps({"batch_label": name, "labels": labels, "data": data,
                         "filenames": [f"{name}_{i}.png" for i in range(len(labels))]}, protocol=2)


def write_archive(path, members):
    """Write a .tar.gz with ``members``: name -> bytes."""
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return Path(path)


def expected_for(batches, per_class=PER_CLASS_PER_BATCH, test_per_class=TEST_PER_CLASS):
    return Expected(
        data_sha256={name: sha256_bytes(np.ascontiguousarray(d).tobytes()) for name, (d, _) in batches.items()},
        train_per_class=per_class * len(TRAIN_BATCHES),
        test_per_class=test_per_class,
    )


def official_layout(batches):
    members = {f"{FOLDER_NAME}/{name}": batch_pickle(d, l, name) for name, (d, l) in batches.items()}
    members[f"{FOLDER_NAME}/batches.meta"] = pickle.dumps(
        {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
         "num_cases_per_batch": 40, "num_vis": 3072}, protocol=2)
    members[f"{FOLDER_NAME}/readme.html"] = b"<html>tiny test copy</html>"
    return members


@pytest.fixture(scope="session")
def tiny_batches():
    return make_batches()


@pytest.fixture(scope="session")
def tiny_expected(tiny_batches):
    return expected_for(tiny_batches)


@pytest.fixture
def tiny_archive(tmp_path, tiny_batches):
    """A small archive in the official layout; its content hashes are ``tiny_expected``."""
    return write_archive(tmp_path / "cifar-10-python.tar.gz", official_layout(tiny_batches))


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory, tiny_batches, tiny_expected):
    """A data folder with the tiny archive extracted and verified (shared, read-only use)."""
    from pipeline.extract import extract_and_verify

    root = tmp_path_factory.mktemp("tinydata")
    archive = write_archive(root / "cifar-10-python.tar.gz", official_layout(tiny_batches))
    extract_and_verify(archive, root, tiny_expected)
    return root


#: Programs that compile C: left out of :func:`path_without_compilers`.
COMPILERS = re.compile(r"^(cc|c89|c99|c\+\+|tcc|(.*-)?(gcc|g\+\+|clang(\+\+)?)(-[\d.]+)?)$")


def path_without_compilers(folder):
    """A PATH of one folder holding every program of this PATH but no C compiler (the first of each name).

    As on a slim image or a locked-down lab machine: make, bash, Python and the rest work, ``cc`` and
    ``gcc`` are not found.
    """
    import os

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if not entry or not Path(entry).is_dir():
            continue
        for program in Path(entry).iterdir():
            link = folder / program.name
            if COMPILERS.match(program.name) or link.exists() or link.is_symlink():
                continue
            if program.is_file() and os.access(program, os.X_OK):
                link.symlink_to(program)
    return str(folder)


def training_is_running(executed_nb):
    """True once papermill marks the cell that calls train_seeds as running (in the executed notebook,
    which is written under a temporary name until the run ends)."""
    for path in (executed_nb, *executed_nb.parent.glob(f".tmp-{executed_nb.name}.*")):
        try:
            nb = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if any("train_seeds(" in "".join(c["source"]) and
               c.get("metadata", {}).get("papermill", {}).get("status") == "running" for c in nb["cells"]):
            return True
    return False


def committed_text(name):
    """The text of the project's file ``name`` as last committed (the checkout's own when it is not a git
    checkout): tests about the shipped settings and variants do not depend on a user's edits."""
    import subprocess

    from helpers.paths import ROOT

    try:
        out = subprocess.run(["git", "show", f"HEAD:{name}"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        out = None
    return out.stdout if out is not None and out.returncode == 0 else (ROOT / name).read_text()


def require_playwright_chromium(what):
    """Chromium's path for a test that drives it with Playwright; skipped with the reason where either is
    missing, or failed when ``BROWSER_TESTS=required`` (CI)."""
    import os

    from pipeline.browser import BrowserMissing, find_chromium

    def missing(reason):
        if os.environ.get("BROWSER_TESTS") == "required":
            pytest.fail(f"{what}: {reason}", pytrace=False)
        pytest.skip(f"{what} skipped: {reason}")

    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing("Playwright is not installed (`make browser` installs it)")
    try:
        return find_chromium()
    except BrowserMissing as exc:
        missing(str(exc))


@pytest.fixture
def c_compiler():
    """A test of the compiled epoch itself: skipped, with the reason, where no C compiler is found
    (training then uses the NumPy epoch, which the other tests cover)."""
    from helpers.compiled_epoch import CompileError, find_compiler

    try:
        return find_compiler()
    except CompileError as exc:
        pytest.skip(f"the compiled epoch's tests need a C compiler: {exc}")


@pytest.fixture
def fresh_choice():
    """Forget which epoch this process chose, before and after the test."""
    compiled.epoch_function.cache_clear()
    compiled.load_function.cache_clear()
    yield
    compiled.epoch_function.cache_clear()
    compiled.load_function.cache_clear()


def no_compiler(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setenv(compiled.DIR_ENV, str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def project_copy(tmp):
    """The project's files in ``tmp/proj`` (modification times kept; the checkout's .venv is used)."""
    dst = tmp / "proj"
    shutil.copytree(ROOT, dst, symlinks=True, ignore=shutil.ignore_patterns(
        ".venv", ".git", "data", "results", "build", "report", "figures", "mutants", "scratch", "__pycache__",
        "*.egg-info", ".pytest_cache", ".ipynb_checkpoints"))
    # The copy uses the checkout's .venv: its environment files must never look newer than it, or its make
    # would reinstall the checkout's venv from the copy (and point the editable install at a temporary folder).
    for name in ("requirements.txt", "pyproject.toml"):
        os.utime(dst / name, (0, 0))
    return dst


#: Fixtures that build a tiny project (tens of seconds each; session-scoped, as pytest ends a module-scoped one
#: whenever a worker's next test is of another module): under pytest-xdist (`make test` runs ``-n JOBS --dist
#: loadgroup``) the tests that use one run on one worker, which builds it once.
SHARED_BUILDS = {"built_once", "searched", "pipeline"}


@pytest.hookimpl(tryfirst=True)   # before pytest-xdist's own, which reads the groups
def pytest_collection_modifyitems(items):
    for item in items:
        shared = sorted(SHARED_BUILDS.intersection(item.fixturenames))
        if shared:
            item.add_marker(pytest.mark.xdist_group(f"{item.module.__name__}.{shared[0]}"))
