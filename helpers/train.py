"""Mini-batch gradient descent for the softmax classifier.

An epoch is the course's update, :func:`helpers.model.numpy_epoch`. Where a C
compiler is found (or a library was built before) it runs in the compiled
epoch of :mod:`helpers.compiled_epoch` instead, which computes the same in one pass:
each mini-batch's rows are read in place from the training set (no shuffled
copy; the uint8 pixels of a :class:`helpers.data.ScaledPixels` are decoded as
they are read), and its scores, probabilities, gradient and update are
computed while the rows are in cache. The tests check one against the other.

Loss, cost and accuracy are measured on the full training and validation sets
before training and after every epoch. The validation set is evaluated in one
chunked pass (:func:`helpers.model.evaluate`). The training set is not read a
second time: while epoch ``e + 1`` has a mini-batch in cache, the compiled epoch also
computes its scores under the weights epoch ``e`` ended with, so the
training-set values of epoch ``e`` are known once epoch ``e + 1`` has visited
every example. Only the weights of the last epoch need a separate pass over the
training set. This halves the bytes an epoch reads from memory; the values are
those of a separate pass up to rounding (the sums run in another order).

A run is bitwise reproducible: every number comes from one fixed sequence of
operations, on one thread. ``make bench`` (bench/README.md) measures all of this
against the machine's limit, and the tests check it against the plain loop of
:mod:`helpers.reference`.
"""

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
from tqdm import tqdm

