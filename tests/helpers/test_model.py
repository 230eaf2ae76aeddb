import math
import warnings

import numpy as np
import pytest

from helpers import model
from helpers.model import one_hot
from helpers.gradcheck import numerical_gradients


def test_softmax_is_stable_for_large_scores():
    S = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0], [1000.0, 1000.0, 999.0]])
    P = model.softmax(S)
    assert np.all(np.isfinite(P))
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_allclose(P[0], [1.0, 0.0, 0.0], atol=1e-300)
    np.testing.assert_allclose(P[1], [1 / 3] * 3)
    e = np.exp(-1.0)
    np.testing.assert_allclose(P[2], [1 / (2 + e), 1 / (2 + e), e / (2 + e)])


def test_loss_is_finite_for_confidently_wrong_scores():
    X = np.array([[1.0]])
    W = np.array([[1000.0], [-1000.0]])
    loss = model.compute_loss(X, np.array([1]), W, np.zeros(2))
    assert loss == pytest.approx(2000.0)


def test_loss_cost_accuracy_on_hand_computed_case():
    # two images, two dims, two classes; scores by hand
    X = np.array([[1.0, 0.0], [0.0, 2.0]])
    W = np.array([[1.0, 0.0], [0.0, 1.0]])   # (K=2, D=2)
    b = np.array([0.0, 0.5])
    y = np.array([0, 0])
    # scores: row 0 -> [1, 0.5]; row 1 -> [0, 2.5]
    l0 = -np.log(np.exp(1) / (np.exp(1) + np.exp(0.5)))
    l1 = -np.log(1 / (1 + np.exp(2.5)))
    assert model.compute_loss(X, y, W, b) == pytest.approx((l0 + l1) / 2, rel=1e-12)
    assert model.compute_cost(X, y, W, b, 0.5) == pytest.approx((l0 + l1) / 2 + 0.5 * 2.0, rel=1e-12)
    assert model.compute_accuracy(X, y, W, b) == 0.5
    # a third image of class 1 scored [3, 0.5]: wrong, so 1 of 3 (N != K: rows, not columns, are images)
    X3, y3 = np.vstack([X, [3.0, 0.0]]), np.array([0, 0, 1])
    assert model.compute_accuracy(X3, y3, W, b) == pytest.approx(1 / 3)


def test_b_is_not_penalised():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(4, 3)), np.array([0, 1, 2, 0])
    W = rng.normal(size=(3, 3))
    c1 = model.compute_cost(X, y, W, np.zeros(3), 2.0) - model.compute_loss(X, y, W, np.zeros(3))
    c2 = model.compute_cost(X, y, W, np.full(3, 50.0), 2.0) - model.compute_loss(X, y, W, np.full(3, 50.0))
    assert c1 == pytest.approx(c2) == pytest.approx(2.0 * np.sum(W ** 2))


def test_evaluate_matches_the_plain_functions():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(1000, 7)), rng.integers(0, 10, 1000)
    W, b = rng.normal(size=(10, 7)), rng.normal(size=10)
    out = model.evaluate(X, y, W, b, 0.3, chunk=128)
    assert out["loss"] == pytest.approx(model.compute_loss(X, y, W, b), rel=1e-12)
    assert out["cost"] == pytest.approx(model.compute_cost(X, y, W, b, 0.3), rel=1e-12)
    assert out["accuracy"] == model.compute_accuracy(X, y, W, b)


@pytest.mark.parametrize("lam", [0.0, 0.5])
def test_analytic_gradients_match_centred_differences(lam):
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(8, 12)), rng.integers(0, 10, 8)
    W, b = rng.normal(0, 0.1, size=(10, 12)), rng.normal(0, 0.1, size=10)
    P = model.evaluate_classifier(X, W, b)
    gW, gb = model.compute_gradients(X, one_hot(y), P, W, lam)
    nW, nb = numerical_gradients(X, y, W, b, lam, h=1e-6, method="centred")
    for ga, gn in ((gW, nW), (gb, nb)):
        rel = np.abs(ga - gn) / np.maximum(1e-6, np.abs(ga) + np.abs(gn))
        assert rel.max() < 1e-6
    assert np.abs(gW).max() > 1e-2  # the check compares real, non-vanishing gradients


