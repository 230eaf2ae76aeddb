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
    with pytest.raises(ValueError, match="'forward', 'centred'.*'backward'"):
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


@pytest.mark.parametrize("ga, gn, expected", [
    (1e-3, 5e-4, 1 / 3),   # |Δ| = 5e-4 over |ga| + |gn| = 1.5e-3
    (2e-6, 1e-6, 1 / 3),   # |ga| + |gn| = 3e-6, above eps = 1e-6: still relative
    (4e-7, 2e-7, 0.2),     # |ga| + |gn| = 6e-7, below eps: |Δ| = 2e-7 over eps = 1e-6
])
def test_rel_max_is_relative_above_eps_and_absolute_below(ga, gn, expected):
    # a second element where both gradients are 0 has error 0 / eps = 0, not nan
    s = gradcheck.gradient_stats(np.array([ga, 0.0]), np.array([gn, 0.0]))  # the default eps, 1e-6
    assert s["rel_max"] == pytest.approx(expected, rel=1e-12)


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


@pytest.mark.parametrize("seed", [2022, 2023, 2024])
def test_at_the_course_setups_size_the_search_and_the_loop_agree_within_the_stated_factor(seed):
    """100 images x 20 dimensions, λ = 0, h = 1e-6, centred: |Δ| is the cost's rounding error there, and the
    two ways of computing the cost round differently; the page states a factor of 4 (helpers.report)."""
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(100, 20)), rng.integers(0, 10, 100)
    loop = gradcheck.check_gradients(X, y, [0.0], 100, 20, seed, methods=("centred",))
    search = gradcheck.search_gradient_check(X, y, {"lam": (0.0,), "n_images": (100,), "n_dims": (20,), "h": (1e-6,),
                                                    "method": ("centred",)}, (seed,))
    for a, b in zip(loop, search):
        assert a["param"] == b["param"]
        for k in ("diff_mean", "diff_std", "diff_max"):
            assert 1 / 4 < b[k] / a[k] < 4, (a["param"], k, a[k], b[k])
        for k in ("grad_min", "grad_max", "grad_std"):
            assert b[k] == pytest.approx(a[k], rel=1e-7)


def test_the_forward_difference_uses_the_unmoved_cost():
    X, y, W, b = small_case()
    costs = gradcheck.perturbed_costs(X, y, W, b, [0.5], 1e-6)[0.5]
    assert costs["base"] == pytest.approx(gradcheck.compute_cost(X, y, W, b, 0.5), rel=1e-14)
    fW, _ = gradcheck.gradients_from_costs(costs, 1e-6, "forward")
    assert fW[0, 0] == (costs[1][0][0, 0] - costs["base"]) / 1e-6


def cost_at_the_loops_step(X, y, W, b, lam, h, sign, theta, index):
    """``compute_cost`` with one parameter moved as :func:`gradcheck.numerical_gradients` moves it.

    The step is the one the loop takes in floating point, ``(v + sign*h) - v``; the moved value
    ``v + step`` is the loop's ``v + sign*h``. ``theta`` is "W" or "b", ``index`` its (k, d) or k.
    """
    W, b = W.copy(), b.copy()
    moved = {"W": W, "b": b}[theta]
    value = moved[index]
    step = (value + sign * h) - value
    moved[index] = value + step
    assert moved[index] == value + sign * h   # the loop's own moved value
    return gradcheck.compute_cost(X, y, W, b, lam)


def perturbed_cost(costs, sign, theta, index):
    return costs[sign][0 if theta == "W" else 1][index]


PARAMETERS = [("W", (0, 0)), ("W", (3, 17)), ("W", (9, 29)), ("b", 0), ("b", 6)]


@pytest.mark.parametrize("lam", [0.0, 0.5])
@pytest.mark.parametrize("sign", [1, -1])
def test_a_perturbed_cost_is_the_cost_at_the_loops_step(lam, sign):
    X, y, W, b = small_case()
    costs = gradcheck.perturbed_costs(X, y, W, b, [lam], 1e-6)[lam]
    for theta, index in PARAMETERS:
        expected = cost_at_the_loops_step(X, y, W, b, lam, 1e-6, sign, theta, index)
        got = perturbed_cost(costs, sign, theta, index)
        assert abs(got - expected) <= 8 * np.spacing(expected), (theta, index)


