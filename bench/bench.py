"""Benchmark one training epoch of the softmax classifier against the machine's limit.

Run as ``make bench`` (or ``.venv/bin/python -m bench.bench`` from the project folder); bench/README.md explains
the workload, the contenders and the byte and flop models. Writes ``bench/results.json``
and ``bench/results.png`` next to this file (``--out DIR`` to write elsewhere).

Importing this module has no side effects: the tests import it to check that the
textbook loop and the PyTorch loop compute what the project's trainer computes.
"""

import argparse
import contextlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from helpers.data import one_hot
from helpers.reference import ComputeAccuracy, ComputeCost, textbook_epoch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# The workload: the real CIFAR-10 shapes of the report (45000 training, 5000 validation).
N_TRAIN, N_VAL, DIM, K = 45000, 5000, 3072, 10
N_BATCH, ETA, LAM = 100, 0.001, 0.1
DATA_SEED = 2424
TORCH_PIN = "2.13.0"
GIB = 1024 ** 3


def log(msg=""):
    print(msg, flush=True)


# --- data ---------------------------------------------------------------------------------

#: The contenders that compare the pixels decoded as read with the same pixels decoded beforehand.
PIXELS = "project trainer, pixels decoded as read"
#: The epoch training falls back to without a C compiler, on the pixels as training reads them.
NUMPY = "project trainer, NumPy epoch (no compiler), pixels"
DECODED = "project trainer, the same pixels decoded beforehand"


def synthetic_data(n_train=N_TRAIN, n_val=N_VAL, dim=DIM, seed=DATA_SEED, dtype=np.float64):
    """Seeded synthetic data of the real shapes: class means plus unit Gaussian noise.

    Returns (X, y, Xv, yv) with X: (n_train, dim), y: (n_train,) int64 labels in 0..9.
    Generated in row chunks so no full-size temporary is made.
    """
    rng = np.random.default_rng(seed)
    means = rng.normal(0.0, 0.2, size=(K, dim))

    def make(n):
        y = rng.integers(0, K, n)
        X = np.empty((n, dim), dtype=dtype)
        for s in range(0, n, 4096):
            e = min(s + 4096, n)
            block = rng.standard_normal((e - s, dim))
            block += means[y[s:e]]
            X[s:e] = block
        return X, y

    X, y = make(n_train)
    Xv, yv = make(n_val)
    return X, y, Xv, yv


# --- contender 2: the textbook loop, as the course writes it (helpers.reference) ----------

class Textbook:
    """Contender 2: X stored d x n; evaluation by EvaluateClassifier on the full sets."""

    name = "textbook NumPy loop"

    def __init__(self, X, y, Xv, yv, W0, b0, seed):
        dt = X.dtype
        self.Xd, self.y, self.Yd = np.ascontiguousarray(X.T), y, one_hot(y, K, dt).T.copy()
        self.Xvd, self.yv, self.Yvd = np.ascontiguousarray(Xv.T), yv, one_hot(yv, K, dt).T.copy()
        self.W, self.b = W0.copy(), b0.copy()[:, None]
        self.rng = np.random.default_rng(seed)

    def epoch(self):
        perm = self.rng.permutation(self.Xd.shape[1])
        self.W, self.b = textbook_epoch(self.Xd, self.Yd, self.W, self.b, perm, ETA, LAM, N_BATCH)
        out = {}
        for split, (Xd, Yd, y) in (("train", (self.Xd, self.Yd, self.y)), ("val", (self.Xvd, self.Yvd, self.yv))):
            out[f"{split}_loss"], out[f"{split}_cost"] = ComputeCost(Xd, Yd, self.W, self.b, LAM)
            out[f"{split}_accuracy"] = ComputeAccuracy(Xd, y, self.W, self.b)
        return out

    def close(self):
        del self.Xd, self.Xvd


# --- contender 3: PyTorch on the CPU ------------------------------------------------------

def torch_module():
    try:
        import torch
    except ImportError:
        return None
    return torch


def torch_epoch(torch, X, y, model, opt, perm, n_batch):
    """One epoch of the idiomatic PyTorch loop (tensors indexed directly, no DataLoader)."""
    F = torch.nn.functional
    for start in range(0, X.shape[0], n_batch):
        idx = perm[start:start + n_batch]
        loss = F.cross_entropy(model(X.index_select(0, idx)), y.index_select(0, idx))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def torch_evaluate(torch, X, y, model, lam):
    F = torch.nn.functional
    with torch.no_grad():
        S = model(X)
        loss = float(F.cross_entropy(S, y))
        cost = loss + lam * float((model.weight * model.weight).sum())
        acc = float((S.argmax(dim=1) == y).double().mean())
    return {"loss": loss, "cost": cost, "accuracy": acc}


def torch_model(torch, W0, b0, lam, eta):
    """nn.Linear with W0, b0; SGD whose weight decay 2*lam applies to W only (the L2 term)."""
    dtype = torch.float64 if W0.dtype == np.float64 else torch.float32
    model = torch.nn.Linear(W0.shape[1], W0.shape[0], dtype=dtype)
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(W0))
        model.bias.copy_(torch.from_numpy(b0))
    opt = torch.optim.SGD([{"params": [model.weight], "weight_decay": 2 * lam},
                           {"params": [model.bias], "weight_decay": 0.0}], lr=eta)
    return model, opt


