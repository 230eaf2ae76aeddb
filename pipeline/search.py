"""The deeper search of Table 1 (``make search``): screen, combine, confirm, then record what was searched.

The single variants of ``variants.csv`` are tried for every setting by ``make
report``. Where a number of the original's Table 1 is still unexplained
(:func:`helpers.audit.unexplained_settings`), ``make search`` trains every
setting of the original, through the same rules as every other run, in four stages:

1. **screen** (``plan``): a finer scale of init_std and each further choice alone
   (:func:`helpers.settings.search_variants`), with the course's first few seeds;
2. **refine**: each continuous choice (init_std, label smoothing) around its best value so far on a log
   scale, or one step beyond an edge (:func:`helpers.likelihood.refinement`); make runs up to
   ``REFINE_ROUNDS`` rounds, each trained before the next is planned, so that a best value on an edge
   moves the edge outward round after round until it lies inside, or the next step is implausible;
3. **combine**: the choices that raise Table 1's score over the course setup
   (:func:`helpers.likelihood.raising_choices`) together (:func:`helpers.likelihood.combinations`);
4. **confirm**: the winner trained with the course setup's other seeds, so that it is named from as
   many seeds as the course setup (:func:`helpers.likelihood.confirmation`).

Each stage appends its variants to the search's variants file; each variant is a whole configuration
of Table 1, one the audit's answer (:mod:`helpers.likelihood`) can name. The record,
``results/search.json``, lists the variants and settings searched; the report reads it when it exists
(:func:`helpers.report.load_search`). Every stage is a function of the results so far, so a second
``make search`` plans the same runs and trains nothing.
"""

import json
from dataclasses import asdict
from pathlib import Path

from helpers.files import write_text


def _write_if_changed(path, text):
    path = Path(path)
    if not path.is_file() or path.read_text() != text:
        write_text(path, text)


def plan_search(settings_file, variants_file, results_dir, out_dir):
    """Write the settings and variants files of the deeper search into ``out_dir``.

    Returns
    -------
    (list of TrainParams, list of Variant)
        Every setting of the original when a Table 1 number is unexplained (else none), and the search's variants. With no such
        setting, no files are written (and stale ones are removed).
    """
    from helpers import audit
    from helpers.report import load_records
    from helpers.settings import read_setting_rows, read_variants, search_variants, settings_csv, variants_csv

    (settings, trained_in), variants = read_setting_rows(settings_file), read_variants(variants_file)
    records = load_records(results_dir, settings, variants, weights_for=(), trained_in=trained_in)
    # Any number unexplained: every setting of the original is trained in the search's variants, so that each
    # variant is a whole configuration of Table 1, which the audit's answer (helpers.likelihood) can name.
    wanted = audit.unexplained_settings(records)
    chosen = [s for s in settings if s.is_original_setting] if wanted else []
    extra = search_variants(variants)
    out = Path(out_dir)
    if not chosen:
        for name in ("settings.csv", "variants.csv"):
            (out / name).unlink(missing_ok=True)
        return chosen, extra
    _write_if_changed(out / "settings.csv", settings_csv(chosen))
    _write_if_changed(out / "variants.csv", variants_csv([variants[0], *extra]))
    return chosen, extra


def _searched(settings_file, variants_file, results_dir, out_dir, gradcheck_file):
    """The search so far: (course variant, the search's variants, every run's record, Table 1's numbers and
    configurations, the favoured printing convention); None when the plan trains nothing."""
    from helpers import likelihood
    from helpers.report import load_gradcheck, load_records
    from helpers.settings import read_setting_rows, read_settings, read_variants

    out = Path(out_dir)
    if not (out / "settings.csv").is_file():
        return None
    (settings, trained_in), variants = read_setting_rows(settings_file), read_variants(variants_file)
    chosen, searched = read_settings(out / "settings.csv"), read_variants(out / "variants.csv")
    records = load_records(results_dir, settings, variants, weights_for=(), trained_in=trained_in,
                           searched=[(v, s) for v in searched[1:] for s in chosen])
    gradcheck = load_gradcheck(gradcheck_file)
    sections = likelihood.sections_of(records, gradcheck["search"], gradcheck["baseline"])
    convention = likelihood.convention_evidence(sections)["favoured"]
    numbers, configs = sections["Table 1"]
    return variants[0], searched, records, numbers, configs, convention


def _choice_name(changed):
    return "__".join(f"{k}-{str(v).lower()}".replace("_", "-") for k, v in changed.items())


