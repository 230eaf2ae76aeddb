import numpy as np

from helpers.figures import plot_history, plot_weights, save_figure, weight_images


def png_chunks(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        chunks.append((data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return chunks


def history(n=4, diverge=False):
    h = {f"{s}_{m}": list(np.linspace(2, 1, n)) for s in ("train", "val") for m in ("loss", "cost", "accuracy")}
    if diverge:
        h["train_cost"][-1] = float("nan")
    return h


def test_pngs_are_byte_identical_and_carry_no_timestamp(tmp_path):
    a = save_figure(plot_history(history(), "λ = 0"), tmp_path / "a.png")
    b = save_figure(plot_history(history(), "λ = 0"), tmp_path / "b.png")
    assert a.read_bytes() == b.read_bytes()
    text = b"".join(body for kind, body in png_chunks(a.read_bytes()) if kind in (b"tEXt", b"iTXt", b"zTXt"))
    assert b"Software" not in text and b"matplotlib" not in text.lower()
    assert not any(kind == b"tIME" for kind, _ in png_chunks(a.read_bytes()))


def test_diverged_history_still_plots(tmp_path):
    path = save_figure(plot_history(history(diverge=True), "x", diverged_at=3), tmp_path / "d.png")
    assert path.stat().st_size > 1000


def test_weight_images_are_channel_planar_and_scaled():
    W = np.zeros((10, 3072))
    W[0, :1024] = 5.0        # red plane of class 0
    W[1, 2048:] = -3.0       # blue plane of class 1 (lowest values)
    W[2] = np.arange(3072)   # a ramp
    ims = weight_images(W)
    assert ims.shape == (10, 32, 32, 3)
    assert ims.min() >= 0 and ims.max() <= 1
    assert np.all(ims[0, :, :, 0] == 1) and np.all(ims[0, :, :, 1:] == 0)
    assert np.all(ims[1, :, :, 2] == 0) and np.all(ims[1, :, :, :2] == 1)
    assert ims[2, 0, 1, 0] > ims[2, 0, 0, 0]  # row-major within a plane
    assert ims[2, 0, 0, 1] > ims[2, 31, 31, 0]  # green plane after the red one


def test_plot_weights_has_one_image_per_class(tmp_path):
    fig = plot_weights(np.random.default_rng(0).normal(size=(10, 3072)), "t")
    assert len([ax for ax in fig.axes if ax.images]) == 10
    save_figure(fig, tmp_path / "w.png")


def test_the_glance_figure_has_a_row_per_number_a_ring_per_explanation_and_an_arrow_beyond_the_limit():
    from helpers.figures import VERDICT_COLOURS, plot_glance

    rows = [{"name": "a", "verdict": "reproduced", "distance": 0.5, "distance_best": None},
            {"name": "b", "verdict": "explained", "distance": 14.0, "distance_best": 0.8},
            {"name": "c", "verdict": "unexplained", "distance": float("inf"), "distance_best": None}]
    ax = plot_glance(rows, limit=10).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    dots = [ln for ln in ax.lines if ln.get_marker() == "o" and len(ln.get_xdata()) == 1]
    rings = [ln for ln in dots if ln.get_markerfacecolor() == "none"]
    assert [ln.get_xdata()[0] for ln in rings] == [0.8]                     # only b is explained
    filled = sorted(ln.get_xdata()[0] for ln in dots if ln.get_markerfacecolor() != "none")
    assert filled == [0.5, 10, 10]                                          # 14 and inf drawn at the limit
    assert len([t for t in ax.texts if getattr(t, "arrow_patch", None) is not None]) == 2   # ... with an arrow each
    assert {ln.get_color() for ln in dots} <= set(VERDICT_COLOURS.values())
    assert [ln.get_xdata()[0] for ln in ax.lines if ln.get_linestyle() == "--"] == [1]   # the match line
