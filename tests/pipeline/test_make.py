"""`make report` on tiny data: targets per setting and variant, failures, interruptions, no-op, determinism,
exact dependencies, goal combinations and dry runs."""

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from helpers.paths import ROOT
from helpers.settings import FINE_INIT_STD, SEARCH_CHOICES, parse_settings
from tests.conftest import project_copy, training_is_running

pytestmark = pytest.mark.e2e   # a tier `make test` runs and `make test-fast` leaves out (pyproject.toml)

# A make started by these tests is a make of its own, even when pytest runs under `make test`:
# without this, it would inherit the outer make's jobserver and warn about it.
ENV = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}

GOOD = "lam,eta,n_batch,n_epochs,variants\n0,0.1,20,2,all\n0.1,0.01,25,3,all\n"
VARIANTS = "name,seeds,overrides,description\ncourse,1 2,,the course\nraw,3,normalise=false,raw pixels\n"
BAD_AT_RUN_TIME = "0,0.01,151,2,\n"  # n_batch larger than the 150 tiny training images


def make_args(out, data_dir, *targets, jobs=1, n_val=50):
    return ["make", "-C", str(ROOT), f"-j{jobs}", *targets, f"SETTINGS={out / 'settings.csv'}",
            f"VARIANTS={out / 'variants.csv'}", f"DATA_DIR={data_dir}", f"RESULTS_DIR={out / 'results'}",
            f"FIGURES_DIR={out / 'figures'}", f"REPORT_DIR={out / 'report'}", f"BUILD_DIR={out / 'build'}",
            f"N_VAL={n_val}", "GRADCHECK_SEARCH=small"]


def make(out, data_dir, *targets, jobs=1, check=False, timeout=900, n_val=50):
    r = subprocess.run(make_args(out, data_dir, *targets, jobs=jobs, n_val=n_val), capture_output=True, text=True,
                       timeout=timeout, env=ENV)
    if check:
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def executed(r):
    """Notebooks a make run executed."""
    return re.findall(r"\] (notebooks/\S+\.ipynb) -> ", r.stdout)


def result_files(out):
    files = {}
    for path in sorted(out.rglob("*")):
        # not the executed notebooks nor their rendered pages (report/runs/): they show a run's timings and paths
        if (path.is_file() and path.name not in ("timing.json",) and path.suffix != ".ipynb" and "build" not in path.parts
                and "runs" not in path.relative_to(out).parts[:2]):
            files[str(path.relative_to(out))] = path.read_bytes()
    return files


def project(tmp, settings=GOOD, variants=VARIANTS):
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "settings.csv").write_text(settings)
    (tmp / "variants.csv").write_text(variants)
    return tmp


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory, tiny_data_dir):
    """A private copy of the tiny data: make builds its caches there."""
    import shutil

    from helpers.cifar10 import FOLDER_NAME

    root = tmp_path_factory.mktemp("makedata")
    shutil.copytree(tiny_data_dir / FOLDER_NAME, root / FOLDER_NAME)
    return root


@pytest.fixture(scope="session")
def built_once(tmp_path_factory, data_dir):
    """A complete `make -j2 report` shared by the tests that only read it (each checks it is unchanged)."""
    out = project(tmp_path_factory.mktemp("once") / "p")
    r = make(out, data_dir, "report", jobs=2, check=True)
    return out, r


@pytest.fixture
def built(tmp_path, built_once):
    """A project folder of its own with a complete `make -j2 report`, for a test that changes it: a copy of
    ``built_once`` with its modification times, which make finds up to date (the rules name no absolute path)."""
    import shutil

    source, r = built_once
    out = tmp_path / "p"
    shutil.copytree(source, out, symlinks=True)
    return out, r


def test_make_report_builds_every_setting_and_variant_and_prints_the_path(built_once):
    out, r = built_once
    assert f"Report: {out / 'report' / 'index.html'}" in r.stdout
    assert executed(r).count("notebooks/train.ipynb") == 4, r.stdout + r.stderr   # 2 settings x 2 variants
    assert executed(r).count("notebooks/figures.ipynb") == 2
    check = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "pipeline", "check", str(out / "report/index.html"),
                            str(out / "settings.csv"), str(out / "variants.csv")], capture_output=True, text=True, cwd=ROOT)
    assert check.returncode == 0 and "2 settings, 4 figures" in check.stdout, check.stderr


def test_second_make_report_runs_nothing_and_a_dry_run_changes_nothing(built_once, data_dir):
    out, _ = built_once
    r = make(out, data_dir, "report", check=True)
    assert executed(r) == []
    assert [ln for ln in r.stdout.splitlines() if not ln.startswith(("Report:", "make"))] == []
    assert r.stderr == ""
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    dry = make(out, data_dir, "-n", "report", n_val=40, check=True)
    assert "notebooks/train.ipynb" in dry.stdout  # it says what a real run would do...
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before  # ...and touches nothing
    assert executed(make(out, data_dir, "report", check=True)) == []
    # make -q agrees: the report file is up to date (`report` itself is a phony goal)
    assert make(out, data_dir, "-q", str(out / "report" / "index.html")).returncode == 0


def test_a_copy_of_a_built_project_is_up_to_date(built, data_dir):
    out, _ = built
    r = make(out, data_dir, "report", check=True)
    assert executed(r) == [] and f"Report: {out / 'report' / 'index.html'}" in r.stdout


def test_a_new_setting_row_trains_only_the_new_setting_in_the_course_unless_it_names_more(built, data_dir):
    out, _ = built
    (out / "settings.csv").write_text(GOOD + "1,0.01,30,2,\n")
    r = make(out, data_dir, "report", check=True)
    assert executed(r).count("notebooks/train.ipynb") == 1  # the new setting in the course only (its variants blank)
    assert "course: lam=1, eta=0.01 (lam1_eta0.01_nb30_ep2" in r.stdout and "report.ipynb" in " ".join(executed(r))
    assert not (out / "results/raw/lam1_eta0.01_nb30_ep2").exists()
    html = (out / "report/index.html").read_text()
    assert '<tr data-run-id="lam1_eta0.01_nb30_ep2">' in html            # in Table 1, and trained in the course only
    row = re.search(r"<tr>(?:(?!</tr>).)*?lam1_eta0.01_nb30_ep2</code>(?:(?!</tr>).)*</tr>", html, re.S).group(0)
    assert row.endswith("<td><code>course</code></td>\n</tr>") or row.endswith("<td><code>course</code></td></tr>"), row
    (out / "settings.csv").write_text(GOOD + "1,0.01,30,2,raw\n")       # the row asks for the variant raw too
    r = make(out, data_dir, "results", check=True)
    assert executed(r).count("notebooks/train.ipynb") == 1 and "raw: lam=1, eta=0.01" in r.stdout


