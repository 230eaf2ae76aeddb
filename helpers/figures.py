"""Figures 1 and 2 of the report, saved as byte-reproducible PNG files.

Figure 1 (per setting): loss, cost and accuracy per epoch on training and
validation data. Figure 2 (per setting): the K rows of W, each reshaped to a
32x32 colour image (the data are channel-planar: R, G, B planes, each
row-major) and scaled to [0, 1].
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from helpers.atomic import atomic_path  # noqa: E402

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
#: PNG metadata without the Software tag and timestamps: equal figures, equal bytes.
PNG_METADATA = {"Software": None}


def save_figure(fig, path, dpi=100):
    """Save ``fig`` as PNG atomically, without metadata that changes per run."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, metadata=PNG_METADATA)
    plt.close(fig)
    return path


def plot_history(history, title="", diverged_at=None):
    """Figure 1 panel group: loss, cost and accuracy per epoch.

    Parameters
    ----------
    history : dict
        ``train_loss``, ``val_loss``, ``train_cost``, ... lists (epoch 0 first).
    title : str
    diverged_at : int or None
        Marked on the plots when the run diverged.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for ax, metric in zip(axes, ("loss", "cost", "accuracy")):
        for split, style in (("train", "-"), ("val", "--")):
            values = np.asarray(history[f"{split}_{metric}"], dtype=float)
            label = "training" if split == "train" else "validation"
            ax.plot(np.arange(values.size), values, style, label=label)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        if diverged_at is not None:
            ax.axvline(diverged_at, color="red", lw=1)
            ax.text(diverged_at, ax.get_ylim()[1], f" diverged at epoch {diverged_at}",
                    color="red", va="top", fontsize=8)
    axes[0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def weight_images(W):
    """Rows of W: (K, 3072) as K images (32, 32, 3), each scaled to [0, 1]."""
    ims = W.reshape(W.shape[0], 3, 32, 32).transpose(0, 2, 3, 1).astype(np.float64)
    lo = ims.min(axis=(1, 2, 3), keepdims=True)
    hi = ims.max(axis=(1, 2, 3), keepdims=True)
    span = np.where(hi > lo, hi - lo, 1.0)
    ims = (ims - lo) / span
    return np.nan_to_num(ims, nan=0.0, posinf=1.0, neginf=0.0)


def plot_weights(W, title="", class_names=CLASS_NAMES):
    """Figure 2 panel: each row of W: (K, 3072) as a 32x32 colour image.

    Returns
    -------
    matplotlib.figure.Figure
    """
    ims = weight_images(W)
    fig, axes = plt.subplots(1, ims.shape[0], figsize=(1.2 * ims.shape[0], 1.6))
    for k, ax in enumerate(np.atleast_1d(axes)):
        ax.imshow(ims[k], interpolation="nearest")
        ax.set_title(class_names[k] if k < len(class_names) else str(k), fontsize=8)
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def draw_weights(run_dir, figure):
    """Figure 2 panel of one run: its rows of W as images, saved to ``figure``.

    Relative paths are relative to the project root.

    Returns
    -------
    Path
        The PNG written.
    """
    from helpers.params import TrainParams
    from helpers.paths import project_path
    from helpers.results import load_run

    doc = load_run(project_path(run_dir))
    label = TrainParams(**doc["params"]).label
    return save_figure(plot_weights(doc["W"], label), project_path(figure))