class Torch:
    """Contender 3: nn.Linear, cross-entropy, SGD (L2 on W only), on the CPU."""

    name = "PyTorch (CPU)"

    def __init__(self, torch, X, y, Xv, yv, W0, b0, seed):
        self.torch = torch
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)      # shares memory, no copy
        self.Xv, self.yv = torch.from_numpy(Xv), torch.from_numpy(yv)
        self.model, self.opt = torch_model(torch, W0, b0, LAM, ETA)
        self.rng = np.random.default_rng(seed)

    def epoch(self):
        torch = self.torch
        perm = torch.from_numpy(self.rng.permutation(self.X.shape[0]))
        torch_epoch(torch, self.X, self.y, self.model, self.opt, perm, N_BATCH)
        out = {}
        for split, (X, y) in (("train", (self.X, self.y)), ("val", (self.Xv, self.yv))):
            for k, v in torch_evaluate(torch, X, y, self.model, LAM).items():
                out[f"{split}_{k}"] = v
        return out

    def close(self):
        pass


# --- contender 1: the project's trainer ---------------------------------------------------

def notebook_blas():
    """The BLAS setting the notebooks train under, and its description."""
    try:
        from helpers.blas import single_threaded_blas
    except ImportError:
        return contextlib.nullcontext, "the process's BLAS threads (as the notebooks)"
    return single_threaded_blas, "one BLAS thread (helpers.blas.single_threaded_blas, as the notebooks)"


class Project:
    """Contender 1: helpers.train.Trainer.step, i.e. one epoch of helpers.train.train, in the compiled epoch
    (``epoch="compiled"``) or the NumPy epoch training falls back to without a C compiler (``"numpy"``)."""

    def __init__(self, X, y, Xv, yv, seed, blas_context, name, epoch=None):
        from helpers.data import Split
        from helpers.params import validate_params
        from helpers.train import Trainer

        self.name = name
        self.blas_context = blas_context
        params = validate_params(LAM, ETA, N_BATCH, 1000, 0.01, seed, n_train=X.shape[0])
        with self.blas_context():
            self.trainer = Trainer(Split(X, y, one_hot(y, K, X.dtype)), Split(Xv, yv, one_hot(yv, K, X.dtype)), params,
                                   epoch=epoch)

    def epoch(self):
        with self.blas_context():
            return self.trainer.step()

    def finish_seconds(self):
        """Wall time of Trainer.finish (the extra pass over the training set after the last epoch)."""
        with self.blas_context():
            t0 = time.perf_counter()
            self.trainer.finish()
            return time.perf_counter() - t0

    def close(self):
        pass


def pixel_data(X, Xv):
    """The synthetic images as uint8 pixels (as the data folder holds CIFAR-10), normalised by the training
    set's statistics: decoded as read (helpers.data.ScaledPixels, what load_dataset gives) and the same
    values decoded beforehand (the float arrays data/cache held before). Returns (Xs, Xsv, Xd, Xdv)."""
    from helpers.data import ScaledPixels, column_stats, scale

    def to_pixels(A):
        P = np.empty(A.shape, dtype=np.uint8)
        for start in range(0, A.shape[0], 4096):
            P[start:start + 4096] = np.clip(A[start:start + 4096] * 40 + 128, 0, 255)
        return P

    P, Pv = to_pixels(X), to_pixels(Xv)
    mean, std = column_stats(scale(P, np.float64))
    m, s = mean.astype(X.dtype), np.where(std > 0, std, 1.0).astype(X.dtype)
    Xs, Xsv = ScaledPixels(P, X.dtype, m, s), ScaledPixels(Pv, X.dtype, m, s)
    return Xs, Xsv, np.asarray(Xs), np.asarray(Xsv)


def same_workload_check(torch):
    """One float64 epoch of each contender from the same W0, b0 and order: max |W - W_project|."""
    from helpers.model import init_parameters
    from helpers.train import run_epoch

    rng = np.random.default_rng(7)
    n, d = 3000, DIM
    X, y, _, _ = synthetic_data(n, 10, d, seed=11)
    W0, b0 = init_parameters(rng, K, d, 0.01)
    perm = rng.permutation(n)
    W, b = W0.copy(), b0.copy()
    run_epoch(X, y, W, b, perm, ETA * 10, LAM, N_BATCH)
    Wt, bt = textbook_epoch(np.ascontiguousarray(X.T), one_hot(y, K, X.dtype).T, W0.copy(), b0.copy()[:, None],
                            perm, ETA * 10, LAM, N_BATCH)
    out = {"textbook": float(max(np.abs(Wt - W).max(), np.abs(bt[:, 0] - b).max()))}
    if torch is not None:
        model, opt = torch_model(torch, W0, b0, LAM, ETA * 10)
        torch_epoch(torch, torch.from_numpy(X), torch.from_numpy(y), model, opt, torch.from_numpy(perm), N_BATCH)
        Wp, bp = model.weight.detach().numpy(), model.bias.detach().numpy()
        out["pytorch"] = float(max(np.abs(Wp - W).max(), np.abs(bp - b).max()))
    out["max_abs_W_project"] = float(np.abs(W).max())
    return out


# --- the machine's limit -------------------------------------------------------------------

