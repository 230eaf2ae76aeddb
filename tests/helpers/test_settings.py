import pytest

from helpers.errors import ParameterError
from helpers.settings import parse_settings, read_settings
from helpers.paths import ROOT


def test_the_committed_settings_are_the_reports_four():
    runs = read_settings(ROOT / "settings.csv")
    assert [(r.lam, r.eta, r.n_batch, r.n_epochs) for r in runs] == [
        (0.0, 0.1, 100, 40), (0.0, 0.001, 100, 40), (0.1, 0.001, 100, 40), (1.0, 0.001, 100, 40)]


def test_optional_columns_comments_and_blank_lines():
    runs = parse_settings("# c\nlam,eta,n_batch,n_epochs,seed,init_std\n\n0,0.1,100,40,7,0.02\n# x\n1,0.01,50,2,8,0.01\n")
    assert [(r.seed, r.init_std) for r in runs] == [(7, 0.02), (8, 0.01)]


def test_a_fifth_row_is_a_fifth_run():
    text = "lam,eta,n_batch,n_epochs\n0,0.1,100,40\n0,0.001,100,40\n0.1,0.001,100,40\n1,0.001,100,40\n0.01,0.01,100,40\n"
    assert len(parse_settings(text)) == 5


@pytest.mark.parametrize("text,message", [
    ("lam,eta,n_batch,n_epochs\n0,0.1,100,40\n0,-1,100,40\n", "row 2 (line 3): eta=-1 is out of range"),
    ("lam,eta,n_batch,n_epochs\n0,0.1,100\n", "row 1 (line 2): has 3 values, the header has 4"),
    ("lam,eta,n_batch,n_epochs\n0,abc,100,40\n", "row 1 (line 2): eta='abc' is not a number"),
    ("lam,eta,n_batch\n0,0.1,100\n", "missing ['n_epochs']"),
    ("lam,eta,n_batch,n_epochs,colour\n0,0.1,100,40,red\n", "unknown ['colour']"),
    ("lam,eta,n_batch,n_epochs\n0,0.1,100,40\n0,0.1,100,40\n", "row 2 (line 3): repeats row 1"),
    ("lam,eta,n_batch,n_epochs\n", "no settings rows"),
    ("", "is empty"),
])
def test_bad_rows_are_refused_with_the_row_number(text, message):
    with pytest.raises(ParameterError) as info:
        parse_settings(text, source="s.csv")
    assert message in str(info.value)


def test_missing_settings_file(tmp_path):
    with pytest.raises(ParameterError, match="cannot read the settings file"):
        read_settings(tmp_path / "nope.csv")
