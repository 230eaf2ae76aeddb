"""One training setting end to end, as the training notebook runs it.

Data -> training -> test evaluation -> results files and Figure 1's panel. The
notebook only sets parameters, calls :func:`run_training` and displays what it
returns, so the step can be tested without Jupyter. Relative paths are taken
from the project's root folder, wherever the notebook runs.
"""

import time

import numpy as np

from helpers.blas import single_threaded_blas
from helpers.paths import project_path

def run_training(lam, eta, n_batch=100, n_epochs=40, init_std=0.01, seed=2022, data_dir="data",
                 results_dir="results", figures_dir="figures", n_val=5000, dtype="float64", progress=True):
    """Train one setting, evaluate it on the test set, write its results and Figure 1 panel.

    Every parameter is validated before the data are loaded.

    Returns
    -------
    dict
        ``params``, ``result`` (TrainResult), ``test`` metrics, ``results_file``, ``figure``.
    """
    from helpers.dataset import dataset_folder, load_dataset
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
