import numpy as np
import pytest

from helpers import model
from helpers.data import Split, one_hot
from helpers.params import validate_params
from helpers.blas import single_threaded_blas
from helpers.model import init_parameters
from helpers.train import HISTORY_KEYS, Workspace, run_epoch, train


def synthetic_split(n, seed, dim=20, dtype=np.float64):
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0, 1, size=(10, dim))
    y = rng.integers(0, 10, n)
    X = (centres[y] + rng.normal(0, 1.0, size=(n, dim))).astype(dtype)
    return Split(X, y, one_hot(y, dtype=dtype))


def textbook_epoch(X, Y, W, b, perm, eta, lam, n_batch):
    """The course's loop: X stored d x n, batches by column slicing, plain formulas."""
    Xd = X.T[:, perm]                 # (D, N), shuffled columns
    Yd = Y.T[:, perm]                 # (K, N)
    W, b = W.copy(), b.copy()[:, None]
    n = Xd.shape[1]
    for start in range(0, n, n_batch):
        Xb, Yb = Xd[:, start:start + n_batch], Yd[:, start:start + n_batch]
        S = W @ Xb + b
        P = np.exp(S - S.max(axis=0)) / np.exp(S - S.max(axis=0)).sum(axis=0)
        G = -(Yb - P)
        m = Xb.shape[1]
        gW = G @ Xb.T / m + 2 * lam * W
        gb = G.sum(axis=1, keepdims=True) / m
        W = W - eta * gW
        b = b - eta * gb
    return W, b[:, 0]


@pytest.mark.parametrize("prefetch", [False, True], ids=["one thread", "gather thread (notebooks)"])
@pytest.mark.parametrize("lam,n_batch", [(0.0, 100), (0.1, 100), (1.0, 37)])
def test_run_epoch_agrees_with_the_textbook_loop(lam, n_batch, prefetch):
    tr = synthetic_split(1000, 0, dim=3072)
    rng = np.random.default_rng(5)
    W, b = init_parameters(rng, 10, 3072, 0.01)
    perm = rng.permutation(tr.n)
    Wt, bt = textbook_epoch(tr.X, tr.Y, W, b, perm, 0.01, lam, n_batch)
    with single_threaded_blas():
        run_epoch(tr.X, tr.y, W, b, perm, 0.01, lam, n_batch, Workspace(n_batch, 3072, 10, W.dtype, prefetch=prefetch))
    assert np.abs(W - Wt).max() < 1e-10
    assert np.abs(b - bt).max() < 1e-10
    assert np.abs(Wt).max() > 0.01  # the epoch moved the weights


def test_training_lowers_the_cost():
    tr, va = synthetic_split(600, 1), synthetic_split(200, 2)
    result = train(tr, va, validate_params(0.01, 0.05, 20, 10))
    h = result.history
    assert set(h) == set(HISTORY_KEYS)
    assert all(len(v) == 11 for v in h.values())
    assert h["train_cost"][-1] < 0.5 * h["train_cost"][0]
    assert h["val_accuracy"][-1] > 0.8
    assert result.diverged_at is None


def test_same_seed_same_history_other_seed_other_history():
    tr, va = synthetic_split(300, 1), synthetic_split(100, 2)
    a = train(tr, va, validate_params(0.1, 0.01, 25, 3, seed=7))
    b = train(tr, va, validate_params(0.1, 0.01, 25, 3, seed=7))
    c = train(tr, va, validate_params(0.1, 0.01, 25, 3, seed=8))
    assert a.history == b.history
    assert np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b)
    assert a.history != c.history


def test_history_matches_the_plain_model_functions():
    tr, va = synthetic_split(200, 1), synthetic_split(50, 2)
    result = train(tr, va, validate_params(0.2, 0.01, 50, 2))
    assert result.history["val_cost"][-1] == pytest.approx(
        model.compute_cost(va.X, va.y, result.W, result.b, 0.2), rel=1e-12)
    assert result.history["train_accuracy"][-1] == model.compute_accuracy(tr.X, tr.y, result.W, result.b)


def test_divergence_stops_the_run_and_is_recorded():
    tr, va = synthetic_split(200, 1), synthetic_split(50, 2)
    tr.X[0, 0] = 1e308  # one absurd input makes the scores overflow
    result = train(tr, va, validate_params(0.0, 0.1, 50, 5))
    assert result.diverged_at == 1
    assert len(result.history["train_cost"]) == 2
    assert not np.isfinite(result.history["train_cost"][-1])


def test_float32_training_runs_in_float32():
    tr, va = synthetic_split(300, 1, dtype=np.float32), synthetic_split(100, 2, dtype=np.float32)
    result = train(tr, va, validate_params(0.0, 0.05, 30, 3))
    assert result.W.dtype == np.float32
    assert result.history["train_cost"][-1] < result.history["train_cost"][0]
