"""Numerical gradients and the gradient check of section 1.1 of the report.

Two finite-difference schemes, as in the course's code, with step ``h = 1e-6``:

* forward (the course's ComputeGradsNum): ``(c(x + h) - c(x)) / h``, fast;
* centred (ComputeGradsNumSlow): ``(c(x + h) - c(x - h)) / (2 h)``, accurate.

:func:`numerical_gradients` is the course's loop, one cost evaluation per
parameter, and what the check of section 1.1 runs. :func:`perturbed_costs` gives
the same costs vectorised (only the perturbed class's scores move), about 50
times faster; the search over the choices the original does not state
(:func:`search_gradient_check`) runs on it. Its rounding differs from the loop's
in the last bits of the cost: the loop recomputes ``X Wᵀ`` for every step, the
search adds the step's column to the scores. Where |Δ| is the rounding error of
the cost (small h, few dimensions) the two can differ by a factor of 2 or 3
(at the course setup, seed 2022: gW's mean |Δ| 8.4e-10 by the loop, 2.0e-9 by
the search; tested to stay within a factor of 4); the gradients agree to 1e-8.
"""

import itertools
import time

import numpy as np

from helpers import likelihood
from helpers.blas import single_threaded_blas
from helpers.data import load_dataset
from helpers.model import compute_cost, compute_gradients, evaluate_classifier, init_parameters, one_hot, scores

METHODS = ("forward", "centred")


def _check_method(method):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")


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
    _check_method(method)
    W = np.array(W, dtype=np.float64, order="C")   # C order: the flat view below must be W itself, not a copy
    b = np.array(b, dtype=np.float64, order="C")

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
                       h=1e-6, n_val=5000, search="full"):
    """The gradient check of section 1.1 on the first training images of the course's split.

    BLAS runs on one thread, so the numbers are the same on every run.

    Returns
    -------
    dict
        The subset used (``n_images``, ``n_dims``, ``lams``, ``seed``, ``variance``, ``h``),
        ``rows``: one per (lam, method, parameter), see :func:`check_gradients`, and
        ``search``: the check over every choice the original leaves unstated, see :func:`search_gradient_check`,
        in the space named by the ``search`` argument (:data:`SEARCHES`: ``"full"``, or ``"small"`` for
        tests), with ``space`` (as grown), ``grown``, ``search_seeds`` and ``baseline``. The search's wall time
        is printed, not returned: the results file holds only what is the same on every run.
    """
    if search not in SEARCHES:  # before any work
        raise ValueError(f"search must be one of {', '.join(SEARCHES)}, not {search!r}")
    space, seeds = SEARCHES[search]
    data = load_dataset(data_dir, n_val=n_val)
    lams = [float(v) for v in lams]
    with single_threaded_blas():
        rows = check_gradients(data.train.X, data.train.y, lams, n_images, n_dims, seed, variance=variance, h=h)
        start = time.perf_counter()
        searched, space, grown = search_until_inside(data.train.X, data.train.y, space, seeds,
                                                     lambda r: likelihood.named_check_choices(r, BASELINE_CHECK),
                                                     variance=variance)
        seconds = time.perf_counter() - start
    print(f"search: {len(searched) // 2} configurations and draws in {seconds:.1f} s on one core")
    return {"n_images": n_images, "n_dims": n_dims, "lams": lams, "seed": seed, "variance": variance, "h": h,
            "rows": rows, "baseline": BASELINE_CHECK, "space": {k: list(v) for k, v in space.items()},
            "grown": grown, "search_seeds": list(seeds), "search": searched}


# --- the search over the choices the original does not state --------------------------------

#: The original states the method (centred) and the variance of W and b (4); these are the choices
#: it leaves unstated (and the method, in case it is not the one that printed), with the values tried.
SEARCH_SPACE = {"lam": (0.0, 0.01, 0.1, 1.0), "n_images": (1, 2, 5, 10, 20, 50, 100), "n_dims": (20, 100, 3072),
                "h": (1e-4, 1e-5, 1e-6, 1e-7, 1e-8), "method": METHODS}
