"""What each idea for the trainer's epoch buys on this machine (bench/README.md, "Ideas").

Run as ``.venv/bin/python bench/ideas.py`` (about 3 minutes). Every variant trains the
same epochs (synthetic data of the real shapes, 45000 x 3072, n_batch 100, with the
scores under the epoch's starting weights that the trainer needs for the training-set
metrics) and is timed two ways, in the same run, so that only ratios count:

* **alone**: one process, the variants alternating epoch by epoch (the second core is
  free unless something else runs; the helper-thread variants use it);
* **2 in parallel**: two such processes at once, each pinned to its own core, as
  ``make -j2`` runs two notebooks on two cores, the data memory-mapped from one ``.npy``
  file as the real runs map theirs.

Both print how much of the machine other processes used meanwhile (from /proc/stat).

The variants:

``previous``
    the trainer of commit f7579b5 (two 10-column products per mini-batch: the forward
    one under W on the main thread, the one under the starting weights W0 on the helper
    thread, which also gathers), loaded from git; with the helper (``previous, helper``)
    and without (``previous, 1 thread``);
``one product``
    ``bench/blas_trainer.py`` (the trainer of commit c719393): one 20-column product
    ``X_b [W; W0]^T`` on every path, the helper only gathers;
``layout``
    the same products with the scores stored class-major, (2K, m): ``[W; W0] X_b^T``, so
    that G^T, the gradient product's left operand, is contiguous;
``float32``
    ``one product`` on float32 data;
``numba fused``
    ``bench/fused.py``: the whole epoch as one compiled loop (numba), reading the rows
    straight from X, no BLAS; only when numba is installed;
``C kernel``
    ``helpers.train.run_epoch``, the project's trainer since it was adopted: the epoch in
    ``helpers/kernel.c``, compiled with the machine's C compiler; and on float32 data.

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
        blas = B.blas_trainer()
        ws = blas.BlasWorkspace(N_BATCH, D, K, dtype, prefetch=name.endswith("helper"))
        return lambda perm: blas.blas_epoch(X, y, W, b, perm, ETA, LAM, N_BATCH, ws, scores=scores)
    if name.startswith("C kernel"):
        ws = T.Workspace(K, D, dtype)
        labels = np.ascontiguousarray(y, dtype=np.int64)
        return lambda perm: T.run_epoch(X, labels, W, b, perm, ETA, LAM, N_BATCH, ws, scores=scores)
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
            "layout, 1 thread", "float32, 1 thread", "numba fused, 1 thread", "C kernel", "C kernel, float32")


def data_files(folder):
    """Synthetic training data of the real shapes as .npy files (float64, float32, labels)."""
    folder = Path(folder)
    X, y, _, _ = B.synthetic_data(n_val=1)
    np.save(folder / "X64.npy", X)
    np.save(folder / "X32.npy", X.astype(np.float32))
    np.save(folder / "y.npy", y)
    return folder


def load(folder, name):
    X = np.load(Path(folder) / ("X32.npy" if "float32" in name else "X64.npy"), mmap_mode="r")
    return X, np.load(Path(folder) / "y.npy")


def child(folder, names, rounds, core):
    """One process of the parallel measurement, pinned to one core: the alone loop; JSON on stdout."""
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    print(json.dumps(alone(folder, names, rounds, quiet=True)))


def alone(folder, names, rounds, quiet=False):
    """Each variant's epochs, alternating; {"wall": {name: [s]}, "cpu": {name: [s]}} (cpu: this
    process's CPU time over all its threads)."""
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
        cpu = {k: [] for k in epochs}
        for r in range(rounds + 1):
            perm = rng.permutation(B.N_TRAIN)
            for name, epoch in epochs.items():
                time.sleep(0.2)
                t0, c0 = time.perf_counter(), time.process_time()
                epoch(perm)
                if r:  # round 0 warms up (and compiles numba)
                    times[name].append(time.perf_counter() - t0)
                    cpu[name].append(time.process_time() - c0)
            if r and not quiet:
                B.log(f"  [alone, round {r}/{rounds}] " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in times.items()))
    return {"wall": times, "cpu": cpu}