def test_a_changed_variant_row_reruns_only_that_variant_and_a_new_one_shows_in_the_report(built, data_dir):
    out, _ = built
    (out / "variants.csv").write_text(VARIANTS.replace("raw,3,", "raw,3 4,") + "wide,5,init_std=0.1,wide init\n")
    r = make(out, data_dir, "report", check=True)
    trained = re.findall(r"\[(\S+): lam=.*\] notebooks/train.ipynb", r.stdout)
    assert sorted(trained) == ["raw", "raw", "wide", "wide"], r.stdout
    html = (out / "report/index.html").read_text()
    assert '<td data-col="variant">wide</td>' in html


@pytest.mark.parametrize("goals", [["clean", "report"], ["-j4", "clean", "report"], ["report", "clean"]],
                         ids=["clean report", "-j4 clean report", "report clean"])
def test_goal_combinations_with_clean_run_clean_alone_then_everything(tmp_path, data_dir, goals):
    # a dry run on a project not built yet (a real one would delete the tiny data, which make cannot
    # re-verify against the official hashes): clean comes first and alone, then every training run
    out = project(tmp_path / "p")
    r = make(out, data_dir, "-n", *goals, check=True)
    lines = r.stdout.splitlines()
    clean = [i for i, ln in enumerate(lines) if ln.startswith("rm -rf") and "cifar-10-batches-py" in ln]
    runs = [i for i, ln in enumerate(lines) if "notebooks/train.ipynb" in ln]
    assert len(clean) == 1 and len(runs) == 4, r.stdout
    assert clean[0] < min(runs)
    assert "warning" not in r.stderr, r.stderr
    assert not (out / "results").exists() and not (out / "report").exists()  # a dry run


def test_make_test_report_is_not_silently_empty(tmp_path):
    # outputs of its own, so that the answer does not depend on what the user's checkout has built
    dirs = [f"{name}={tmp_path / name.lower()}" for name in ("RESULTS_DIR", "FIGURES_DIR", "REPORT_DIR", "BUILD_DIR")]
    r = subprocess.run(["make", "-C", str(ROOT), "-n", "test", "report", *dirs], capture_output=True, text=True, env=ENV)
    assert "pytest" in r.stdout and "notebooks/train.ipynb" in r.stdout, r.stdout + r.stderr


def test_make_test_runs_every_tier_and_test_fast_leaves_out_each_marked_one():
    """`make test` is the README's and CI's command: no tier may drop out of it."""
    import tomllib

    def pytest_line(goal):
        r = subprocess.run(["make", "-C", str(ROOT), "-n", goal], capture_output=True, text=True, env=ENV)
        return [ln for ln in r.stdout.splitlines() if " -m pytest " in ln] + [r.stderr]

    tiers = [m.split(":")[0] for m in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"][
        "ini_options"]["markers"]]
    assert sorted(tiers) == ["browser", "compiler", "e2e", "install"]
    full, fast = pytest_line("test"), pytest_line("test-fast")
    assert re.search(r" -m pytest -q -rfEs -n [1-9]\d* --dist loadgroup tests$", full[0]) and len(full) == 2, full
    marks = " and ".join(f"not {t}" for t in tiers)
    assert re.search(rf' -m pytest -q -rfEs -n [1-9]\d* --dist loadgroup -m "{marks}" tests$', fast[0]), fast


def test_every_setting_is_checked_against_every_variant_before_any_run(tmp_path, data_dir):
    out = project(tmp_path / "p", GOOD + BAD_AT_RUN_TIME)
    r = make(out, data_dir, "report", jobs=2)
    assert r.returncode != 0
    assert "n_batch=151 is out of range; allowed: an integer from 1 to 150 (its training set)" in r.stderr
    assert executed(r) == [] and not (out / "results").exists()


def test_the_settings_are_checked_once_though_the_build_runs_in_a_supervised_make(tmp_path, data_dir):
    out = project(tmp_path / "p")
    log, py = tmp_path / "validate.log", tmp_path / "python"
    py.write_text(f'#!/bin/sh\ncase "$*" in *"pipeline validate"*) echo "$*" >> {log};; esac\n'
                  f'exec {ROOT / ".venv" / "bin" / "python"} "$@"\n')
    py.chmod(0o755)
    r = subprocess.run([*make_args(out, data_dir, "data"), f"PY={py}"], capture_output=True, text=True, timeout=300,
                       env=ENV)
    assert r.returncode == 0, r.stderr
    assert len(log.read_text().splitlines()) == 1, log.read_text()


def test_a_failing_setting_is_named_and_the_others_stay_valid(tmp_path, data_dir):
    out = project(tmp_path / "p", variants="name,seeds,overrides,description\ncourse,1,,c\n")
    good, bad = parse_settings(GOOD)  # both start at once under -j2; make waits for the good one
    blocker = out / "results" / "course" / bad.setting_id / "seed1"  # a file where the seed's folder should go
    blocker.parent.mkdir(parents=True)
    blocker.write_text("in the way")
    r = make(out, data_dir, "report", jobs=2)
    assert r.returncode != 0
    line = [ln for ln in r.stderr.splitlines() if ln.startswith("error: course:")]
    assert len(line) == 1, r.stderr
    assert f"({bad.setting_id}, 1 seeds) failed in cell" in line[0]
    assert f"open {out / 'results' / 'course' / bad.setting_id / 'train.ipynb'} to see the traceback" in line[0]
    assert (out / "results" / "course" / good.setting_id / "summary.json").exists()
    assert not (out / "report" / "index.html").exists()
    blocker.unlink()
    r = make(out, data_dir, "results", check=True)          # the failed setting's training, only
    assert executed(r).count("notebooks/train.ipynb") == 1, r.stdout


