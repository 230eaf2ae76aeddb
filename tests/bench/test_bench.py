"""The benchmark's contenders compute what the trainer computes, and the trainer's
one-pass evaluation equals the two-pass one. No timings here: `make bench` times."""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from helpers.blas import single_threaded_blas
from helpers.data import Split, one_hot
from helpers.model import evaluate
from helpers.model import init_parameters
from helpers.train import HISTORY_KEYS, run_epoch

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench.py"


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


def test_the_numpy_contender_trains_as_the_compiled_one(c_compiler, bench):
    """The benchmark's two project contenders: the same history and weights up to rounding, each epoch as named."""
    tr, va = small_data(700, 3072, 1), small_data(200, 3072, 2)
    finished = {}
    for kind in ("compiled", "numpy"):
        p = bench.Project(tr.X, tr.y, va.X, va.y, 1, single_threaded_blas, kind, kind)
        for _ in range(3):
            p.epoch()
        finished[kind] = p.trainer.finish()
        assert finished[kind].epoch == kind
    ours, theirs = finished["compiled"], finished["numpy"]
    assert np.abs(theirs.W - ours.W).max() < 1e-12 and np.abs(theirs.b - ours.b).max() < 1e-12
    for k in HISTORY_KEYS:
        assert theirs.history[k] == pytest.approx(ours.history[k], rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_pixel_contenders_train_bitwise_alike_on_the_same_values(c_compiler, bench, dtype):
    """Pixels decoded as read and the same pixels decoded beforehand: the same work, the same bits."""
    tr, va = small_data(700, 3072, 1, dtype), small_data(200, 3072, 2, dtype)
    Xs, Xsv, Xd, Xdv = bench.pixel_data(tr.X, va.X)
    assert Xs.pixels.dtype == np.uint8 and Xd.dtype == dtype and np.array_equal(np.asarray(Xs), Xd)
    finished = []
    for X, Xv in ((Xs, Xsv), (Xd, Xdv)):
        p = bench.Project(X, tr.y, Xv, va.y, 1, single_threaded_blas, "p", "compiled")
        for _ in range(2):
            p.epoch()
        finished.append(p.trainer.finish())
    assert np.array_equal(finished[0].W, finished[1].W) and finished[0].history == finished[1].history


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


def test_bench_limit_may_use_one_product_for_forward_and_scores(bench):
    model = bench.models(8)
    f = model["flops"]
    gemm = {"square": {"a": 100e9}, "forward x": {"a": 20e9}, "gradient x": {"a": 25e9},
            "evaluation x": {"a": 50e9}, "forward+scores x": {"a": 40e9}}
    lim = bench.limits(model, {"k": 1e12}, gemm)
    train_eval = f["evaluation"] * bench.N_TRAIN / (bench.N_TRAIN + bench.N_VAL)
    fused = (f["forward"] + train_eval) / 40e9 + f["gradient"] / 25e9 + (f["evaluation"] - train_eval) / 50e9
    separate = f["forward"] / 20e9 + f["gradient"] / 25e9 + f["evaluation"] / 50e9
    assert lim["seconds_flops_shapes"] == pytest.approx(min(fused, separate))
    assert lim["limit"] == lim["seconds_flops_shapes"]


def test_bench_synthetic_data_folder_loads_as_cifar10(bench, tmp_path):
    from helpers.data import load_dataset

    bench.synthetic_data_dir(tmp_path, per_class=3)
    ds = load_dataset(tmp_path, n_val=10)
    assert ds.train.X.shape == (140, 3072) and ds.val.n == 10 and ds.test.n == 30
    assert isinstance(ds.train.X.pixels, np.memmap)   # the pixels mapped, decoded as read


def test_bench_growth_projection(bench):
    mem = {"2": {"runs": 2, "epoch_seconds": [[0.9, 0.5], [0.8, 0.5]], "init_seconds": [0.1, 0.1],
                 "finish_seconds": [0.2, 0.2], "peak_pss_sum_kib": 2 ** 20, "data_bytes": 1 << 30},
           "8": {"runs": 8, "peak_pss_sum_kib": 2 * 2 ** 20, "peak_anonymous_sum_kib": 8 * 1024}}
    g = bench.growth({"memory": mem, "notebook": {"fixed_seconds": 3.4}})
    run = 40 * 0.5 + 0.3 + 3.4 / bench.RUNS_PER_NOTEBOOK
    assert g["run_seconds"] == pytest.approx(run)
    cores = g["machine_cores"]
    for c in {cores, 8, 32}:
        for r in (4, 20, 60):
            assert g["projection_seconds"][str(c)][str(r)] == pytest.approx(math.ceil(r / c) * run)
    assert g["bandwidth_needed_bytes_per_s"]["32"] == pytest.approx(32 * g["bytes_per_epoch"] / 0.5)
    assert g["private_bytes_per_run"] == pytest.approx(1024 * 1024)
    text = bench.format_growth(g)
    assert "60" in text and "32 cores" in text


def test_bench_one_core_limit_uses_only_single_thread_measurements(bench):
    model = bench.models(8)
    bandwidth = {"numpy max, 1 thread": 10e9, "numpy max, 2 threads": 20e9}
    gemm = {"square": {"numpy, process threads": 100e9, "numpy, 1 thread": 50e9},
            "forward x": {"numpy, process threads": 40e9, "numpy, 1 thread": 20e9, "pytorch": 80e9},
            "gradient x": {"numpy, process threads": 40e9, "numpy, 1 thread": 25e9},
            "evaluation x": {"numpy, process threads": 40e9, "numpy, 1 thread": 10e9}}
    bw, rates = bench.one_core(bandwidth, gemm)
    assert bw == {"numpy max, 1 thread": 10e9}
    assert all(list(r) == ["numpy, 1 thread"] for r in rates.values())
    f = model["flops"]
    lim = bench.limits(model, bw, rates)
    assert lim["seconds_flops_shapes"] == pytest.approx(f["forward"] / 20e9 + f["gradient"] / 25e9 + f["evaluation"] / 10e9)
    assert lim["limit"] > bench.limits(model, bandwidth, gemm)["limit"]
