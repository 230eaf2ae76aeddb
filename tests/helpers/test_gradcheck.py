import numpy as np
import pytest

from helpers import gradcheck
from helpers.model import init_parameters


def test_forward_and_centred_differences_of_a_known_cost():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(3, 4)), np.array([1, 2, 3])
    W, b = rng.normal(size=(10, 4)), rng.normal(size=10)
    fW, fb = gradcheck.numerical_gradients(X, y, W, b, 0.0, method="forward")
    cW, cb = gradcheck.numerical_gradients(X, y, W, b, 0.0, method="centred")
    # forward differences carry an O(h) error, centred ones O(h^2): both close, centred closer
    assert np.abs(fW - cW).max() < 1e-4
    assert np.abs(fb - cb).max() < 1e-4
    assert fW.shape == W.shape and fb.shape == b.shape


def test_unknown_method_is_refused():
    with pytest.raises(ValueError):
        gradcheck.numerical_gradients(np.zeros((1, 1)), np.array([0]), np.zeros((10, 1)), np.zeros(10), 0,
                                      method="backward")


def test_gradient_stats_values():
    ga = np.array([1.0, -2.0, 0.0])
    gn = np.array([1.0, -1.0, 0.0])
    s = gradcheck.gradient_stats(ga, gn, eps=1e-6)
    assert s["diff_max"] == 1.0
    assert s["diff_mean"] == pytest.approx(1 / 3)
    assert s["grad_min"] == -1.0 and s["grad_max"] == 1.0
    assert s["rel_max"] == pytest.approx(1 / 3)


def test_the_check_draws_w_and_b_with_variance_four(monkeypatch):
    drawn = {}

    def spy(rng, n_classes, dim, std, dtype=np.float64):
        W, b = init_parameters(rng, n_classes, dim, std, dtype)
        drawn.update(W=W, b=b)
        return W, b

    monkeypatch.setattr(gradcheck, "init_parameters", spy)
    rng = np.random.default_rng(1)
    gradcheck.check_gradients(rng.normal(size=(3, 2000)), rng.integers(0, 10, 3), [0.0], n_images=1, n_dims=2000, seed=0,
                              h=1e-4)
    assert drawn["W"].shape == (10, 2000) and drawn["W"].var() == pytest.approx(4.0, rel=0.05)


def test_check_gradients_reports_both_methods_and_lams():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 40)), rng.integers(0, 10, 30)
    rows = gradcheck.check_gradients(X, y, [0.0, 0.1], n_images=5, n_dims=8, seed=3)
    assert {(r["lam"], r["method"], r["param"]) for r in rows} == {
        (lam, m, p) for lam in (0.0, 0.1) for m in ("forward", "centred") for p in ("W", "b")}
    centred = [r for r in rows if r["method"] == "centred"]
    forward = [r for r in rows if r["method"] == "forward"]
    assert max(r["diff_max"] for r in centred) < 1e-7
    assert max(r["diff_max"] for r in centred) < max(r["diff_max"] for r in forward)
    again = gradcheck.check_gradients(X, y, [0.0, 0.1], n_images=5, n_dims=8, seed=3)
    assert again == rows