def best_of(f, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best


def measure_bandwidth(A, repeat=3):
    """Read bandwidth (bytes/s) over the array A (> 1 GB), by several kernels; also copy bandwidth."""
    flat = A.reshape(-1)
    nbytes = flat.nbytes
    half = flat.shape[0] // 2

    def two_threads(fn):
        def run():
            ts = [threading.Thread(target=fn, args=(flat[:half],)), threading.Thread(target=fn, args=(flat[half:],))]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        return run

    kernels = {
        "numpy max, 1 thread": lambda: np.max(flat),
        "numpy max, 2 threads": two_threads(np.max),
        "numpy sum, 2 threads": two_threads(np.sum),
        "BLAS dot(x, x)": lambda: np.dot(flat, flat),
    }
    out = {name: nbytes / best_of(fn, repeat) for name, fn in kernels.items()}
    dst = np.empty_like(flat)
    out["copy (read + write counted)"] = 2 * nbytes / best_of(lambda: np.copyto(dst, flat), repeat)
    del dst
    return out


def gemm_rate(fn, flops, seconds=0.25):
    """FLOP/s of fn (flops each call): best of 3 runs of enough calls to last ~seconds/3."""
    fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    calls = max(1, int(seconds / 3 / one))
    return flops * calls / best_of(lambda: [fn() for _ in range(calls)], 3)


def measure_gemm(dtype, torch):
    """GEMM throughput: a large square product and the epoch's shapes, operands hot in cache.

    Each shape with the BLAS threads of the process, with one thread, and with PyTorch's
    BLAS if it is installed. Returns {shape: {how: FLOP/s}}.
    """
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    n = 3000
    A, B = rng.standard_normal((n, n)).astype(dtype), rng.standard_normal((n, n)).astype(dtype)
    Xb = rng.standard_normal((N_BATCH, DIM)).astype(dtype)
    W = rng.standard_normal((K, DIM)).astype(dtype)
    W2 = rng.standard_normal((2 * K, DIM)).astype(dtype)
    G = rng.standard_normal((N_BATCH, K)).astype(dtype)
    Xc = rng.standard_normal((1024, DIM)).astype(dtype)
    shapes = {
        f"square {n}x{n}x{n}": (lambda: A @ B, 2 * n ** 3, (A, B)),
        "forward (100x3072)(3072x10)": (lambda: Xb @ W.T, 2 * N_BATCH * DIM * K, (Xb, W.T)),
        "gradient (10x100)(100x3072)": (lambda: G.T @ Xb, 2 * N_BATCH * DIM * K, (G.T, Xb)),
        "forward+scores (100x3072)(3072x20)": (lambda: Xb @ W2.T, 2 * N_BATCH * DIM * 2 * K, (Xb, W2.T)),
        "evaluation (1024x3072)(3072x10)": (lambda: Xc @ W.T, 2 * 1024 * DIM * K, (Xc, W.T)),
    }
    out = {}
    for name, (fn, flops, operands) in shapes.items():
        rates = {"numpy, process threads": gemm_rate(fn, flops, 1.0 if name.startswith("square") else 0.3)}
        with threadpool_limits(1, user_api="blas"):
            rates["numpy, 1 thread"] = gemm_rate(fn, flops, 1.0 if name.startswith("square") else 0.3)
        if torch is not None:
            ta, tb = (torch.from_numpy(np.ascontiguousarray(o)) for o in operands)
            rates["pytorch"] = gemm_rate(lambda: torch.mm(ta, tb), flops, 1.0 if name.startswith("square") else 0.3)
        out[name] = rates
    return out


def models(itemsize):
    """The byte and flop models of one epoch (README.md explains them)."""
    x_train, x_val = N_TRAIN * DIM * itemsize, N_VAL * DIM * itemsize
    return {
        "bytes_min": x_train + x_val,             # every example read once from memory
        "bytes_two_pass": 2 * x_train + x_val,    # a training pass, then an evaluation pass
        "flops": {
            "forward": 2 * N_TRAIN * DIM * K,
            "gradient": 2 * N_TRAIN * DIM * K,
            "evaluation": 2 * (N_TRAIN + N_VAL) * DIM * K,
        },
    }


def limits(model, bandwidth, gemm):
    """Seconds per epoch the machine needs at least, by the two models; the larger counts.

    The flop time takes each part at the best rate measured for its shape. When the
    20-column shape was measured, the forward product and the training set's evaluation may
    also run together as one product with the current and the previous weights (as the
    trainer does): the faster of the two ways counts.
    """
    bw = max(bandwidth.values())
    f = model["flops"]
    square = next(v for k, v in gemm.items() if k.startswith("square"))
    peak = max(square.values())

    def rate(part):
        return max(r for shape, rates in gemm.items() if shape.startswith(part + " ") for r in rates.values())

    shape_rate = {part: rate(part) for part in ("forward", "gradient", "evaluation")}
    t_bytes = model["bytes_min"] / bw
    t_flops_peak = sum(f.values()) / peak
    t_flops_shapes = sum(f[p] / shape_rate[p] for p in f)
    if any(shape.startswith("forward+scores ") for shape in gemm):
        shape_rate["forward+scores"] = rate("forward+scores")
        f_train_eval = f["evaluation"] * N_TRAIN / (N_TRAIN + N_VAL)
        fused = ((f["forward"] + f_train_eval) / shape_rate["forward+scores"] + f["gradient"] / shape_rate["gradient"]
                 + (f["evaluation"] - f_train_eval) / shape_rate["evaluation"])
        t_flops_shapes = min(t_flops_shapes, fused)
    return {
        "bandwidth_bytes_per_s": bw,
        "gemm_peak_flop_per_s": peak,
        "gemm_shape_flop_per_s": shape_rate,
        "seconds_bytes": t_bytes,
        "seconds_bytes_two_pass": model["bytes_two_pass"] / bw,
        "seconds_flops_peak": t_flops_peak,
        "seconds_flops_shapes": t_flops_shapes,
        "limit": max(t_bytes, t_flops_shapes),
        "limit_peak": max(t_bytes, t_flops_peak),
    }


def one_core(bandwidth, gemm):
    """The measurements of one thread only: what one run has when ``make -jN`` runs N on N cores.

    Returns the ``bandwidth`` and ``gemm`` dicts of :func:`limits` restricted to the
    single-thread entries (``"... 1 thread"``).
    """
    bw = {k: v for k, v in bandwidth.items() if k.endswith(" 1 thread")}
    rates = {shape: {k: v for k, v in r.items() if k.endswith(" 1 thread")} for shape, r in gemm.items()}
    return bw, {shape: r for shape, r in rates.items() if r}


# --- memory of N parallel training runs (subprocesses sharing the data cache) --------------

def synthetic_data_dir(folder, seed=DATA_SEED, per_class=1000):
    """A data folder with CIFAR-10-shaped synthetic pixels, verified as helpers.cifar10 writes it.

    Five training batches and a test batch of 10 * per_class random uint8 images (balanced labels),
    written by helpers.cifar10.write_pixels with their content hashes, so that
    helpers.data.load_dataset builds and maps its .npy cache there as it does for CIFAR-10.
    """
    from helpers.cifar10 import FOLDER_NAME, TEST_BATCH, TRAIN_BATCHES, sha256_bytes, write_pixels

    rng = np.random.default_rng(seed)
    batches, hashes = {}, {}
    for name in TRAIN_BATCHES + (TEST_BATCH,):
        labels = np.repeat(np.arange(K), per_class)
        rng.shuffle(labels)
        data = rng.integers(0, 256, size=(labels.size, DIM), dtype=np.uint8)
        batches[name], hashes[name] = (data, labels), sha256_bytes(data.tobytes())
    pixels = Path(folder) / FOLDER_NAME
    pixels.mkdir(parents=True, exist_ok=True)
    write_pixels(pixels, hashes, batches)
    return Path(folder)


def memory_child(data_dir, n_epochs):
    """One run as a notebook does it: load_dataset, then the epochs of helpers.train.train
    (its Trainer, one BLAS thread), each timed; JSON on stdout."""
    from helpers.blas import single_threaded_blas
    from helpers.data import load_dataset
    from helpers.params import validate_params
    from helpers.train import Trainer

    t0 = time.perf_counter()
    ds = load_dataset(data_dir)
    t_load = time.perf_counter() - t0
    params = validate_params(LAM, ETA, N_BATCH, n_epochs, 0.01, 1, n_train=ds.train.n)
    with single_threaded_blas():
        t0 = time.perf_counter()
        trainer = Trainer(ds.train, ds.val, params)
        t_init = time.perf_counter() - t0
        epochs = []
        for _ in range(n_epochs):
            t0 = time.perf_counter()
            trainer.step()
            epochs.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        trainer.finish()
        t_finish = time.perf_counter() - t0
    print(json.dumps({"peak_rss_kib": _status_kib("VmHWM"), "load_seconds": t_load, "init_seconds": t_init,
                      "epoch_seconds": epochs, "finish_seconds": t_finish,
                      "data_bytes": ds.train.X.nbytes + ds.val.X.nbytes + ds.test.X.nbytes}))


def _status_kib(key, pid="self"):
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def measure_parallel_memory(data_dir, counts=(2, 8), n_epochs=2):
    """Start N runs at once (each load_dataset + n_epochs of training) for each N in counts.

    ``data_dir`` is a folder made by :func:`synthetic_data_dir`. While the runs go on, the
    sum of their PSS (/proc/PID/smaps_rollup) and the system's used memory are sampled
    every 0.1 s; returns, per N, the peaks against one run's data size, and each run's
    timings.
    """
    from helpers.data import load_dataset
    from bench.memory import smaps_kib, used_kib

    ds = load_dataset(data_dir)  # builds the cache once, as the first run of make report does
    data_bytes = ds.train.X.nbytes + ds.val.X.nbytes + ds.test.X.nbytes
    del ds
    out = {}
    for n in counts:
        used0 = used_kib()
        procs = [subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--memory-child", str(n_epochs),
                                   "--memory-data", str(data_dir)], stdout=subprocess.PIPE, text=True,
                                  env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
                 for _ in range(n)]
        peak_pss = peak_anon = peak_used = 0
        t0 = time.perf_counter()
        while any(p.poll() is None for p in procs):
            smaps = [smaps_kib(p.pid) for p in procs if p.poll() is None]
            peak_pss = max(peak_pss, sum(m.get("Pss", 0) for m in smaps))
            peak_anon = max(peak_anon, sum(m.get("Anonymous", 0) for m in smaps))
            peak_used = max(peak_used, used_kib() - used0)
            time.sleep(0.1)
        outs = [p.communicate()[0] for p in procs]
        if any(p.returncode for p in procs):
            raise RuntimeError("a memory child failed")
        outs = [json.loads(o.strip().splitlines()[-1]) for o in outs]
        out[str(n)] = {"runs": n, "epochs": n_epochs, "data_bytes": data_bytes,
                       "peak_pss_sum_kib": peak_pss, "peak_anonymous_sum_kib": peak_anon,
                       "peak_used_delta_kib": peak_used,
                       "wall_seconds": time.perf_counter() - t0,
                       **{k: [o[k] for o in outs] for k in ("peak_rss_kib", "load_seconds", "init_seconds",
                                                           "epoch_seconds", "finish_seconds")}}
    return out


