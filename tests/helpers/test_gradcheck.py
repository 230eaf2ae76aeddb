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
    ga = np.array([1.0, -2.0, 0.0, 4.0])
    gn = np.array([1.0, -1.0, 0.0, 2.0])
    s = gradcheck.gradient_stats(ga, gn, eps=1e-6)
    # |Δ| = (0, 1, 0, 2): mean 0.75, population std sqrt(0.6875), max 2
    assert s["diff_max"] == 2.0
    assert s["diff_mean"] == pytest.approx(0.75)
    assert s["diff_std"] == pytest.approx(np.sqrt(0.6875))
    # the numerical gradient (1, -1, 0, 2): min -1, max 2, population std sqrt(1.25)
    assert s["grad_min"] == -1.0 and s["grad_max"] == 2.0
    assert s["grad_std"] == pytest.approx(np.sqrt(1.25))
    # relative errors 0, 1/3, 0 (eps), 2/6
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


# --- the vectorised costs and the search ---------------------------------------------------------

def small_case(n=6, d=30, seed=5, std=2.0):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(n, d)), rng.integers(0, 10, n)
    W, b = init_parameters(np.random.default_rng(seed + 1), 10, d, std)
    return X, y, W, b


@pytest.mark.parametrize("lam", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("method", ["forward", "centred"])
def test_the_vectorised_costs_give_the_loops_gradients(lam, method):
    X, y, W, b = small_case()
    h = 1e-6
    loop_W, loop_b = gradcheck.numerical_gradients(X, y, W, b, lam, h=h, method=method)
    costs = gradcheck.perturbed_costs(X, y, W, b, [lam], h)[lam]
    fast_W, fast_b = gradcheck.gradients_from_costs(costs, h, method)
    # the same costs up to rounding in their last few bits: the gradients agree to a few units in the last
    # place of the cost, divided by the step
    tol = 8 * np.spacing(abs(costs["base"])) / h
    assert np.abs(fast_W - loop_W).max() <= tol and np.abs(fast_b - loop_b).max() <= tol
    assert np.abs(fast_W - loop_W).max() < 1e-3 * np.abs(loop_W).std()
    assert fast_W.shape == W.shape and fast_b.shape == b.shape


def test_the_vectorised_differences_have_the_loops_size():
    X, y, W, b = small_case(n=20, d=100)
    P = gradcheck.evaluate_classifier(X, W, b)
    gW, _ = gradcheck.compute_gradients(X, gradcheck.one_hot(y, 10), P, W, 0.1)
    loop = gradcheck.gradient_stats(gW, gradcheck.numerical_gradients(X, y, W, b, 0.1)[0])
    fast = gradcheck.gradient_stats(gW, gradcheck.gradients_from_costs(
        gradcheck.perturbed_costs(X, y, W, b, [0.1], 1e-6)[0.1], 1e-6, "centred")[0])
    for k in ("diff_mean", "diff_std", "diff_max"):
        assert 0.7 < fast[k] / loop[k] < 1.4, k
    for k in ("grad_min", "grad_max", "grad_std"):
        assert fast[k] == pytest.approx(loop[k], rel=1e-7)


def test_the_forward_difference_uses_the_unmoved_cost():
    X, y, W, b = small_case()
    costs = gradcheck.perturbed_costs(X, y, W, b, [0.5], 1e-6)[0.5]
    assert costs["base"] == pytest.approx(gradcheck.compute_cost(X, y, W, b, 0.5), rel=1e-14)
    fW, _ = gradcheck.gradients_from_costs(costs, 1e-6, "forward")
    assert fW[0, 0] == (costs[1][0][0, 0] - costs["base"]) / 1e-6


SPACE = {"lam": (0.0, 1.0), "n_images": (3, 10), "n_dims": (20, 50), "h": (1e-6,), "method": ("centred", "forward")}
SEEDS = (1, 2, 3)


def test_the_search_tries_every_configuration_with_every_seed():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 50)), rng.integers(0, 10, 20)
    rows = gradcheck.search_gradient_check(X, y, SPACE, SEEDS)
    assert len(rows) == 2 * 2 * 2 * 1 * 2 * len(SEEDS) * 2
    one = [r for r in rows if (r["lam"], r["n_images"], r["n_dims"], r["method"], r["seed"], r["param"])
           == (1.0, 3, 50, "centred", 2, "W")]
    X3 = X[:3, :50]
    W, b = init_parameters(np.random.default_rng(2), 10, 50, 2.0)
    expected = gradcheck.check_gradients(X, y, [1.0], 3, 50, seed=2, methods=("centred",))[0]
    assert len(one) == 1 and one[0]["grad_std"] == pytest.approx(expected["grad_std"], rel=1e-7)
    assert one[0]["diff_mean"] == pytest.approx(expected["diff_mean"], rel=0.5)
    assert X3.shape == (3, 50) and W.shape == (10, 50)


