import pytest

from helpers.errors import ParameterError
from helpers.params import validate_params


def test_defaults_and_integers_where_floats_are_expected():
    p = validate_params(0, 1)  # papermill turns `-p lam 0` into int 0
    assert p.lam == 0.0 and isinstance(p.lam, float)
    assert p.eta == 1.0 and isinstance(p.eta, float)
    assert (p.n_batch, p.n_epochs, p.init_std) == (100, 40, 0.01)


@pytest.mark.parametrize("kwargs,message", [
    ({"eta": 0}, "eta=0 is out of range; allowed: a number > 0"),
    ({"eta": -0.1}, "eta=-0.1 is out of range"),
    ({"lam": -1}, "lam=-1 is out of range; allowed: a number >= 0"),
    ({"n_batch": 0}, "n_batch=0 is out of range; allowed: an integer from 1 to 1000"),
    ({"n_batch": 1001}, "n_batch=1001 is out of range"),
    ({"n_epochs": 0}, "n_epochs=0 is out of range; allowed: an integer >= 1"),
    ({"init_std": 0}, "init_std=0 is out of range; allowed: a number > 0"),
    ({"eta": "fast"}, "eta='fast' is not a number"),
    ({"lam": None}, "lam=None is not a number"),
    ({"lam": True}, "lam=True is not a number"),
    ({"n_batch": 2.5}, "n_batch=2.5 is not an integer"),
    ({"eta": float("nan")}, "eta=nan is out of range"),
    ({"lam": float("inf")}, "lam=inf is out of range"),
    ({"b_init": "ones"}, "b_init='ones' is not allowed; allowed: 'like-W', 'zero'"),
    ({"smooth": 1.0}, "smooth=1 is out of range; allowed: a number from 0 to 1 (exclusive)"),
    ({"smooth": -0.1}, "smooth=-0.1 is out of range"),
    ({"momentum": 0.9}, "unknown training choice 'momentum'; allowed: lam, eta"),
])
def test_bad_values_name_the_parameter_and_range(kwargs, message):
    args = {"lam": 0.1, "eta": 0.01, **kwargs}
    with pytest.raises(ParameterError) as info:
        validate_params(n_train=1000, **args)
    assert message in str(info.value)


def test_a_run_description_splits_into_training_choices_and_data_options_checked_once():
    from helpers.params import split_run

    setting, options = split_run({"lam": 0, "eta": 0.1, "b_init": "zero", "norm": "channel"}, n_val=500)
    assert setting.b_init == "zero" and setting.n_batch == 100 and options.norm == "channel" and options.n_val == 500
    with pytest.raises(ParameterError, match="unknown choice 'colour' in the run"):
        split_run({"lam": 0, "eta": 0.1, "colour": "red"})
    with pytest.raises(ParameterError, match="n_batch=20000 is out of range; allowed: an integer from 1 to 10000"):
        split_run({"lam": 0, "eta": 0.1, "n_batch": 20000, "split": "one-batch"})
    with pytest.raises(ParameterError, match="eta is required"):
        split_run({"lam": 0})


def test_integral_float_is_accepted_as_integer():
    assert validate_params(0, 0.1, n_batch=100.0).n_batch == 100


def test_setting_id_depends_on_every_parameter_but_the_seed():
    base = validate_params(0.1, 0.001)
    ids = {base.setting_id}
    for change in ({"lam": 0.2}, {"eta": 0.002}, {"n_batch": 50}, {"n_epochs": 3}, {"init_std": 0.1},
                   {"b_init": "zero"}, {"smooth": 0.1}):
        ids.add(validate_params(**{"lam": 0.1, "eta": 0.001, **change}).setting_id)
    assert len(ids) == 8
    assert base.setting_id == "lam0.1_eta0.001_nb100_ep40"
    assert validate_params(0.1, 0.001, seed=1).setting_id == base.setting_id


def test_label_names_every_parameter_that_is_not_the_default():
    assert validate_params(0.1, 0.001).label == "λ = 0.1, η = 0.001"
    assert validate_params(0.1, 0.001, n_batch=50, seed=3).label == "λ = 0.1, η = 0.001, n_batch = 50"


def test_close_values_get_different_setting_ids():
    assert validate_params(0.1, 0.001).setting_id != validate_params(0.1000001, 0.001).setting_id


def test_a_new_training_choice_is_one_line_of_the_declaration(tmp_path):
    """One line added to TRAIN_CHOICES (in a copy of the code) reaches settings.csv's columns, the variants'
    overrides, make's run argument, pipeline.expect's check, the folder name and the label, with no other
    edit: adding a choice touches the declaration, the code that uses its value, and a test."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for folder in ("helpers", "pipeline", "notebooks"):
        shutil.copytree(root / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    params = tmp_path / "helpers/params.py"
    text = params.read_text()
    anchor = '    Choice("smooth",'
    assert anchor in text
    params.write_text(text.replace(anchor, '    Choice("momentum", "real", 0.0, high=1.0, tag="mom", label="momentum"),\n' + anchor, 1))
    script = """
from helpers.settings import parse_settings, parse_variants
from pipeline.expect import ECHOED
from pipeline.rules import make_rules
from helpers.report import hyperparameters_markdown
s = parse_settings("lam,eta,n_batch,n_epochs,momentum\\n0,0.1,100,40,0.9\\n")
v = parse_variants("name,seeds,overrides,description\\ncourse,1,,c\\nm,2,momentum=0.5,m\\n")
print(s[0].setting_id)
print(s[0].label)
print(v[1].train)
print("momentum" in ECHOED["params"])
print('\\"momentum\\": 0.5' in make_rules(s, v, "x", root="."))
print("momentum" in hyperparameters_markdown(s))
"""
    r = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                       env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["lam0_eta0.1_nb100_ep40_mom0.9", "λ = 0, η = 0.1, momentum = 0.9",
                                     "{'momentum': 0.5}", "True", "True", "True"]
