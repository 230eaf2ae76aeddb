import math

import numpy as np
import pytest

from helpers import train as train_module

from helpers import model
from helpers.params import validate_params
from helpers.model import init_parameters
from helpers.reference import textbook_epoch, textbook_train
from helpers.train import HISTORY_KEYS, Trainer, run_epoch, train
from tests.conftest import synthetic_split


@pytest.mark.parametrize("lam,n_batch,dim", [(0.0, 100, 3072), (0.1, 100, 3072), (1.0, 37, 3072), (0.1, 30, 3077)])
def test_run_epoch_agrees_with_the_textbook_loop(lam, n_batch, dim):
    tr = synthetic_split(1000, 0, dim=dim)
    rng = np.random.default_rng(5)
    W, b = init_parameters(rng, 10, dim, 0.01)
    perm = rng.permutation(tr.n)
    Wt, bt = textbook_epoch(np.ascontiguousarray(tr.X.T), tr.Y.T, W.copy(), b.copy()[:, None], perm, 0.01, lam, n_batch)
    bt = bt[:, 0]
    run_epoch(tr.X, tr.y, W, b, perm, 0.01, lam, n_batch)
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


def synth(n, dim, seed, dtype=np.float64):
    return synthetic_split(n, seed, dim, dtype)


def test_run_epoch_scores_are_those_of_the_starting_weights():
    tr = synth(450, 50, 4)
    rng = np.random.default_rng(8)
    W, b = init_parameters(rng, 10, 50, 0.1)
    W0, b0 = W.copy(), b.copy()
    perm = rng.permutation(tr.n)
    scores = np.empty((tr.n, 10))
    Wu, bu = W.copy(), b.copy()
    run_epoch(tr.X, tr.y, W, b, perm, 0.05, 0.2, 32, scores=scores)
    run_epoch(tr.X, tr.y, Wu, bu, perm, 0.05, 0.2, 32)
    assert np.abs(scores - (tr.X[perm] @ W0.T + b0)).max() < 1e-12
    assert np.abs(W - Wu).max() < 1e-12 and np.abs(b - bu).max() < 1e-12


@pytest.mark.parametrize("choices", [{}, {"b_init": "zero"}, {"smooth": 0.1}, {"init_std": 0.1, "b_init": "zero", "smooth": 0.3}])
def test_train_equals_the_textbook_run(choices):
    """The whole run: the same draws, weights and history as the plain loop of helpers.reference, for every
    training choice (b's start, smoothed targets: the plain loop writes their formulas on its own)."""
    tr, va = synth(1000, 64, 1), synth(300, 64, 2)
    params = validate_params(0.1, 0.02, 64, 5, **choices)
    result = train(tr, va, params)
    W, b, history = textbook_train(tr, va, params)
    assert set(result.history) == set(HISTORY_KEYS)
    for k in HISTORY_KEYS:
        assert len(result.history[k]) == params.n_epochs + 1
        if k.endswith("accuracy"):
            assert result.history[k] == history[k]
        else:
            assert result.history[k] == pytest.approx(history[k], rel=1e-10)
    assert np.abs(result.W - W).max() < 1e-10 and np.abs(result.b - b).max() < 1e-10


def test_trainer_steps_are_train(monkeypatch):
    tr, va = synth(400, 30, 1), synth(100, 30, 2)
    params = validate_params(0.05, 0.05, 40, 4)
    trainer = Trainer(tr, va, params)
    for _ in range(params.n_epochs):
        assert trainer.step() is not False
    stepped = trainer.finish()
    result = train(tr, va, params)
    assert stepped.history == result.history
    assert np.array_equal(stepped.W, result.W) and np.array_equal(stepped.b, result.b)


