"""The command line: one-line errors, exit status 2, no traceback."""

import subprocess
import sys

import pytest

from pipeline.cli import counted, main, parse_value
from helpers.paths import ROOT
from tests.conftest import committed_text


def run_cli(*args, env=None, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


def test_data_with_a_missing_archive_is_one_clear_line(tmp_path):
    r = run_cli("data", "--data-dir", str(tmp_path / "d"), "--archive", str(tmp_path / "none.tar.gz"))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0
    assert r.stderr.startswith("error: CIFAR10_ARCHIVE=") and "does not exist" in r.stderr
    assert "Traceback" not in r.stderr


def test_no_internet_and_no_archive_says_how_to_supply_it(tmp_path):
    r = run_cli("data", "--data-dir", str(tmp_path / "d"), "--url", "http://127.0.0.1:9/cifar-10-python.tar.gz",
                "--quiet", env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "could not download" in r.stderr and "CIFAR10_ARCHIVE=/path/to/cifar-10-python.tar.gz make report" in r.stderr


def test_data_from_a_local_archive(tmp_path, tiny_archive, monkeypatch, capsys):
    # the tiny archive is not CIFAR-10: verification against the official hashes must refuse it
    code = main(["data", "--data-dir", str(tmp_path / "d"), "--archive", str(tiny_archive)])
    assert code == 2
    assert "does not match the official CIFAR-10" in capsys.readouterr().err
    assert list((tmp_path / "d").iterdir()) == []


@pytest.mark.parametrize("text,value", [("0", 0), ("0.1", 0.1), ("[1, 2]", [1, 2]), ("data", "data"),
                                        ("true", True)])
def test_parse_value(text, value):
    assert parse_value(text) == value


def test_interrupt_exits_130_with_a_message(monkeypatch, capsys):
    import pipeline.cli as cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_render", interrupted)
    assert cli.main(["render", "a", "b"]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_a_missing_notebook_is_one_line(tmp_path):
    r = run_cli("execute", str(tmp_path / "nope.ipynb"), str(tmp_path / "out.ipynb"))
    assert r.returncode == 2
    assert r.stderr.startswith("error: ") and "nope.ipynb" in r.stderr
    assert "Traceback" not in r.stderr


def test_validate_refuses_a_batch_larger_than_a_variants_training_set(tmp_path):
    (tmp_path / "s.csv").write_text("lam,eta,n_batch,n_epochs,variants\n0,0.1,20000,40,all\n")
    r = run_cli("validate", str(tmp_path / "s.csv"), str(ROOT / "variants.csv"))
    assert r.returncode == 2
    assert "variant 'one-batch': n_batch=20000 is out of range; allowed: an integer from 1 to 10000" in r.stderr


def test_validate_says_before_any_run_that_training_will_use_the_numpy_epoch(tmp_path):
    import os

    env = {**os.environ, "CC": str(tmp_path / "no-cc"), "DD2424_COMPILED_DIR": str(tmp_path / "none"),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    (tmp_path / "s.csv").write_text(committed_text("settings.csv"))
    (tmp_path / "v.csv").write_text(committed_text("variants.csv"))
    r = run_cli("validate", str(tmp_path / "s.csv"), str(tmp_path / "v.csv"), env=env)
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith("notice: training needs a C compiler") and "NumPy epoch" in r.stderr
    assert "Traceback" not in r.stderr
    r = run_cli("validate", str(tmp_path / "s.csv"), str(tmp_path / "v.csv"), env={**env, "DD2424_EPOCH": "numpy"})
    assert r.returncode == 0 and r.stderr == ""     # asked for: no notice


# --- CIFAR10_ARCHIVE is needed once: the verified archive is kept in data/ -------------------

@pytest.fixture
def tiny_verification(monkeypatch, tiny_expected):
    """`python -m pipeline data` verifying against the tiny archive's content, not CIFAR-10's."""
    import functools

    import pipeline.extract

    monkeypatch.setattr(pipeline.extract, "extract_and_verify",
                        functools.partial(pipeline.extract.extract_and_verify, expected=tiny_expected))


def test_a_local_archive_is_kept_so_that_the_variable_is_needed_once(tmp_path, tiny_archive, tiny_verification,
                                                                     monkeypatch, capsys):
    import shutil

    from pipeline.download import ARCHIVE_NAME

    data = tmp_path / "d"
    monkeypatch.setenv("CIFAR10_ARCHIVE", str(tiny_archive))
    assert main(["data", "--data-dir", str(data), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"data: kept {tiny_archive} as {data / ARCHIVE_NAME} (a hard link): later runs need no CIFAR10_ARCHIVE" in out
    assert (data / ARCHIVE_NAME).samefile(tiny_archive)
    assert sorted(p.name for p in data.iterdir()) == ["cifar-10-batches-py", ARCHIVE_NAME]

    # `make clean` removes the extracted batches; offline and without the variable, the kept archive serves
    shutil.rmtree(data / "cifar-10-batches-py")
    monkeypatch.delenv("CIFAR10_ARCHIVE")
    assert main(["data", "--data-dir", str(data), "--quiet", "--url", "http://127.0.0.1:9/offline"]) == 0
    assert f"(from {data / ARCHIVE_NAME})" in capsys.readouterr().out

    # given again, it is that very file: nothing is done, nothing said
    monkeypatch.setenv("CIFAR10_ARCHIVE", str(tiny_archive))
    assert main(["data", "--data-dir", str(data), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "data: kept" not in out and "not kept" not in out


def test_an_archive_that_fails_verification_is_not_kept(tmp_path, tiny_batches, tiny_verification, capsys):
    from tests.conftest import official_layout, write_archive

    batches = dict(tiny_batches)
    data0, labels0 = batches["data_batch_1"]
    batches["data_batch_1"] = (data0 ^ 1, labels0)  # other pixels: not the expected content
    other = write_archive(tmp_path / "other.tar.gz", official_layout(batches))
    assert main(["data", "--data-dir", str(tmp_path / "d"), "--archive", str(other), "--quiet"]) == 2
    assert "error: " in capsys.readouterr().err
    assert list((tmp_path / "d").iterdir()) == []


def test_an_unverified_archive_is_not_kept_beside_verified_data(tmp_path, tiny_archive, tiny_verification, capsys):
    from pipeline.download import ARCHIVE_NAME

    data = tmp_path / "d"
    assert main(["data", "--data-dir", str(data), "--archive", str(tiny_archive), "--quiet"]) == 0
    (data / ARCHIVE_NAME).unlink()
    capsys.readouterr()
    # the batches are verified already, so extraction skips this archive: not verified, not official, not kept
    stranger = tmp_path / "stranger.tar.gz"
    stranger.write_bytes(b"not an archive")
    assert main(["data", "--data-dir", str(data), "--archive", str(stranger), "--quiet"]) == 0
    assert "is not the official archive and was not verified in this run: not kept" in capsys.readouterr().out
    assert not (data / ARCHIVE_NAME).exists()


def test_an_archive_that_cannot_be_kept_is_a_warning(tmp_path, tiny_archive, tiny_verification, monkeypatch, capsys):
    import pipeline.download

    def full(archive, data_dir):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pipeline.download, "keep_archive", full)
    assert main(["data", "--data-dir", str(tmp_path / "d"), "--archive", str(tiny_archive), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: could not keep") and "No space left on device" in err and err.count("\n") == 1


def test_what_runs_before_the_venv_imports_no_helpers_and_no_numpy(tmp_path):
    """The bootstrap, the lock and the supervisor, runs on a Python without numpy (as before `make venv`) and
    imports nothing of helpers/: the science may import what it needs at the top of its modules."""
    (tmp_path / "numpy").mkdir()
    (tmp_path / "numpy" / "__init__.py").write_text("raise ImportError('no numpy here')\n")
    env = {**__import__("os").environ, "PYTHONPATH": f"{tmp_path}:{ROOT}"}
    code = ("import sys, pipeline.lock, pipeline.supervise; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('helpers', 'numpy')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    assert r.returncode == 0 and r.stdout == "[]\n", r.stderr
    r = subprocess.run([sys.executable, "-m", "pipeline.supervise", "--check"], capture_output=True, text=True,
                       env=env, cwd=ROOT)
    assert r.stdout.strip() == "ok", r.stderr


def test_validate_refuses_a_batch_larger_than_its_training_set(tmp_path):
    (tmp_path / "s.csv").write_text("lam,eta,n_batch,n_epochs,variants\n0,0.1,20000,40,all\n")
    r = run_cli("validate", str(tmp_path / "s.csv"), str(ROOT / "variants.csv"), "--data-folder",
                str(tmp_path / "no-data"))
    assert r.returncode == 2 and "n_batch=20000 is out of range" in r.stderr, r.stderr


def test_a_build_s_run_must_set_every_parameter_of_the_notebook(tmp_path):
    r = run_cli("execute", "--all-parameters", str(ROOT / "notebooks/figures.ipynb"), str(tmp_path / "out.ipynb"),
                "-p", "run", '{"lam": 0.1, "eta": 0.001}')
    assert r.returncode == 2 and not (tmp_path / "out.ipynb").exists()
    assert r.stderr.startswith("error: ") and "has parameter(s) the build does not set: " in r.stderr
    assert "figures_dir, results_dir, variant" in r.stderr


def test_a_count_of_one_takes_the_singular():
    assert [counted(n, "variant") for n in (0, 1, 2)] == ["0 variants", "1 variant", "2 variants"]


def test_the_command_line_loads_no_jupyter_until_a_notebook_runs():
    """Every `python -m pipeline` command (make runs `rules` and `validate` while it reads the Makefile) imports
    pipeline.cli and pipeline.execute; papermill and Jupyter load only when a notebook runs."""
    import subprocess
    import sys

    code = "import sys, pipeline.cli, pipeline.execute; print(sorted(m for m in ('papermill', 'jupyter_client', 'nbclient') if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]"
