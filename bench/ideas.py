"""What each idea for the trainer's epoch buys on this machine (bench/README.md, "Ideas").

Run as ``.venv/bin/python bench/ideas.py`` (about 3 minutes). Every variant trains the
same epochs (synthetic data of the real shapes, 45000 x 3072, n_batch 100, with the
scores under the epoch's starting weights that the trainer needs for the training-set
metrics) and is timed two ways, in the same run, so that only ratios count:

* **alone**: one process, the variants alternating epoch by epoch (the second core is
  free unless something else runs; the helper-thread variants use it);
* **2 in parallel**: for each variant two processes at once, as ``make -j2`` runs two
  notebooks, the data memory-mapped from one ``.npy`` file as the real runs map theirs;
  the variants alternate round by round.

The variants:

``previous``
    the trainer of commit f7579b5 (two 10-column products per mini-batch: the forward
    one under W on the main thread, the one under the starting weights W0 on the helper
    thread, which also gathers), loaded from git; with the helper (``previous, helper``)
    and without (``previous, 1 thread``);
``one product``
    ``helpers.train.run_epoch``: one 20-column product ``X_b [W; W0]^T`` on every path,
    the helper only gathers;
``layout``
    the same products with the scores stored class-major, (2K, m): ``[W; W0] X_b^T``, so
    that G^T, the gradient product's left operand, is contiguous;
``float32``
    ``helpers.train.run_epoch`` on float32 data;
``numba fused``
    ``bench/fused.py``: the whole epoch as one compiled loop (numba), reading the rows
    straight from X, no BLAS; only when numba is installed.

Prints a table and writes ``bench/ideas.json``.
"""

import argparse
import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import bench as B  # noqa: E402  (bench/bench.py)

PREVIOUS_COMMIT = "f7579b5"
N_BATCH, ETA, LAM, K = B.N_BATCH, B.ETA, B.LAM, B.K