def test_a_wrong_gradient_is_caught():
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(5, 6)), rng.integers(0, 10, 5)
    W, b = rng.normal(0, 0.1, size=(10, 6)), np.zeros(10)
    P = model.evaluate_classifier(X, W, b)
    nW, _ = numerical_gradients(X, y, W, b, 0.3, method="centred")

    def rel(gW):
        return (np.abs(gW - nW) / np.maximum(1e-6, np.abs(gW) + np.abs(nW))).max()

    # with the penalty's gradient 2 λ W the two agree; without it, or with λ W, they differ
    assert rel(model.compute_gradients(X, one_hot(y), P, W, 0.3)[0]) < 1e-6
    assert rel(model.compute_gradients(X, one_hot(y), P, W, 0.0)[0]) > 1e-3
    assert rel(model.compute_gradients(X, one_hot(y), P, W, 0.15)[0]) > 1e-3


# --- initialisation, stability and precision of the pieces the report's numbers come from ------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_init_parameters_draws_w_then_b_from_a_centred_normal(dtype):
    W, b = model.init_parameters(np.random.default_rng(7), 10, 3000, 0.01, dtype)
    assert W.shape == (10, 3000) and b.shape == (10,) and W.dtype == dtype and b.dtype == dtype
    # W first, then b, from one stream: the same numbers as one draw of 10 * 3000 + 10 values
    stream = np.random.default_rng(7).normal(0.0, 0.01, size=30010).astype(dtype)
    np.testing.assert_array_equal(W.ravel(), stream[:30000])
    np.testing.assert_array_equal(b, stream[30000:])
    # N(0, 0.01^2): the mean of 30000 draws is within 5 standard errors (5 * 0.01 / sqrt(30000) = 2.9e-4)
    assert abs(W.mean()) < 2.9e-4 and W.std() == pytest.approx(0.01, rel=0.03)
    assert np.abs(b).max() < 0.05  # every b within 5 std of 0, so b is drawn with std, not 1, around 0, not 1


def test_log_softmax_is_stable_for_rows_far_apart():
    # each row has two equal scores, so every log-probability is log(1/2), whatever the rows' offsets;
    # the max is taken per row: with the matrix's max (1000), row 2 would underflow to log(0)
    S = np.array([[1000.0, 1000.0], [-1000.0, -1000.0]])
    np.testing.assert_allclose(model.log_softmax(S), np.full((2, 2), -np.log(2.0)), rtol=1e-15)
    X, W = np.array([[1000.0], [-1000.0]]), np.array([[1.0], [1.0]])
    assert model.compute_loss(X, np.array([0, 1]), W, np.zeros(2)) == pytest.approx(np.log(2.0), rel=1e-15)