def large_step_rounding_case(n=8, d=5, seed=3):
    """Parameters whose step the rounding moves far from h, and scores every path computes exactly.

    Column 0 of X is 1 and ``W[:, 0]`` is about -2**19, cancelled by ``b`` about +2**19: the scores stay
    small. Near 2**19 a float's spacing is 2**-33, so the loop's step ``(w + 1e-6) - w`` is
    1.0000076e-6, not 1e-6. Every other value is a multiple of 2**-8 (X holds integers), so the scores
    of W and b moved by that step are exact in any order of summation, in both paths.
    """
    rng = np.random.default_rng(seed)
    X = rng.integers(-2, 3, size=(n, d)).astype(np.float64)
    X[:, 0] = 1.0
    W = rng.integers(-512, 513, size=(10, d)) / 256.0
    b = rng.integers(-512, 513, size=10) / 256.0
    W[:, 0] -= 2.0 ** 19
    b += 2.0 ** 19
    return X, rng.integers(0, 10, n), W, b


@pytest.mark.parametrize("sign", [1, -1])
def test_a_perturbed_cost_takes_the_loops_step_not_h(sign):
    """A step of exactly h would move the scores by 7.6e-12 more or less than the loop does: about a
    thousand units in the last place of the cost (the statistics of the search move by about 1%)."""
    X, y, W, b = large_step_rounding_case()
    h = 1e-6
    assert abs(((W[0, 0] + h) - W[0, 0]) - h) > 1e-12   # the case has teeth
    costs = gradcheck.perturbed_costs(X, y, W, b, [0.0], h)[0.0]
    for theta, index in [("W", (k, 0)) for k in range(10)] + [("b", k) for k in range(10)]:
        expected = cost_at_the_loops_step(X, y, W, b, 0.0, h, sign, theta, index)
        got = perturbed_cost(costs, sign, theta, index)
        assert abs(got - expected) <= 4 * np.spacing(expected), (theta, index)


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
        assert n["tried"] == 7     # the 7 other centred configurations: forward differences contradict the original
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
    # the closest is the configuration with the largest differences; never a forward one, which the original's
    # stated centred method rules out
    largest = max(n["candidates"], key=lambda c: np.mean(c["values"]))
    assert n["closest"]["changed"] == largest["changed"] and "method" not in n["closest"]["changed"]
    assert all("method" not in c["changed"] for c in n["candidates"])


# --- hand-computed gradients, the inputs the check must not touch, and the arguments it passes on ------

def far_apart_case():
    """Two images, one dimension, two classes, with scores ±1000 (as from a diverging model).

    X = (1000, -1000), W = (1, 0), b = 0, labels (1, 0): the scores are [1000, 0] and [-1000, 0], each
    image's cross-entropy is 1000 (its true class scores 1000 below the other).
    """
    return np.array([[1000.0], [-1000.0]]), np.array([1, 0]), np.array([[1.0], [0.0]]), np.zeros(2)


def loop_gradients(X, y, W, b, lam, h):
    return gradcheck.numerical_gradients(X, y, W, b, lam, h=h, method="centred")


def vectorised_gradients(X, y, W, b, lam, h):
    return gradcheck.gradients_from_costs(gradcheck.perturbed_costs(X, y, W, b, [lam], h)[lam], h, "centred")


@pytest.mark.parametrize("gradients", [loop_gradients, vectorised_gradients])
@pytest.mark.parametrize("lam", [0.0, 0.5])
def test_numerical_gradients_for_scores_far_apart(gradients, lam):
    X, y, W, b = far_apart_case()
    # P is one-hot on the higher score: P - Y = [1, -1] for image 1, [-1, 1] for image 2; times x = ±1000
    # both give [1000, -1000], so dL/dW = (1000, -1000) plus 2 λ W = (2 λ, 0); dL/db = mean(P - Y) = 0
    gW, gb = gradients(X, y, W, b, lam, 1e-6)
    np.testing.assert_allclose(gW, [[1000.0 + 2 * lam], [-1000.0]], atol=1e-4)
    np.testing.assert_allclose(gb, [0.0, 0.0], atol=1e-4)


