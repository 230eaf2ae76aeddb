"""What each notebook does, as one function per notebook.

The notebooks only set parameters, call these functions and display what they
return, so every step can be tested without Jupyter. Relative paths are taken
from the project's root folder, wherever the notebook runs.
"""

import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def single_threaded_blas():
    """A context in which BLAS runs on one thread.

    OpenBLAS splits a matrix product differently for different thread counts,
    which changes the last bits of the result. Training and the gradient check
    run on one BLAS thread so that a run gives bitwise-identical numbers
    whatever ``make -jN`` or the machine's BLAS settings are.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def project_path(path):
    """``path`` as an absolute path; relative paths are relative to the project root."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else ROOT / path


def dataset_folder(data_dir):
    """The verified batches folder inside ``data_dir``."""
    from helpers.archive import FOLDER_NAME

    return project_path(data_dir) / FOLDER_NAME


def run_training(lam, eta, n_batch=100, n_epochs=40, init_std=0.01, seed=2022, data_dir="data",
                 results_dir="results", figures_dir="figures", n_val=5000, dtype="float64", progress=True):
    """Train one setting, evaluate it on the test set, write its results and Figure 1 panel.

    Every parameter is validated before the data are loaded.

    Returns
    -------
    dict
        ``params``, ``result`` (TrainResult), ``test`` metrics, ``results_file``, ``figure``.
    """
    from helpers.dataset import load_dataset
    from helpers.errors import ParameterError
    from helpers.figures import plot_history, save_figure
    from helpers.model import evaluate
    from helpers.params import validate_params
    from helpers.results import run_dir, save_run
    from helpers.train import train

    t0 = time.perf_counter()
    params = validate_params(lam, eta, n_batch, n_epochs, init_std, seed)
    if dtype not in ("float64", "float32"):
        raise ParameterError(f"dtype={dtype!r} is not allowed; allowed: 'float64' or 'float32'")
    data = load_dataset(dataset_folder(data_dir), n_val=n_val, dtype=np.dtype(dtype))
    params = validate_params(lam, eta, n_batch, n_epochs, init_std, seed, n_train=data.train.n)
    with single_threaded_blas(), np.errstate(over="ignore", invalid="ignore"):
        result = train(data.train, data.val, params, progress=progress)
        test = evaluate(data.test.X, data.test.y, result.W, result.b, params.lam)
    folder = run_dir(project_path(results_dir), params)
    figure = project_path(figures_dir) / f"{params.run_id}_curves.png"
    save_figure(plot_history(result.history, params.label, result.diverged_at), figure)
    results_file = save_run(folder, params, result, test, data.data_sha256, dtype=dtype,
                            n_train=data.train.n, n_val=data.val.n, seconds=time.perf_counter() - t0)
    return {"params": params, "result": result, "test": test, "results_file": results_file, "figure": figure}


def draw_weights(run_dir, figure):
    """Figure 2 panel of one run: its rows of W as images, saved to ``figure``.

    Returns
    -------
    Path
        The PNG written.
    """
    from helpers.figures import plot_weights, save_figure
    from helpers.params import TrainParams
    from helpers.results import load_run

    doc = load_run(project_path(run_dir))
    label = TrainParams(**doc["params"]).label
    return save_figure(plot_weights(doc["W"], label), project_path(figure))


def run_gradient_check(data_dir="data", output="results/gradcheck.json", n_images=100, n_dims=20,
                       lams=(0.0, 0.1), seed=2022, variance=4.0, h=1e-6, n_val=5000):
    """The gradient check of section 1.1 on the first training images, written to ``output``.

    Returns
    -------
    dict
        The document written: the subset used and one row per (lam, method, parameter).
    """
    from helpers.atomic import write_json
    from helpers.dataset import load_dataset
    from helpers.gradcheck import check_gradients

    data = load_dataset(dataset_folder(data_dir), n_val=n_val)
    with single_threaded_blas():
        rows = check_gradients(data.train.X, data.train.y, [float(v) for v in lams], n_images, n_dims,
                               seed, variance=variance, h=h)
    doc = {"n_images": n_images, "n_dims": n_dims, "lams": [float(v) for v in lams], "seed": seed,
           "variance": variance, "h": h, "rows": rows}
    write_json(project_path(output), doc)
    return doc