def parallel(folder, names, rounds, n_procs=2):
    """n_procs processes at once, each alternating the variants epoch by epoch as ``alone``
    does (so the processes run the same variant at about the same time, and whatever else
    runs on the machine slows all variants alike). Each process is pinned to its own core:
    N runs on N cores, as make -jN runs them, and a helper thread shares its run's core
    (without pinning, a run with two threads takes a larger share of a machine that other
    work also uses, which is not what it gets under make). The processes get
    OMP_NUM_THREADS=1, as make -jN gives its notebooks; the helper-thread variants set
    their helper explicitly."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    procs = [subprocess.Popen([sys.executable, __file__, "--child", ";".join(names), "--data", str(folder),
                               "--rounds", str(rounds)] + (["--core", str(cores[i % len(cores)])] if cores else []),
                              stdout=subprocess.PIPE, text=True, env=env)
             for i in range(n_procs)]
    outs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise RuntimeError("a child of the parallel measurement failed")
    times = {"wall": {}, "cpu": {}}
    for out in outs:
        for what, d in json.loads(out.strip().splitlines()[-1]).items():
            for k, v in d.items():
                times[what].setdefault(k, []).extend(v)
    return times


def other_load(fn):
    """Run fn(); return its result and the share of the machine other processes used meanwhile
    (all CPU time from /proc/stat minus this process's and its children's)."""
    def busy():
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0), sum(fields)
    tck = os.sysconf("SC_CLK_TCK")
    b0, t0 = busy()
    c0 = os.times()
    result = fn()
    b1, t1 = busy()
    c1 = os.times()
    ours = sum(getattr(c1, k) - getattr(c0, k) for k in ("user", "system", "children_user", "children_system"))
    return result, max(0.0, ((b1 - b0) / tck - ours) / ((t1 - t0) / tck))


def run(out, rounds, par_rounds):
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
        t_alone, load_alone = other_load(lambda: alone(tmp, VARIANTS, rounds))
        B.log(f"  other processes used {100 * load_alone:.0f}% of the machine meanwhile")
        names = list(t_alone["wall"])
        B.log("== 2 in parallel: two such processes at once, as make -j2 (OMP_NUM_THREADS=1)")
        t_par, load_par = other_load(lambda: parallel(tmp, names, par_rounds))
        B.log(f"  other processes used {100 * load_par:.0f}% of the machine meanwhile")
    info["cpu_busy_end"] = B.cpu_busy()
    res = {"environment": info, "alone": t_alone, "parallel_2": t_par,
           "other_load": {"alone": load_alone, "parallel_2": load_par}}
    out.write_text(json.dumps(res, indent=2) + "\n")
    B.log("")
    B.log(format_table(res))
    B.log(f"wrote {out}")
    return res


def format_table(res):
    ref = "one product, 1 thread"
    med = {(mode, what): {k: float(np.median(v)) for k, v in res[mode][what].items() if v}
           for mode in ("alone", "parallel_2") for what in ("wall", "cpu")}
    env = res["environment"]
    blas = env["blas"][0] if env["blas"] else {}
    load = res["other_load"]
    lines = [f"{env['cpu']}, {env['cores']} cores, BLAS {blas.get('internal_api')} {blas.get('version')} "
             f"kernel {blas.get('architecture')}; float64 unless named; medians; other processes used "
             f"{100 * load['alone']:.0f}% (alone) and {100 * load['parallel_2']:.0f}% (2 in parallel) of the machine",
             f"{'variant':24s} {'alone: wall s':>13s} {'ratio':>6s} {'2 pinned: CPU s':>16s} {'ratio':>6s} "
             f"{'(wall s)':>9s}"]
    for k in med[("alone", "wall")]:
        aw, pc, pw = med[("alone", "wall")][k], med[("parallel_2", "cpu")].get(k), med[("parallel_2", "wall")].get(k)
        lines.append(f"{k:24s} {aw:13.3f} {med[('alone', 'wall')][ref] / aw:6.2f} "
                     + ("-" if pc is None else f"{pc:16.3f} {med[('parallel_2', 'cpu')][ref] / pc:6.2f} {pw:9.3f}"))
    lines.append(f"ratio: {ref}'s time over the variant's (> 1: the variant is faster). 2 pinned: two processes, "
                 "one per core, as make -j2; their CPU time per epoch (all threads) is the wall time a run takes "
                 "when its core is its own, whatever else runs")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="timed epochs per variant, alone")
    p.add_argument("--par-rounds", type=int, default=4, help="timed epochs per variant and process, in parallel")
    p.add_argument("--out", type=Path, default=HERE / "ideas.json")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--core", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--data", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        child(a.data, a.child.split(";"), a.rounds, a.core)
        return 0
    run(a.out, a.rounds, a.par_rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