def test_the_vectorised_cost_of_scores_far_apart():
    X, y, W, b = far_apart_case()
    costs = gradcheck.perturbed_costs(X, y, W, b, [0.5], 1e-6)[0.5]
    assert costs["base"] == pytest.approx(1000.0 + 0.5 * 1.0, rel=1e-15)  # loss 1000, penalty λ * 1^2


def read_only(a):
    a = a.copy()
    a.setflags(write=False)
    return a


@pytest.mark.parametrize("layout", ["read-only", "strided view"])
def test_numerical_gradients_leave_w_and_b_alone(layout):
    X, y, W, b = small_case(n=4, d=5)
    if layout == "read-only":
        W, b = read_only(W), read_only(b)
    else:  # every other column of a wider matrix, every other entry of a longer vector
        W, b = np.repeat(W, 2, axis=1)[:, ::2], np.repeat(b, 2)[::2]
    W0, b0 = W.copy(), b.copy()
    nW, nb = gradcheck.numerical_gradients(X, y, W, b, 0.1)
    P = gradcheck.evaluate_classifier(X, W, b)
    gW, gb = gradcheck.compute_gradients(X, gradcheck.one_hot(y, 10), P, W, 0.1)
    assert gradcheck.gradient_stats(gW, nW)["rel_max"] < 1e-6 and gradcheck.gradient_stats(gb, nb)["rel_max"] < 1e-6
    np.testing.assert_array_equal(W, W0)
    np.testing.assert_array_equal(b, b0)


def test_perturbed_costs_fill_every_chunk_of_columns():
    # 10 columns in chunks of 3: 0-2, 3-5, 6-8 and the short last one, 9
    X, y, W, b = small_case(n=4, d=10)
    fW, fb = gradcheck.gradients_from_costs(gradcheck.perturbed_costs(X, y, W, b, [0.1], 1e-6, chunk=3)[0.1],
                                            1e-6, "centred")
    P = gradcheck.evaluate_classifier(X, W, b)
    gW, gb = gradcheck.compute_gradients(X, gradcheck.one_hot(y, 10), P, W, 0.1)
    assert gradcheck.gradient_stats(gW, fW)["rel_max"] < 1e-6 and gradcheck.gradient_stats(gb, fb)["rel_max"] < 1e-6


def expected_check_rows(X, y, lam, n_images, n_dims, seed, h, eps, n_classes):
    """The rows of check_gradients, built from its documented parts: W, b ~ N(0, 4) from ``seed``."""
    Xs, ys = X[:n_images, :n_dims], y[:n_images]
    W, b = init_parameters(np.random.default_rng(seed), n_classes, n_dims, 2.0)
    P = gradcheck.evaluate_classifier(Xs, W, b)
    analytic = gradcheck.compute_gradients(Xs, gradcheck.one_hot(ys, n_classes), P, W, lam)
    numerical = gradcheck.numerical_gradients(Xs, ys, W, b, lam, h=h, method="centred")
    return [{"lam": lam, "method": "centred", "param": p, **gradcheck.gradient_stats(ga, gn, eps)}
            for p, ga, gn in zip("Wb", analytic, numerical)]


def small_gradient_data(n_classes):
    # X scaled by 0.01 keeps every gradient of W below 1, where eps = 1e-6 and eps = 1 give different rel_max
    rng = np.random.default_rng(11)
    return 0.01 * rng.normal(size=(6, 8)), rng.integers(0, n_classes, 6)


