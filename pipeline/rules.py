"""The Makefile rules of the runs: settings x variants -> training, figure and data-cache targets.

For every setting and each variant it is trained in (the course, and those its
``variants`` column names), one training target (the group's
``summary.json``: the notebook trains every seed of the variant), whose
prerequisites are the training notebook's code, the content of the helper
modules it imports (:mod:`pipeline.deps`), the variant's data cache, the variant's row stamp
(a file named after the row's content, so editing one variant re-runs only its
runs) and the ``N_VAL`` stamp. For every setting of the baseline variant, one
figures target (Figure 1 and 2). For every data variant, one cache target.

Run by make with the virtual environment's Python (the rules need the venv: make builds it first).
"""

import json
import shlex
from pathlib import Path

from helpers.params import DATA_OPTIONS, SETTING_CHOICES, DataOptions, group_dir
from helpers.settings import BASELINE, run_setting, training_pairs

#: Make variable prefix -> the notebook: ``TRAIN_DEPS`` is the stamp of the helper files ``train.ipynb`` depends on
#: (:func:`pipeline.deps.content_key`), ``TRAIN_NB`` the stamp of its code (:func:`pipeline.deps.notebook_code_key`).
NOTEBOOKS = (("TRAIN", "train"), ("FIGURES", "figures"), ("GRADCHECK", "gradient_check"), ("REPORT", "report"))


def dependency_lines(root):
    """What each notebook's results depend on, as make lines.

    ``NAME_DEPS := $(BUILD_DIR)/helpers/stem/KEY``: a stamp named after the content of the helper files the
    notebook (and the data cache, ``CACHE_DEPS``) depends on, with its rule (``$(content_stamp)`` of the
    Makefile): touching a helper leaves the name, and the runs, as they are;
    ``NAME_NB := $(BUILD_DIR)/notebooks/stem/KEY``: a stamp named after the notebook's code, with
    its rule: saving the notebook (outputs, ``quick = True``) leaves the name, and its runs, as they are.
    """
    from pipeline.deps import module_closure, notebook_code_key, notebook_dependencies

    root = Path(root)
    lines = []
    for var, stem in NOTEBOOKS:
        path = root / "notebooks" / f"{stem}.ipynb"
        lines += [*helper_stamp(var, stem, notebook_dependencies(path, root / "helpers"), root),
                  f"{var}_NB := $(BUILD_DIR)/notebooks/{stem}/{notebook_code_key(path)}",
                  f"$({var}_NB):", "\t@$(new_stamp)"]
    return lines + helper_stamp("CACHE", "cache", module_closure({"data"}, root / "helpers"), root)


def helper_stamp(var, stem, files, root):
    """``VAR_DEPS``, the stamp of ``files``' content (:func:`pipeline.deps.content_key`), and its rule, as make lines."""
    from pipeline.deps import content_key

    names = " ".join(shlex.quote(str(f.relative_to(root))) for f in files)
    return [f"{var}_DEPS := $(BUILD_DIR)/helpers/{stem}/{content_key(files, root)}",
            f"$({var}_DEPS):", f"\t@$(call content_stamp,{names})"]


def cache_options(variant):
    """The data options of a variant, with ``n_val`` left to make (``$(N_VAL)``)."""
    return DataOptions(n_val="$(N_VAL)", **variant.data)


def cache_marker(variant):
    """The make path of a variant's data-cache marker."""
    return f"$(DATA_DIR)/cache/{cache_options(variant).key}/CACHE.json"


def variant_stamp(variant):
    """The variant's stamp: a file named after a hash of what its runs depend on (seeds, overrides).

    Changing the row changes the name, so only this variant's runs are redone; its description
    is not part of it.
    """
    import hashlib

    row = f"seeds={' '.join(map(str, variant.seeds))}; {variant.overrides_text}"
    return f"$(BUILD_DIR)/variants/{variant.name}/{hashlib.sha256(row.encode()).hexdigest()[:16]}"


def _q(value):
    return shlex.quote(str(value))


def run_choices(setting):
    """The training choices of a setting (all but the seed) as the notebooks' ``run`` takes them."""
    return {k: getattr(setting, k) for k in SETTING_CHOICES}


def _flag(value):
    return str(value).lower() if isinstance(value, bool) else value