#: How a refined value's variant is named and described, per continuous choice (helpers.likelihood.CONTINUOUS).
REFINED = {
    "init_std": ("init-std-{:g}", "W and b drawn from N(0, {:g}²): refined around the best"),
    "smooth": ("smooth-{:g}", "smoothed training targets, label smoothing {:g}: refined around the best"),
}


def refine_search(settings_file, variants_file, results_dir, out_dir, gradcheck_file):
    """The refine stage: for every continuous choice (:data:`helpers.likelihood.CONTINUOUS`), append values
    around its best alone so far (or beyond an edge) to the search's variants file.

    Returns
    -------
    (list of (str, float or None, list of float), list of Variant)
        Per choice its name, its best value so far and the values to try; the new variants.
    """
    from helpers import likelihood
    from helpers.settings import TRAIN_OVERRIDES, Variant, variants_csv

    state = _searched(settings_file, variants_file, results_dir, out_dir, gradcheck_file)
    if state is None:
        return [], []
    _, searched, _, numbers, configs, convention = state
    seeds = searched[1].seeds if len(searched) > 1 else searched[0].seeds
    names = {v.name for v in searched}
    found, new = [], []
    for key, course_value in likelihood.CONTINUOUS.items():
        best, values = likelihood.refinement(numbers, configs, convention, key, course_value)
        found.append((key, best, values))
        name, description = REFINED[key]
        train = key in TRAIN_OVERRIDES
        new += [Variant(name.format(v), seeds, {key: v} if train else {}, {} if train else {key: v}, description.format(v))
                for v in values if name.format(v) not in names]
    _write_if_changed(Path(out_dir) / "variants.csv", variants_csv([*searched, *new]))
    return found, new


def combine_search(settings_file, variants_file, results_dir, out_dir, gradcheck_file):
    """The combine stage: append to the search's variants file the choices that raised Table 1's score in
    the screen, together. Returns (the raising choices, the new variants)."""
    from helpers import likelihood
    from helpers.settings import TRAIN_OVERRIDES, Variant, variants_csv

    state = _searched(settings_file, variants_file, results_dir, out_dir, gradcheck_file)
    if state is None:
        return [], []
    _, searched, _, numbers, configs, convention = state
    raising = likelihood.raising_choices(numbers, configs, convention)
    seeds = searched[1].seeds if len(searched) > 1 else searched[0].seeds
    new = []
    for changed in likelihood.combinations(raising, tried=[c["changed"] for c in configs]):
        train = {k: v for k, v in changed.items() if k in TRAIN_OVERRIDES}
        new.append(Variant(f"combo-{_choice_name(changed)}", seeds, train,
                           {k: v for k, v in changed.items() if k not in train},
                           "the screen's choices that raise the score, together"))
    _write_if_changed(Path(out_dir) / "variants.csv", variants_csv([*searched, *new]))
    return raising, new


def confirm_search(settings_file, variants_file, results_dir, out_dir, gradcheck_file):
    """The confirm stage: append a variant that trains the winner with the course setup's seeds it lacks.
    Returns (the winner's score or None, the new variant or None)."""
    from helpers import likelihood
    from helpers.settings import TRAIN_OVERRIDES, Variant, variants_csv

    state = _searched(settings_file, variants_file, results_dir, out_dir, gradcheck_file)
    if state is None:
        return None, None
    course, searched, _, numbers, configs, convention = state
    found = likelihood.confirmation(likelihood.rank(numbers, configs, convention), course.seeds)
    if not found or not found[1]:
        return (found[0] if found else None), None
    winner, missing = found
    train = {k: v for k, v in winner["changed"].items() if k in TRAIN_OVERRIDES}
    new = Variant(f"confirm-{winner['name']}", missing, train,
                  {k: v for k, v in winner["changed"].items() if k not in train},
                  f"{winner['name']} again with {len(missing)} more seeds, to name it from as many seeds as the course")
    _write_if_changed(Path(out_dir) / "variants.csv", variants_csv([*searched, new]))
    return winner, new


def record_search(out_dir, record_file):
    """Write ``record_file`` (JSON): the settings and variants the search trained (none if nothing was left
    unexplained). Rewritten only when it changes, so a second ``make search`` re-renders nothing."""
    from helpers.settings import read_settings, read_variants

    out = Path(out_dir)
    doc = {"settings": [], "variants": []}
    if (out / "settings.csv").is_file():
        doc["settings"] = [s.as_dict() for s in read_settings(out / "settings.csv")]
        doc["variants"] = [asdict(v) for v in read_variants(out / "variants.csv")[1:]]
    _write_if_changed(record_file, json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return doc