def measure_notebook(data_dir, epochs=(1, 3)):
    """Wall time of the training notebook as make runs it (python -m pipeline execute), on the
    synthetic data, one seed, with 1 and with 3 epochs: the difference gives the time of an
    epoch there, the rest is the notebook's fixed cost (kernel start, imports, data, files).
    None if the notebook cannot run here (its output goes to a temporary folder)."""
    walls = {}
    with tempfile.TemporaryDirectory(prefix="dd2424-bench-nb-") as tmp:
        for e in epochs:
            cmd = [sys.executable, "-m", "pipeline", "execute", "notebooks/train.ipynb", f"{tmp}/train-{e}.ipynb",
                   "--label", f"bench {e} epochs", "-p", "n_epochs", str(e), "-p", "seeds", "[2022]",
                   "-p", "data_dir", str(data_dir), "-p", "results_dir", f"{tmp}/results", "-p", "variant", f"bench{e}"]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                                  env={**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
                                       "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
            if proc.returncode:
                log(f"  note: the training notebook did not run here ({_last_line(proc.stderr + proc.stdout)}); "
                    "the projection leaves its fixed cost out")
                return None
            walls[e] = time.perf_counter() - t0
    lo, hi = epochs
    per_epoch = (walls[hi] - walls[lo]) / (hi - lo)
    return {"wall_seconds": walls, "fixed_seconds": walls[lo] - lo * per_epoch, "epoch_seconds_alone": per_epoch}


def _last_line(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no output"


def format_memory(mem):
    lines = []
    for n, m in mem.items():
        d = m["data_bytes"] / GIB
        lines.append(f"  {n} runs at once: summed PSS peak {m['peak_pss_sum_kib'] / 2 ** 20:.2f} GiB "
                     f"({m['peak_pss_sum_kib'] / 2 ** 20 / d:.2f}x one run's data, {d:.2f} GiB); their own "
                     f"(anonymous) memory {m['peak_anonymous_sum_kib'] / 2 ** 20:.2f} GiB in all; system used-memory "
                     f"delta peak {m['peak_used_delta_kib'] / 2 ** 20:.2f} GiB; each run's peak RSS (counts the "
                     f"shared data in full) {max(m['peak_rss_kib']) / 2 ** 20:.2f} GiB")
    return "\n".join(lines)


# --- growth: projected wall time of make report -------------------------------------------

GROWTH_RUNS = (4, 20, 60)
GROWTH_CORES = (8, 32)
RUN_EPOCHS = 40
#: Runs per training notebook in the project's settings (68 runs in 20 notebooks: variants.csv
#: gives 5 seeds to the baseline and 3 to each other variant); a notebook's fixed cost is shared.
RUNS_PER_NOTEBOOK = 68 / 20


def growth(results):
    """Projected wall time of the training runs of make report (see bench/README.md, Growth).

    A run is RUN_EPOCHS epochs at the epoch time measured with 2 runs at once on this machine
    (one per core, as make -j2), plus its Trainer set-up and final pass, plus its share of a
    notebook's fixed cost (measured alone); make runs one job per core, so R runs take
    ceil(R / C) times a run. For 8 and 32 cores each core is taken as fast as these, which
    needs the memory bandwidth printed (every run reads its training and validation sets
    once per epoch).
    """
    mem2 = results["memory"]["2"]
    t_epoch = float(np.median([e[-1] for e in mem2["epoch_seconds"]]))
    t_run_fixed = float(np.median(mem2["init_seconds"]) + np.median(mem2["finish_seconds"]))
    nb = results.get("notebook")
    t_nb = nb["fixed_seconds"] if nb else 0.0
    t_run = RUN_EPOCHS * t_epoch + t_run_fixed + t_nb / RUNS_PER_NOTEBOOK
    bytes_epoch = (N_TRAIN + N_VAL) * DIM * 8
    bw = results["dtypes"]["float64"]["limits"]["bandwidth_bytes_per_s"] if "dtypes" in results else None
    cores = os.cpu_count() or 1
    mem8, mem_lo = results["memory"].get("8"), results["memory"]["2"]
    private = None
    if mem8:
        private = mem8["peak_anonymous_sum_kib"] * 1024 / mem8["runs"]
    proj = {}
    for c in (cores,) + GROWTH_CORES:
        proj[str(c)] = {str(r): math.ceil(r / c) * t_run for r in GROWTH_RUNS}
    return {"epoch_seconds_2_parallel": t_epoch, "run_fixed_seconds": t_run_fixed, "notebook_fixed_seconds": t_nb,
            "run_seconds": t_run, "runs_per_notebook": RUNS_PER_NOTEBOOK, "machine_cores": cores,
            "projection_seconds": proj, "bytes_per_epoch": bytes_epoch,
            "bandwidth_per_run_bytes_per_s": bytes_epoch / t_epoch,
            "bandwidth_needed_bytes_per_s": {str(c): c * bytes_epoch / t_epoch for c in (cores,) + GROWTH_CORES},
            "bandwidth_measured_bytes_per_s": bw, "private_bytes_per_run": private,
            "data_cache_bytes": mem_lo["data_bytes"]}


def _duration(seconds):
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def format_growth(g):
    cores = g["machine_cores"]
    cols = [str(cores)] + [str(c) for c in GROWTH_CORES]
    lines = [f"growth: projected wall time of make report's training runs ({RUN_EPOCHS} epochs each, "
             f"{g['runs_per_notebook']:.1f} runs per notebook, one run per core)",
             f"  {'runs':>6s} " + " ".join(f"{c + ' cores' + (' (here)' if c == str(cores) else ''):>16s}"
                                          for c in cols)]
    for r in GROWTH_RUNS:
        lines.append(f"  {r:6d} " + " ".join(f"{_duration(g['projection_seconds'][c][str(r)]):>16s}" for c in cols))
    lines.append(f"  a run: {RUN_EPOCHS} x {g['epoch_seconds_2_parallel']:.3f} s/epoch (measured with {cores} runs at "
                 f"once here) + {g['run_fixed_seconds']:.2f} s set-up and final pass + "
                 f"{g['notebook_fixed_seconds']:.1f} s / {g['runs_per_notebook']:.1f} notebook fixed cost "
                 f"= {g['run_seconds']:.1f} s")
    bw = g["bandwidth_measured_bytes_per_s"]
    need = ", ".join(f"{c} cores {v / 1e9:.0f} GB/s" for c, v in g["bandwidth_needed_bytes_per_s"].items())
    lines.append(f"  memory bandwidth the runs need at that speed: {need}"
                 + (f" (measured here: {bw / 1e9:.0f} GB/s)" if bw else ""))
    if g["private_bytes_per_run"] is not None:
        lines.append(f"  memory: one data cache {g['data_cache_bytes'] / GIB:.2f} GiB per data variant in the page cache, "
                     f"shared by all runs, plus about {g['private_bytes_per_run'] / 2 ** 20:.0f} MiB per run")
    lines.append("  not included: make data, the gradient check, figures and the report's rendering")
    return "\n".join(lines)


# --- environment report --------------------------------------------------------------------

def environment(torch):
    from threadpoolctl import threadpool_info

    cpu = platform.processor()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    env = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP_", "MKL_", "GOTO"))}
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": sorted(({k: d.get(k) for k in ("user_api", "internal_api", "version", "architecture", "num_threads",
                                                "threading_layer", "filepath")} for d in threadpool_info()),
                       key=lambda d: not (d["internal_api"] == "openblas" and "numpy" in (d["filepath"] or ""))),
        "env": env,
        "loadavg_start": os.getloadavg(),
        "cpu_busy_start": cpu_busy(),
        "torch": None,
    }
    if torch is not None:
        info["torch"] = {"version": torch.__version__, "threads": torch.get_num_threads(),
                         "blas": _torch_blas(torch)}
    return info