def _default_signals():
    """In the child: default SIGINT/SIGTERM handling, even when the test process ignores them (nohup, CI)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


# --- two builds in one checkout: the second waits for the first (pipeline/lock.py) ------------------------

def test_a_second_make_report_in_the_same_checkout_waits_for_the_first_then_finds_everything_made(tmp_path, data_dir):
    from pipeline.lock import holder, waiting_line
    from tests.pipeline.test_lock import read_line

    out = project(tmp_path / "p", *SMALL)
    lock = out / "build" / "build.lock"
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(make_args(out, data_dir, "report", jobs=2), stdout=log, stderr=subprocess.STDOUT,
                                 text=True, env=ENV)
    deadline = time.monotonic() + 120
    while holder(lock)[0] != first.pid:                  # the first build holds the lock (it records its make's PID)
        assert first.poll() is None and time.monotonic() < deadline, (tmp_path / "first.log").read_text()
        time.sleep(0.05)
    second = subprocess.Popen(make_args(out, data_dir, "report"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=ENV)
    line = read_line(second.stderr)
    running = first.poll() is None
    assert first.wait(timeout=900) == 0, (tmp_path / "first.log").read_text()
    rest, err = second.communicate(timeout=300)
    assert line == waiting_line(first.pid, "make report") + "\n" and running
    assert second.returncode == 0 and err == "", err
    assert executed(subprocess.CompletedProcess([], 0, rest)) == [] and f"Report: {out / 'report' / 'index.html'}" in rest
    first_log = (tmp_path / "first.log").read_text()
    assert "waiting" not in first_log and executed(subprocess.CompletedProcess([], 0, first_log)).count(
        "notebooks/train.ipynb") == 1
    assert make(out, data_dir, "-q", str(out / "report" / "index.html")).returncode == 0     # whole and up to date


@pytest.mark.parametrize("goal", ["search", "test"])
def test_make_search_and_make_test_wait_for_a_running_build_a_dry_run_and_jupyterlab_do_not(tmp_path, data_dir, goal):
    """The lock held (as by a build of make report); Ctrl-C while waiting starts nothing."""
    from pipeline.lock import waiting_line
    from tests.pipeline.test_lock import hold, read_line, stand_in

    out = project(tmp_path / "p")
    running = stand_in()
    held = hold(out / "build" / "build.lock", running.pid)
    try:
        proc = subprocess.Popen(make_args(out, data_dir, goal), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True, env=ENV, preexec_fn=_default_signals)
        assert read_line(proc.stderr) == waiting_line(running.pid, "make report") + "\n"
        dry = make(out, data_dir, "-n", "report", timeout=120)
        assert dry.returncode == 0 and "waiting" not in dry.stderr and "notebooks/train.ipynb" in dry.stdout
        lab = make(out, data_dir, "lab", "LAB_ARGS=--version", timeout=120)
        assert lab.returncode == 0 and re.search(r"^\d+\.\d+\.\d+$", lab.stdout, re.M), lab.stdout + lab.stderr
        assert proc.poll() is None
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        held.close()
        running.stdin.close()
        running.wait()
    assert proc.returncode != 0
    assert f"interrupted while waiting for the build that runs (PID {running.pid}); nothing was started" in err
    assert sorted(p.name for p in out.iterdir()) == ["build", "settings.csv", "variants.csv"]
    assert [p.name for p in (out / "build").iterdir()] == ["build.lock"]


# --- stopped anywhere: a rerun finishes with the results of an uninterrupted build, retraining nothing finished ---

def lines(text):
    """The lines of ``text`` that show something."""
    return [ln for ln in text.splitlines() if ln.strip()]


def build_processes(out, pattern):
    """PIDs of the processes whose command line holds ``pattern``, and the project folder ``out`` in it or in their
    environment (a make started by make has its variables there)."""
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()

    def of_project(pid):
        try:
            return any(str(out) in Path(f"/proc/{pid}/{part}").read_text(errors="replace") for part in ("cmdline", "environ"))
        except OSError:
            return False

    return [int(p) for p in found if of_project(p)]


#: Who gets the signal while a run trains: the whole job (Ctrl-C), the make the user started alone (``kill``),
#: the build's make alone, or one notebook run alone; and the exit status the user's make then ends with.
WHO_IS_STOPPED = [("the whole job", signal.SIGINT), ("the whole job", signal.SIGTERM),
                  ("the user's make", signal.SIGTERM), ("the user's make", signal.SIGINT),
                  ("the build's make", signal.SIGTERM), ("a notebook run", signal.SIGINT),
                  ("a notebook run", signal.SIGTERM)]


@pytest.mark.parametrize("who, sig", WHO_IS_STOPPED, ids=[f"{w}-{s.name}" for w, s in WHO_IS_STOPPED])
def test_a_build_stopped_inside_training_says_so_in_one_line_whatever_gets_the_signal_and_keeps_nothing_of_the_run(
        tmp_path, data_dir, who, sig):
    """Stopped inside the training loop (make runs two jobs: the gradient check may be running beside it), whatever
    gets the signal: one line, the signal's status, nothing of the run kept (its summary, its seed's results, the
    report, any temporary file); after Ctrl-C, the next build redoes the run and completes."""
    # 2000 epochs: about 6 s of training here
    out = project(tmp_path / "p", "lam,eta,n_batch,n_epochs\n0,0.01,10,2000\n", "name,seeds,overrides,description\ncourse,1,,c\n")
    group = out / "results" / "course" / parse_settings((out / "settings.csv").read_text())[0].setting_id
    proc = subprocess.Popen(make_args(out, data_dir, "report", jobs=2), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, env=ENV, preexec_fn=_default_signals)
    deadline = time.time() + 120
    while not training_is_running(group / "train.ipynb") and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)  # inside the training loop
    assert proc.poll() is None and training_is_running(group / "train.ipynb"), "the training ended before it could be stopped"
    if who == "the whole job":
        os.killpg(proc.pid, sig)
    elif who == "the user's make":
        os.kill(proc.pid, sig)
    elif who == "the build's make":
        (build_make,) = build_processes(out, "^make --no-print-directory report$")
        os.kill(build_make, sig)
    else:
        (run,) = build_processes(out, r"^\S*python\S* -m pipeline execute .*notebooks/train\.ipynb")
        os.kill(run, sig)
    _, err = proc.communicate(timeout=120)
    assert lines(err) == [INTERRUPTED], err
    assert proc.returncode == -sig, proc.returncode                      # the user's make ends by the signal
    assert not (group / "summary.json").exists() and not list(out.rglob(".tmp-*"))
    assert not (group / "seed1" / "results.json").exists() and not (out / "report" / "index.html").exists()
    if (who, sig) == ("the whole job", signal.SIGINT):   # Ctrl-C: running again redoes the run, not accepting a part
        r = make(out, data_dir, "results", check=True)
        assert executed(r).count("notebooks/train.ipynb") == 1 and (group / "summary.json").exists(), r.stdout


SMALL = ("lam,eta,n_batch,n_epochs\n0,0.1,20,2\n", "name,seeds,overrides,description\ncourse,1 2,,the course\n")
INTERRUPTED = "interrupted: nothing partial was kept; run the same command again to resume"


def a_cell_runs(executed_nb):
    """True while papermill marks a cell of the executed notebook (or its temporary file) as running."""
    for path in (executed_nb, *executed_nb.parent.glob(f".tmp-{executed_nb.name}.*")):
        try:
            cells = json.loads(path.read_text())["cells"]
        except (OSError, ValueError, KeyError):
            continue
        if any(c.get("metadata", {}).get("papermill", {}).get("status") == "running" for c in cells):
            return True
    return False


def run_pages_written(out, since=0):
    """The run pages of the project ``out`` (those written at or after ``since``, in ns, when given)."""
    return sorted(p.name for p in (out / "report" / "runs").glob("*.html") if p.stat().st_mtime_ns >= since)


#: When to stop the build, read from what it has written: (name, signal, condition on the project folder, the time
#: the build started, in ns (a page a stopped build left does not count for the next), and how many run pages a
#: whole build writes).
STOP_POINTS = [
    ("the report notebook runs", signal.SIGINT,
     lambda out, since, pages: a_cell_runs(out / "results" / "executed" / "report.ipynb")),
    ("the run pages render", signal.SIGTERM,
     lambda out, since, pages: 0 < len(run_pages_written(out, since)) < pages - 1 and not (out / "report" / "index.html").exists()),
    ("the report renders", signal.SIGINT,
     lambda out, since, pages: len(run_pages_written(out, since)) == pages and not (out / "report" / "index.html").exists()),
]


def stop_when(args, condition, sig, timeout=600):
    """Start make (``args``), send ``sig`` to its whole job once ``condition()`` holds; (process, stdout, stderr)."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env=ENV, preexec_fn=_default_signals)
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, "the build ended before the point: " + "".join(proc.communicate())[-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(proc.pid, sig)
    out, err = proc.communicate(timeout=120)
    return proc, out, err


#: Put on PYTHONPATH, it holds the data preparation (``pipeline cache``) at its last step, the cache folder written
#: in its temporary name and not yet renamed into place: it writes the file $HOLD_READY, then waits to be stopped.
HOLD_CACHE = """
import os, sys, time
if "cache" in sys.argv and os.environ.get("HOLD_READY"):
    _replace = os.replace
    def replace(src, dst, *args, **kwargs):
        if os.path.basename(str(src)).startswith(".tmp-") and os.path.basename(os.path.dirname(str(dst))) == "cache":
            open(os.environ["HOLD_READY"], "w").close()
            time.sleep(600)
        return _replace(src, dst, *args, **kwargs)
    os.replace = replace
"""


def test_make_report_stopped_anywhere_then_rerun_ends_as_an_uninterrupted_build_retraining_nothing(
        tmp_path, tiny_data_dir, built_once):
    """One build stopped again and again: twice while it prepares the data (SIGINT, then SIGTERM; held at the moment
    the cache is written under its temporary name), then at each of :data:`STOP_POINTS` in turn, each stop one
    line with nothing partial kept, each rerun retraining nothing that had finished; the last rerun ends bit for bit
    as the uninterrupted ``built_once``. That one ran two jobs (BLAS on one thread each), these one (BLAS on every
    core), with data caches of their own: the same bytes whatever the jobs, the threads and the caches' build."""
    from helpers.cifar10 import FOLDER_NAME

    reference = built_once[0]
    seeds = sorted(p.relative_to(reference) for p in (reference / "results").rglob("seed*/results.json"))
    pages = len(run_pages_written(reference))
    assert len(seeds) == 6 and pages > 3             # 2 settings: 2 seeds in the course, 1 in raw; pages to stop among

    data = tmp_path / "data"       # its own data folder: no cache built yet
    shutil.copytree(tiny_data_dir / FOLDER_NAME, data / FOLDER_NAME)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOLD_CACHE)
    ready = tmp_path / "ready"
    out = project(tmp_path / "p")
    env = {**ENV, "PYTHONPATH": os.pathsep.join(filter(None, [str(hook), ENV.get("PYTHONPATH")])), "HOLD_READY": str(ready)}
    for sig in (signal.SIGINT, signal.SIGTERM):
        ready.unlink(missing_ok=True)
        proc = subprocess.Popen(make_args(out, data, "report"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True, env=env, preexec_fn=_default_signals)
        deadline = time.monotonic() + 300
        while not ready.exists():                     # the measured point: the cache is written, not yet in place
            assert proc.poll() is None, "the build ended before the point: " + "".join(proc.communicate())[-3000:]
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert list((data / "cache").glob(".tmp-*"))
        os.killpg(proc.pid, sig)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode != 0 and lines(err) == [INTERRUPTED], err
        assert list((data / "cache").iterdir()) == []                 # no cache, whole or partial
        assert not (out / "results").exists() or not list((out / "results").rglob("*.json"))
    trained = None
    for point, sig, condition in STOP_POINTS:                           # without the hook from here on
        since = time.time_ns()
        proc, stdout, err = stop_when(make_args(out, data, "report"), lambda: condition(out, since, pages), sig)
        assert proc.returncode != 0 and lines(err) == [INTERRUPTED], (point, err)                 # one line, once
        assert not (out / "report" / "index.html").exists() and not list(out.rglob(".tmp-*"))    # nothing partial kept
        if trained is None:
            assert "[data] preparing" in stdout
            trained = {p: p.stat().st_mtime_ns for p in (out / "results").rglob("seed*/results.json")}
            assert sorted(p.relative_to(out) for p in trained) == seeds    # training had finished
        else:
            assert "notebooks/train.ipynb" not in stdout, (point, stdout)
        assert {p: p.stat().st_mtime_ns for p in trained} == trained     # nothing retrained
    r = make(out, data, "report", check=True)
    assert "notebooks/train.ipynb" not in executed(r) and "notebooks/report.ipynb" in executed(r), r.stdout
    assert {p: p.stat().st_mtime_ns for p in trained} == trained
    a, b = result_files(out), result_files(reference)
    assert any(name.endswith(".png") for name in a) and any(name.endswith("results.json") for name in a)
    assert sorted(a) == sorted(b) and [name for name in a if a[name] != b[name]] == []      # bit for bit
    assert len(run_pages_written(out)) == pages


def test_make_clean_keeps_the_downloaded_archive(tmp_path):
    data = tmp_path / "data"
    (data / "cifar-10-batches-py").mkdir(parents=True)
    (data / "cache" / "x").mkdir(parents=True)
    (data / "cifar-10-python.tar.gz").write_bytes(b"archive")
    (data / ".tmp-extract-x").mkdir()
    for d in ("results/x", "report", "build", "figures"):
        (tmp_path / d).mkdir(parents=True, exist_ok=True)
    (tmp_path / "figures" / "a.png").write_bytes(b"png")
    r = subprocess.run(["make", "-C", str(ROOT), "clean", f"DATA_DIR={data}", f"RESULTS_DIR={tmp_path / 'results'}",
                        f"FIGURES_DIR={tmp_path / 'figures'}", f"REPORT_DIR={tmp_path / 'report'}",
                        f"BUILD_DIR={tmp_path / 'build'}"], capture_output=True, text=True, env=ENV)
    assert r.returncode == 0, r.stderr
    assert (data / "cifar-10-python.tar.gz").read_bytes() == b"archive"
    assert sorted(p.name for p in data.iterdir()) == ["cifar-10-python.tar.gz"]
    assert not (tmp_path / "results").exists() and not (tmp_path / "report").exists()
    assert list((tmp_path / "figures").iterdir()) == []


def test_make_pdf_installs_the_browser_first_or_names_the_one_command_to_run(tmp_path):
    """Where chromium is missing, the PDF's first step is `make browser`; where that cannot install (no root, a
    sudo that asks for a password), one line names the command, before any report is built."""
    bin_dir = tmp_path / "bin"       # the system's commands without chromium; an unprivileged user, sudo refused
    bin_dir.mkdir()
    for folder in ("/usr/local/bin", "/usr/bin", "/bin"):
        for tool in Path(folder).iterdir() if Path(folder).is_dir() else ():
            if not tool.name.startswith("chromium") and not (bin_dir / tool.name).exists():
                (bin_dir / tool.name).symlink_to(tool)
    for name, script in (("id", "echo 1000"), ("sudo", "echo 'sudo: a password is required' >&2; exit 1")):
        (bin_dir / name).unlink(missing_ok=True)
        (bin_dir / name).write_text(f"#!/bin/sh\n{script}\n")
        (bin_dir / name).chmod(0o755)
    assert shutil.which("chromium", path=str(bin_dir)) is None
    r = subprocess.run(["make", "-C", str(ROOT), "pdf", f"REPORT_DIR={tmp_path / 'report'}", f"BUILD_DIR={tmp_path / 'build'}",
                        f"RESULTS_DIR={tmp_path / 'results'}", f"FIGURES_DIR={tmp_path / 'figures'}"],
                       capture_output=True, text=True, timeout=300,
                       env={**ENV, "PATH": str(bin_dir), "BROWSER_CHECK_CHROMIUM": str(tmp_path / "no-chromium")})
    assert r.returncode != 0
    assert "== installing Debian's chromium" in r.stdout, r.stdout
    errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "run `sudo make browser` (or `make browser` as root), then this command again" in errors[0]
    assert "Traceback" not in r.stderr and not (tmp_path / "results").exists() and not (tmp_path / "report").exists()


def test_make_help_lists_the_targets():
    r = subprocess.run(["make", "-C", str(ROOT), "help"], capture_output=True, text=True, env=ENV)
    for target in ("report", "test", "test-fast", "data", "bench", "lab", "clean", "layout-check"):
        assert f"make {target} " in r.stdout


@pytest.mark.install
def test_an_old_python_is_refused_before_the_venv_is_made(tmp_path):
    fake = tmp_path / "python3.10"
    fake.write_text("#!/bin/sh\nif [ \"$1\" = -c ]; then case \"$2\" in *version_info*) exit 1;; "
                    "*python_version*) echo 3.10.13; exit 0;; esac; fi\nexit 1\n")
    fake.chmod(0o755)
    r = subprocess.run(["make", "-C", str(ROOT), "venv", f"PYTHON={fake}", f"VENV={tmp_path / 'venv'}"],
                       capture_output=True, text=True, env=ENV)
    assert r.returncode != 0
    assert "error: needs Python >= 3.11 (found 3.10.13); run with PYTHON=/path/to/python3.11" in r.stderr
    assert not (tmp_path / "venv").exists()


@pytest.mark.install
def test_a_failed_environment_build_leaves_no_venv(tmp_path):
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\ncase \"$*\" in *version_info*) exit 0;; *-m\\ venv*) mkdir -p \"$3/bin\"; exit 1;; esac\nexit 1\n")
    fake.chmod(0o755)
    r = subprocess.run(["make", "-C", str(ROOT), "venv", f"PYTHON={fake}", f"VENV={tmp_path / 'venv'}"],
                       capture_output=True, text=True, env=ENV)
    assert r.returncode != 0 and "building" in r.stderr and "nothing was kept" in r.stderr
    assert not (tmp_path / "venv").exists()


