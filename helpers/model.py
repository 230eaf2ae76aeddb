"""One-layer softmax classifier: scores, probabilities, loss, cost, accuracy, gradients.

Shapes follow the course's notation, with images as rows:
``X: (N, D)``, ``W: (K, D)``, ``b: (K,)``, ``Y: (N, K)`` one-hot, ``y: (N,)`` labels.
Scores are ``S = X W^T + b`` of shape (N, K). The cost is the mean
cross-entropy plus ``lam * sum(W**2)``; b is not penalised.
"""

import numpy as np


def one_hot(y, n_classes=10, dtype=np.float64):
    """One-hot encode labels ``y`` (N,) into an (N, K) array."""
    Y = np.zeros((y.shape[0], n_classes), dtype=dtype)
    Y[np.arange(y.shape[0]), y] = 1
    return Y


def targets(y, n_classes=10, dtype=np.float64, smooth=0.0):
    """Training targets T: (N, K) for labels y: (N,): ``(1 - smooth) * one_hot(y) + smooth / K``.

    ``smooth = 0`` (the course) gives the one-hot Y itself.
    """
    Y = one_hot(y, n_classes, dtype)
    return (1 - smooth) * Y + smooth / n_classes if smooth else Y


def init_parameters(rng, n_classes, dim, std, dtype=np.float64, b_init="like-W"):
    """Draw W: (K, D), then b: (K,), from N(0, std**2) with the generator ``rng``.

    ``b_init="zero"`` sets b to zeros after the same draws (so W and the generator's later draws, the
    shuffles, are those of ``"like-W"``).
    """
    W = rng.normal(0.0, std, size=(n_classes, dim)).astype(dtype)
    b = rng.normal(0.0, std, size=n_classes).astype(dtype)
    if b_init == "zero":
        b[...] = 0
    return W, b


def scores(X, W, b):
    """Class scores. X: (N, D), W: (K, D), b: (K,) -> S: (N, K)."""
    return X @ W.T + b


def softmax(S):
    """Row-wise softmax of scores S: (N, K), stable for large |S| (max subtracted)."""
    E = np.exp(S - S.max(axis=1, keepdims=True))
    E /= E.sum(axis=1, keepdims=True)
    return E


def log_softmax(S):
    """Row-wise log-softmax of S: (N, K); finite for any finite scores."""
    Z = S - S.max(axis=1, keepdims=True)
    return Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))


def evaluate_classifier(X, W, b):
    """Class probabilities P: (N, K) for X: (N, D) (the course's EvaluateClassifier)."""
    return softmax(scores(X, W, b))


def compute_loss(X, y, W, b):
    """Mean cross-entropy of labels y: (N,) under the model (W, b)."""
    logp = log_softmax(scores(X, W, b))
    return float(-logp[np.arange(X.shape[0]), y].mean())


def compute_cost(X, y, W, b, lam):
    """Loss plus the L2 penalty ``lam * sum(W**2)`` (b is not penalised)."""
    return compute_loss(X, y, W, b) + lam * float(np.sum(W * W))


def compute_accuracy(X, y, W, b):
    """Fraction of rows of X whose highest score is the true label y: (N,)."""
    return float(np.mean(np.argmax(scores(X, W, b), axis=1) == y))


def evaluate(X, y, W, b, lam, chunk=1024):
    """Loss, cost and accuracy in one pass over X, in row chunks.

    Parameters
    ----------
    X : ndarray, (N, D)
    y : ndarray, (N,) int
    W : ndarray, (K, D)
    b : ndarray, (K,)
    lam : float

    Returns
    -------
    dict
        ``loss``, ``cost``, ``accuracy`` as Python floats.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged model's scores: reported as nan/inf
        return _evaluate_chunks(X, y, W, b, lam, chunk)


def _evaluate_chunks(X, y, W, b, lam, chunk):
    n = X.shape[0]
    nll = 0.0
    correct = 0
    S = np.empty((min(chunk, n), W.shape[0]), dtype=np.result_type(X.dtype, W.dtype))
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        Sc = S[: stop - start]
        np.matmul(X[start:stop], W.T, out=Sc)
        Sc += b
        chunk_nll, chunk_correct = score_totals(Sc, y[start:stop])
        nll += chunk_nll
        correct += chunk_correct
    return metrics(nll, correct, n, lam * float(np.sum(W * W, dtype=np.float64)))


def score_totals(S, y):
    """Summed cross-entropy and number of correct rows for scores S: (N, K) and labels y: (N,).

    The log-sum-exp subtracts each row's maximum, so it is finite for any finite scores.
    """
    m = S.max(axis=1)
    correct = int(np.count_nonzero(S.argmax(axis=1) == y))
    lse = m + np.log(np.exp(S - m[:, None]).sum(axis=1))
    return float(np.sum(lse - S[np.arange(S.shape[0]), y], dtype=np.float64)), correct


def metrics(nll, correct, n, penalty):
    """The ``loss``, ``cost`` and ``accuracy`` dict from summed cross-entropy and correct rows."""
    loss = nll / n
    return {"loss": loss, "cost": loss + penalty, "accuracy": correct / n}


def compute_gradients(X, Y, P, W, lam):
    """Analytic gradients of the cost (the course's ComputeGradients).

    Parameters
    ----------
    X : ndarray, (N, D)
    Y : ndarray, (N, K) one-hot
    P : ndarray, (N, K) probabilities from :func:`evaluate_classifier`
    W : ndarray, (K, D)
    lam : float

    Returns
    -------
    grad_W : ndarray, (K, D)
        ``(P - Y)^T X / N + 2 lam W``
    grad_b : ndarray, (K,)
        ``mean over rows of (P - Y)``
    """
    G = (P - Y) / X.shape[0]
    return G.T @ X + 2 * lam * W, G.sum(axis=0)


def numpy_epoch(X, y, W, b, perm, eta, lam, n_batch, previous_scores=None, smooth=0.0):
    """One epoch of mini-batch gradient descent in plain NumPy, updating W and b in place.

    This is the course's update, step by step; the compiled epoch
    (:mod:`helpers.compiled_epoch`) computes the same and is tested against it, and
    training falls back to it where no C compiler is found.

    Parameters
    ----------
    X : ndarray, (N, D)
    y : ndarray, (N,) int labels
    W : ndarray, (K, D), updated in place
    b : ndarray, (K,), updated in place
    perm : ndarray, (n,) int
        Visiting order: batch j is ``X[perm[j*n_batch:(j+1)*n_batch]]`` (the last may be smaller).
    eta, lam : float
        Learning rate; L2 penalty ``lam * ||W||^2``.
    n_batch : int
    previous_scores : ndarray, (n, K), or None
        If given, ``previous_scores[i]`` receives the scores of ``X[perm[i]]`` under the W
        and b the epoch started from: the training set's values of the previous epoch
        come from them without another pass over X.
    smooth : float
        Label smoothing of the targets (:func:`targets`); 0 is the course's one-hot.
    """
    W0, b0 = W.copy(), b.copy()
    for start in range(0, perm.shape[0], n_batch):
        batch = perm[start:start + n_batch]
        Xb = X[batch]                                   # (n_batch, D)
        if previous_scores is not None:
            previous_scores[start:start + batch.shape[0]] = scores(Xb, W0, b0)
        P = evaluate_classifier(Xb, W, b)               # (n_batch, K)
        Yb = targets(y[batch], W.shape[0], P.dtype, smooth)   # (n_batch, K)
        grad_W, grad_b = compute_gradients(Xb, Yb, P, W, lam)
        W -= eta * grad_W
        b -= eta * grad_b