def _percent(x):
    return "unknown" if x is None else f"{100 * x:.0f}%"


def cpu_busy(seconds=1.0):
    """Fraction of all cores' time spent busy over ``seconds`` (from /proc/stat; None elsewhere)."""
    def sample():
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields), idle
    try:
        t0, i0 = sample()
        time.sleep(seconds)
        t1, i1 = sample()
    except OSError:
        return None
    return 1.0 - (i1 - i0) / max(t1 - t0, 1)


def _torch_blas(torch):
    for item in torch.__config__.show().replace("\n", ",").split(","):
        if item.strip().startswith("BLAS_INFO="):
            return "BLAS " + item.strip().split("=", 1)[1]
    return "BLAS mkl" if torch.backends.mkl.is_available() else "BLAS unknown"


# --- the run ---------------------------------------------------------------------------------

def time_contenders(contenders, rounds, label, pause):
    """Alternate one epoch of each contender per round (after one untimed warm-up epoch each).

    Before each timed epoch the process sleeps ``pause`` seconds: BLAS and OpenMP worker
    threads of the contender before keep spinning on the cores for a while after their
    last call (OpenBLAS ~0.1 s, OpenMP up to 0.2 s) and would slow down the next one.
    """
    for c in contenders:
        c.epoch()
    times = {c.name: [] for c in contenders}
    for r in range(rounds):
        parts = []
        for c in contenders:
            time.sleep(pause)
            t0 = time.perf_counter()
            c.epoch()
            dt = time.perf_counter() - t0
            times[c.name].append(dt)
            parts.append(f"{c.name} {dt:.3f}s")
        log(f"  [{label} round {r + 1}/{rounds}] " + ", ".join(parts))
    return times