@pytest.fixture(scope="module")
def searched():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 50)), rng.integers(0, 10, 20)
    return gradcheck.search_gradient_check(X, y, SPACE, SEEDS)


BASELINE = {"lam": 0.0, "n_images": 10, "n_dims": 20, "h": 1e-6, "method": "centred"}
PLANTED = {"lam": 1.0, "n_images": 3, "n_dims": 50, "h": 1e-6, "method": "centred"}


def printed(rows, config, param):
    """What a fake original prints: the mean over seeds of a configuration, to 3 significant digits."""
    from helpers import original

    sel = [r for r in rows if r["param"] == param and all(r[k] == v for k, v in config.items())]
    return {k: f"{np.mean([r[k] for r in sel]):.3g}" for k in original.GRADCHECK[param]}


def test_the_audit_explains_planted_numbers_and_reproduces_untouched_ones(searched, monkeypatch):
    """gW's statistics printed from λ = 1 on 3 images × 50 dimensions, gb's from the course setup."""
    from helpers import audit, original

    monkeypatch.setattr(original, "GRADCHECK", {"W": printed(searched, PLANTED, "W"), "b": printed(searched, BASELINE, "b")})
    numbers = {(n["param"], n["stat"]): n for n in audit.gradcheck_numbers_audit(searched, BASELINE)}
    assert len(numbers) == 12
    for (param, stat), n in numbers.items():
        assert n["verdict"] == (audit.REPRODUCED if param == "b" else audit.EXPLAINED), n["name"]
        assert n["tried"] == 15
    # λ = 1 alone moves gW's own statistics (2 λ W dominates them): the fewest-changes rule names it
    for stat in ("grad_min", "grad_max", "grad_std"):
        assert numbers[("W", stat)]["explanation"]["changed"] == {"lam": 1.0}
    # every explanation is a configuration that changes only choices the planted one changes, or few
    for n in numbers.values():
        if n["explanation"]:
            assert len(n["explanation"]["changed"]) <= 3


def test_the_configuration_that_printed_every_number_is_found_whole(searched, monkeypatch):
    from helpers import audit, original

    monkeypatch.setattr(original, "GRADCHECK", {p: printed(searched, PLANTED, p) for p in ("W", "b")})
    joint = audit.joint_configuration(searched, BASELINE)
    assert joint == {"changed": {"lam": 1.0, "n_images": 3, "n_dims": 50}, "matched": 12, "of": 12}


def test_a_number_no_configuration_produces_stays_unexplained_with_the_closest(searched, monkeypatch):
    from helpers import audit, original

    fake = {p: printed(searched, BASELINE, p) for p in ("W", "b")}
    fake["W"]["diff_mean"] = "1.00e+03"
    monkeypatch.setattr(original, "GRADCHECK", fake)
    n = next(n for n in audit.gradcheck_numbers_audit(searched, BASELINE) if (n["param"], n["stat"]) == ("W", "diff_mean"))
    assert n["verdict"] == audit.UNEXPLAINED and n["matching"] == 0 and n["explanation"] is None
    # the closest is the configuration with the largest differences: forward ones, the largest λ
    largest = max(n["candidates"], key=lambda c: np.mean(c["values"]))
    assert n["closest"]["changed"] == largest["changed"] and n["closest"]["changed"]["method"] == "forward"