def test_a_training_set_divergence_found_one_epoch_late_is_undone(monkeypatch):
    """If the training-set cost of epoch 2 is not finite (seen while epoch 3 runs), the run
    stops at epoch 2 with the weights of epoch 2, as the two-pass trainer did."""
    tr, va = synth(400, 30, 1), synth(100, 30, 2)
    params = validate_params(0.05, 0.05, 40, 6)
    reference = Trainer(tr, va, params)
    reference.step()
    reference.step()
    W2, b2 = reference.W.copy(), reference.b.copy()

    real = train_module.metrics_from_scores
    calls = []

    def fake(S, y, penalty):
        values = real(S, y, penalty)
        calls.append(1)
        if len(calls) == 3:  # the values of epoch 2
            values["cost"] = math.inf
        return values

    monkeypatch.setattr(train_module, "metrics_from_scores", fake)
    result = train(tr, va, params)
    assert result.diverged_at == 2
    assert all(len(v) == 3 for v in result.history.values())
    assert result.history["train_cost"][-1] == math.inf
    assert np.array_equal(result.W, W2) and np.array_equal(result.b, b2)


@pytest.mark.parametrize("n_batch", [25, 30, 100])
def test_a_score_has_the_same_bits_wherever_its_example_falls_in_a_batch(c_compiler, n_batch):
    """The starting weights' scores of an example do not depend on the training order: the
    kernel's register-blocked rows and its leftover rows give the same bits."""
    tr = synth(1000, 3072, 5)
    rng = np.random.default_rng(9)
    W, b = init_parameters(rng, 10, 3072, 0.01)
    out = []
    for perm in (rng.permutation(tr.n), rng.permutation(tr.n)):
        scores = np.empty((tr.n, 10))
        run_epoch(tr.X, tr.y, W.copy(), b.copy(), perm, 0.05, 0.1, n_batch, scores=scores)
        by_example = np.empty_like(scores)
        by_example[perm] = scores
        out.append(by_example)
    assert np.array_equal(out[0], out[1])


def test_b_zero_starts_b_at_zero_with_the_same_w_and_shuffles():
    tr, va = synth(200, 64, 1), synth(50, 64, 2)
    like_w, zero = (Trainer(tr, va, validate_params(0.0, 0.01, 10, 1, b_init=b)) for b in ("like-W", "zero"))
    assert np.array_equal(zero.W, like_w.W) and not np.any(zero.b) and np.all(like_w.b != 0)
    assert np.array_equal(zero.rng.permutation(200), like_w.rng.permutation(200))


def test_smoothed_targets_move_the_label_mass_to_every_class_and_change_the_run():
    y = np.array([0, 3, 9])
    T = model.targets(y, 10, smooth=0.2)
    assert np.allclose(T.sum(axis=1), 1) and np.allclose(T[np.arange(3), y], 0.8 + 0.02) and T[0, 1] == pytest.approx(0.02)
    assert np.array_equal(model.targets(y, 10), model.one_hot(y, 10))
    tr, va = synth(300, 32, 1), synth(50, 32, 2)
    runs = [train(tr, va, validate_params(0.0, 0.05, 30, 2, smooth=s)) for s in (0.0, 0.2)]
    assert np.abs(runs[0].W - runs[1].W).max() > 1e-4 and runs[1].epoch == runs[0].epoch   # smoothing: no slower path


@pytest.mark.parametrize("std", [0.1, 0.01, 0.001])
def test_init_std_reaches_the_drawn_weights(std):
    tr, va = synth(50, 3072, 1), synth(20, 3072, 2)
    trainer = Trainer(tr, va, validate_params(0.0, 0.01, 10, 1, init_std=std))
    assert trainer.W.std() == pytest.approx(std, rel=0.03) and abs(trainer.W.mean()) < std / 20