def run(out_dir, rounds, pause=0.3):
    torch = torch_module()
    t_start = time.perf_counter()
    info = environment(torch)
    blas = info["blas"][0] if info["blas"] else {}
    log("== make bench: one epoch of the softmax classifier, against the machine's limit")
    log(f"machine: {info['cpu']}, {info['cores']} cores; numpy {info['numpy']}, "
        f"BLAS {blas.get('internal_api')} {blas.get('version')} kernel {blas.get('architecture')}, "
        f"{blas.get('num_threads')} threads")
    log("BLAS-related environment: " + (", ".join(f"{k}={v}" for k, v in info["env"].items()) or "none set"))
    if "OPENBLAS_CORETYPE" in info["env"]:
        log(f"  note: OPENBLAS_CORETYPE forces OpenBLAS's {info['env']['OPENBLAS_CORETYPE']} kernels; "
            "numbers below are for that kernel (it is left as found)")
    busy = info["cpu_busy_start"]
    log(f"CPU busy before the run (other processes): {_percent(busy)} of {info['cores']} cores, load average "
        f"{info['loadavg_start'][0]:.2f}" + ("  WARNING: other work is running; timings will be noisy"
                                             if busy is not None and busy > 0.1 else ""))
    if torch is None:
        log(f"PyTorch: not installed, skipped (optional: pip install -r bench/requirements.txt, torch=={TORCH_PIN})")
    else:
        log(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, {info['torch']['blas']}")
        if torch.__version__.split("+")[0] != TORCH_PIN:
            log(f"  note: bench/requirements.txt pins torch=={TORCH_PIN}")
    log(f"workload: SYNTHETIC data (seeded generator, seed {DATA_SEED}) of the real shapes: "
        f"{N_TRAIN} x {DIM} training, {N_VAL} x {DIM} validation, {K} classes; n_batch {N_BATCH}, "
        f"eta {ETA}, lambda {LAM}; reshuffle every epoch; loss, cost, accuracy on both sets after every epoch")

    log("== checking that the contenders compute the same thing (one float64 epoch, 3000 examples)")
    check = same_workload_check(torch)
    log("  max |W, b - project's| after one epoch: " + ", ".join(
        f"{k} {v:.1e}" for k, v in check.items() if k != "max_abs_W_project"))

    blas_ctx, blas_desc = notebook_blas()
    results = {"environment": info, "workload": {
        "data": f"synthetic, numpy default_rng({DATA_SEED}): class means N(0, 0.2^2) plus N(0, 1) noise",
        "n_train": N_TRAIN, "n_val": N_VAL, "dim": DIM, "classes": K, "n_batch": N_BATCH, "eta": ETA, "lam": LAM,
        "rounds": rounds, "pause_s": pause}, "same_workload_check": check, "project_blas": blas_desc, "dtypes": {}}

    for dtype in (np.float64, np.float32):
        dname = np.dtype(dtype).name
        log(f"== {dname}: generating data")
        X, y, Xv, yv = synthetic_data(dtype=dtype)
        log(f"== {dname}: measuring the machine (bandwidth over the {X.nbytes / 1e9:.2f} GB training array, GEMM)")
        bandwidth = measure_bandwidth(X)
        for k, v in bandwidth.items():
            log(f"  bandwidth {k:30s} {v / 1e9:6.1f} GB/s")
        gemm = measure_gemm(dtype, torch)
        for shape, rates in gemm.items():
            log(f"  GEMM {shape:34s} " + ", ".join(f"{k} {v / 1e9:.1f}" for k, v in rates.items()) + " GFLOP/s")
        model = models(np.dtype(dtype).itemsize)
        lim = limits(model, bandwidth, gemm)
        lim_core = limits(model, *one_core(bandwidth, gemm))
        log(f"  limit: bytes {model['bytes_min'] / 1e9:.2f} GB / {lim['bandwidth_bytes_per_s'] / 1e9:.1f} GB/s = "
            f"{lim['seconds_bytes']:.3f} s; flops {sum(model['flops'].values()) / 1e9:.2f} GFLOP at the epoch's "
            f"shapes = {lim['seconds_flops_shapes']:.3f} s (at square-GEMM peak {lim['seconds_flops_peak']:.3f} s)")
        log(f"  limit on one core (one thread's bandwidth and GEMM rates): {lim_core['limit']:.3f} s")

        rng = np.random.default_rng(1)
        from helpers.model import init_parameters
        W0, b0 = init_parameters(rng, K, DIM, 0.01, dtype)
        log(f"== {dname}: setting up the contenders")
        Xs, Xsv, Xd, Xdv = pixel_data(X, Xv)
        contenders = [Project(X, y, Xv, yv, 1, blas_ctx, "project trainer", "compiled"),
                      Project(Xs, y, Xsv, yv, 1, blas_ctx, NUMPY, "numpy"),
                      Project(Xs, y, Xsv, yv, 1, blas_ctx, PIXELS, "compiled"),
                      Project(Xd, y, Xdv, yv, 1, blas_ctx, DECODED, "compiled")]
        contenders.append(Textbook(X, y, Xv, yv, W0, b0, 1))
        if torch is not None:
            contenders.append(Torch(torch, X, y, Xv, yv, W0, b0, 1))
        times = time_contenders(contenders, rounds, dname, pause)
        finish = contenders[0].finish_seconds()
        log(f"  project trainer: the training-set pass after the last epoch (Trainer.finish, once per run) took "
            f"{finish:.3f} s")
        for c in contenders:
            c.close()
        del contenders
        results["dtypes"][dname] = {"models": model, "bandwidth": bandwidth, "gemm": gemm, "limits": lim,
                                  "limits_one_core": lim_core,
                                    "seconds": times, "project_final_pass_seconds": finish}
        del X, Xv, Xs, Xsv, Xd, Xdv

    log("== memory: N runs at once (load_dataset + 2 epochs of helpers.train.train, synthetic data cache)")
    with tempfile.TemporaryDirectory(prefix="dd2424-bench-data-") as tmp:
        synthetic_data_dir(tmp)
        mem = measure_parallel_memory(tmp)
        results["memory"] = mem
        log(format_memory(mem))
        log("== growth: the training notebook as make runs it (python -m pipeline execute), 1 and 3 epochs")
        results["notebook"] = measure_notebook(tmp)
    results["growth"] = growth(results)
    log(format_growth(results["growth"]))

    results["environment"]["loadavg_end"] = os.getloadavg()
    results["environment"]["cpu_busy_end"] = cpu_busy()
    results["table"] = table_rows(results)
    results["seconds_total"] = time.perf_counter() - t_start
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, out_dir / "results.png")
    log("")
    log(format_table(results))
    log("")
    log(f"wrote {out_dir / 'results.json'} and {out_dir / 'results.png'} in {results['seconds_total']:.0f} s; "
        f"CPU busy right after (other processes): {_percent(results['environment']['cpu_busy_end'])}")
    return results