def test_lab_takes_options_and_allows_root():
    r = subprocess.run(["make", "-C", str(ROOT), "-n", "lab", "LAB_ARGS=--no-browser --port 8899"],
                       capture_output=True, text=True, env=ENV)
    assert "jupyter lab notebooks" in r.stdout and "--no-browser --port 8899" in r.stdout
    assert ("--allow-root" in r.stdout) == (os.getuid() == 0)


SEARCHED = ("lam,eta,n_batch,n_epochs,variants\n0,0.001,100,40,all\n", "name,seeds,overrides,description\ncourse,1,,c\nraw,3,normalise=false,r\n")


@pytest.fixture(scope="session")
def searched(tmp_path_factory, data_dir):
    """`make report`, then `make search`, of one setting of the original's (n_batch 100, 40 epochs): on tiny data its
    numbers are far from the original's, so the search trains it in the finer init_std values and each further choice
    alone, then combines and confirms."""
    out = project(tmp_path_factory.mktemp("search") / "s", *SEARCHED)
    make(out, data_dir, "report", jobs=2, check=True)
    shutil.copytree(out, out.parent / "reported", symlinks=True)    # the project before its search
    return out, make(out, data_dir, "search", jobs=2, check=True)


def test_make_search_trains_the_unexplained_settings_once_and_the_report_shows_them(searched, data_dir):
    out, r = searched
    trained = [n for n in executed(r) if n == "notebooks/train.ipynb"]
    # the screen: every fine init_std and every further choice, alone; then the combinations of those that raise
    # the score, then the winner with the course's seed it lacks
    rounds = re.findall(r"^search: refine round (\d) of at most 3: (.*) \((\d+) variants? to train\)$", r.stdout, re.M)
    assert [int(k) for k, _, _ in rounds] == [1, 2, 3], r.stdout          # every round, each one line
    for _, tried, n in rounds:
        assert int(n) == sum(len(part.split("trying ")[1].split(", ")) for part in tried.split("; ") if "trying " in part)
    refined = sum(int(n) for _, _, n in rounds)
    combos = int(re.search(r"^search: combine: \d+ choices? raises? .*; (\d+) combinations? to train$", r.stdout, re.M).group(1))
    confirm = re.search(r"^search: confirm: (.*)$", r.stdout, re.M).group(1)
    confirmed = "trained again with seeds 1" in confirm
    assert len(trained) == len(FINE_INIT_STD) + len(SEARCH_CHOICES) + refined + combos + confirmed, r.stdout + r.stderr
    assert "notebooks/report.ipynb" in executed(r)
    record = json.loads((out / "results/search.json").read_text())
    names = [v["name"] for v in record["variants"]]
    assert names[:len(FINE_INIT_STD) + len(SEARCH_CHOICES)] == [f"init-std-{v:g}" for v in FINE_INIT_STD] + list(SEARCH_CHOICES)
    assert len(names) == len(trained)
    screened = len(FINE_INIT_STD) + len(SEARCH_CHOICES)
    assert all(n.startswith(("init-std-", "smooth-")) for n in names[screened:screened + refined])
    assert all(n.startswith("combo-") for n in names[screened + refined:][:combos])
    assert confirmed == names[-1].startswith("confirm-")
    assert (out / "results/init-std-0.03/lam0_eta0.001_nb100_ep40_std0.03/summary.json").is_file()
    html = (out / "report/index.html").read_text()
    assert '<td data-col="variant">init-std-0.2</td>' in html
    # done is done: a second search and a plain report run nothing; the plain rules never saw the search's
    assert executed(make(out, data_dir, "search", check=True)) == []
    dry = make(out, data_dir, "-n", "report", check=True)
    assert "notebooks/" not in dry.stdout, dry.stdout


