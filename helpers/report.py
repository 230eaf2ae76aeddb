"""Content of the report: Table 1, the gradient-check table, the helper API.

These functions turn results files into pandas tables and Markdown; the report
notebook only displays them.
"""

import base64
import html
import importlib
import inspect
import math
from pathlib import Path

import pandas as pd

from helpers.gradcheck import gradcheck_table
from helpers.params import TrainParams
from helpers.results import load_run, run_dir

#: Table 1 of the seed report: (lam, eta) -> (loss, cost, accuracy) on the test set.
SEED_TABLE1 = {
    (0.0, 0.1): (6.92, 6.92, 0.27),
    (0.0, 0.001): (2.02, 2.02, 0.32),
    (0.1, 0.001): (1.74, 1.80, 0.41),
    (1.0, 0.001): (1.85, 1.92, 0.37),
}

#: Gradient-check statistics printed in section 1.1 of the seed report.
SEED_GRADCHECK = {
    "W": {"diff_mean": 5.12e-09, "diff_std": 3.75e-09, "diff_max": 2.11e-08,
          "grad_min": -1.72, "grad_max": 1.53, "grad_std": 0.42},
    "b": {"diff_mean": 1.60e-09, "diff_std": 1.33e-09, "diff_max": 4.21e-09,
          "grad_min": -0.1, "grad_max": 0.064, "grad_std": 0.12},
}


def load_runs(results_root, runs):
    """Load the results of every run in ``runs`` (TrainParams) from ``results_root``."""
    return [load_run(run_dir(results_root, params)) for params in runs]


def table1(docs):
    """Table 1: test loss, cost and accuracy per setting beside the seed report's values.

    Parameters
    ----------
    docs : list of dict
        Results documents from :func:`helpers.results.load_run`.

    Returns
    -------
    pandas.DataFrame
        One row per setting; seed columns are NaN for settings the seed lacks.
    """
    rows = []
    for doc in docs:
        p = doc["params"]
        # the seed report's numbers only for its own settings (n_batch 100, 40 epochs)
        missing = (math.nan,) * 3
        seed = SEED_TABLE1.get((float(p["lam"]), float(p["eta"])), missing) if TrainParams(**p).is_seed_setting else missing
        test = doc["test"]
        rows.append({
            "λ": p["lam"], "η": p["eta"], "n_batch": p["n_batch"], "epochs": p["n_epochs"],
            "loss": test["loss"], "cost": test["cost"], "accuracy": test["accuracy"],
            "seed loss": seed[0], "seed cost": seed[1], "seed accuracy": seed[2],
            "Δ loss": test["loss"] - seed[0],
            "Δ cost": test["cost"] - seed[1],
            "Δ accuracy": test["accuracy"] - seed[2],
            "status": f"diverged at epoch {doc['diverged_at']}" if doc.get("diverged_at") else "completed",
        })
    return pd.DataFrame(rows)


def helper_modules():
    """Names of every module of the helper package, in alphabetical order."""
    import pkgutil

    import helpers

    return [f"helpers.{m.name}" for m in pkgutil.iter_modules(helpers.__path__) if not m.name.startswith("_")]


def api_markdown(modules=None):
    """A Markdown list of every public function and class of the helper package.

    Each entry shows the signature and the first line of the docstring, so the
    documentation is generated from the code and cannot drift from it.
    """
    lines = []
    for name in modules or helper_modules():
        module = importlib.import_module(name)
        summary = (inspect.getdoc(module) or "").splitlines()[0]
        lines.append(f"- **`{name}`**: {summary}")
        for attr, obj in vars(module).items():
            if attr.startswith("_") or getattr(obj, "__module__", None) != name:
                continue
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            doc = (inspect.getdoc(obj) or "").splitlines()
            sig = str(inspect.signature(obj)) if inspect.isfunction(obj) else ""
            lines.append(f"    - `{attr}{sig}`: {doc[0] if doc else ''}")
    return "\n".join(lines)


def _cell(value, fmt):
    """Format a Table 1 value; a seed value the seed report lacks (NaN) is a dash."""
    if isinstance(value, float):
        return "—" if math.isnan(value) else format(value, fmt)
    return html.escape(str(value))


TABLE1_COLUMNS = (
    ("λ", "lam", "g"), ("η", "eta", "g"), ("loss", "loss", ".4f"), ("cost", "cost", ".4f"),
    ("accuracy", "accuracy", ".4f"), ("seed loss", "seed_loss", ".2f"), ("seed cost", "seed_cost", ".2f"),
    ("seed accuracy", "seed_accuracy", ".2f"), ("Δ loss", "diff_loss", "+.4f"), ("Δ cost", "diff_cost", "+.4f"),
    ("Δ accuracy", "diff_accuracy", "+.4f"), ("status", "status", "s"),
)


