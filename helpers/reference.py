"""The plain textbook training loop, as the course writes it: the reference the fast trainer is checked against.

Images are columns here, as in the course's code: ``X: (D, N)``, ``Y: (K, N)``
one-hot, ``W: (K, D)``, ``b: (K, 1)``. The functions carry the course's names
and compute with the model's own (:mod:`helpers.model`, images as rows) on the
transposed arrays: the formulas are written once. The loop is the course's,
with no buffers and no tricks. The tests check :func:`helpers.train.run_epoch` and
:func:`helpers.train.train` against :func:`textbook_epoch` and :func:`textbook_train`,
and ``make bench`` times them against each other.
"""

import numpy as np

from helpers import model


def EvaluateClassifier(X, W, b):
    """P = softmax(W X + b): (K, N) for X: (D, N), b: (K, 1) (:func:`helpers.model.evaluate_classifier`)."""
    return model.evaluate_classifier(X.T, W, b[:, 0]).T


def ComputeCost(X, Y, W, b, lam):
    """Loss (mean of -log(y^T p) over the columns) and cost (loss + lam * ||W||^2) (:mod:`helpers.model`)."""
    y = np.argmax(Y, axis=0)
    loss = model.compute_loss(X.T, y, W, b[:, 0])
    return loss, model.compute_cost(X.T, y, W, b[:, 0], lam)


def ComputeAccuracy(X, y, W, b):
    """Share of columns of X: (D, N) whose highest probability is the label y: (N,)."""
    return model.compute_accuracy(X.T, y, W, b[:, 0])


def ComputeGradients(X, Y, P, W, lam):
    """Gradients of the cost: ``(P - Y) X^T / N + 2 lam W`` (K, D) and ``mean of P - Y`` (K, 1)
    (:func:`helpers.model.compute_gradients`)."""
    grad_W, grad_b = model.compute_gradients(X.T, Y.T, P.T, W, lam)
    return grad_W, grad_b[:, None]


def textbook_epoch(Xd, Yd, W, b, perm, eta, lam, n_batch):
    """One epoch: a shuffled copy, column slices of ``n_batch``, plain gradient steps.

    Xd: (D, N), Yd: (K, N) one-hot, W: (K, D), b: (K, 1). Returns the new (W, b).
    """
    Xs, Ys = Xd[:, perm], Yd[:, perm]
    n = Xs.shape[1]
    for start in range(0, n, n_batch):
        Xb, Yb = Xs[:, start:start + n_batch], Ys[:, start:start + n_batch]
        P = EvaluateClassifier(Xb, W, b)
        gW, gb = ComputeGradients(Xb, Yb, P, W, lam)
        W = W - eta * gW
        b = b - eta * gb
    return W, b


def textbook_train(train_split, val_split, params):
    """The whole run of :func:`helpers.train.train`, written plainly.

    The same generator draws as the fast trainer (W, then b, then one
    permutation per epoch), the same measurements before training and after
    every epoch (two passes: a training-set and a validation-set evaluation).

    Returns
    -------
    W : ndarray, (K, D)
    b : ndarray, (K,)
    history : dict
        ``train_loss``, ``train_cost``, ``train_accuracy``, ``val_*`` per epoch (epoch 0 first).
    """
    Xd, Yd, y = np.ascontiguousarray(train_split.X.T), train_split.Y.T, train_split.y
    Xv, Yv, yv = np.ascontiguousarray(val_split.X.T), val_split.Y.T, val_split.y
    rng = np.random.default_rng(params.seed)
    W, b = model.init_parameters(rng, Yd.shape[0], Xd.shape[0], params.init_std, Xd.dtype, params.b_init)
    b = b[:, None]
    K = Yd.shape[0]
    Td = (1 - params.smooth) * Yd + params.smooth / K if params.smooth else Yd   # the training targets
    history = {f"{s}_{m}": [] for s in ("train", "val") for m in ("loss", "cost", "accuracy")}

    def record():
        for split, (X_, Y_, y_) in (("train", (Xd, Yd, y)), ("val", (Xv, Yv, yv))):
            loss, cost = ComputeCost(X_, Y_, W, b, params.lam)
            history[f"{split}_loss"].append(loss)
            history[f"{split}_cost"].append(cost)
            history[f"{split}_accuracy"].append(ComputeAccuracy(X_, y_, W, b))

    record()
    for _ in range(params.n_epochs):
        perm = rng.permutation(Xd.shape[1])
        W, b = textbook_epoch(Xd, Td, W, b, perm, params.eta, params.lam, params.n_batch)
        record()
    return W, b[:, 0], history