def test_run_epoch_gives_the_same_bits_with_and_without_scores():
    """The kernel computes the starting weights' scores on every path: asking for them
    changes no bit of W and b."""
    tr = synth(700, 3072, 6)
    rng = np.random.default_rng(10)
    W, b = init_parameters(rng, 10, 3072, 0.01)
    perm = rng.permutation(tr.n)
    Wa, ba, Wb, bb = W.copy(), b.copy(), W.copy(), b.copy()
    run_epoch(tr.X, tr.y, Wa, ba, perm, 0.05, 0.1, 64, scores=np.empty((tr.n, 10)))
    run_epoch(tr.X, tr.y, Wb, bb, perm, 0.05, 0.1, 64)
    assert np.array_equal(Wa, Wb) and np.array_equal(ba, bb)


def test_a_run_is_bitwise_the_same_whatever_the_blas_threads():
    """BLAS only evaluates (validation set, last epoch); train() pins it to one thread, so
    the process's BLAS setting changes no bit of a run."""
    from threadpoolctl import threadpool_limits

    tr, va = synth(900, 3072, 3), synth(200, 3072, 4)
    params = validate_params(0.1, 0.02, 100, 3)
    out = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            out.append(train(tr, va, params))
    assert out[0].history == out[1].history
    assert np.array_equal(out[0].W, out[1].W) and np.array_equal(out[0].b, out[1].b)


class RecordingBar:
    """A progress bar stand-in that records what train() tells it."""

    def __init__(self, total, desc):
        self.total, self.desc, self.updates, self.postfix, self.closed = total, desc, 0, [], False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.closed = True

    def update(self, n=1):
        self.updates += n

    def set_postfix(self, **kwargs):
        self.postfix.append(kwargs)


def test_train_draws_the_bar_it_is_given_one_step_per_epoch():
    """Progress is a callback: train() knows no terminal, no make; whoever runs it chooses the bar."""
    from helpers import train as train_module

    tr, va = synth(300, 20, 1), synth(50, 20, 2)
    bars = []
    made = lambda total, desc: bars.append(RecordingBar(total, desc)) or bars[-1]   # noqa: E731
    train(tr, va, validate_params(0.1, 0.02, 100, 3), progress=made, desc="a run")
    (bar,) = bars
    assert (bar.total, bar.desc, bar.updates, bar.closed) == (3, "a run", 3, True)
    assert len(bar.postfix) == 3 and {"val_cost", "val_acc"} <= set(bar.postfix[-1])
    train(tr, va, validate_params(0.1, 0.02, 100, 2), progress=False)
    assert len(bars) == 1                               # progress=False draws nothing
    assert train_module.progress_bar(1, "x", True).__class__.__name__ == "tqdm"


def test_the_test_cost_is_the_loss_plus_lam_times_the_squared_weights():
    from types import SimpleNamespace

    from helpers.data import Split
    from helpers.model import one_hot
    from helpers.train import evaluate_seeds

    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(7, 5)), rng.integers(0, 10, 7)
    W, b = rng.normal(size=(10, 5)), rng.normal(size=10)
    got = evaluate_seeds(Split(X, y, one_hot(y)), {11: SimpleNamespace(W=W, b=b)}, 0.5)[11]
    S = X @ W.T + b
    loss = np.mean(np.log(np.exp(S).sum(axis=1)) - S[np.arange(7), y])
    assert got["loss"] == pytest.approx(loss, rel=1e-12)
    assert got["cost"] == pytest.approx(loss + 0.5 * np.sum(W ** 2), rel=1e-12)
    assert got["accuracy"] == np.mean(S.argmax(axis=1) == y)