def previous_trainer():
    """helpers/train.py of PREVIOUS_COMMIT as a module, or None without git."""
    try:
        src = subprocess.run(["git", "-C", str(ROOT), "show", f"{PREVIOUS_COMMIT}:helpers/train.py"],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(tempfile.mkdtemp(prefix="dd2424-prev-")) / "train_previous.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("train_previous", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def layout_epoch(X, y, W, b, perm, eta, lam, n_batch, ws, scores):
    """One product per mini-batch as in helpers.train, the scores class-major (2K, m)."""
    Kc, D = W.shape
    Wc, Xb, ST, gW = ws["Wc"], ws["Xb"], ws["ST"], ws["gW"]
    Wc[:Kc] = W
    Wc[Kc:] = W
    b0 = b.copy()
    Wt = Wc[:Kc]
    decay = 1.0 - 2.0 * eta * lam
    cols = np.arange(n_batch)
    for start in range(0, perm.shape[0], n_batch):
        idx = perm[start:start + n_batch]
        m = idx.shape[0]
        xb = np.take(X, idx, axis=0, out=Xb[:m], mode="clip")
        S2 = ST[:, :m]
        np.matmul(Wc, xb.T, out=S2)
        scores[start:start + m] = S2[Kc:].T
        S = S2[:Kc]
        S += b[:, None]
        S -= S.max(axis=0)
        np.exp(S, out=S)
        S /= S.sum(axis=0)
        S[y[idx], cols[:m]] -= 1.0
        S *= eta / m
        np.matmul(S, xb, out=gW)
        if lam:
            Wt *= decay
        Wt -= gW
        b -= S.sum(axis=1)
    W[...] = Wt
    scores += b0


def make_variant(name, X, y, W0, b0):
    """A zero-argument-per-epoch closure: epoch(perm) for variant ``name`` on (X, y)."""
    from helpers import train as T

    N, D = X.shape
    dtype = X.dtype
    W, b = W0.astype(dtype), b0.astype(dtype)
    scores = np.empty((N, K), dtype=dtype)
    if name.startswith("previous"):
        prev = previous_trainer()
        if prev is None:
            return None
        ws = prev.Workspace(N_BATCH, D, K, dtype, prefetch=name.endswith("helper"))
        return lambda perm: prev.run_epoch(X, y, W, b, perm, ETA, LAM, N_BATCH, ws, scores=scores)
    if name.startswith(("one product", "float32")):
        ws = T.Workspace(N_BATCH, D, K, dtype, prefetch=name.endswith("helper"))
        return lambda perm: T.run_epoch(X, y, W, b, perm, ETA, LAM, N_BATCH, ws, scores=scores)
    if name.startswith("layout"):
        ws = {"Wc": np.empty((2 * K, D), dtype), "Xb": np.empty((N_BATCH, D), dtype),
              "ST": np.empty((2 * K, N_BATCH), dtype), "gW": np.empty((K, D), dtype)}
        return lambda perm: layout_epoch(X, y, W, b, perm, ETA, LAM, N_BATCH, ws, scores)
    if name.startswith("numba"):
        try:
            import numba  # noqa: F401
        except ImportError:
            return None
        import fused

        fws = fused.FusedWorkspace(K, D, dtype)
        return lambda perm: fused.run_epoch(X, y, W, b, perm, ETA, LAM, N_BATCH, fws, scores=scores)
    raise ValueError(name)


VARIANTS = ("previous, helper", "previous, 1 thread", "one product, helper", "one product, 1 thread",
            "layout, 1 thread", "float32, 1 thread", "numba fused, 1 thread")


def data_files(folder):
    """Synthetic training data of the real shapes as .npy files (float64, float32, labels)."""
    folder = Path(folder)
    X, y, _, _ = B.synthetic_data(n_val=1)
    np.save(folder / "X64.npy", X)
    np.save(folder / "X32.npy", X.astype(np.float32))
    np.save(folder / "y.npy", y)
    return folder


def load(folder, name):
    X = np.load(Path(folder) / ("X32.npy" if name.startswith("float32") else "X64.npy"), mmap_mode="r")
    return X, np.load(Path(folder) / "y.npy")


def child(folder, name, epochs):
    """Time ``epochs`` epochs of one variant (after a warm-up epoch); JSON on stdout."""
    from helpers.blas import single_threaded_blas
    from helpers.model import init_parameters

    X, y = load(folder, name)
    W0, b0 = init_parameters(np.random.default_rng(1), K, X.shape[1], 0.01)
    rng = np.random.default_rng(2)
    with single_threaded_blas():
        epoch = make_variant(name, X, y, W0, b0)
        times = []
        for _ in range(epochs + 1):
            perm = rng.permutation(X.shape[0])
            t0 = time.perf_counter()
            epoch(perm)
            times.append(time.perf_counter() - t0)
    print(json.dumps({"variant": name, "times": times[1:]}))


def alone(folder, names, rounds):
    from helpers.blas import single_threaded_blas
    from helpers.model import init_parameters

    rng = np.random.default_rng(2)
    epochs = {}
    with single_threaded_blas():
        for name in names:
            X, y = load(folder, name)
            W0, b0 = init_parameters(np.random.default_rng(1), K, X.shape[1], 0.01)
            epochs[name] = make_variant(name, X, y, W0, b0)
        epochs = {k: v for k, v in epochs.items() if v is not None}
        times = {k: [] for k in epochs}
        for r in range(rounds + 1):
            perm = rng.permutation(B.N_TRAIN)
            for name, epoch in epochs.items():
                time.sleep(0.2)
                t0 = time.perf_counter()
                epoch(perm)
                if r:  # round 0 warms up (and compiles numba)
                    times[name].append(time.perf_counter() - t0)
            if r:
                B.log(f"  [alone, round {r}/{rounds}] " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in times.items()))
    return times