from helpers.blas import single_threaded_blas
from helpers.compiled_epoch import epoch_function, fused_epoch, load_function
from helpers.model import evaluate, init_parameters, metrics, numpy_epoch, score_totals

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
    epoch : str
        Which epoch trained: "compiled" or "numpy" (:func:`epoch_name`).
    """

    W: np.ndarray
    b: np.ndarray
    history: dict = field(default_factory=dict)
    diverged_at: int | None = None
    seconds: float = 0.0
    epoch: str = "compiled"


class Workspace:
    """The weights an epoch starts from, kept beside the ones it trains.

    Attributes
    ----------
    Wc : ndarray, (2K, D)
        Rows ``:K``: the weights being trained during an epoch; rows ``K:``
        (``W0``): the weights the epoch started from. The compiled epoch computes a
        mini-batch's scores under both in one pass over its rows.
    W0 : ndarray, (K, D)
        The weights the epoch started from (a view of ``Wc``).
    b0 : ndarray, (K,)
        The bias the epoch started from.
    """

    def __init__(self, n_classes, dim, dtype):
        self.Wc = np.empty((2 * n_classes, dim), dtype=dtype)
        self.W0 = self.Wc[n_classes:]
        self.b0 = np.empty(n_classes, dtype=dtype)


def epoch_name(dtype):
    """The epoch that trains ``dtype`` in this process: "compiled" or "numpy" (:func:`helpers.compiled_epoch.epoch_function`)."""
    return "numpy" if epoch_function(np.dtype(dtype)) is None else "compiled"


def run_epoch(X, y, W, b, perm, eta, lam, n_batch, ws=None, scores=None, epoch=None, smooth=0.0):
    """One epoch of mini-batch gradient descent, updating W and b in place.

    Parameters
    ----------
    X : ndarray, (N, D), float64 or float32
    y : ndarray, (N,) int labels
    W : ndarray, (K, D), updated in place
    b : ndarray, (K,), updated in place
    perm : ndarray, (N,) int
        Visiting order; batch j is ``perm[j*n_batch:(j+1)*n_batch]`` (the last
        batch may be smaller).
    eta, lam : float
    n_batch : int
    ws : Workspace or None
    scores : ndarray, (N, K), or None
        If given, ``scores[i]`` receives the class scores of example ``perm[i]``
        under the weights W, b had when the epoch started (``X[perm] W0^T + b0``).
        ``ws.W0`` and ``ws.b0`` keep those weights.
    epoch : {None, "compiled", "numpy"}
        Which epoch runs; None: this process's (:func:`epoch_name`).
    smooth : float
        Label smoothing of the training targets (:func:`helpers.model.targets`).

    The epoch runs compiled (:func:`helpers.compiled_epoch.fused_epoch`)
    where there is one, else in :func:`helpers.model.numpy_epoch`. The compiled epoch
    computes each mini-batch's scores under W and W0 with or without ``scores``:
    W and b get the same bits either way.
    """
    K, D = W.shape
    if ws is None:
        ws = Workspace(K, D, W.dtype)
    ws.W0[...] = W
    ws.b0[...] = b
    labels = np.ascontiguousarray(y, dtype=np.int64)
    perm = np.ascontiguousarray(perm, dtype=np.int64)
    if epoch not in (None, "compiled", "numpy"):
        raise ValueError(f"epoch: expected None, 'compiled' or 'numpy', got {epoch!r}")
    function = None if epoch == "numpy" else epoch_function(X.dtype) if epoch is None else load_function(X.dtype)
    if function is None:
        numpy_epoch(X, labels, W, b, perm, eta, lam, n_batch, previous_scores=scores, smooth=smooth)
        return
    ws.Wc[:K] = W
    fused_epoch(X, labels, ws.Wc, b, perm, eta, lam, n_batch, scores=scores, function=function, smooth=smooth)
    W[...] = ws.Wc[:K]
    if scores is not None:
        scores += ws.b0


def metrics_from_scores(S, y, penalty):
    """Loss, cost and accuracy from class scores S: (N, K) and labels y: (N,).

    The same formulas as :func:`helpers.model.evaluate`; ``penalty`` is
    ``lam * sum(W**2)`` of the weights that gave S.
    """
    nll, correct = score_totals(S, y)
    return metrics(nll, correct, S.shape[0], penalty)


class Trainer:
    """The epochs of :func:`train`, one :meth:`step` at a time (the benchmark times them).

    The constructor draws W, b and measures the validation set; each
    :meth:`step` trains one epoch, records the training-set values of the
    previous epoch (from the scores :func:`run_epoch` returns) and measures the
    validation set; :meth:`finish` measures the training set for the last
    epoch and returns the :class:`TrainResult`.
    """

    def __init__(self, train_split, val_split, params, epoch=None):
        self.X, self.y = train_split.X, train_split.y
        self.labels = np.ascontiguousarray(self.y, dtype=np.int64)
        self.val = val_split
        self.val_X = np.asarray(val_split.X)   # read every epoch: pixels decoded once (an array stays as it is)
        self.params = params
        n, dim = self.X.shape
        self.K = train_split.Y.shape[1]
        self.rng = np.random.default_rng(params.seed)
        self.W, self.b = init_parameters(self.rng, self.K, dim, params.init_std, self.X.dtype, params.b_init)
        self.ws = Workspace(self.K, dim, self.X.dtype)
        self.epoch_kind = epoch or epoch_name(self.X.dtype)   # "compiled" or "numpy" (the benchmark times both)
        self.scores = np.empty((n, self.K), dtype=self.X.dtype)
        self.history = {k: [] for k in HISTORY_KEYS}
        self.epoch = 0
        self.diverged_at = None
        self._val = self._evaluate(self.val_X, self.val.y)  # values of the current weights, not yet recorded
        self._open = True

    def _evaluate(self, X, y):
        with np.errstate(over="ignore", invalid="ignore"):
            return evaluate(X, y, self.W, self.b, self.params.lam)

    def _record(self, train_values, val_values):
        for split_name, values in (("train", train_values), ("val", val_values)):
            for k, v in values.items():
                self.history[f"{split_name}_{k}"].append(v)

    def _stop(self, epoch):
        self.diverged_at = epoch
        self._open = False

    def step(self):
        """Train one epoch; False once the run has stopped (diverged).

        Returns
        -------
        dict or bool
            The validation values after this epoch, or False if the run stopped.
        """
        if not self._open:
            return False
        p = self.params
        with np.errstate(over="ignore", invalid="ignore"):
            perm = self.rng.permutation(self.X.shape[0])
            penalty = p.lam * float(np.sum(self.W * self.W, dtype=np.float64))
            run_epoch(self.X, self.labels, self.W, self.b, perm, p.eta, p.lam, p.n_batch, self.ws, scores=self.scores,
                      epoch=self.epoch_kind, smooth=p.smooth)
            self.epoch += 1
            previous = metrics_from_scores(self.scores, self.y[perm], penalty)
            self._record(previous, self._val)  # the values of epoch - 1
            if self.epoch > 1 and not math.isfinite(previous["cost"]):
                # epoch - 1 diverged on the training set: undo this epoch and stop there
                self.W[...] = self.ws.W0
                self.b[...] = self.ws.b0
                self.epoch -= 1
                self._stop(self.epoch)
                return False
            self._val = self._evaluate(self.val_X, self.val.y)
            if not math.isfinite(self._val["cost"]):
                self._record(self._evaluate(self.X, self.y), self._val)
                self._stop(self.epoch)
                return False
        return self._val

    def finish(self):
        """Measure the training set for the last epoch (if not yet done) and return the result."""
        if self._open:
            train_values = self._evaluate(self.X, self.y)
            self._record(train_values, self._val)
            self._open = False
            if self.epoch > 0 and not (math.isfinite(train_values["cost"]) and math.isfinite(self._val["cost"])):
                self.diverged_at = self.epoch
        return TrainResult(W=self.W, b=self.b, history=self.history, diverged_at=self.diverged_at,
                           epoch=self.epoch_kind)


def tqdm_bar(total, desc):
    """A one-line tqdm bar over ``total`` epochs on stderr (in a notebook: below the cell)."""
    return tqdm(total=total, desc=desc, unit="epoch", mininterval=0.5)


class _NoBar:
    """The bar of a run that shows none."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n=1):
        pass

    def set_postfix(self, **kwargs):
        pass