@pytest.mark.parametrize("kwargs, h, eps, n_classes", [
    ({}, 1e-6, 1e-6, 10),                                      # the defaults: h = eps = 1e-6, 10 classes
    ({"h": 1e-4, "eps": 1.0, "n_classes": 3}, 1e-4, 1.0, 3),   # every one passed on
])
def test_check_gradients_rows_are_the_stats_of_the_subsets_gradients(kwargs, h, eps, n_classes):
    X, y = small_gradient_data(n_classes)
    rows = gradcheck.check_gradients(X, y, [0.1], n_images=4, n_dims=5, seed=3, methods=("centred",), **kwargs)
    assert rows == expected_check_rows(X, y, 0.1, 4, 5, 3, h, eps, n_classes)


@pytest.mark.parametrize("kwargs, eps, n_classes", [({}, 1e-6, 10), ({"eps": 1.0, "n_classes": 3}, 1.0, 3)])
def test_search_rows_are_the_stats_of_the_vectorised_gradients(kwargs, eps, n_classes):
    X, y = small_gradient_data(n_classes)
    space = {"lam": (0.1,), "n_images": (4,), "n_dims": (5,), "h": (1e-5,), "method": ("centred",)}
    rows = gradcheck.search_gradient_check(X, y, space, (3,), **kwargs)
    Xs, ys = X[:4, :5], y[:4]
    W, b = init_parameters(np.random.default_rng(3), n_classes, 5, 2.0)
    P = gradcheck.evaluate_classifier(Xs, W, b)
    analytic = gradcheck.compute_gradients(Xs, gradcheck.one_hot(ys, n_classes), P, W, 0.1)
    numerical = vectorised_gradients(Xs, ys, W, b, 0.1, 1e-5)
    choice = {"lam": 0.1, "n_images": 4, "n_dims": 5, "h": 1e-5, "method": "centred", "seed": 3}
    assert rows == [{**choice, "param": p, **gradcheck.gradient_stats(ga, gn, eps)}
                    for p, ga, gn in zip("Wb", analytic, numerical)]


# --- the table the notebook shows and the run the report's section 1.1 comes from --------------------

STATS = {"diff_mean": 1.0, "diff_std": 2.0, "diff_max": 3.0, "grad_min": 4.0, "grad_max": 5.0, "grad_std": 6.0,
         "rel_max": 7.0}
SHOWN = ["mean |Δ|", "std |Δ|", "max |Δ|", "min g_num", "max g_num", "std g_num", "max rel. error"]


