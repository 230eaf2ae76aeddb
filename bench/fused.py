"""A compiled fused epoch (numba): the "compiled fused kernel through a maintained library" idea.

One call runs a whole epoch of :func:`helpers.train.run_epoch` (same arguments, same
results up to rounding) as one compiled loop: each mini-batch's rows are read straight
from ``X`` (no gathered copy), the scores under the current and the starting weights come
from register-blocked dot products (4 rows x 10 classes at a time), the softmax and the
update are plain loops, and the gradient is accumulated 4 rows at a time in a small block
of columns that stays in the L1 cache. No BLAS call, no Python per mini-batch.

Floating point: ``fastmath={"reassoc", "contract"}`` only, so that LLVM may vectorise the
sums and use FMA; no "no NaN / no inf" assumptions, so a diverging run still shows
NaN and inf. The order of every sum is fixed by the compiled code (it depends on the
CPU's vector width, as BLAS kernels do), so a run is bitwise reproducible on one machine.

Only ``bench/ideas.py`` uses this module; numba is an optional extra of the benchmark
(``bench/requirements.txt``). Importing this module does not import numba.
"""

import numpy as np

ROWS = 4      # rows per register block
BLOCK = 128   # columns of the gradient accumulated per block
FASTMATH = {"reassoc", "contract"}

_compiled = {}


def _source(K):
    """Source of the epoch kernel for K classes (unrolled over the classes)."""
    ks = range(K)
    L = []
    a = L.append
    a("def epoch(X, y, Wc, b, perm, eta, lam, n_batch, scores, want_scores):")
    a("    N, D = X.shape")
    a(f"    K = {K}")
    a("    decay = 1.0 - 2.0 * eta * lam")
    a("    S2 = np.empty((n_batch, 2 * K), dtype=X.dtype)")
    a(f"    acc = np.empty(({K}, {BLOCK}), dtype=X.dtype)")
    a("    n = perm.shape[0]")
    a("    for start in range(0, n, n_batch):")
    a("        m = min(n_batch, n - start)")
    # forward: scores under Wc[:K] and Wc[K:], ROWS rows at a time, then one at a time
    for half, off in (("W", 0), ("W0", K)):
        a("        i = 0")
        a(f"        while i + {ROWS} <= m:")
        for r in range(ROWS):
            a(f"            x{r} = X[perm[start + i + {r}]]")
        for r in range(ROWS):
            for k in ks:
                a(f"            s{r}_{k} = X.dtype.type(0)" if False else f"            s{r}_{k} = 0.0")
        a("            for d in range(D):")
        for r in range(ROWS):
            a(f"                v{r} = x{r}[d]")
        for k in ks:
            a(f"                w = Wc[{off + k}, d]")
            for r in range(ROWS):
                a(f"                s{r}_{k} += v{r} * w")
        for r in range(ROWS):
            for k in ks:
                a(f"            S2[i + {r}, {off + k}] = s{r}_{k}")
        a(f"            i += {ROWS}")
        a("        while i < m:")
        a("            x0 = X[perm[start + i]]")
        for k in ks:
            a(f"            s0_{k} = 0.0")
        a("            for d in range(D):")
        a("                v0 = x0[d]")
        for k in ks:
            a(f"                s0_{k} += v0 * Wc[{off + k}, d]")
        for k in ks:
            a(f"            S2[i, {off + k}] = s0_{k}")
        a("            i += 1")
    a("        if want_scores:")
    a("            for i in range(m):")
    a("                for k in range(K):")
    a("                    scores[start + i, k] = S2[i, K + k]")
    # softmax, P - Y, times eta / m (in S2[:, :K])
    a("        f = eta / m")
    a("        for i in range(m):")
    a("            mx = S2[i, 0] + b[0]")
    a("            for k in range(K):")
    a("                S2[i, k] += b[k]")
    a("                if S2[i, k] > mx:")
    a("                    mx = S2[i, k]")
    a("            tot = 0.0")
    a("            for k in range(K):")
    a("                e = np.exp(S2[i, k] - mx)")
    a("                S2[i, k] = e")
    a("                tot += e")
    a("            for k in range(K):")
    a("                S2[i, k] = S2[i, k] / tot")
    a("            S2[i, y[perm[start + i]]] -= 1.0")
    a("            for k in range(K):")
    a("                S2[i, k] *= f")
    # gradient, block of columns at a time, and the update of W in the same block
    a(f"        for d0 in range(0, D, {BLOCK}):")
    a(f"            nd = min({BLOCK}, D - d0)")
    a("            acc[:, :nd] = 0.0")
    for k in ks:
        a(f"            a{k} = acc[{k}]")
    a("            i = 0")
    a(f"            while i + {ROWS} <= m:")
    for r in range(ROWS):
        a(f"                x{r} = X[perm[start + i + {r}], d0:d0 + nd]")
    for r in range(ROWS):
        for k in ks:
            a(f"                g{r}_{k} = S2[i + {r}, {k}]")
    a("                for d in range(nd):")
    for r in range(ROWS):
        a(f"                    v{r} = x{r}[d]")
    for k in ks:
        a(f"                    a{k}[d] += " + " + ".join(f"g{r}_{k} * v{r}" for r in range(ROWS)))
    a(f"                i += {ROWS}")
    a("            while i < m:")
    a("                x0 = X[perm[start + i], d0:d0 + nd]")
    for k in ks:
        a(f"                g0_{k} = S2[i, {k}]")
    a("                for d in range(nd):")
    a("                    v0 = x0[d]")
    for k in ks:
        a(f"                    a{k}[d] += g0_{k} * v0")
    a("                i += 1")
    a("            for k in range(K):")
    a("                for d in range(nd):")
    a("                    Wc[k, d0 + d] = Wc[k, d0 + d] * decay - acc[k, d]")
    a("        for k in range(K):")
    a("            t = 0.0")
    a("            for i in range(m):")
    a("                t += S2[i, k]")
    a("            b[k] -= t")
    return "\n".join(L)


def kernel(K):
    """The compiled epoch kernel for K classes (compiled once per process and dtype)."""
    if K not in _compiled:
        import numba

        ns = {"np": np}
        exec(_source(K), ns)
        _compiled[K] = numba.njit(fastmath=FASTMATH, boundscheck=False, nogil=True, cache=False)(ns["epoch"])
    return _compiled[K]


class FusedWorkspace:
    def __init__(self, n_classes, dim, dtype):
        self.Wc = np.empty((2 * n_classes, dim), dtype=dtype)
        self.b0 = np.empty(n_classes, dtype=dtype)


def run_epoch(X, y, W, b, perm, eta, lam, n_batch, ws=None, scores=None):
    """:func:`helpers.train.run_epoch` as one compiled loop (ws: a :class:`FusedWorkspace`)."""
    K, D = W.shape
    ws = ws or FusedWorkspace(K, D, W.dtype)
    ws.Wc[:K] = W
    ws.Wc[K:] = W
    ws.b0[...] = b
    want = scores is not None
    out = scores if want else np.empty((1, K), dtype=W.dtype)
    kernel(K)(X, y, ws.Wc, b, perm, W.dtype.type(eta), W.dtype.type(lam), n_batch, out, want)
    W[...] = ws.Wc[:K]
    if want:
        scores += ws.b0
