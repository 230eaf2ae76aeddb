"""`make report` on tiny data: one target per setting, failures, interruptions, no-op and determinism."""

import json
import os
import re
import signal
import subprocess
import time

import pytest

from helpers.paths import ROOT
from helpers.settings import parse_settings

# A make started by these tests is a make of its own, even when pytest runs under `make test`:
# without this, it would inherit the outer make's jobserver and warn about it.
ENV = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}

GOOD = "lam,eta,n_batch,n_epochs\n0,0.1,20,2\n0.1,0.01,25,3\n"
BAD_AT_RUN_TIME = "0,0.01,151,2\n"  # n_batch larger than the 150 tiny training images


def make(out, data_dir, *targets, settings="settings.csv", jobs=1, check=False, timeout=600):
    args = ["make", "-C", str(ROOT), f"-j{jobs}", *targets, f"SETTINGS={out / settings}",
            f"DATA_DIR={data_dir}", f"RESULTS_DIR={out / 'results'}", f"FIGURES_DIR={out / 'figures'}",
            f"REPORT_DIR={out / 'report'}", f"BUILD_DIR={out / 'build'}", "N_VAL=50"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=ENV)
    if check:
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def executed(r):
    """Notebooks a make run executed."""
    return re.findall(r"\] (notebooks/\S+\.ipynb) -> ", r.stdout)


def result_files(out):
    files = {}
    for path in sorted(out.rglob("*")):
        if path.is_file() and path.name not in ("timing.json",) and path.suffix != ".ipynb" and "build" not in path.parts:
            files[str(path.relative_to(out))] = path.read_bytes()
    return files


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, tiny_data_dir):
    out = tmp_path_factory.mktemp("make")
    (out / "settings.csv").write_text(GOOD)
    r = make(out, tiny_data_dir, "report", jobs=2, check=True)
    return out, r


def test_make_report_builds_every_setting_and_prints_the_path(first_run):
    out, r = first_run
    assert f"Report: {out / 'report' / 'index.html'}" in r.stdout
    assert executed(r).count("notebooks/train.ipynb") == 2, r.stdout + r.stderr
    check = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "pipeline", "check", str(out / "report/index.html"),
                            str(out / "settings.csv")], capture_output=True, text=True, cwd=ROOT)
    assert check.returncode == 0 and "2 settings, 4 figures" in check.stdout


def test_second_make_report_runs_nothing(first_run, tiny_data_dir):
    out, _ = first_run
    r = make(out, tiny_data_dir, "report", check=True)
    assert executed(r) == []
    assert [ln for ln in r.stdout.splitlines() if not ln.startswith(("Report:", "make"))] == []
    assert r.stderr == ""


def test_bitwise_identical_results_on_a_clean_rebuild(first_run, tiny_data_dir, tmp_path):
    out, _ = first_run
    (tmp_path / "settings.csv").write_text(GOOD)
    make(tmp_path, tiny_data_dir, "report", check=True)
    a, b = result_files(out), result_files(tmp_path)
    assert sorted(a) == sorted(b)
    assert any(name.endswith(".png") for name in a) and any(name.endswith("results.json") for name in a)
    different = [name for name in a if a[name] != b[name]]
    assert different == []


def test_a_new_row_trains_only_the_new_setting(first_run, tiny_data_dir):
    out, _ = first_run
    (out / "settings.csv").write_text(GOOD + "1,0.01,30,2\n")
    try:
        r = make(out, tiny_data_dir, "report", check=True)
        assert executed(r).count("notebooks/train.ipynb") == 1
        assert "lam1_eta0.01_nb30_ep2" in r.stdout
        assert "report.ipynb" in " ".join(executed(r))
    finally:
        (out / "settings.csv").write_text(GOOD)