#: How a numeric choice's range grows when the configuration the audit names lies on its edge:
#: choice -> (factor, lowest, highest). A value outside [lowest, highest] is implausible and not tried;
#: the number of dimensions is not grown (3072 is all of them) and neither is λ below 0.
EDGE_GROWTH = {"h": (10.0, 1e-10, 1e-2), "lam": (10.0, 1e-4, 100.0), "n_images": (2, 1, 2000)}
#: Draws of W and b per configuration: each statistic gets a spread, as the training numbers do.
SEARCH_SEEDS = (2022, 2023, 2024, 2025, 2026)
#: The check as this project runs it where the original is silent: the course's λ = 0 and h, the first
#: 20 dimensions as in the course's example, 100 images, and the method the original names.
BASELINE_CHECK = {"lam": 0.0, "n_images": 100, "n_dims": 20, "h": 1e-6, "method": "centred"}


def _shifted_losses(S, y, k, shift):
    """Mean cross-entropy of the scores S: (N, K) with column k moved by each row of shift: (P, N) -> (P,)."""
    Sp = np.repeat(S[None], shift.shape[0], axis=0)
    Sp[:, :, k] += shift
    Z = Sp - Sp.max(axis=2, keepdims=True)
    logp = Z - np.log(np.exp(Z).sum(axis=2, keepdims=True))
    return -logp[:, np.arange(S.shape[0]), y].mean(axis=1)


def perturbed_costs(X, y, W, b, lams, h, chunk=256):
    """The costs :func:`numerical_gradients` evaluates, for every parameter at once and every λ.

    Moving ``W[k, d]`` by a step moves only column k of the scores, by ``step * X[:, d]``, and the
    penalty by ``lam * ((w + step)**2 - w**2)``; the step is the one the loop takes in floating point,
    ``(w + h) - w``. The loss of each moved score matrix is computed as :func:`compute_loss` does.

    Parameters
    ----------
    X : ndarray, (N, D)
    y : ndarray, (N,) int
    W : ndarray, (K, D)
    b : ndarray, (K,)
    lams : sequence of float
    h : float

    Returns
    -------
    dict
        ``lam -> {"base": c(θ), +1: (costs of W + h, costs of b + h), -1: (... - h)}``, the costs of W
        of shape (K, D), of b (K,).
    """
    S = scores(X, W, b)
    K, D = W.shape
    square = float(np.sum(W * W))
    moved = {}
    for sign in (1, -1):
        loss_W, penalty_W, loss_b = np.empty((K, D)), np.empty((K, D)), np.empty(K)
        for k in range(K):
            for start in range(0, D, chunk):
                w = W[k, start:start + chunk]
                step = (w + sign * h) - w
                loss_W[k, start:start + chunk] = _shifted_losses(S, y, k, step[:, None] * X[:, start:start + chunk].T)
                penalty_W[k, start:start + chunk] = (w + step) ** 2 - w * w
            step = (b[k] + sign * h) - b[k]
            loss_b[k] = _shifted_losses(S, y, k, np.full((1, X.shape[0]), step))[0]
        moved[sign] = (loss_W, penalty_W, loss_b)
    base_loss = float(_shifted_losses(S, y, 0, np.zeros((1, X.shape[0])))[0])
    out = {}
    for lam in lams:
        out[lam] = {"base": base_loss + lam * square}
        for sign, (loss_W, penalty_W, loss_b) in moved.items():
            out[lam][sign] = (loss_W + lam * (square + penalty_W), loss_b + lam * square)
    return out


def gradients_from_costs(costs, h, method):
    """Numerical gradients (W: (K, D), b: (K,)) from one λ's :func:`perturbed_costs`."""
    _check_method(method)
    if method == "forward":
        return tuple((plus - costs["base"]) / h for plus in costs[1])
    return tuple((plus - minus) / (2 * h) for plus, minus in zip(costs[1], costs[-1]))