def search_groups(out):
    """The search's training groups of the project ``out``: every group of a variant that `make report` did not train."""
    return [g for g in (out / "results").glob("*/*") if g.is_dir() and g.parent.name not in ("course", "raw", "executed")]


def test_make_search_stopped_twice_inside_a_run_resumes_retraining_nothing_finished_and_ends_as_an_uninterrupted_one(
        tmp_path, data_dir, searched):
    """Stopped by SIGTERM inside its second run, resumed on two jobs and stopped by SIGINT inside a run once half the
    screen has finished, then resumed to the end: each stop one line and nothing partial, each resume retrains only
    what had not finished, and the end is bit for bit the uninterrupted search's."""
    out = tmp_path / "s"
    shutil.copytree(searched[0].parent / "reported", out, symlinks=True)   # its times kept: the report is up to date
    assert executed(make(out, data_dir, "report", check=True)) == []
    total = executed(searched[1]).count("notebooks/train.ipynb")

    def finished():
        return [g for g in search_groups(out) if (g / "summary.json").exists()]

    def a_run_trains_after(n):
        return lambda: len(finished()) >= n and any(a_cell_runs(g / "train.ipynb") for g in search_groups(out)
                                                    if not (g / "summary.json").exists())

    screened = len(FINE_INIT_STD) + len(SEARCH_CHOICES)
    assert total >= screened > 4, searched[1].stdout
    done = {}
    for sig, jobs, after in ((signal.SIGTERM, 1, 1), (signal.SIGINT, 2, screened // 2)):
        proc, _, err = stop_when(make_args(out, data_dir, "search", jobs=jobs), a_run_trains_after(after), sig)
        assert proc.returncode != 0 and lines(err) == [INTERRUPTED], err
        assert not list(out.rglob(".tmp-*")) and not (out / "results" / "search.json").exists()
        # finished: a group with its summary (make deletes the summary of a run it stopped; seed files the run had
        # saved whole stay until the rerun writes them again, the summary last)
        assert {p: p.stat().st_mtime_ns for p in done} == done                # what had finished was not retrained
        done = {p: p.stat().st_mtime_ns for g in finished() for p in g.glob("seed*/results.json")}
    finished_groups = finished()
    assert len(finished_groups) > 1 and len(done) >= len(finished_groups), finished_groups
    r = make(out, data_dir, "search", jobs=2, check=True)
    assert executed(r).count("notebooks/train.ipynb") == total - len(finished_groups), r.stdout   # every run not finished
    assert {p: p.stat().st_mtime_ns for p in done} == done
    a, b = result_files(out), result_files(searched[0])
    assert sorted(a) == sorted(b) and [name for name in a if a[name] != b[name]] == []      # bit for bit


def test_make_report_without_a_c_compiler_trains_with_the_numpy_epoch(tmp_path, data_dir):
    """On a PATH with no C compiler and no library built before: a notice, then the whole report."""
    from tests.conftest import path_without_compilers

    out = project(tmp_path / "p", settings="lam,eta,n_batch,n_epochs\n0,0.1,20,2\n",
                  variants="name,seeds,overrides,description\ncourse,1 2,,the course\n")
    env = {k: v for k, v in ENV.items() if k != "CC"}
    env.update(PATH=path_without_compilers(tmp_path / "bin"), DD2424_COMPILED_DIR=str(tmp_path / "kernel"),
               XDG_CACHE_HOME=str(tmp_path / "cache"))
    r = subprocess.run(make_args(out, data_dir, "report"), capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "\nnotice: training needs a C compiler" in r.stdout and "NumPy epoch" in r.stdout
    # once, beside the count of runs, and not from the counting dry run as well
    assert r.stdout.count("notice: training needs a C compiler") == 1
    assert r.stdout.index("notebook runs to do") < r.stdout.index("notice: training needs")
    setting = parse_settings((out / "settings.csv").read_text())[0]
    for seed in (1, 2):
        doc = json.loads((out / "results/course" / setting.setting_id / f"seed{seed}/results.json").read_text())
        assert doc["epoch"] == "numpy" and doc["epochs_run"] == 2
    assert (out / "report/index.html").is_file() and not (tmp_path / "kernel").exists()
    again = subprocess.run(make_args(out, data_dir, "report"), capture_output=True, text=True, timeout=300, env=env)
    assert again.returncode == 0 and "notice" not in again.stdout + again.stderr   # nothing to train: nothing to say


# --- exploring beside the build: a copy of the project whose notebooks a test may edit ---------------

def make_in(root, out, data_dir, *targets, check=True):
    args = make_args(out, data_dir, *targets)
    args[2] = str(root)                                   # make -C root
    r = subprocess.run([*args, f"VENV={ROOT / '.venv'}"], capture_output=True, text=True, timeout=900, env=ENV)
    if check:
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def save_as_jupyterlab_does(path, quick):
    """Outputs and execution counts in every code cell, new metadata, and ``quick`` set in the parameters."""
    nb = json.loads(path.read_text())
    for i, cell in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
        source = "".join(cell["source"])
        if "parameters" in cell["metadata"].get("tags", []):
            cell["source"] = source.replace("quick = False", f"quick = {quick}")
            assert quick is False or cell["source"] != source
        cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": f"output {i}\n"}]
        cell["execution_count"] = i + 1
        cell["metadata"]["scrolled"] = True
    nb["metadata"]["language_info"] = {"name": "python", "version": "3.11.7"}
    path.write_text(json.dumps(nb, indent=1))


def test_a_notebook_saved_in_jupyterlab_retrains_nothing_and_a_code_change_reruns_only_its_runs(tmp_path, data_dir, built):
    root = project_copy(tmp_path)
    out, _ = built                                     # built by the checkout, whose files the copy holds
    assert executed(make_in(root, out, data_dir, "report")) == []
    report = (out / "report/index.html").read_bytes()
    save_as_jupyterlab_does(root / "notebooks/train.ipynb", quick=False)
    save_as_jupyterlab_does(root / "notebooks/figures.ipynb", quick=False)
    r = make_in(root, out, data_dir, "report")
    assert executed(r) == [], r.stdout
    save_as_jupyterlab_does(root / "notebooks/train.ipynb", quick=True)
    r = make_in(root, out, data_dir, "report")
    assert executed(r) == [] and (out / "report/index.html").read_bytes() == report, r.stdout
    assert not list((out / "results").rglob("*_ep5"))                 # no quick runs in the build's results
    # a code cell of the figures notebook changed: its runs (one per setting) and the report, nothing else
    figures = root / "notebooks/figures.ipynb"
    nb = json.loads(figures.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    code[-1]["source"] = "".join(code[-1]["source"]) + "\n# restyled"
    figures.write_text(json.dumps(nb, indent=1))
    r = make_in(root, out, data_dir, "report")
    assert sorted(executed(r)) == ["notebooks/figures.ipynb"] * 2 + ["notebooks/report.ipynb"], r.stdout
    # and the checkout's environment still imports the checkout's helpers, not the copy's
    where = subprocess.run([str(ROOT / ".venv/bin/python"), "-c", "import helpers; print(helpers.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path)
    assert where.stdout.startswith(str(ROOT / "helpers")), where.stdout + where.stderr


def planned(r):
    """Notebooks a dry run (make -n) would execute."""
    return sorted(re.findall(r"-m pipeline execute --all-parameters\s+(notebooks/\S+\.ipynb)", r.stdout))


def git(root, *args):
    subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@example.org", *args], cwd=root, check=True,
                   capture_output=True, text=True, timeout=60)


def test_helpers_as_they_were_redo_nothing_and_a_changed_one_redoes_exactly_the_notebooks_that_import_it(tmp_path, data_dir, built):
    """Touching every file of helpers/ and a branch switch and back (a git checkout that rewrites a file as it
    was) plan nothing; a one-character change to model.py reruns what imports it, one to figures.py only the
    figures and the report."""
    root = project_copy(tmp_path)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "as built")
    out, _ = built                                     # built by the checkout, whose files the copy holds
    assert executed(make_in(root, out, data_dir, "report")) == []
    for path in (root / "helpers").iterdir():
        os.utime(path)
    assert planned(make_in(root, out, data_dir, "-n", "report")) == []
    assert executed(make_in(root, out, data_dir, "report")) == []
    model = root / "helpers" / "model.py"
    git(root, "checkout", "-q", "-b", "other")
    model.write_text(model.read_text() + "\n# another branch\n")
    git(root, "commit", "-q", "-am", "another model")
    git(root, "checkout", "-q", "main")                       # model.py rewritten as it was, with a new time
    assert model.stat().st_mtime > (out / "report" / "index.html").stat().st_mtime
    assert planned(make_in(root, out, data_dir, "-n", "report")) == []
    # one character: every notebook whose helpers' closure holds model.py reruns, and what reads their results
    model.write_text(model.read_text().replace("Scores", "scores", 1))
    from pipeline.deps import notebook_dependencies

    importers = {stem for stem in ("train", "figures", "gradient_check", "report")
                 if model in notebook_dependencies(root / "notebooks" / f"{stem}.ipynb", root / "helpers")}
    assert importers == {"train", "gradient_check"}
    assert planned(make_in(root, out, data_dir, "-n", "report")) == sorted(
        ["notebooks/train.ipynb"] * 4 + ["notebooks/figures.ipynb"] * 2 + ["notebooks/gradient_check.ipynb",
                                                                           "notebooks/report.ipynb"])
    git(root, "checkout", "-q", "--", "helpers/model.py")
    assert planned(make_in(root, out, data_dir, "-n", "report")) == []
    figures = root / "helpers" / "figures.py"
    figures.write_text(figures.read_text() + " ")
    assert planned(make_in(root, out, data_dir, "-n", "report")) == ["notebooks/figures.ipynb"] * 2 + ["notebooks/report.ipynb"]
    # results built before the stamps existed (build/helpers/ gone): judged by the files' times, as then
    git(root, "checkout", "-q", "--", "helpers/figures.py")
    before = time.time() - 86400                         # older than anything made (the shared data's caches too)
    for path in (root / "helpers").iterdir():
        os.utime(path, (before, before))
    os.utime(root / "helpers" / "model.py", (before + 30, before + 30))
    shutil.rmtree(out / "build" / "helpers")
    assert executed(make_in(root, out, data_dir, "report")) == []
    stamps = {p.parent.name: p.stat().st_mtime for p in (out / "build" / "helpers").glob("*/*")}
    assert sorted(stamps) == ["cache", "figures", "gradient_check", "report", "train"]
    assert stamps["train"] == before + 30 and stamps["figures"] == before     # the newest of each one's files


def test_a_run_that_is_not_the_one_make_asked_for_fails_its_rule_with_one_line(tmp_path, data_dir):
    """A code cell that changes a parameter after the parameters cell (here: no normalisation) trains
    another run than the rule's: the rule fails with one line and keeps nothing."""
    root = project_copy(tmp_path)
    out = project(tmp_path / "p", settings="lam,eta,n_batch,n_epochs\n0,0.1,20,2\n",
                  variants="name,seeds,overrides,description\ncourse,1,,the course\n")
    train = root / "notebooks/train.ipynb"
    nb = json.loads(train.read_text())
    params = next(i for i, c in enumerate(nb["cells"]) if "parameters" in c["metadata"].get("tags", []))
    nb["cells"].insert(params + 1, {"cell_type": "code", "id": "override", "metadata": {},
                                    "source": "run = {**run, \"normalise\": False}", "outputs": [], "execution_count": None})
    train.write_text(json.dumps(nb, indent=1))
    r = make_in(root, out, data_dir, "results", check=False)
    assert r.returncode != 0
    errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "is not the run make asked for: normalise = False, not True" in errors[0], r.stderr
    assert not list((out / "results").rglob("summary.json"))


def test_a_dry_run_with_another_settings_file_writes_nothing_and_leaks_into_nothing(tmp_path, data_dir):
    out = project(tmp_path / "p")
    (out / "mine.csv").write_text("lam,eta,n_batch,n_epochs\n0.5,0.05,10,1\n")
    mine = make_args(out, data_dir, "-n", "report")
    mine[mine.index(f"SETTINGS={out / 'settings.csv'}")] = f"SETTINGS={out / 'mine.csv'}"
    r = subprocess.run(mine, capture_output=True, text=True, timeout=300, env=ENV)
    assert r.returncode == 0 and "lam0.5_eta0.05_nb10_ep1" in r.stdout, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["mine.csv", "settings.csv", "variants.csv"]   # nothing written
    plain = make(out, data_dir, "-n", "report", check=True)
    assert "lam0.5_eta0.05" not in plain.stdout
    ids = {s.setting_id for s in parse_settings(GOOD)}
    trained = set(re.findall(r"results/course/(\S+?)/summary\.json", plain.stdout))
    assert trained == ids


def test_an_init_std_row_beside_the_same_setting_is_a_setting_of_its_own_end_to_end(tmp_path, data_dir):
    """A row with init_std (another left blank) beside a variant that sets init_std: both rows' runs,
    the variant's shared run trained once, no make warning; Table 1 has both rows; the check passes."""
    settings = "lam,eta,n_batch,n_epochs,init_std,variants\n0,0.1,20,2,,all\n0,0.1,20,2,0.05,all\n"
    variants = "name,seeds,overrides,description\ncourse,1 2,,the course\nwide,3,init_std=0.1,wider\n"
    out = project(tmp_path / "p", settings=settings, variants=variants)
    r = make(out, data_dir, "report", jobs=2, check=True)
    assert "warning" not in r.stderr.lower(), r.stderr
    assert executed(r).count("notebooks/train.ipynb") == 3        # course x 2 rows, wide x 1 (shared)
    html = (out / "report/index.html").read_text()
    for s in parse_settings(settings):
        assert f'<tr data-run-id="{s.setting_id}">' in html and f'id="fig1-{s.setting_id}"' in html
    check = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "pipeline", "check", str(out / "report/index.html"),
                            str(out / "settings.csv"), str(out / "variants.csv")], capture_output=True, text=True, cwd=ROOT)
    assert check.returncode == 0 and "2 settings, 4 figures" in check.stdout, check.stderr


def test_a_row_that_repeats_a_variant_s_runs_is_refused_before_any_run_naming_both(tmp_path, data_dir):
    settings = "lam,eta,n_batch,n_epochs,init_std,variants\n0,0.1,20,2,,all\n0,0.1,20,2,0.1,\n"
    variants = "name,seeds,overrides,description\ncourse,1 2,,the course\nwide,2,init_std=0.1,wider\n"
    out = project(tmp_path / "p", settings=settings, variants=variants)
    r = make(out, data_dir, "report")
    assert r.returncode != 0 and not (out / "results").exists()
    assert "settings row 1 (λ = 0, η = 0.1, n_batch = 20, n_epochs = 2) in variant 'wide' is the run of settings row 2" \
        in r.stderr, r.stderr


def test_make_report_says_how_many_runs_there_are_and_counts_them_with_the_time_left(built_once):
    out, r = built_once
    assert r.stdout.count("notebook runs to do") == 1, r.stdout
    total = int(re.search(r"^== (\d+) notebook runs to do$", r.stdout, re.M).group(1))
    assert total == len(re.findall(r"\] done in ", r.stdout)) == 4 + 2 + 2    # train 4, figures 2, gradcheck, report
    counts = [int(k) for k in re.findall(rf"\] done in [\d.]+ s \((\d+) of {total} runs", r.stdout)]
    assert sorted(counts) == list(range(1, total + 1))                          # -j2: every run counted once
    assert re.search(rf"\(1 of {total} runs; about \d+ (s|min) left\)", r.stdout)
    assert re.search(rf"\({total} of {total} runs\)", r.stdout)


# --- text from the files a user edits: refused before any run, or shown on the page as text -------------

#: Markup of every kind (an element, event attributes, links of each syntax, a bare address, emphasis, code); the
#: tag name and the attribute data-hostile are markers no page of the project has. Its image is a local file: one
#: from the network would be refused by the renderer's own check before these tests' checks could see it.
HOSTILE = ('<script src="data:text/javascript,alert(1)"></script><img src="x" onerror="alert(1)"><svg onload="alert(1)">'
           '<hostile-tag data-hostile="1">x</hostile-tag> <a href="javascript:alert(1)">a</a> [link](javascript:alert(1)) '
           '![i](i.png) <http://evil.example> http://evil.example/x www.evil.example **bold** `c` | &amp;')


def csv_text(rows):
    """A CSV file's text, quoted where needed."""
    import csv
    import io

    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


SETTING_ROW = {"lam": "0", "eta": "0.1", "n_batch": "20", "n_epochs": "2", "init_std": "", "variants": "all"}
VARIANT_ROWS = [{"name": "course", "seeds": "1", "overrides": "", "description": "the course"},
                {"name": "raw", "seeds": "3", "overrides": "normalise=false", "description": "raw pixels"}]


def hostile_files(settings_column=None, variants_column=None):
    """The settings and variants files' texts with HOSTILE in one column of the second variant's row (in the
    first setting's ``settings_column``, or ``overrides`` as ``key=HOSTILE``)."""
    setting = {**SETTING_ROW, **({settings_column: HOSTILE} if settings_column else {})}
    variants = [dict(v) for v in VARIANT_ROWS]
    if variants_column:
        variants[1][variants_column] = f"init_std={HOSTILE}" if variants_column == "overrides=value" else HOSTILE
    return (csv_text([list(SETTING_ROW), list(setting.values())]),
            csv_text([list(VARIANT_ROWS[0])] + [list(v.values()) for v in variants]))


@pytest.mark.parametrize("settings_column, variants_column", [(c, None) for c in SETTING_ROW] + [
    (None, c) for c in ("name", "seeds", "overrides", "overrides=value")])
def test_hostile_text_in_a_column_that_is_no_free_text_is_refused_in_one_line_before_anything_is_made(
        tmp_path, data_dir, settings_column, variants_column):
    out = project(tmp_path / "p", *hostile_files(settings_column, variants_column))
    r = make(out, data_dir, "report")
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and ("settings.csv row 1" if settings_column else "variants.csv row 2") in lines[0], r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["build", "settings.csv", "variants.csv"]      # nothing made
    assert [p.name for p in (out / "build").iterdir()] == ["build.lock"]                          # but the lock


class Page:
    """A rendered page's elements (tag, attributes) and text, by html.parser."""

    def __init__(self, path):
        from html.parser import HTMLParser

        self.tags, self.text = [], []
        parser = HTMLParser(convert_charrefs=True)
        parser.handle_starttag = lambda tag, attrs: self.tags.append((tag, dict(attrs)))
        parser.handle_startendtag = parser.handle_starttag
        parser.handle_data = self.text.append
        parser.feed(path.read_text())
        parser.close()

    def text_content(self):
        return "".join(self.text)


def test_hostile_descriptions_reach_the_page_as_text_no_element_no_attribute_no_live_link(tmp_path, data_dir):
    """HOSTILE in both variants' descriptions (the one column of free text), and in a comment of each file."""
    from pipeline.render import CONTENT_SECURITY_POLICY, page_policy

    settings, _ = hostile_files()
    variants = csv_text([list(VARIANT_ROWS[0]), ["course", "1", "", HOSTILE.replace('"', "'")],
                         ["raw", "3", "normalise=false", HOSTILE]])
    out = project(tmp_path / "p", f"# {HOSTILE}\n{settings}", f"# {HOSTILE}\n{variants}")
    make(out, data_dir, "report", jobs=2, check=True)
    index = out / "report" / "index.html"
    page = Page(index)
    text = page.text_content()
    # each description twice: the list of section 2.4 and the ranking of section 3.2; the comments nowhere
    assert text.count(HOSTILE) == 2 and text.count(HOSTILE.replace('"', "'")) == 2
    assert text.count("hostile-tag") == 2 * 2 * 2
    tags = {tag for tag, _ in page.tags}
    assert not tags & {"script", "svg", "hostile-tag", "iframe", "object", "embed"}, tags
    attributes = {name for _, attrs in page.tags for name in attrs}
    assert not [a for a in attributes if a.startswith("on") or a == "data-hostile"], attributes
    links = [attrs["href"] for tag, attrs in page.tags if tag == "a" and "href" in attrs]   # <a id="glossary"> has none
    assert links and [h for h in links if not (h.startswith("#") or h.startswith("runs/"))] == []
    assert [attrs["src"][:11] for tag, attrs in page.tags if tag == "img"] == ["data:image/"] * len(
        [t for t, _ in page.tags if t == "img"])
    for path in [index, *sorted((out / "report" / "runs").glob("*.html"))]:
        assert page_policy(path.read_text()) == CONTENT_SECURITY_POLICY, path
