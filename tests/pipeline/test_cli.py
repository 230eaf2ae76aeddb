"""The command line: one-line errors, exit status 2, no traceback."""

import subprocess
import sys

import pytest

from pipeline.cli import main, parse_value
from helpers.paths import ROOT


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
    (tmp_path / "s.csv").write_text("lam,eta,n_batch,n_epochs\n0,0.1,20000,40\n")
    r = run_cli("validate", str(tmp_path / "s.csv"), str(ROOT / "variants.csv"))
    assert r.returncode == 2
    assert "variant 'one-batch': n_batch=20000 is out of range; allowed: an integer from 1 to 10000" in r.stderr