def test_gradcheck_table_puts_the_choices_first_and_names_the_columns():
    rows = [{**STATS, "param": "W", "method": "centred", "lam": 0.1},
            {**STATS, "param": "b", "method": "forward", "lam": 0.0, "diff_mean": 8.0}]
    df = gradcheck.gradcheck_table(rows)
    assert list(df.columns) == ["λ", "method", "gradient"] + SHOWN
    assert df.values.tolist() == [[0.1, "centred", "W", 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
                                  [0.0, "forward", "b", 8.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]]


def test_gradcheck_table_keeps_other_choices_after_the_named_ones():
    # the search's rows have no "method" first in line but more choices: λ and gradient lead, the rest follow
    df = gradcheck.gradcheck_table([{"seed": 2, **STATS, "param": "W", "lam": 1.0}])
    assert list(df.columns) == ["λ", "gradient", "seed"] + SHOWN


class FakeSplit:
    def __init__(self, X, y):
        self.X, self.y = X, y


@pytest.fixture
def fake_data(monkeypatch):
    """load_dataset replaced by 12 training images of 25 dimensions (where the gradient check finds it); its
    arguments are recorded."""

    rng = np.random.default_rng(8)
    calls = []
    train = FakeSplit(rng.normal(size=(12, 25)), rng.integers(0, 10, 12))

    def load_dataset(data_dir, **kwargs):
        calls.append((data_dir, kwargs))
        return type("Dataset", (), {"train": train})()

    monkeypatch.setattr(gradcheck, "load_dataset", load_dataset)
    return train, calls


def test_run_gradient_check_checks_the_first_training_images(fake_data, monkeypatch, capsys):
    import time

    train, calls = fake_data
    clock = iter([100.0, 112.34])  # the search starts at 100 s and ends at 112.34 s: 12.34 s, shown as 12.3
    monkeypatch.setattr(time, "perf_counter", lambda: next(clock))
    out = gradcheck.run_gradient_check("somewhere", n_images=5, n_dims=7, lams=(0, 1), seed=4, variance=1.0,
                                       h=1e-5, n_val=30, search="small")
    assert calls == [("somewhere", {"n_val": 30})]
    assert out["lams"] == [0.0, 1.0] and all(type(v) is float for v in out["lams"])
    assert {k: out[k] for k in ("n_images", "n_dims", "seed", "variance", "h")} == {
        "n_images": 5, "n_dims": 7, "seed": 4, "variance": 1.0, "h": 1e-5}
    assert out["rows"] == gradcheck.check_gradients(train.X, train.y, [0.0, 1.0], 5, 7, 4, variance=1.0, h=1e-5)
    space, seeds = gradcheck.SEARCHES["small"]
    base = gradcheck.search_gradient_check(train.X, train.y, space, seeds, variance=1.0)
    assert out["search"][:len(base)] == base
    # rows beyond the space searched first are exactly the grown values' (the named configuration lay on an edge)
    assert all(any(r[g["choice"]] == g["value"] for g in out["grown"]) for r in out["search"][len(base):])
    assert all(g["value"] in out["space"][g["choice"]] for g in out["grown"])
    added = {k: {g["value"] for g in out["grown"] if g["choice"] == k} for k in space}
    grown = {k: sorted(set(v) | added[k]) if added[k] else list(v) for k, v in space.items()}
    assert out["space"] == grown and out["search_seeds"] == [2022, 2023]
    assert out["baseline"] == gradcheck.BASELINE_CHECK
    # the wall time is said, not kept: results files hold only what every rerun reproduces
    assert "search_seconds" not in out and "in 12.3 s on one core" in capsys.readouterr().out


def test_run_gradient_check_refuses_an_unknown_search_before_loading_data(fake_data):
    _, calls = fake_data
    with pytest.raises(ValueError, match="full, small, not 'tiny'"):
        gradcheck.run_gradient_check(search="tiny")
    assert calls == []


def test_run_gradient_check_defaults_are_the_reports_setup(fake_data, monkeypatch):
    # section 1.1: the first 100 images, 20 dimensions, λ = 0 and 0.1, W and b ~ N(0, 4) from seed 2022,
    # h = 1e-6, the course's split (5000 validation images), the full search (here replaced by a small one)
    _, calls = fake_data
    space = {"lam": (0.0,), "n_images": (3,), "n_dims": (4,), "h": (1e-6,), "method": ("centred",)}
    monkeypatch.setattr(gradcheck, "SEARCHES", {"full": (space, (1,))})
    out = gradcheck.run_gradient_check()
    assert calls == [("data", {"n_val": 5000})]
    assert {k: out[k] for k in ("n_images", "n_dims", "lams", "seed", "variance", "h")} == {
        "n_images": 100, "n_dims": 20, "lams": [0.0, 0.1], "seed": 2022, "variance": 4.0, "h": 1e-6}
    assert out["search_seeds"] == [1] and len(out["search"]) == 2  # one configuration, one seed, W and b


def test_the_numerical_gradients_of_a_fortran_ordered_w_are_those_of_the_same_w_in_c_order():
    """A transposed (D, K) array is a Fortran-ordered W: its steps of h must still move the W the cost reads."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(5, 4)), rng.integers(0, 3, 5)
    W, b = rng.normal(size=(3, 4)), rng.normal(size=3)
    from helpers.gradcheck import numerical_gradients

    gW_c, gb_c = numerical_gradients(X, y, W, b, 0.1, 1e-6, "centred")
    gW_f, gb_f = numerical_gradients(X, y, np.asfortranarray(W), b, 0.1, 1e-6, "centred")
    assert np.abs(gW_c).max() > 0.01
    np.testing.assert_array_equal(gW_f, gW_c)
    np.testing.assert_array_equal(gb_f, gb_c)
