"""The report's figures, drawn from results and returned as matplotlib figures.

* Figure 1 (per setting): loss, cost and accuracy per epoch on training and
  validation data; over several seeds, the mean curve and a min-max band.
* Figure 2 (per setting): the K rows of W, each reshaped to a 32x32 colour
  image (the data are channel-planar: R, G, B planes, each row-major) and
  scaled to [0, 1].
* A few images of a data set with their labels, and the audit's figure: test
  accuracy per setting, the original's value against every seed of every variant.

The functions build :class:`matplotlib.figure.Figure` objects without pyplot and
switch no backend (pyplot in a notebook keeps working inline); ``make`` runs the
notebooks with ``MPLBACKEND=Agg``. Showing and saving are separate steps:
:func:`show` displays a figure in a notebook, :func:`save_figure` writes a
byte-reproducible PNG.
"""

import io
import warnings

import numpy as np
from matplotlib.figure import Figure

from helpers.cifar10 import CLASS_NAMES
from helpers.files import atomic_path
from helpers.paths import project_path
from helpers.results import METRICS

#: PNG metadata without the Software tag and timestamps: equal figures, equal bytes.
PNG_METADATA = {"Software": None}


def figure_png(fig, dpi=100):
    """The figure as PNG bytes, without metadata that changes per run."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata=PNG_METADATA)
    return buf.getvalue()


def show(fig, dpi=100):
    """The figure as an image a notebook displays, whatever matplotlib backend is active.

    The last expression of a cell, ``show(plot_history(...))``, shows the plot
    inline both in JupyterLab and in a papermill run under ``MPLBACKEND=Agg``.
    """
    from IPython.display import Image

    return Image(data=figure_png(fig, dpi), format="png")


def save_figure(fig, path, dpi=100):
    """Save ``fig`` as a PNG file atomically (see :func:`figure_png`); returns the path.

    Relative paths are relative to the project root.
    """
    path = project_path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(figure_png(fig, dpi))
    return path


def stack_histories(histories, key):
    """One history key over several runs as an array (n_runs, n_epochs + 1), NaN-padded.

    A run that diverged has a shorter history; its missing epochs are NaN.
    """
    length = max(len(h[key]) for h in histories)
    out = np.full((len(histories), length), np.nan)
    for i, h in enumerate(histories):
        out[i, :len(h[key])] = np.asarray(h[key], dtype=float)
    return out


def plot_history(histories, title="", diverged_at=None):
    """Figure 1 panel group: loss, cost and accuracy per epoch, training and validation.

    Parameters
    ----------
    histories : dict or list of dict
        One run's history (``train_loss``, ``val_loss``, ``train_cost``, ... lists,
        epoch 0 first) or several runs' (e.g. one per seed): then the mean curve
        is drawn with the min-max band over the runs.
    title : str
    diverged_at : int or None
        Marked on the plots when the (first) run diverged.

    Returns
    -------
    matplotlib.figure.Figure
    """
    histories = [histories] if isinstance(histories, dict) else list(histories)
    fig = Figure(figsize=(12, 3.4))
    axes = fig.subplots(1, 3)
    for ax, metric in zip(axes, METRICS):
        for split, style, colour in (("train", "-", "C0"), ("val", "--", "C1")):
            values = stack_histories(histories, f"{split}_{metric}")
            epochs = np.arange(values.shape[1])
            label = "training" if split == "train" else "validation"
            with warnings.catch_warnings():  # an epoch where every run had diverged: NaN, no warning
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(values, axis=0)
                lo, hi = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
            if len(histories) > 1:
                label += f" (mean of {len(histories)}, min-max band)"
                ax.fill_between(epochs, lo, hi, color=colour, alpha=0.2, linewidth=0)
            ax.plot(epochs, mean, style, color=colour, label=label)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        if diverged_at is not None:
            ax.axvline(diverged_at, color="red", lw=1)
            ax.text(diverged_at, ax.get_ylim()[1], f" diverged at epoch {diverged_at}",
                    color="red", va="top", fontsize=8)
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def as_images(rows):
    """Rows (K, 3072), channel-planar, as K images (32, 32, 3), each scaled to [0, 1]."""
    ims = np.asarray(rows).reshape(len(rows), 3, 32, 32).transpose(0, 2, 3, 1).astype(np.float64)
    lo = ims.min(axis=(1, 2, 3), keepdims=True)
    hi = ims.max(axis=(1, 2, 3), keepdims=True)
    span = np.where(hi > lo, hi - lo, 1.0)
    with np.errstate(invalid="ignore"):
        ims = (ims - lo) / span
    return np.nan_to_num(ims, nan=0.0, posinf=1.0, neginf=0.0)


#: The rows of W as images (Figure 2).
weight_images = as_images


def _image_row(images, titles, title, width=1.2):
    fig = Figure(figsize=(width * len(images), 1.6))
    axes = np.atleast_1d(fig.subplots(1, len(images)))
    for ax, im, name in zip(axes, images, titles):
        ax.imshow(im, interpolation="nearest")
        ax.set_title(name, fontsize=8)
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_weights(W, title="", class_names=CLASS_NAMES):
    """Figure 2 panel: each row of W: (K, 3072) as a 32x32 colour image.

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = [class_names[k] if k < len(class_names) else str(k) for k in range(W.shape[0])]
    return _image_row(as_images(W), names, title)


def plot_examples(split, n=10, title="", class_names=CLASS_NAMES):
    """The first ``n`` images of a split with their labels (each image scaled to [0, 1]).

    Returns
    -------
    matplotlib.figure.Figure
    """
    n = min(n, split.n)
    return _image_row(as_images(np.asarray(split.X[:n])), [class_names[k] for k in split.y[:n]], title)