def table_rows(results):
    rows = []
    for dname, d in results["dtypes"].items():
        med = {name: float(np.median(v)) for name, v in d["seconds"].items()}
        torch_s = next((v for k, v in med.items() if k.startswith("PyTorch")), None)
        text_s = next(v for k, v in med.items() if k.startswith("textbook"))
        project_s = med["project trainer"]
        core = d["limits_one_core"]["limit"]

        def row(name, s, timed=None):
            """One table row: ``s`` seconds per epoch over every reference of the table."""
            return {"dtype": dname, "contender": name, "median_s": s,
                    "min_s": None if timed is None else float(np.min(timed)),
                    "epochs_timed": None if timed is None else len(timed),
                    "x_limit": s / d["limits"]["limit"], "x_limit_peak": s / d["limits"]["limit_peak"],
                    "x_limit_one_core": s / core,
                    "x_pytorch": None if torch_s is None else s / torch_s, "x_textbook": s / text_s,
                    "x_project": s / project_s}

        rows += [row(name, s, d["seconds"][name]) for name, s in med.items()]
        rows += [row("limit (bytes/bandwidth, flops at the epoch's GEMM shapes)", d["limits"]["limit"]),
                 row("limit at square-GEMM peak", d["limits"]["limit_peak"]),
                 row("limit on one core (a run's share under make -jN)", core)]
    return rows


