"""After a notebook ran for make: the files its rule promises exist, and a training group is the run make asked for.

A training notebook that ran without error could still have trained something else (a code cell
that sets ``quick = True`` or its own ``n_epochs``): make would then keep results that are not
the target's. :func:`check_group` compares every seed's ``results.json`` with the parameters
make passed, and the rule fails with one line naming the first difference.

Standard library only.
"""

import json
from pathlib import Path

from helpers.errors import UserError
from helpers.params import DATA_OPTIONS, SETTING_CHOICES

#: results.json section -> the run's values it must echo (the training choices, the data options).
ECHOED = {"params": SETTING_CHOICES, "data": (*DATA_OPTIONS, "n_val")}


def expect_files(paths):
    """Raise :class:`UserError` naming the first of ``paths`` the notebook did not write."""
    for path in paths:
        if not Path(path).exists():
            raise UserError(f"the notebook ran but did not write {path}")


def _differs(asked, found):
    if isinstance(asked, (int, float)) and not isinstance(asked, bool) and isinstance(found, (int, float)):
        return float(asked) != float(found)
    return asked != found


def check_group(summary_path, parameters):
    """Raise :class:`UserError` if the runs under ``summary_path``'s folder are not the run ``parameters`` ask for.

    Parameters
    ----------
    summary_path : path-like
        A training group's ``summary.json``; its seeds' ``seedN/results.json`` are read.
    parameters : dict
        What make passed to the training notebook (``run``: {``lam``: ..., ``split``: ...}, ``seeds``,
        ``n_val``, ...); the run's values are checked as if passed on their own.
    """
    parameters = {**parameters, **(parameters.get("run") or {})}
    summary_path = Path(summary_path)
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    seeds = parameters.get("seeds")
    if seeds is not None and summary.get("seeds") != list(seeds):
        raise UserError(f"{summary_path} holds seeds {summary.get('seeds')}, not the {list(seeds)} make asked for")
    for seed in summary.get("seeds", []):
        path = summary_path.parent / f"seed{seed}" / "results.json"
        doc = json.loads(path.read_text(encoding="utf-8"))
        for section, names in ECHOED.items():
            for name in names:
                if name in parameters and _differs(parameters[name], (doc.get(section) or {}).get(name)):
                    raise UserError(f"{path} is not the run make asked for: {name} = "
                                    f"{(doc.get(section) or {}).get(name)!r}, not {parameters[name]!r}")
        if doc.get("diverged_at") is None and doc.get("epochs_run") != parameters.get("n_epochs", doc.get("epochs_run")):
            raise UserError(f"{path} is not the run make asked for: {doc.get('epochs_run')} epochs run, "
                            f"not {parameters['n_epochs']}")