def progress_bar(total, desc, progress):
    """The bar of a run: none when ``progress`` is false, ``progress(total, desc)`` when it is callable,
    else :func:`tqdm_bar`."""
    if not progress:
        return _NoBar()
    return (progress if callable(progress) else tqdm_bar)(total, desc)


def train(train_split, val_split, params, progress=False, desc=None):
    """Train the classifier with mini-batch gradient descent, BLAS on one thread.

    Parameters
    ----------
    train_split, val_split : helpers.data.Split
        ``X: (N, D)`` in the dtype to train in (float64 or float32), ``y: (N,)``.
    params : helpers.params.TrainParams
    progress : bool or callable
        Show one progress bar over the epochs: :func:`tqdm_bar` when True, ``progress(n_epochs, desc)``
        when callable (:func:`progress_bar`).

    Returns
    -------
    TrainResult
    """
    with single_threaded_blas():
        trainer = Trainer(train_split, val_split, params)
        t0 = time.perf_counter()
        with progress_bar(params.n_epochs, desc or params.label, progress) as bar:
            for _ in range(params.n_epochs):
                values = trainer.step()
                if values is False:
                    break
                bar.set_postfix(val_cost=f"{values['cost']:.3f}", val_acc=f"{values['accuracy']:.3f}", refresh=False)
                bar.update(1)
            result = trainer.finish()
    result.seconds = time.perf_counter() - t0
    return result


def train_seeds(train_split, val_split, setting, seeds, progress=False, label=None):
    """Train ``setting`` once per seed (see :func:`train`).

    Returns
    -------
    dict
        seed -> TrainResult, in the order of ``seeds``.
    """
    results = {}
    for seed in seeds:
        params = replace(setting, seed=seed)
        results[seed] = train(train_split, val_split, params, progress=progress,
                              desc=f"{label or params.label}, seed {seed}")
    return results


def evaluate_seeds(split, results, lam):
    """Loss, cost and accuracy of every seed's weights on ``split`` (e.g. the test set).

    Returns
    -------
    dict
        seed -> {"loss", "cost", "accuracy"}.
    """
    with single_threaded_blas():
        return {seed: evaluate(split.X, split.y, r.W, r.b, lam) for seed, r in results.items()}
