"""Mini-batch gradient descent for the softmax classifier.

The inner loop works in preallocated buffers: each mini-batch is gathered from
the shuffled index list straight into a small buffer (no reshuffled copy of the
whole training set), scores, probabilities and gradients are computed in place,
and after every epoch loss, cost and accuracy are measured on the training and
validation sets in one chunked pass each (:func:`helpers.model.evaluate`).
"""

import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from helpers.model import evaluate

HISTORY_KEYS = tuple(f"{split}_{m}" for split in ("train", "val") for m in ("loss", "cost", "accuracy"))


@dataclass
class TrainResult:
    """Outcome of :func:`train`.

    Attributes
    ----------
    W : ndarray, (K, D)
    b : ndarray, (K,)
    history : dict
        ``train_loss``, ``train_cost``, ``train_accuracy``, ``val_*``: lists with one
        value before training (epoch 0) and one after each epoch.
    diverged_at : int or None
        The epoch after which the cost was NaN or infinite; training stopped there.
    seconds : float
        Wall time of the training loop.
    """

    W: np.ndarray
    b: np.ndarray
    history: dict = field(default_factory=dict)
    diverged_at: int | None = None
    seconds: float = 0.0


def init_parameters(rng, n_classes, dim, std, dtype=np.float64):
    """Draw W: (K, D) then b: (K,) from N(0, std**2) with the generator ``rng``."""
    W = rng.normal(0.0, std, size=(n_classes, dim)).astype(dtype)
    b = rng.normal(0.0, std, size=n_classes).astype(dtype)
    return W, b


class Workspace:
    """Buffers reused by every mini-batch of :func:`run_epoch`."""

    def __init__(self, n_batch, dim, n_classes, dtype):
        self.Xb = np.empty((n_batch, dim), dtype=dtype)
        self.S = np.empty((n_batch, n_classes), dtype=dtype)
        self.gW = np.empty((n_classes, dim), dtype=dtype)
        self.rows = np.arange(n_batch)


def run_epoch(X, y, W, b, perm, eta, lam, n_batch, ws=None):
    """One epoch of mini-batch gradient descent, updating W and b in place.

    Parameters
    ----------
    X : ndarray, (N, D)
    y : ndarray, (N,) int labels
    W : ndarray, (K, D), updated in place
    b : ndarray, (K,), updated in place
    perm : ndarray, (N,) int
        Visiting order; batch j is ``perm[j*n_batch:(j+1)*n_batch]`` (the last
        batch may be smaller).
    eta, lam : float
    n_batch : int
    ws : Workspace or None
    """
    K, D = W.shape
    if ws is None:
        ws = Workspace(n_batch, D, K, W.dtype)
    decay = 1.0 - 2.0 * eta * lam
    for start in range(0, perm.shape[0], n_batch):
        idx = perm[start:start + n_batch]
        m = idx.shape[0]
        Xb = np.take(X, idx, axis=0, out=ws.Xb[:m], mode="clip")
        S = ws.S[:m]
        np.matmul(Xb, W.T, out=S)
        S += b
        S -= S.max(axis=1, keepdims=True)
        np.exp(S, out=S)
        S /= S.sum(axis=1, keepdims=True)
        S[ws.rows[:m], y[idx]] -= 1.0  # S is now P - Y
        S *= eta / m                   # eta * G
        np.matmul(S.T, Xb, out=ws.gW)  # eta * grad of the loss
        if lam:
            W *= decay                 # W - eta * 2 lam W
        W -= ws.gW
        b -= S.sum(axis=0)


def measure(train, val, W, b, lam):
    """Loss, cost and accuracy on the training and validation splits (a flat dict)."""
    out = {}
    for split_name, split in (("train", train), ("val", val)):
        for k, v in evaluate(split.X, split.y, W, b, lam).items():
            out[f"{split_name}_{k}"] = v
    return out


def train(train_split, val_split, params, progress=False, desc=None):
    """Train the classifier with mini-batch gradient descent.

    Parameters
    ----------
    train_split, val_split : helpers.dataset.Split
        ``X: (N, D)`` in the dtype to train in (float64 or float32), ``y: (N,)``.
    params : helpers.params.TrainParams
    progress : bool
        Show one progress bar (on stderr) over the epochs.

    Returns
    -------
    TrainResult
    """
    X, y = train_split.X, train_split.y
    n, dim = X.shape
    K = train_split.Y.shape[1]
    rng = np.random.default_rng(params.seed)
    W, b = init_parameters(rng, K, dim, params.init_std, X.dtype)
    ws = Workspace(params.n_batch, dim, K, X.dtype)
    history = {k: [] for k in HISTORY_KEYS}

    def record():
        values = measure(train_split, val_split, W, b, params.lam)
        for k in HISTORY_KEYS:
            history[k].append(values[k])
        return values

    record()
    diverged_at = None
    bar = _bar(params.n_epochs, desc or params.run_id, progress)
    t0 = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"):
        for epoch in range(1, params.n_epochs + 1):
            perm = rng.permutation(n)
            run_epoch(X, y, W, b, perm, params.eta, params.lam, params.n_batch, ws)
            values = record()
            bar.set_postfix(cost=f"{values['train_cost']:.3f}", val_acc=f"{values['val_accuracy']:.3f}", refresh=False)
            bar.update(1)
            if not math.isfinite(values["train_cost"]) or not math.isfinite(values["val_cost"]):
                diverged_at = epoch
                break
    bar.close()
    return TrainResult(W=W, b=b, history=history, diverged_at=diverged_at, seconds=time.perf_counter() - t0)


def _bar(total, desc, enabled):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="epoch", disable=not enabled, file=sys.stderr,
                mininterval=1.0, leave=True)
