"""The NumPy/BLAS epoch the project trained with before helpers/kernel.c (commit c719393).

``make bench`` times it beside the project's trainer, in the same run, so that the
kernel's gain is a ratio measured on one machine at one time; ``bench/ideas.py`` uses it
as the "one product" variant. Each mini-batch is gathered from X into a buffer (by a
helper thread while the main thread trains on the previous one, when ``prefetch``), its
scores under the current and the starting weights come from one 20-column product
``X_b [W; W0]^T``, and the gradient from a second product ``G^T X_b``; BLAS on one thread.
Not used by the notebooks.
"""

import contextlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np


class BlasWorkspace:
    """Buffers reused by every mini-batch of :func:`run_epoch`.

    Attributes
    ----------
    Xb, Xb_next : ndarray, (n_batch, D)
        The gathered mini-batch and the next one (gathered meanwhile, see ``prefetch``).
    Wc : ndarray, (2K, D)
        Rows ``:K``: the weights being trained during an epoch; rows ``K:``
        (``W0``): the weights the epoch started from. One product with ``Wc``
        gives a mini-batch's scores under both.
    W0 : ndarray, (K, D)
        The weights the epoch started from (a view of ``Wc``).
    b0 : ndarray, (K,)
        The bias the epoch started from.
    S2 : ndarray, (n_batch, 2K)
        Scores under ``Wc``; its first K columns (``S``) become probabilities,
        then ``eta`` times the loss gradient of a mini-batch.
    gW : ndarray, (K, D)
        ``eta`` times the gradient of the loss on the mini-batch.
    prefetch : bool
        Use a helper thread that gathers the next mini-batch while the main
        thread trains on one (the trainer did when it ran alone; under
        ``make -jN`` it did not). Gathering is a copy: the numbers are the same
        either way.
    """

    def __init__(self, n_batch, dim, n_classes, dtype, prefetch=False):
        self.Xb = np.empty((n_batch, dim), dtype=dtype)
        self.Xb_next = np.empty((n_batch, dim), dtype=dtype)
        self.prefetch = prefetch
        self.Wc = np.empty((2 * n_classes, dim), dtype=dtype)
        self.W0 = self.Wc[n_classes:]
        self.b0 = np.empty(n_classes, dtype=dtype)
        self.S2 = np.empty((n_batch, 2 * n_classes), dtype=dtype)
        self.gW = np.empty((n_classes, dim), dtype=dtype)
        self.rows = np.arange(n_batch)

    @property
    def S(self):
        return self.S2[:, : self.W0.shape[0]]


def blas_epoch(X, y, W, b, perm, eta, lam, n_batch, ws=None, scores=None):
    """:func:`helpers.train.run_epoch` (same arguments, the same results up to rounding) in
    NumPy and BLAS; ``ws``: a :class:`BlasWorkspace` or None.

    Each mini-batch's scores come from one product ``X_b [W; W0]^T`` (2K columns),
    with or without ``scores``, so W and b are bitwise the same either way.
    """
    K, D = W.shape
    if ws is None:
        ws = BlasWorkspace(n_batch, D, K, W.dtype, prefetch=False)
    Wt, W0 = ws.Wc[:K], ws.W0
    Wt[...] = W
    W0[...] = W
    ws.b0[...] = b
    n = perm.shape[0]
    n_batches = -(-n // n_batch)
    helper = bool(ws.prefetch) and n_batches > 1
    decay = 1.0 - 2.0 * eta * lam
    buffers = (ws.Xb, ws.Xb_next)

    def batch(j):
        return perm[j * n_batch:(j + 1) * n_batch]

    def gather(j):
        idx = batch(j)
        return np.take(X, idx, axis=0, out=buffers[j % 2][: idx.shape[0]], mode="clip")

    with contextlib.ExitStack() as stack:
        pool = pending = None
        if helper:
            pool = stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="run_epoch"))
            gather(0)
        for j in range(n_batches):
            idx = batch(j)
            m = idx.shape[0]
            start = j * n_batch
            if pool is None:
                Xb = gather(j)
            else:
                if pending is not None:
                    pending.result()
                if j + 1 < n_batches:  # into the buffer batch j - 1 used
                    pending = pool.submit(gather, j + 1)
                Xb = buffers[j % 2][:m]
            S2 = ws.S2[:m]
            np.matmul(Xb, ws.Wc.T, out=S2)  # scores under W (columns :K) and W0 (K:)
            if scores is not None:
                scores[start:start + m] = S2[:, K:]
            S = S2[:, :K]
            S += b
            S -= S.max(axis=1, keepdims=True)
            np.exp(S, out=S)
            S /= S.sum(axis=1, keepdims=True)
            S[ws.rows[:m], y[idx]] -= 1.0  # S is now P - Y
            S *= eta / m                   # eta * G
            np.matmul(S.T, Xb, out=ws.gW)  # eta * grad of the loss
            if lam:
                Wt *= decay                # W - eta * 2 lam W
            Wt -= ws.gW
            b -= S.sum(axis=0)
        if pending is not None:
            pending.result()
    W[...] = Wt
    if scores is not None:
        scores += ws.b0