def format_table(results):
    def f(v, fmt):
        return "-" if v is None else format(v, fmt)

    lines = [f"{'dtype':8s} {'contender':58s} {'s/epoch':>8s} {'min':>7s} {'x limit':>8s} {'x peak':>7s} "
             f"{'x 1 core':>8s} {'x torch':>8s} {'x textbook':>10s} {'x compiled':>10s}"]
    for r in results["table"]:
        lines.append(f"{r['dtype']:8s} {r['contender']:58s} {f(r['median_s'], '.3f'):>8s} {f(r['min_s'], '.3f'):>7s} "
                     f"{f(r['x_limit'], '.2f'):>8s} {f(r['x_limit_peak'], '.2f'):>7s} {f(r['x_limit_one_core'], '.2f'):>8s} "
                     f"{f(r['x_pytorch'], '.2f'):>8s} "
                     f"{f(r['x_textbook'], '.2f'):>10s} {f(r['x_project'], '.2f'):>10s}")
    for dname, d in results["dtypes"].items():
        if PIXELS in d["seconds"] and DECODED in d["seconds"]:
            ratio = float(np.median(d["seconds"][PIXELS]) / np.median(d["seconds"][DECODED]))
            lines.append(f"{dname}: pixels decoded as read take {ratio:.3f} x the time of the same pixels decoded "
                         "beforehand (medians; the data/ of one uint8 copy against a float copy per variant)")
        if PIXELS in d["seconds"] and NUMPY in d["seconds"]:
            ratio = float(np.median(d["seconds"][NUMPY]) / np.median(d["seconds"][PIXELS]))
            lines.append(f"{dname}: the NumPy epoch (no compiler) takes {ratio:.2f} x the compiled one, both on the pixels")
        lines.append(f"{dname}: the project trainer also measures the training set once after its last epoch: "
                     f"{d['project_final_pass_seconds']:.3f} s per run")
    lines.append("memory (float64 runs sharing one data cache):")
    lines.append(format_memory(results["memory"]))
    lines.append(format_growth(results["growth"]))
    lines.append("s/epoch: median over the timed epochs; x limit: over the limit measured in this run; "
                 "x peak: over the limit with square-GEMM throughput; x 1 core: over the limit with one thread's rates; x torch / x textbook / x compiled: over that contender (compiled: the project trainer's compiled epoch), same dtype")
    return "\n".join(lines)


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dnames = list(results["dtypes"])
    fig, axes = plt.subplots(1, len(dnames), figsize=(12, 4.2), sharey=False)
    for ax, dname in zip(np.atleast_1d(axes), dnames):
        d = results["dtypes"][dname]
        names = list(d["seconds"])
        med = [float(np.median(d["seconds"][n])) for n in names]
        lo = [m - float(np.min(d["seconds"][n])) for m, n in zip(med, names)]
        hi = [float(np.max(d["seconds"][n])) - m for m, n in zip(med, names)]
        ypos = np.arange(len(names))[::-1]
        colors = (["#1f77b4", "#3182bd", "#9ecae1", "#c6dbef", "#6baed6", "#7f7f7f", "#d62728"] * 2)[: len(names)]
        ax.barh(ypos, med, xerr=[lo, hi], color=colors, capsize=3)
        lim = d["limits"]
        ax.axvline(lim["limit"], color="k", ls="--", lw=1.2, label=f"limit, epoch's GEMM shapes ({lim['limit']:.3f} s)")
        ax.axvline(lim["limit_peak"], color="g", ls=":", lw=1.2,
                   label=f"limit, square-GEMM peak ({lim['limit_peak']:.3f} s)")
        right = [m + h for m, h in zip(med, hi)]
        for yv, m, r in zip(ypos, med, right):
            ax.text(r, yv, f"  {m:.3f} s ({m / lim['limit']:.1f}x limit)", va="center", fontsize=8)
        ax.set_yticks(ypos, names, fontsize=8)
        ax.set_ylim(-0.6, len(names) + 0.6)
        ax.set_xscale("log")
        ax.set_xlabel("seconds per epoch, log scale (median; whiskers: min to max)")
        ax.set_title(f"{dname}")
        ax.set_xlim(min(lim["limit_peak"], min(med)) / 2, max(right) * 8)
        ax.grid(axis="x", which="both", alpha=0.25)
        ax.legend(fontsize=7, loc="upper right")
    env = results["environment"]
    blas = env["blas"][0] if env["blas"] else {}
    fig.suptitle(f"One epoch, synthetic data of the real shapes (45000+5000 x 3072, n_batch 100) - {env['cpu']}, "
                 f"{env['cores']} cores, OpenBLAS kernel {blas.get('architecture')}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder for results.json and results.png")
    parser.add_argument("--rounds", type=int, default=7, help="timed epochs per contender and dtype (>= 5)")
    parser.add_argument("--pause", type=float, default=0.3, help="seconds of rest before each timed epoch")
    parser.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--memory-data", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child is not None:
        memory_child(args.memory_data, args.memory_child)
        return 0
    if args.rounds < 5:
        parser.error("--rounds must be at least 5")
    run(args.out, args.rounds, args.pause)
    return 0


if __name__ == "__main__":
    sys.exit(main())