def plot_accuracy_audit(points, original, title="Test accuracy per setting"):
    """The audit's figure: per setting, the original's accuracy and every seed of every variant.

    Parameters
    ----------
    points : list of dict
        ``setting`` (label), ``variant``, ``seed``, ``accuracy`` per run.
    original : dict
        setting label -> the original's accuracy (missing settings have no marker).

    Returns
    -------
    matplotlib.figure.Figure
    """
    settings = list(dict.fromkeys(p["setting"] for p in points))
    variants = list(dict.fromkeys(p["variant"] for p in points))
    fig = Figure(figsize=(2.2 * len(settings) + 2.5, 2.8))
    ax = fig.subplots()
    width = 0.7
    for j, variant in enumerate(variants):
        offset = -width / 2 + width * (j + 0.5) / len(variants)
        xs, ys = [], []
        for p in points:
            if p["variant"] == variant:
                xs.append(settings.index(p["setting"]) + offset)
                ys.append(p["accuracy"])
        ax.plot(xs, ys, "o", color=f"C{j}", alpha=0.75, markersize=5, label=variant, linestyle="none")
    ox = [i for i, s in enumerate(settings) if s in original]
    ax.plot(ox, [original[settings[i]] for i in ox], marker="_", color="black", markersize=40,
            markeredgewidth=2.5, linestyle="none", label="the original")
    for i in range(1, len(settings)):
        ax.axvline(i - 0.5, color="0.85", lw=0.8)
    ax.set_xticks(range(len(settings)), settings, fontsize=8)
    ax.set_ylabel("test accuracy")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5), markerscale=0.6)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_sensitivity(levels, course, printed, half_unit, choice, title):
    """How one of the original's numbers moves with one choice: every seed a dot, the original a line.

    Parameters
    ----------
    levels : list of (value, list of float)
        The choice's values tried (the course setup's among them) and our values over seeds at each.
    course : object
        The course setup's value of the choice (its dots are drawn in black).
    printed, half_unit : float
        The original's number and half a unit of its last printed digit (a band around the line).
    choice, title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = Figure(figsize=(6.5, 2.3))
    ax = fig.subplots()
    labels = [f"{v:g}" if isinstance(v, float) else str(v) for v, _ in levels]
    values = [np.asarray(vals, dtype=float) for _, vals in levels]
    for i, ((v, _), vals) in enumerate(zip(levels, values)):
        color = "black" if v == course else "C0"
        ax.plot(np.full(vals.size, i), vals, "o", color=color, alpha=0.7, markersize=5)
        ax.plot([i - 0.25, i + 0.25], [np.mean(vals)] * 2, color=color, lw=1.5)
    ax.axhline(printed, color="C3", lw=1.5, label=f"the original: {printed:g}")
    ax.axhspan(printed - half_unit, printed + half_unit, color="C3", alpha=0.15, lw=0)
    finite = np.concatenate(values + [np.array([printed])])
    finite = finite[np.isfinite(finite)]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 30:
        ax.set_yscale("log")
    ax.set_xticks(range(len(levels)), [f"{lab}\n(course)" if v == course else lab for lab, (v, _) in zip(labels, levels)],
                  fontsize=8)
    ax.set_xlabel(choice)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


#: Colours of the audit's four verdicts (helpers.audit.VERDICTS), from agreeing to not.
VERDICT_COLOURS = {"reproduced": "#2ca02c", "within the printed digits": "#98df8a", "explained": "#ff7f0e", "unexplained": "#d62728"}


def plot_glance(rows, limit=10.0, title="Every number the original printed, against ours"):
    """One row per printed number: its match distance from ours under the course setup (a dot coloured by
    its verdict) and under the configuration that explains it (a ring). At most 1: a match.

    Parameters
    ----------
    rows : list of dict
        ``name``, ``verdict``, ``distance`` (course setup) and ``distance_best`` (the explanation's, or
        None): :func:`helpers.audit.match_distance`.
    limit : float
        A distance beyond it is drawn at it, with an arrow.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = Figure(figsize=(9, 1.1 + 0.13 * len(rows)))
    ax = fig.subplots()
    y = np.arange(len(rows))[::-1]
    for yi, r in zip(y, rows):
        far = not r["distance"] <= limit   # beyond the limit, inf or nan
        x = limit if far else r["distance"]
        colour = VERDICT_COLOURS.get(r["verdict"], "grey")
        ax.plot([x], [yi], "o", color=colour, markersize=7, zorder=3)
        if far:
            ax.annotate("", xy=(limit + 0.6, yi), xytext=(limit, yi), arrowprops={"arrowstyle": "->", "color": colour})
        if r.get("distance_best") is not None:
            xb = min(r["distance_best"], limit)
            ax.plot([xb], [yi], "o", color=colour, markerfacecolor="none", markersize=9, zorder=3)
            ax.plot([xb, x], [yi, yi], color=colour, lw=0.8, alpha=0.6)
    ax.axvline(1, color="grey", ls="--", lw=1)
    ax.text(1.1, len(rows) - 0.4, "left of 1: a match", fontsize=7, color="grey", va="top")
    ax.set_yticks(y, [r["name"] for r in rows], fontsize=7)
    ax.set_xlim(-0.2, limit + 1)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel("how far the original lies from our mean; 1 = as far as seed noise and its printed digits allow\n"
                  "(dot: the course setup; ring: the configuration that explains it)", fontsize=8)
    for verdict, colour in VERDICT_COLOURS.items():
        ax.plot([], [], "o", color=colour, label=verdict)
    ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, frameon=False)
    fig.suptitle(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
