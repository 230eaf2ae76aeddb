"""The deeper search of Table 1 (``make search``): plan the runs, then record what was searched.

The single variants of ``variants.csv`` are tried for every setting by ``make
report``. Where a number of the original's Table 1 is still unexplained
(:func:`helpers.audit.unexplained_settings`), ``make search`` trains every
setting of the original in every pair of the variants' overrides and at a finer
scale of init_std (:func:`helpers.settings.search_variants`), through the same
rules as every other run: each search variant is then a whole configuration of
Table 1, one the audit's answer (:mod:`helpers.likelihood`) can name. The record, ``results/search.json``, lists the variants and
settings searched; the report reads it when it exists
(:func:`helpers.report.load_search`).
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
    from helpers.settings import read_settings, read_variants, search_variants, settings_csv, variants_csv

    settings, variants = read_settings(settings_file), read_variants(variants_file)
    records = load_records(results_dir, settings, variants, weights_for=())
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