def report_order(groups, figures_of, n_settings):
    """The report's training and figure targets in the order ``make -j`` should start them.

    ``make -jN`` starts the runnable prerequisites of a target in the order they are listed,
    waiting for a free job slot at each, and only goes back to a target whose prerequisites
    were still being made once it has been through the whole list. A setting's figures listed
    right after its runs would therefore wait until every run has started, and run at the very
    end, alone. Listed ``n_settings`` runs later (after the same setting of the next variant, or
    after the last run), they are reached when their runs are done in practice and run beside
    the runs that follow.

    Parameters
    ----------
    groups : list of str
        The training targets, longest variants first as ``variants.csv`` lists them.
    figures_of : dict
        Index in ``groups`` -> the figure targets that need that group.
    n_settings : int

    Returns
    -------
    list of str
    """
    after = {}
    for i, figs in figures_of.items():
        after.setdefault(min(i + n_settings, len(groups) - 1), []).extend(figs)
    return [t for i, g in enumerate(groups) for t in (g, *after.get(i, []))]


def make_rules(settings, variants, sources, root=None, trained_in=None):
    """The Makefile fragment for ``settings`` x ``variants``: each row in the variants it is trained in.

    Parameters
    ----------
    settings : list of TrainParams
    variants : list of Variant
    sources : str
        The files the fragment is generated from (for its header).
    trained_in : dict or None
        The variants each row is trained in (:func:`helpers.settings.training_pairs`); None: every one.

    Returns
    -------
    str
    """
    root = Path(root) if root else Path(__file__).resolve().parent.parent
    out = [f"# Generated from {sources} by `python -m pipeline rules`; do not edit.", *dependency_lines(root)]
    groups, caches, figures_of = [], {}, {}
    pairs = training_pairs(settings, variants, trained_in)
    for v in variants:
        rows = [s for pv, s in pairs if pv is v]
        if not rows:   # no row is trained in it
            continue
        out += ["", f"{variant_stamp(v)}:", "\t@$(new_stamp)"]
        options = cache_options(v)
        caches[cache_marker(v)] = options
        for s in rows:
            setting = run_setting(s, v)
            # the notebook names the folder after the setting it trains (with the variant's overrides)
            group = group_dir("$(RESULTS_DIR)", v.name, setting)
            if f"{group}/summary.json" in groups:   # two rows the variant trains alike: one run, one rule
                continue
            label = _q(f"{v.name}: lam={s.lam:g}, eta={s.eta:g} ({s.setting_id}, {len(v.seeds)} seeds)")
            run = {**run_choices(setting), **{k: getattr(options, k) for k in DATA_OPTIONS}}
            out += ["",
                    f"{group}/summary.json: $(TRAIN_NB) $(TRAIN_DEPS) {cache_marker(v)} "
                    f"{variant_stamp(v)} $(NVAL_STAMP) | $(VENV_STAMP)",
                    f"\t@$(EXECUTE) notebooks/train.ipynb {group}/train.ipynb --label {label} -p run {_q(json.dumps(run))} "
                    f"-p seeds {_q(list(v.seeds))} -p variant {v.name} -p quick false $(DATA_PARAMS) --expect $@"]
            groups.append(f"{group}/summary.json")
            if v.name == BASELINE:
                fig = f"$(FIGURES_DIR)/{s.setting_id}"
                out += ["",
                        f"{fig}_curves.png {fig}_weights.png &: $(FIGURES_NB) $(FIGURES_DEPS) "
                        f"{group}/summary.json | $(VENV_STAMP)",
                        f"\t@$(EXECUTE) notebooks/figures.ipynb {group}/figures.ipynb --label {label} "
                        + f"-p run {_q(json.dumps(run_choices(s)))} -p variant {v.name} -p results_dir $(RESULTS_DIR) -p figures_dir $(FIGURES_DIR)"
                        + f" --expect {fig}_curves.png --expect {fig}_weights.png"]
                figures_of[len(groups) - 1] = [f"{fig}_curves.png", f"{fig}_weights.png"]
    for marker, options in caches.items():
        out += ["",
                f"{marker}: $(DATA_STAMP) $(CACHE_DEPS) | $(VENV_STAMP)",
                "\t@$(PY) -m pipeline cache --data-dir $(DATA_DIR) --n-val $(N_VAL) "
                + " ".join(f"--{k} {_flag(getattr(options, k))}" for k in DATA_OPTIONS)]
    out += ["",
            f"RUN_GROUPS := {' '.join(groups)}",
            f"RUN_FIGURES := {' '.join(f for figs in figures_of.values() for f in figs)}",
            "# The report's inputs in the order `make -j` starts them (report_order in pipeline/rules.py).",
            f"REPORT_INPUTS := {' '.join(report_order(groups, figures_of, len(settings)))}",
            f"DATA_CACHES := {' '.join(caches)}",
            f"BASELINE_CACHE := {cache_marker(variants[0])}",
            ""]
    return "\n".join(out)