def parallel(folder, names, rounds, epochs, n_procs=2):
    times = {k: [] for k in names}
    for r in range(rounds):
        for name in names:
            procs = [subprocess.Popen([sys.executable, __file__, "--child", name, "--data", str(folder),
                                       "--epochs", str(epochs)], stdout=subprocess.PIPE, text=True,
                                      env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
                     for _ in range(n_procs)]
            outs = [p.communicate()[0] for p in procs]
            if any(p.returncode for p in procs):
                raise RuntimeError(f"child for {name} failed")
            for out in outs:
                times[name].extend(json.loads(out.strip().splitlines()[-1])["times"])
        B.log(f"  [{n_procs} in parallel, round {r + 1}/{rounds}] " + ", ".join(
            f"{k} {np.median(v):.3f}" for k, v in times.items() if v))
    return times


def run(out, rounds, par_rounds, epochs):
    info = B.environment(None)
    blas = info["blas"][0] if info["blas"] else {}
    B.log(f"machine: {info['cpu']}, {info['cores']} cores; numpy {info['numpy']}, BLAS {blas.get('internal_api')} "
          f"{blas.get('version')} kernel {blas.get('architecture')}; CPU busy before: "
          f"{B._percent(info['cpu_busy_start'])}")
    with contextlib.suppress(ImportError):
        import numba

        info["numba"] = numba.__version__
        B.log(f"numba {numba.__version__}")
    with tempfile.TemporaryDirectory(prefix="dd2424-ideas-") as tmp:
        B.log("== writing synthetic data (45000 x 3072, float64 and float32) to a temporary folder")
        data_files(tmp)
        B.log("== alone: one process, the variants alternating epoch by epoch")
        t_alone = alone(tmp, VARIANTS, rounds)
        names = [n for n in VARIANTS if n in t_alone and not n.endswith("helper")]
        B.log("== 2 in parallel: two processes per variant, as make -j2 (OMP_NUM_THREADS=1)")
        t_par = parallel(tmp, names + ["previous, helper"] * ("previous, helper" in t_alone), par_rounds, epochs)
    info["cpu_busy_end"] = B.cpu_busy()
    res = {"environment": info, "alone": t_alone, "parallel_2": t_par}
    out.write_text(json.dumps(res, indent=2) + "\n")
    B.log("")
    B.log(format_table(res))
    B.log(f"wrote {out}")
    return res


def format_table(res):
    ref = "one product, 1 thread"
    med_a = {k: float(np.median(v)) for k, v in res["alone"].items()}
    med_p = {k: float(np.median(v)) for k, v in res["parallel_2"].items() if v}
    env = res["environment"]
    blas = env["blas"][0] if env["blas"] else {}
    lines = [f"{env['cpu']}, {env['cores']} cores, BLAS {blas.get('internal_api')} {blas.get('version')} "
             f"kernel {blas.get('architecture')}; float64 unless named; s/epoch = median",
             f"{'variant':26s} {'alone s/epoch':>13s} {'x ' + ref:>28s} {'2 parallel s/epoch':>19s} "
             f"{'x ' + ref:>28s}"]
    for k in med_a:
        pa = med_p.get(k)
        lines.append(f"{k:26s} {med_a[k]:13.3f} {med_a[ref] / med_a[k]:28.2f} "
                     f"{'-' if pa is None else format(pa, '.3f'):>19s} "
                     f"{'-' if pa is None else format(med_p[ref] / pa, '.2f'):>28s}")
    lines.append(f"(x {ref}: how many times faster than this trainer on one thread; > 1 is faster)")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="timed epochs per variant, alone")
    p.add_argument("--par-rounds", type=int, default=2, help="rounds of the 2-in-parallel measurement")
    p.add_argument("--epochs", type=int, default=3, help="timed epochs per process and round, in parallel")
    p.add_argument("--out", type=Path, default=HERE / "ideas.json")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--data", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        child(a.data, a.child, a.epochs)
        return 0
    run(a.out, a.rounds, a.par_rounds, a.epochs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
