"""The benchmark's contenders compute what the trainer computes, and the trainer's
one-pass evaluation equals the two-pass one. No timings here: `make bench` times."""

import contextlib
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from helpers import train as train_module
from helpers.blas import single_threaded_blas
from helpers.data import Split, one_hot
from helpers.model import evaluate
from helpers.params import validate_params
from helpers.model import init_parameters
from helpers.train import HISTORY_KEYS, Trainer, run_epoch, train

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_under_test", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def small_data(n, dim, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    means = np.random.default_rng(99).normal(0, 1, size=(10, dim))
    y = rng.integers(0, 10, n)
    X = (means[y] + rng.normal(0, 1.0, size=(n, dim))).astype(dtype)
    return Split(X, y, one_hot(y, dtype=dtype))


def test_bench_textbook_loop_agrees_with_run_epoch(bench):
    tr = small_data(700, 3072, 0)
    rng = np.random.default_rng(5)
    W, b = init_parameters(rng, 10, 3072, 0.01)
    perm = rng.permutation(tr.n)
    Wt, bt = bench.textbook_epoch(np.ascontiguousarray(tr.X.T), tr.Y.T, W.copy(), b.copy()[:, None],
                                  perm, 0.01, 0.1, 100)
    run_epoch(tr.X, tr.y, W, b, perm, 0.01, 0.1, 100)
    assert np.abs(W - Wt).max() < 1e-10
    assert np.abs(b - bt[:, 0]).max() < 1e-10
    assert np.abs(Wt).max() > 0.01


def test_bench_textbook_evaluation_agrees_with_evaluate(bench):
    tr = small_data(300, 40, 1)
    rng = np.random.default_rng(2)
    W, b = rng.normal(0, 0.1, size=(10, 40)), rng.normal(0, 0.1, size=10)
    loss, cost = bench.ComputeCost(tr.X.T, tr.Y.T, W, b[:, None], 0.3)
    ref = evaluate(tr.X, tr.y, W, b, 0.3)
    assert loss == pytest.approx(ref["loss"], rel=1e-12)
    assert cost == pytest.approx(ref["cost"], rel=1e-12)
    assert bench.ComputeAccuracy(tr.X.T, tr.y, W, b[:, None]) == ref["accuracy"]


def test_bench_pytorch_loop_agrees_with_run_epoch(bench):
    torch = pytest.importorskip("torch")
    tr = small_data(500, 300, 3)
    rng = np.random.default_rng(6)
    W, b = init_parameters(rng, 10, 300, 0.01)
    perm = rng.permutation(tr.n)
    model, opt = bench.torch_model(torch, W, b, 0.1, 0.05)
    bench.torch_epoch(torch, torch.from_numpy(tr.X), torch.from_numpy(tr.y), model, opt, torch.from_numpy(perm), 50)
    run_epoch(tr.X, tr.y, W, b, perm, 0.05, 0.1, 50)
    assert np.abs(model.weight.detach().numpy() - W).max() < 1e-10
    assert np.abs(model.bias.detach().numpy() - b).max() < 1e-10
    values = bench.torch_evaluate(torch, torch.from_numpy(tr.X), torch.from_numpy(tr.y), model, 0.1)
    ref = evaluate(tr.X, tr.y, W, b, 0.1)
    assert values["cost"] == pytest.approx(ref["cost"], rel=1e-10)
    assert values["accuracy"] == ref["accuracy"]


def test_bench_limit_is_the_larger_of_the_two_models(bench):
    model = bench.models(8)
    gemm = {"square": {"a": 100e9}, "forward x": {"a": 50e9, "b": 10e9}, "gradient x": {"a": 25e9},
            "evaluation x": {"a": 50e9}}
    lim = bench.limits(model, {"k": 10e9, "j": 20e9}, gemm)
    f = model["flops"]
    assert lim["seconds_bytes"] == pytest.approx(model["bytes_min"] / 20e9)
    assert lim["seconds_flops_shapes"] == pytest.approx(f["forward"] / 50e9 + f["gradient"] / 25e9 + f["evaluation"] / 50e9)
    assert lim["limit"] == max(lim["seconds_bytes"], lim["seconds_flops_shapes"])
    assert lim["limit_peak"] == max(lim["seconds_bytes"], sum(f.values()) / 100e9)


def test_run_epoch_scores_are_those_of_the_starting_weights():
    tr = small_data(450, 50, 4)
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


def measure(train, val, W, b, lam):
    """Loss, cost and accuracy on both splits, each in a pass of its own (the plain reference)."""
    return {f"{name}_{k}": v for name, split in (("train", train), ("val", val))
            for k, v in evaluate(split.X, split.y, W, b, lam).items()}


def two_pass_train(tr, va, params):
    """The trainer as it was: run_epoch, then a separate pass over both sets (measure)."""
    rng = np.random.default_rng(params.seed)
    W, b = init_parameters(rng, 10, tr.X.shape[1], params.init_std, tr.X.dtype)
    history = {k: [v] for k, v in measure(tr, va, W, b, params.lam).items()}
    for _ in range(params.n_epochs):
        run_epoch(tr.X, tr.y, W, b, rng.permutation(tr.n), params.eta, params.lam, params.n_batch)
        for k, v in measure(tr, va, W, b, params.lam).items():
            history[k].append(v)
    return W, b, history


@pytest.mark.parametrize("single_thread", [True, False], ids=["1 BLAS thread (notebooks)", "process BLAS threads"])
@pytest.mark.parametrize("dtype,rel", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_one_pass_history_equals_the_two_pass_history(dtype, rel, single_thread):
    tr, va = small_data(1000, 64, 1, dtype), small_data(300, 64, 2, dtype)
    params = validate_params(0.1, 0.02, 64, 5)
    with single_threaded_blas() if single_thread else contextlib.nullcontext():
        result = train(tr, va, params)
        W, b, history = two_pass_train(tr, va, params)
    assert set(result.history) == set(HISTORY_KEYS)
    for k in HISTORY_KEYS:
        assert len(result.history[k]) == params.n_epochs + 1
        if k.endswith("accuracy"):
            assert result.history[k] == history[k]
        else:
            assert result.history[k] == pytest.approx(history[k], rel=rel)
    assert np.abs(result.W - W).max() < (1e-12 if dtype == np.float64 else 1e-5)


def test_trainer_steps_are_train(monkeypatch):
    tr, va = small_data(400, 30, 1), small_data(100, 30, 2)
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
    tr, va = small_data(400, 30, 1), small_data(100, 30, 2)
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
def test_gathering_on_a_helper_thread_changes_no_bit(n_batch):
    """On one BLAS thread (as the notebooks train), the helper thread changes no bit."""
    tr = small_data(1000, 3072, 5)
    rng = np.random.default_rng(9)
    W, b = init_parameters(rng, 10, 3072, 0.01)
    perm = rng.permutation(tr.n)
    out = []
    for prefetch in (False, True):
        from helpers.train import Workspace

        Wp, bp, scores = W.copy(), b.copy(), np.empty((tr.n, 10))
        with single_threaded_blas():
            run_epoch(tr.X, tr.y, Wp, bp, perm, 0.05, 0.1, n_batch,
                      Workspace(n_batch, 3072, 10, W.dtype, prefetch=prefetch), scores=scores)
        out.append((Wp, bp, scores))
    for a, c in zip(*out):
        assert np.array_equal(a, c)
