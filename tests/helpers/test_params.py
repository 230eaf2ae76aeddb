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
])
def test_bad_values_name_the_parameter_and_range(kwargs, message):
    args = {"lam": 0.1, "eta": 0.01, **kwargs}
    with pytest.raises(ParameterError) as info:
        validate_params(n_train=1000, **args)
    assert message in str(info.value)


def test_integral_float_is_accepted_as_integer():
    assert validate_params(0, 0.1, n_batch=100.0).n_batch == 100


def test_setting_id_depends_on_every_parameter_but_the_seed():
    base = validate_params(0.1, 0.001)
    ids = {base.setting_id}
    for change in ({"lam": 0.2}, {"eta": 0.002}, {"n_batch": 50}, {"n_epochs": 3}, {"init_std": 0.1}):
        ids.add(validate_params(**{"lam": 0.1, "eta": 0.001, **change}).setting_id)
    assert len(ids) == 6
    assert base.setting_id == "lam0.1_eta0.001_nb100_ep40"
    assert validate_params(0.1, 0.001, seed=1).setting_id == base.setting_id


def test_label_names_every_parameter_that_is_not_the_default():
    assert validate_params(0.1, 0.001).label == "λ = 0.1, η = 0.001"
    assert validate_params(0.1, 0.001, n_batch=50, seed=3).label == "λ = 0.1, η = 0.001, n_batch = 50"


def test_close_values_get_different_setting_ids():
    assert validate_params(0.1, 0.001).setting_id != validate_params(0.1000001, 0.001).setting_id