@pytest.fixture
def use_epoch(monkeypatch):
    """use_epoch("numpy") or use_epoch("compiled"): the epoch this test's training runs in."""
    from helpers import compiled_epoch as compiled

    def use(name):
        monkeypatch.setenv(compiled.EPOCH_ENV, name)
        compiled.epoch_function.cache_clear()

    yield use
    monkeypatch.delenv(compiled.EPOCH_ENV, raising=False)
    compiled.epoch_function.cache_clear()


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-4)], ids=["float64", "float32"])
def test_the_compiled_and_the_numpy_epoch_train_the_same_run(c_compiler, use_epoch, dtype, tol):
    """The same run with each epoch: the same weights and every recorded value, up to rounding (the
    sums run in another order); results.json says which ran."""
    tr, va = synthetic_split(500, 1, dim=3077, dtype=dtype), synthetic_split(100, 2, dim=3077, dtype=dtype)
    params = validate_params(0.1, 0.01, 30, 4, seed=7)
    runs = {}
    for name in ("compiled", "numpy"):
        use_epoch(name)
        runs[name] = train(tr, va, params)
        assert runs[name].epoch == name and runs[name].W.dtype == dtype
    compiled, plain = runs["compiled"], runs["numpy"]
    assert np.abs(compiled.W - plain.W).max() < tol * np.abs(plain.W).max()
    assert np.abs(compiled.b - plain.b).max() < tol * np.abs(plain.b).max()
    for key in HISTORY_KEYS:
        assert np.allclose(compiled.history[key], plain.history[key], rtol=tol, atol=0), key
    assert np.abs(plain.W - init_parameters(np.random.default_rng(7), 10, 3077, 0.01)[0]).max() > 1e-3


def test_the_numpy_epoch_is_bitwise_repeatable_and_its_scores_are_the_starting_weights(use_epoch):
    use_epoch("numpy")
    tr = synthetic_split(300, 0, dim=50)
    rng = np.random.default_rng(3)
    W0, b0 = init_parameters(rng, 10, 50, 0.1)
    perm = rng.permutation(tr.n)
    outs = []
    for _ in range(2):
        W, b, scores = W0.copy(), b0.copy(), np.empty((tr.n, 10))
        run_epoch(tr.X, tr.y, W, b, perm, 0.05, 0.1, 40, scores=scores)
        outs.append((W, b, scores))
    assert all(np.array_equal(a, c) for a, c in zip(*outs))
    assert np.allclose(outs[0][2], tr.X[perm] @ W0.T + b0, rtol=1e-12, atol=1e-12)
    assert np.abs(outs[0][0] - W0).max() > 1e-3


# --- several seeds of one setting ------------------------------------------------------------------------

def train_two_seeds(seeds=(4, 3)):
    """A setting trained with ``seeds`` by :func:`helpers.train.train_seeds` (a second or so)."""
    from helpers.train import train_seeds

    tr, va = synthetic_split(300, 1), synthetic_split(100, 2)
    setting = validate_params(0.1, 0.01, 25, 3, seed=2022)
    return tr, va, setting, train_seeds(tr, va, setting, seeds)


def test_each_seed_trains_its_own_run():
    """Seed s's run is train() with the setting's seed replaced by s: its own draws and shuffles."""
    from dataclasses import replace

    tr, va, setting, results = train_two_seeds()
    assert list(results) == [4, 3]
    for seed, result in results.items():
        alone = train(tr, va, replace(setting, seed=seed))
        assert np.array_equal(result.W, alone.W) and np.array_equal(result.b, alone.b), seed
        assert result.history == alone.history, seed
    assert not np.array_equal(results[4].W, results[3].W)
    assert results[4].history["val_cost"][0] != results[3].history["val_cost"][0]   # other starting weights


def test_distinct_seeds_give_a_spread_over_seeds():
    """Table 1's ± and every verdict's spread come from this: two seeds must not be one run twice."""
    from helpers.results import summarise
    from helpers.train import evaluate_seeds

    _, va, setting, results = train_two_seeds()
    tests = evaluate_seeds(va, results, setting.lam)
    summary = summarise([tests[s] for s in results])
    assert tests[4] != tests[3]
    assert summary["loss"]["n"] == 2
    assert summary["loss"]["std"] > 0 and summary["cost"]["std"] > 0
    assert summary["loss"]["min"] < summary["loss"]["max"]