def search_gradient_check(X, y, space=SEARCH_SPACE, seeds=SEARCH_SEEDS, variance=4.0, eps=1e-6, n_classes=10):
    """The check of section 1.1 for every combination of the choices in ``space``, with every seed.

    Parameters
    ----------
    X : ndarray, (N, D)
        Normalised training images; a configuration uses the first ``n_images`` rows and
        ``n_dims`` columns.
    y : ndarray, (N,) int
    space : dict
        ``lam``, ``n_images``, ``n_dims``, ``h``, ``method`` -> the values to try.
    seeds : sequence of int
        One draw of W and b from N(0, variance) per seed (the same draw for every λ, h, method and
        number of images).

    Returns
    -------
    list of dict
        One row per configuration, seed and parameter: the choices, ``seed``, ``param`` and the
        :func:`gradient_stats` (analytic gradients against :func:`perturbed_costs`' numerical ones).
    """
    rows = []
    for n_dims, seed in itertools.product(space["n_dims"], seeds):
        W, b = init_parameters(np.random.default_rng(seed), n_classes, n_dims, np.sqrt(variance))
        for n_images in space["n_images"]:
            Xs = np.ascontiguousarray(X[:n_images, :n_dims], dtype=np.float64)
            ys = y[:n_images]
            P = evaluate_classifier(Xs, W, b)
            analytic = {lam: compute_gradients(Xs, one_hot(ys, n_classes), P, W, lam) for lam in space["lam"]}
            for h in space["h"]:
                costs = perturbed_costs(Xs, ys, W, b, space["lam"], h)
                for lam, method in itertools.product(space["lam"], space["method"]):
                    numerical = gradients_from_costs(costs[lam], h, method)
                    choice = {"lam": float(lam), "n_images": n_images, "n_dims": n_dims, "h": h, "method": method}
                    for name, ga, gn in zip(("W", "b"), analytic[lam], numerical):
                        rows.append({**choice, "seed": seed, "param": name, **gradient_stats(ga, gn, eps)})
    return rows


def edge_extensions(space, best, growth=EDGE_GROWTH):
    """The values that would put ``best``'s choices inside their ranges of ``space``.

    Parameters
    ----------
    space : dict
        Choice -> the values searched.
    best : dict
        Choice -> the value of the configuration named best.
    growth : dict
        :data:`EDGE_GROWTH`.

    Returns
    -------
    dict
        Choice -> the next value beyond the edge ``best`` lies on (times or divided by the factor),
        for every choice of ``growth`` searched over at least two values whose best value is its
        largest or smallest, when that next value is plausible; empty when ``best`` lies inside.
    """
    new = {}
    for choice, (factor, lowest, highest) in growth.items():
        values = sorted(space.get(choice, ()))
        if len(values) < 2 or choice not in best:
            continue
        v = best[choice]
        grown = v * factor if v == values[-1] else v / factor if v == values[0] and v > 0 else None
        if grown is not None:
            grown = int(grown) if isinstance(v, int) else float(f"{grown:.12g}")
        if grown is not None and lowest <= grown <= highest and grown not in values:
            new[choice] = grown
    return new


def search_until_inside(X, y, space, seeds, name_best, variance=4.0, max_rounds=8):
    """:func:`search_gradient_check`, with each range grown while the configuration named best lies on its edge.

    Parameters
    ----------
    X, y, space, seeds, variance
        As :func:`search_gradient_check`.
    name_best : callable
        ``name_best(rows)`` -> list of dicts (choice -> value): the configurations the audit would name
        from these rows (one per printing convention, say).
    max_rounds : int
        Growth stops after this many rounds.

    Returns
    -------
    rows : list of dict
        Every row searched, the grown values' included.
    space : dict
        The space as finally searched (each choice's values sorted).
    grown : list of dict
        ``choice``, ``value`` (added) and ``edge`` (the best value that lay on the edge), in order.
    """
    rows = search_gradient_check(X, y, space, seeds, variance=variance)
    space = {k: tuple(v) for k, v in space.items()}
    factor, lowest, highest = EDGE_GROWTH["n_images"]
    growth = {**EDGE_GROWTH, "n_images": (factor, lowest, min(highest, X.shape[0]))}   # no more images than X has
    grown = []
    for _ in range(max_rounds):
        new = {}
        for best in name_best(rows):
            new.update({choice: (value, best[choice]) for choice, value in edge_extensions(space, best, growth).items()})
        if not new:
            break
        for choice, (value, edge) in new.items():
            rows += search_gradient_check(X, y, {**space, choice: (value,)}, seeds, variance=variance)
            space[choice] = tuple(sorted(space[choice] + (value,)))
            grown.append({"choice": choice, "value": value, "edge": edge})
    return rows, space, grown


#: The searches :func:`run_gradient_check` can run: the full one, and a small one (the course setup among
#: a few others) that tests of the whole build use.
SEARCHES = {"full": (SEARCH_SPACE, SEARCH_SEEDS),
            "small": ({"lam": (0.0, 1.0), "n_images": (10, 100), "n_dims": (20,), "h": (1e-6,), "method": METHODS},
                      (2022, 2023))}