def test_evaluate_reports_a_diverged_model_as_nan_without_warnings():
    # scores 1e10 * ±1e300 overflow to [inf, -inf]; the log-sum-exp then takes inf - inf = nan
    X, W = np.array([[1e10]]), np.array([[1e300], [-1e300]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither "overflow" nor "invalid value" is raised as a warning
        out = model.evaluate(X, np.array([0]), W, np.zeros(2), 0.1)
    assert math.isnan(out["loss"]) and math.isnan(out["cost"])
    assert out["accuracy"] == 1.0  # the infinite score is still the highest: class 0, the true one


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_evaluate_sums_float32_values_in_float64(dtype):
    # float32 holds integers exactly only up to 2^24 = 16777216; the sums below need 2^24 + 1
    big = 2.0 ** 24
    # penalty: X = 0 so both scores are 0 and the loss is log 2; sum(W^2) = 4096^2 + 1^2 = 2^24 + 1
    X0, W0 = np.zeros((1, 2), dtype), np.array([[4096.0, 1.0], [0.0, 0.0]], dtype)
    out = model.evaluate(X0, np.array([0]), W0, np.zeros(2, dtype), 1.0)
    assert out["cost"] == pytest.approx(np.log(2.0) + big + 1.0, abs=1e-3)
    # cross-entropy: scores [0, -2^24] and [0, -1], both labelled 1;
    # row 1 costs 2^24, row 2 costs 1 + log(1 + e^-1) = 1.313, so the loss is their sum / 2
    X, W = np.eye(2, dtype=dtype), np.array([[0.0, 0.0], [-big, -1.0]], dtype)
    out = model.evaluate(X, np.array([1, 1]), W, np.zeros(2, dtype), 0.0)
    assert out["loss"] == pytest.approx((big + 1.0 + np.log1p(np.exp(-1.0))) / 2, abs=1e-3)
    assert out["accuracy"] == 0.0  # class 0 scores highest in both rows


# Two images in one dimension, two classes: x = 1 (class 0) and x = -1 (class 1), W = 0, b = 0, eta = 1.
X2 = np.array([[1.0], [-1.0]])
Y2 = np.array([0, 1])


def test_one_batch_of_the_numpy_epoch_is_one_gradient_step_by_hand():
    # P = 1/2 everywhere; G = (P - Y) / 2 = [[-1/4, 1/4], [1/4, -1/4]];
    # grad_W = G^T X = [[-1/4 - 1/4], [1/4 + 1/4]] = [[-1/2], [1/2]]; grad_b = column sums of G = 0
    W, b = np.zeros((2, 1)), np.zeros(2)
    scores = np.full((2, 2), np.nan)
    model.numpy_epoch(X2, Y2, W, b, np.array([0, 1]), 1.0, 0.0, 2, previous_scores=scores)
    np.testing.assert_array_equal(W, [[0.5], [-0.5]])
    np.testing.assert_array_equal(b, [0.0, 0.0])
    np.testing.assert_array_equal(scores, np.zeros((2, 2)))      # under the starting W = 0, b = 0


@pytest.mark.parametrize("lam, W_end, b_end", [
    # batch 1, image 1 (x = -1, class 1): G = P - Y = [1/2, -1/2], grad_W = -G = [-1/2, 1/2], grad_b = G
    #   -> W = [[1/2], [-1/2]], b = [-1/2, 1/2]
    # batch 2, image 0 (x = 1, class 0): scores W x + b = [0, 0], G = [-1/2, 1/2], grad_W = G, grad_b = G,
    #   plus 2 lam W: lam = 0 -> W = [[1], [-1]]; lam = 1/2 -> 2 lam W = [[1/2], [-1/2]] cancels G: W stays
    (0.0, [[1.0], [-1.0]], [0.0, 0.0]),
    (0.5, [[0.5], [-0.5]], [0.0, 0.0]),
])
def test_batches_of_one_follow_the_visiting_order_and_the_penalty(lam, W_end, b_end):
    W, b = np.zeros((2, 1)), np.zeros(2)
    scores = np.full((2, 2), np.nan)
    model.numpy_epoch(X2, Y2, W, b, np.array([1, 0]), 1.0, lam, 1, previous_scores=scores)
    np.testing.assert_array_equal(W, W_end)
    np.testing.assert_array_equal(b, b_end)
    np.testing.assert_array_equal(scores, np.zeros((2, 2)))      # both under W0 = 0, not the updated W


def test_a_last_batch_smaller_than_n_batch_is_trained_and_scored():
    # perm of 3 with n_batch 2: batches [0, 1] and [0]; the last batch's scores are those of the start (b0 = 1)
    W, b = np.zeros((2, 1)), np.ones(2)
    scores = np.full((3, 2), np.nan)
    model.numpy_epoch(X2, Y2, W, b, np.array([0, 1, 0]), 1.0, 0.0, 2, previous_scores=scores)
    np.testing.assert_array_equal(scores, np.ones((3, 2)))
    # batch 1 as the one-batch case (b stays 1: grad_b = 0): W = [[1/2], [-1/2]]; batch 2 (x = 1, class 0):
    # scores [1.5, 0.5], P0 = 1 / (1 + e^-1), G = [P0 - 1, 1 - P0]: W0 += 1 - P0, b0 += 1 - P0
    p0 = 1 / (1 + np.exp(-1.0))
    np.testing.assert_allclose(W, [[0.5 + 1 - p0], [-0.5 - (1 - p0)]], rtol=1e-15)
    np.testing.assert_allclose(b, [1 + 1 - p0, 1 - (1 - p0)], rtol=1e-15)


def test_the_numpy_epoch_over_pixels_has_the_bits_of_the_epoch_over_the_decoded_array():
    from helpers.data import ScaledPixels, scale
    from helpers.model import numpy_epoch

    rng = np.random.default_rng(5)
    P = rng.integers(0, 256, (64, 40), dtype=np.uint8)
    mean, std = (P / 255).mean(axis=0), (P / 255).std(axis=0)
    y = rng.integers(0, 4, 64)
    W0, b0 = rng.normal(0, 0.1, (4, 40)), rng.normal(0, 0.1, 4)
    perm = rng.permutation(64)
    out = []
    for X in (ScaledPixels(P, np.float64, mean, std), scale(P, np.float64, mean, std)):
        W, b, scores = W0.copy(), b0.copy(), np.empty((64, 4))
        numpy_epoch(X, y, W, b, perm, 0.1, 0.2, 10, previous_scores=scores)
        out.append((W, b, scores))
    assert all(np.array_equal(a, c) for a, c in zip(*out)) and not np.array_equal(out[0][0], W0)