def test_a_failing_setting_is_named_and_the_others_stay_valid(tmp_path, tiny_data_dir):
    (tmp_path / "settings.csv").write_text(GOOD + BAD_AT_RUN_TIME)
    r = make(tmp_path, tiny_data_dir, "report", jobs=2)
    assert r.returncode != 0
    bad = parse_settings(GOOD + BAD_AT_RUN_TIME)[-1]
    line = [ln for ln in r.stderr.splitlines() if ln.startswith("error: setting")]
    assert len(line) == 1
    assert f"({bad.run_id}) failed in cell" in line[0]
    assert "n_batch=151 is out of range; allowed: an integer from 1 to 150" in line[0]
    assert f"open {tmp_path / 'results' / bad.run_id / 'train.ipynb'}" in line[0]
    assert not (tmp_path / "results" / bad.run_id / "results.json").exists()
    assert not (tmp_path / "report" / "index.html").exists()
    for good in parse_settings(GOOD):
        assert (tmp_path / "results" / good.run_id / "results.json").exists()
    # fix the row: the next make only redoes what is missing
    (tmp_path / "settings.csv").write_text(GOOD + "0,0.01,15,2\n")
    r = make(tmp_path, tiny_data_dir, "report", check=True)
    assert executed(r).count("notebooks/train.ipynb") == 1


def training_is_running(executed_nb):
    """True once papermill marks the cell that calls run_training as running."""
    try:
        nb = json.loads(executed_nb.read_text())
    except (OSError, ValueError):
        return False
    return any("run_training(" in "".join(c["source"]) and
               c.get("metadata", {}).get("papermill", {}).get("status") == "running" for c in nb["cells"])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_training_is_redone_not_accepted(tmp_path, tiny_data_dir, sig):
    (tmp_path / "settings.csv").write_text("lam,eta,n_batch,n_epochs\n0,0.01,10,3000\n")
    run = parse_settings((tmp_path / "settings.csv").read_text())[0]
    args = ["make", "-C", str(ROOT), "report", f"SETTINGS={tmp_path / 'settings.csv'}", f"DATA_DIR={tiny_data_dir}",
            f"RESULTS_DIR={tmp_path / 'results'}", f"FIGURES_DIR={tmp_path / 'figures'}",
            f"REPORT_DIR={tmp_path / 'report'}", f"BUILD_DIR={tmp_path / 'build'}", "N_VAL=50"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env=ENV)
    executed_nb = tmp_path / "results" / run.run_id / "train.ipynb"
    deadline = time.time() + 120
    while not training_is_running(executed_nb) and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.5)  # inside the training loop (about 10 s long)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    os.killpg(proc.pid, sig)  # what Ctrl-C (SIGINT) or a kill (SIGTERM) does to the whole job
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0, err
    assert not (tmp_path / "results" / run.run_id / "results.json").exists()
    assert not (tmp_path / "report" / "index.html").exists()
    # running again redoes the interrupted setting and completes
    (tmp_path / "settings.csv").write_text("lam,eta,n_batch,n_epochs\n0,0.01,10,3000\n")
    r = make(tmp_path, tiny_data_dir, "report", check=True)
    assert executed(r).count("notebooks/train.ipynb") == 1
    assert (tmp_path / "results" / run.run_id / "results.json").exists()


def test_make_clean_keeps_the_downloaded_archive(tmp_path):
    data = tmp_path / "data"
    (data / "cifar-10-batches-py").mkdir(parents=True)
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


def test_make_help_lists_the_targets():
    r = subprocess.run(["make", "-C", str(ROOT), "help"], capture_output=True, text=True, env=ENV)
    for target in ("report", "test", "data", "bench", "lab", "clean", "browser-check"):
        assert f"make {target} " in r.stdout


def test_changing_n_val_redoes_the_runs(first_run, tiny_data_dir):
    out, _ = first_run
    r = subprocess.run(["make", "-C", str(ROOT), "report", f"SETTINGS={out / 'settings.csv'}", f"DATA_DIR={tiny_data_dir}",
                        f"RESULTS_DIR={out / 'results'}", f"FIGURES_DIR={out / 'figures'}", f"REPORT_DIR={out / 'report'}",
                        f"BUILD_DIR={out / 'build'}", "N_VAL=40"], capture_output=True, text=True, timeout=600, env=ENV)
    try:
        assert r.returncode == 0, r.stderr
        assert executed(r).count("notebooks/train.ipynb") == 2
        assert "notebooks/gradient_check.ipynb" in executed(r)
    finally:
        make(out, tiny_data_dir, "report", check=True)  # back to N_VAL=50 for the other tests


def test_report_files_are_readable_by_others(first_run):
    out, _ = first_run
    umask = os.umask(0)
    os.umask(umask)
    for path in (out / "report/index.html", *out.glob("figures/*.png"), *out.glob("results/*/results.json")):
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path