def table1_html(df, run_ids):
    """Table 1 as an HTML table with ``id="table1"``, one ``data-run-id`` per row.

    Test loss, cost and accuracy are printed in full (``nan`` for a diverged
    run); seed values the seed report lacks are shown as a dash.
    """
    head = "".join(f"<th>{html.escape(title)}</th>" for title, _, _ in TABLE1_COLUMNS)
    body = []
    for rid, (_, row) in zip(run_ids, df.iterrows()):
        cells = []
        for title, col, fmt in TABLE1_COLUMNS:
            value = row[title]
            # our own numbers always in full: a diverged run shows nan or inf, not a dash
            text = format(value, fmt) if col in ("loss", "cost", "accuracy") else _cell(value, fmt)
            cells.append(f'<td data-col="{col}">{text}</td>')
        body.append(f'<tr data-run-id="{html.escape(rid)}">{"".join(cells)}</tr>')
    return (f'<table id="table1"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def figure_html(png_path, fig_id, caption):
    """An HTML ``<figure>`` with the PNG at ``png_path`` embedded as base64."""
    data = base64.b64encode(Path(png_path).read_bytes()).decode("ascii")
    return (f'<figure id="{html.escape(fig_id)}" style="margin:0 0 1em 0">'
            f'<img src="data:image/png;base64,{data}" alt="{html.escape(caption)}" style="max-width:100%">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def markdown_table(header, rows):
    """A Markdown table from a header (list of str) and rows (lists of values)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _gradcheck_html(rows):
    df = gradcheck_table(rows)
    formats = {c: "{:.2e}".format for c in df.columns if df[c].dtype.kind == "f" and c != "λ"}
    return df.to_html(index=False, formatters=formats, border=0, classes="gradcheck")


def _batch_position(index, batch_size=10000):
    """Where image ``index`` of the concatenated training batches lies, in words."""
    return f"image {index % batch_size} of data_batch_{index // batch_size + 1}"


def implementation_markdown(runs, docs, gradcheck):
    """Section 2, Implementation Documentation, generated from the runs and the code."""
    first = docs[0]
    n_train, n_val = first.get("n_train"), first.get("n_val")
    hyper = markdown_table(
        ["setting", "λ (`lam`)", "η (`eta`)", "n_batch", "epochs", "init std", "seed", "dtype", "epochs run"],
        [[p.run_id, f"{p.lam:g}", f"{p.eta:g}", p.n_batch, p.n_epochs, f"{p.init_std:g}", p.seed,
          d.get("dtype"), d.get("epochs_run")] for p, d in zip(runs, docs)])
    versions = ", ".join(f"{k} {v}" for k, v in sorted(first.get("versions", {}).items()))
    hashes = "\n".join(f"    - `{k}`: `{v}`" for k, v in sorted(first.get("data_sha256", {}).items()))
    return f"""
### 2.1 Data

- **Source.** The CIFAR-10 python archive (`cifar-10-python.tar.gz`), either downloaded from the
  official address (md5 checked) or supplied as a local file with `CIFAR10_ARCHIVE`. After
  extraction into a temporary folder, the content is verified, not the packaging: the sha256 of
  each batch's pixel array must equal the official one and every class must have 5000 training and
  1000 test images. Batches are read with a restricted unpickler that only admits numpy arrays,
  lists, bytes and ints. Data hashes used for this report:
{hashes}
- **Split.** The five training batches are concatenated in order ({n_train + n_val} images). The
  first {n_train} images are the training set; the last {n_val} ({_batch_position(n_train)} onwards)
  are the validation set. `test_batch` is the test set.
- **Preprocessing.** Pixels are scaled to [0, 1]; every one of the 3072 dimensions is then
  normalised with the mean and standard deviation of the *training* set (the same statistics for
  the validation and test sets). Labels are kept as integers and as one-hot rows.

### 2.2 Model, cost and gradients

- Scores `S = X Wᵀ + b` with `X: (N, 3072)`, `W: (10, 3072)`, `b: (10,)`; probabilities
  `P = softmax(S)`, computed stably by subtracting each row's maximum.
- Loss: mean cross-entropy `-(1/N) Σ log P[i, y_i]` (through log-softmax, finite for any scores);
  cost: loss `+ λ Σ W²`; b is not penalised. Accuracy: share of rows whose highest score is the
  true class.
- Gradients: `G = (P − Y) / N`, `∂J/∂W = Gᵀ X + 2 λ W`, `∂J/∂b = Σ_i G[i]`.
- Gradient check (section 1.1): forward differences `(c(x+h) − c(x)) / h` and centred differences
  `(c(x+h) − c(x−h)) / (2h)`, `h = {gradcheck.get('h', 1e-6):g}`, on the first
  {gradcheck.get('n_images')} training images and their first {gradcheck.get('n_dims')} dimensions,
  W and b from N(0, {gradcheck.get('variance', 4):g}) drawn with seed {gradcheck.get('seed')}.

### 2.3 Training

- Mini-batch gradient descent: W and b are drawn from N(0, init_std²) by a generator seeded with
  the setting's `seed`; at every epoch the same generator draws a new permutation of the training
  set, which is visited in batches of `n_batch` (the last batch takes the remainder). Each step:
  `W ← W − η (∂J/∂W)`, `b ← b − η (∂J/∂b)` on the batch.
- Before training and after every epoch, loss, cost and accuracy are measured on the full
  training and validation sets. A run whose cost becomes NaN or infinite stops and is recorded as
  diverged at that epoch.
- After training, loss, cost and accuracy are measured on the test set (Table 1).

Hyperparameters of every setting (from `settings.csv`; add a row there to add a setting):

{hyper}

### 2.4 How the report is produced

`make report` creates the virtual environment (`.venv`, pinned packages, a registered Jupyter
kernel), obtains and verifies the data (`make data`), runs `notebooks/gradient_check.ipynb`, runs
`notebooks/train.ipynb` with papermill once per setting (its results go to
`results/<setting>/results.json` and `weights.npz`, the executed notebook beside them), runs
`notebooks/weights.ipynb` per setting, executes this notebook (`notebooks/report.ipynb`) and renders
it to `report/index.html` with nbconvert, without code, with every image embedded. Each step is a
make target, so only what changed is redone, and `make -j2 report` trains two settings at once.
Every random draw comes from an explicitly seeded generator: a rerun gives identical results files,
table and figures. Package versions: {versions}.

### 2.5 Helper API

The notebooks only call the `helpers` package:

{api_markdown()}
"""


def _letters():
    """a, b, ..., z, aa, ab, ...: panel letters for any number of settings."""
    import itertools
    import string

    for size in itertools.count(1):
        for combo in itertools.product(string.ascii_lowercase, repeat=size):
            yield "".join(combo)


def collect_report(settings_file, results_dir, figures_dir, gradcheck_file):
    """Everything the report notebook displays, as HTML and Markdown strings.

    Returns
    -------
    dict
    """
    import json

    from helpers.paths import project_path
    from helpers.settings import read_settings

    runs = read_settings(project_path(settings_file))
    docs = load_runs(project_path(results_dir), runs)
    gradcheck = json.loads(project_path(gradcheck_file).read_text())
    figures = project_path(figures_dir)
    df = table1(docs)
    ids = [p.run_id for p in runs]
    first = docs[0]
    diverged = [f"{p.label} diverged at epoch {d['diverged_at']}" for p, d in zip(runs, docs) if d.get("diverged_at")]
    best = df.loc[df["accuracy"].fillna(-1).idxmax()]
    return {
        "title": ("# KTH DD2424 Deep Learning in Data Science: Assignment 1\n\n"
                  "A reproduction of the report by Ali Banaei Mobarak Abadi (April 1, 2022), regenerated "
                  "from the real CIFAR-10 data set by this project's notebooks."),
        "split": (f"Throughout, the 50000 training images are split into {first.get('n_train')} for training "
                  f"and {first.get('n_val')} for validation (the last {first.get('n_val')} images of the "
                  "training batches); the 10000 test images are used only for Table 1."),
        "gradcheck_text": (f"Subset: the first {gradcheck['n_images']} training images, their first "
                           f"{gradcheck['n_dims']} dimensions, all 10 classes; λ ∈ "
                           f"{{{', '.join(f'{v:g}' for v in gradcheck['lams'])}}}; "
                           f"h = {gradcheck['h']:g}; W, b seed {gradcheck['seed']}."),
        "gradcheck_html": _gradcheck_html(gradcheck["rows"]),
        "seed_gradcheck_html": _gradcheck_html([{"param": k, **v} for k, v in SEED_GRADCHECK.items()]),
        "table1_caption": "<p><b>Table 1:</b> evaluation of the model on the test set, per setting, "
                          "beside the seed report's values (rounded to two decimals there); "
                          "Δ = this run − seed report.</p>",
        "table1_html": table1_html(df, ids),
        "table1_text": (f"The best test accuracy here is {best['accuracy']:.4f} (λ = {best['λ']:g}, "
                        f"η = {best['η']:g}). " + ("; ".join(diverged) + "." if diverged else
                                                   "No run diverged.")),
        "figure1": [figure_html(figures / f"{rid}_curves.png", f"fig1-{rid}", f"({letter}) {p.label}")
                    for letter, rid, p in zip(_letters(), ids, runs)],
        "figure2": [figure_html(figures / f"{rid}_weights.png", f"fig2-{rid}", f"({letter}) {p.label}")
                    for letter, rid, p in zip(_letters(), ids, runs)],
        "implementation": implementation_markdown(runs, docs, gradcheck),
    }
