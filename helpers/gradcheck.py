"""Numerical gradients and the gradient check of section 1.1 of the report.

Two finite-difference schemes, as in the course's code, with step ``h = 1e-6``:

* forward (the course's ComputeGradsNum): ``(c(x + h) - c(x)) / h``, fast;
* centred (ComputeGradsNumSlow): ``(c(x + h) - c(x - h)) / (2 h)``, accurate.
"""

import numpy as np

from helpers.data import one_hot
from helpers.model import compute_cost, compute_gradients, evaluate_classifier, init_parameters

METHODS = ("forward", "centred")


def numerical_gradients(X, y, W, b, lam, h=1e-6, method="centred"):
    """Finite-difference gradients of the cost with respect to W and b.

    Parameters
    ----------
    X : ndarray, (N, D)
    y : ndarray, (N,) int
    W : ndarray, (K, D)
    b : ndarray, (K,)
    lam : float
    h : float
        Step size.
    method : {"forward", "centred"}

    Returns
    -------
    grad_W : ndarray, (K, D)
    grad_b : ndarray, (K,)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    W = W.astype(np.float64, copy=True)
    b = b.astype(np.float64, copy=True)

    def cost():
        return compute_cost(X, y, W, b, lam)

    base = cost() if method == "forward" else None
    grads = []
    for theta in (W, b):
        grad = np.zeros_like(theta)
        flat, gflat = theta.reshape(-1), grad.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + h
            plus = cost()
            if method == "forward":
                gflat[i] = (plus - base) / h
            else:
                flat[i] = old - h
                gflat[i] = (plus - cost()) / (2 * h)
            flat[i] = old
        grads.append(grad)
    return grads[0], grads[1]


def gradient_stats(analytic, numerical, eps=1e-6):
    """Compare an analytic and a numerical gradient, as the report prints them.

    Returns
    -------
    dict
        ``diff_mean``, ``diff_std``, ``diff_max`` of ``|analytic - numerical|``;
        ``grad_min``, ``grad_max``, ``grad_std`` of the numerical gradient;
        ``rel_max``: max of ``|ga - gn| / max(eps, |ga| + |gn|)``.
    """
    diff = np.abs(analytic - numerical)
    rel = diff / np.maximum(eps, np.abs(analytic) + np.abs(numerical))
    return {
        "diff_mean": float(diff.mean()),
        "diff_std": float(diff.std()),
        "diff_max": float(diff.max()),
        "grad_min": float(numerical.min()),
        "grad_max": float(numerical.max()),
        "grad_std": float(numerical.std()),
        "rel_max": float(rel.max()),
    }


#: Subsets (images, dimensions) tried by :func:`subset_search`: the original does not state its own.
SUBSETS = ((1, 20), (2, 20), (5, 20), (10, 20), (20, 20), (50, 20), (100, 20), (1, 100), (10, 100),
           (2, 3072), (5, 3072), (10, 3072))


def check_gradients(X, y, lams, n_images, n_dims, seed, variance=4.0, h=1e-6, eps=1e-6, n_classes=10,
                    methods=METHODS):
    """Run the gradient check of section 1.1 on a subset of the data.

    Parameters
    ----------
    X : ndarray, (N, D)
        Normalised images; the first ``n_images`` rows and ``n_dims`` columns are used.
    y : ndarray, (N,) int
    lams : sequence of float
        Regularisation strengths to check (e.g. 0 and 0.1).
    n_images, n_dims : int
        Size of the subset.
    seed : int
        Seed of the generator that draws W and b.

    Returns
    -------
    list of dict
        One row per (lam, method, parameter) with the :func:`gradient_stats`.
    """
    Xs = np.ascontiguousarray(X[:n_images, :n_dims], dtype=np.float64)
    ys = y[:n_images]
    rng = np.random.default_rng(seed)
    W, b = init_parameters(rng, n_classes, n_dims, np.sqrt(variance))
    rows = []
    for lam in lams:
        P = evaluate_classifier(Xs, W, b)
        gW, gb = compute_gradients(Xs, one_hot(ys, n_classes), P, W, lam)
        for method in methods:
            nW, nb = numerical_gradients(Xs, ys, W, b, lam, h=h, method=method)
            for name, ga, gn in (("W", gW, nW), ("b", gb, nb)):
                rows.append({"lam": float(lam), "method": method, "param": name,
                             **gradient_stats(ga, gn, eps)})
    return rows


def subset_search(X, y, seed, subsets=SUBSETS, variance=4.0, h=1e-6, method="centred"):
    """The check (λ = 0, one method) on several subsets of images and dimensions.

    The gradients' size depends on the subset (a mean over fewer images is
    larger), so comparing these rows with the original's numbers tells which
    subset the original may have used.

    Returns
    -------
    list of dict
        One row per (subset, parameter): ``n_images``, ``n_dims`` and the :func:`gradient_stats`.
    """
    rows = []
    for n_images, n_dims in subsets:
        for row in check_gradients(X, y, [0.0], n_images, n_dims, seed, variance=variance, h=h, methods=(method,)):
            rows.append({"n_images": n_images, "n_dims": n_dims, **row})
    return rows


def gradcheck_table(rows):
    """The gradient-check statistics as a pandas table (one row per lam, method, parameter)."""
    import pandas as pd

    df = pd.DataFrame(rows)
    first = [c for c in ("lam", "method", "param") if c in df.columns]
    df = df[first + [c for c in df.columns if c not in first]]
    return df.rename(columns={
        "lam": "λ", "param": "gradient", "diff_mean": "mean |Δ|", "diff_std": "std |Δ|",
        "diff_max": "max |Δ|", "grad_min": "min g_num", "grad_max": "max g_num",
        "grad_std": "std g_num", "rel_max": "max rel. error",
    })


def run_gradient_check(data_dir="data", n_images=100, n_dims=20, lams=(0.0, 0.1), seed=2022, variance=4.0,
                       h=1e-6, n_val=5000):
    """The gradient check of section 1.1 on the first training images of the course's split.

    BLAS runs on one thread, so the numbers are the same on every run.

    Returns
    -------
    dict
        The subset used (``n_images``, ``n_dims``, ``lams``, ``seed``, ``variance``, ``h``),
        ``rows``: one per (lam, method, parameter), see :func:`check_gradients`, and
        ``subsets``: the centred check on other subsets, see :func:`subset_search`.
    """
    from helpers.blas import single_threaded_blas
    from helpers.data import load_dataset

    data = load_dataset(data_dir, n_val=n_val)
    lams = [float(v) for v in lams]
    with single_threaded_blas():
        rows = check_gradients(data.train.X, data.train.y, lams, n_images, n_dims, seed, variance=variance, h=h)
        subsets = subset_search(data.train.X, data.train.y, seed, variance=variance, h=h)
    return {"n_images": n_images, "n_dims": n_dims, "lams": lams, "seed": seed,
            "variance": variance, "h": h, "rows": rows, "subsets": subsets}
