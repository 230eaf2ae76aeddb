"""The reproduction audit: is each number and claim of the original reproduced, and if not, why?

Everything here is computed from the runs' results (lists of dicts, see
:func:`run_record`), so a new seed, variant or setting shows up without a code
change.

The formulas are :data:`FORMULAS` (the report prints them).
"""

import math
import statistics
from dataclasses import asdict

import numpy as np

from helpers import likelihood, original
# The audit's four verdicts of a printed number, in the order the report counts them. The report's verdicts
# come from the section's answer (helpers.likelihood.apply_answer); this module's per-number rule, with the
# same words, is the diagnostic.
from helpers.likelihood import DIGITS as ROUNDING, EXPLAINED, REPRODUCED, UNEXPLAINED, VERDICTS  # noqa: F401
from helpers.params import OPTIONAL_CHOICES, SETTING_CHOICES, TRAIN_CHOICES, DataOptions
from helpers.results import spread

BASELINE = "course"
NOT_REPRODUCED = "not reproduced"
HOLDS, PARTLY, FAILS = "holds", "partly", "does not hold"
#: A setting whose η is at least this is treated as the chaotic regime.
CHAOTIC_ETA = 0.1

#: The audit's formulas, as the report prints them (Markdown).
FORMULAS = """\
* Spread of a number over seeds: mean, sample std (ddof 1), min, max.
* Verdict of one printed number ``o`` against our values over seeds (mean ``m``,
  std ``s``): *reproduced* if ``|o - m| <= 2 s`` (within the seed-to-seed spread);
  else *within the printed digits* if ``|o - m| <= 2 s + u``, where ``u`` is half a unit of
  the last printed digit (0.005 for "0.27"); else *not reproduced*.
* A configuration *matches* a printed number when the number is reproduced or
  within the printed digits of that configuration's values: ``|o - m'| <= 2 s' + u``.
* The per-number diagnostic, one rule for every number: *reproduced* and
  *within the printed digits* as above, against the course setup (Table 1: the ``course``
  variant; section 1.1: the check as this project runs it). Otherwise the
  number is *explained* if a searched configuration matches it: of the
  matching ones, the one that changes the fewest choices of the course setup,
  then the one with the smallest ``z``; a configuration that contradicts what the
  original states (``helpers.original.STATED``) is never a candidate. Otherwise it is *unexplained*, and the
  configuration with the smallest ``z`` is named as the closest. Each
  explanation says how many configurations were tried for that number and how
  many of them match: the more that were tried, the more likely a match by
  chance (the look-elsewhere effect), and the fewest-changes rule is fixed
  before looking at any result.
* Match distance of a printed number, drawn in the report's first figure:
  ``r = |o - m| / (2 s + u)``; ``r <= 1`` exactly when the number matches (is
  reproduced or within the printed digits).
* Agreement of a variant with one printed number: ``z = |o - m| / max(s, u)``;
  a variant's score is the mean ``z`` over the original's Table 1 numbers
  (lower is better), the η = 0.1 row scored apart because it is chaotic.
* Roughness of an image of W: the mean squared difference of horizontally and
  vertically neighbouring pixels divided by twice the image's variance (all
  channels): about 1 for white noise, near 0 for a smooth image.
"""


def run_record(variant, params, doc, W=None, row=None, overrides=None):
    """One run as the audit reads it: variant, its settings row, seed, test metrics, history (and W).

    Parameters
    ----------
    variant : str
    params : helpers.params.TrainParams
        The run's parameters as its ``results.json`` records them (the variant's overrides included).
    doc : dict
        The run's results document (:func:`helpers.results.load_run`).
    row : helpers.params.TrainParams or None
        The row of ``settings.csv`` the run was trained for (default: ``params``): its id, label and
        whether it is one of the original's settings are the same in every variant.
    overrides : dict or None
        The choices the variant changes from the course setup (``{"init_std": 0.1}``; none for the
        baseline).
    """
    row = row or params
    return {"variant": variant, **{name: getattr(params, name) for name in SETTING_CHOICES}, "seed": params.seed,
            "setting_id": row.setting_id, "label": row.label, "original_setting": row.is_original_setting,
            "test": doc["test"], "history": doc["history"], "diverged_at": doc.get("diverged_at"), "W": W,
            "overrides": dict(overrides or {}), "epoch": doc.get("epoch"), "provenance": doc.get("provenance") or {}}


def verdict(text, values):
    """Verdict of the printed number ``text`` against our ``values`` over seeds (see the module doc)."""
    s = spread(values)
    diff = abs(original.value(text) - s["mean"])
    if not math.isfinite(diff):
        return NOT_REPRODUCED
    if diff <= 2 * s["std"]:
        return REPRODUCED
    if diff <= 2 * s["std"] + original.half_unit(text):
        return ROUNDING
    return NOT_REPRODUCED


def agreement(text, values):
    """``|o - mean| / max(std, half unit)``: how many spreads the printed number is from ours."""
    s = spread(values)
    z = abs(original.value(text) - s["mean"]) / max(s["std"], original.half_unit(text))
    return z if math.isfinite(z) else math.inf


def match_distance(text, s):
    """``|o - mean| / (2 std + half unit)`` for the printed ``text`` and a spread dict ``s``: at most 1 exactly
    when the number is reproduced or within rounding (:func:`verdict`); inf when not finite."""
    r = abs(original.value(text) - s["mean"]) / (2 * s["std"] + original.half_unit(text))
    return r if math.isfinite(r) else math.inf


def runs_of(records, variant, lam, eta):
    """The records of one variant and original setting (n_batch 100, 40 epochs), any seed."""
    return [r for r in records if r["variant"] == variant and r["original_setting"]
            and r["lam"] == lam and r["eta"] == eta]


def variants_of(records):
    """Variant names in the order they first appear."""
    return list(dict.fromkeys(r["variant"] for r in records))


def table1_audit(records, variant=BASELINE):
    """Each number of the original's Table 1 against one variant.

    Returns
    -------
    list of dict
        ``lam``, ``eta``, ``metric``, ``text`` (as printed), ``original``, our ``spread``,
        ``verdict`` and ``z``; numbers whose setting was not run are left out.
    """
    rows = []
    for number in original.table1_numbers():
        runs = runs_of(records, variant, number["lam"], number["eta"])
        if not runs:
            continue
        values = [r["test"][number["metric"]] for r in runs]
        rows.append({**number, "original": original.value(number["text"]), "spread": spread(values),
                     "verdict": verdict(number["text"], values), "z": agreement(number["text"], values)})
    return rows


def rank_variants(records):
    """Every variant's agreement with the original's Table 1, best first.

    Returns
    -------
    list of dict
        ``variant``, ``score`` (mean z over the rows with η < 0.1), ``chaotic_score`` (the η = 0.1
        row), ``reproduced`` (numbers reproduced or within rounding, of ``n``), ``rows`` (its
        :func:`table1_audit`).
    """
    ranking = []
    for variant in variants_of(records):
        rows = table1_audit(records, variant)
        calm = [r["z"] for r in rows if r["eta"] < CHAOTIC_ETA]
        chaotic = [r["z"] for r in rows if r["eta"] >= CHAOTIC_ETA]
        ranking.append({
            "variant": variant,
            "score": statistics.fmean(calm) if calm else math.inf,
            "chaotic_score": statistics.fmean(chaotic) if chaotic else math.nan,
            "reproduced": sum(r["verdict"] != NOT_REPRODUCED for r in rows), "n": len(rows), "rows": rows,
        })
    return sorted(ranking, key=lambda v: (v["score"], v["variant"]))


def matches(text, values):
    """True when a configuration with these ``values`` over seeds matches the printed ``text``."""
    return verdict(text, values) != NOT_REPRODUCED


def explain(text, baseline_values, candidates, baseline_choice=None):
    """The audit of one printed number: its verdict of the four, with the explanation or the closest.

    Parameters
    ----------
    text : str
        The number as printed.
    baseline_values : sequence of float
        Our values over seeds under the course setup.
    candidates : list of dict
        Every other configuration tried: ``changed`` (choice -> value, the choices it changes from the
        course setup) and ``values`` (over seeds).
    baseline_choice : dict or None
        The course setup's value of each choice (for :func:`sensitivity`).

    Returns
    -------
    dict
        ``text``, ``original``, ``spread`` and ``z`` of the course setup, ``verdict`` (one of
        :data:`VERDICTS`), ``tried`` and ``matching`` (configurations tried, and how many match),
        ``explanation`` (the chosen match: ``changed``, ``spread``, ``z``, ``matching_alike``: matches
        that change as many choices) or None, ``closest`` (the configuration with the smallest z) or None.
    """
    scored = [{"changed": dict(c["changed"]), "values": list(c["values"]), "spread": spread(c["values"]),
               "z": agreement(text, c["values"]), "match": matches(text, c["values"])} for c in candidates]
    hits = [c for c in scored if c["match"]]
    out = {"text": text, "original": original.value(text), "values": list(baseline_values),
           "baseline_choice": dict(baseline_choice or {}), "spread": spread(baseline_values),
           "z": agreement(text, baseline_values), "tried": len(scored), "matching": len(hits),
           "explanation": None, "closest": None, "candidates": scored}
    course = verdict(text, baseline_values)
    if course != NOT_REPRODUCED:
        return {**out, "verdict": course}
    key = lambda c: (len(c["changed"]), c["z"], sorted(map(str, c["changed"].items())))  # noqa: E731
    if hits:
        best = min(hits, key=key)
        best = {**best, "matching_alike": sum(len(c["changed"]) == len(best["changed"]) for c in hits)}
        return {**out, "verdict": EXPLAINED, "explanation": best, "closest": best}
    closest = min(scored, key=lambda c: (c["z"], len(c["changed"]))) if scored else None
    return {**out, "verdict": UNEXPLAINED, "closest": closest}


#: Names of the choices as the report writes them (the training choices': their labels, helpers.params).
CHOICE_NAMES = {**{c.name: c.label for c in TRAIN_CHOICES},
                "lam": "λ", "n_images": "number of images", "n_dims": "number of dimensions", "h": "h",
                "method": "method", "split": "split",
                "normalise": "normalise", "dtype": "dtype", "norm": "normalisation", "stats": "statistics from",
                "val": "validating images"}


def choice_name(key):
    """A choice's name as the report writes it: ``"lam"`` -> ``"λ"``, ``"n_images"`` -> ``"number of images"``."""
    return CHOICE_NAMES.get(key, key)


def describe(changed):
    """A choice in words: ``{"lam": 1.0, "n_images": 20}`` -> ``"λ = 1, 20 images"``; ``{}`` -> the course setup."""
    parts = []
    for k, v in changed.items():
        if k in ("n_images", "n_dims"):
            parts.append(f"{v} {'images' if k == 'n_images' else 'dimensions'}")
        else:
            shown = str(v).lower() if isinstance(v, bool) else f"{v:g}" if isinstance(v, float) else v
            parts.append(f"{choice_name(k)} = {shown}")
    return ", ".join(parts) or "the course setup"


def table1_numbers_audit(records, variant=BASELINE):
    """Each number of the original's Table 1: its :func:`explain`, every other variant a configuration.

    The configurations of a number are the other variants trained in its setting (λ, η; n_batch 100,
    40 epochs); their choices are the variants' overrides. Numbers whose setting the baseline did not
    run are left out.

    Returns
    -------
    list of dict
        :func:`explain` plus ``section`` ("Table 1"), ``lam``, ``eta``, ``metric``, ``name``.
    """
    rows = []
    for number in original.table1_numbers():
        base = runs_of(records, variant, number["lam"], number["eta"])
        if not base:
            continue
        candidates = []
        for other in variants_of(records):
            runs = runs_of(records, other, number["lam"], number["eta"]) if other != variant else []
            if runs and not likelihood.contradictions("Table 1", runs[0]["overrides"]):
                candidates.append({"changed": runs[0]["overrides"], "values": [r["test"][number["metric"]] for r in runs]})
        course = {**{k: base[0][k] for k in OPTIONAL_CHOICES},
                  **{k: v for k, v in asdict(DataOptions()).items() if k != "n_val"}}
        result = explain(number["text"], [r["test"][number["metric"]] for r in base], candidates, course)
        rows.append({**result, "section": "Table 1", "lam": number["lam"], "eta": number["eta"],
                     "metric": number["metric"],
                     "name": f"Table 1, λ = {number['lam']:g}, η = {number['eta']:g}, {number['metric']}"})
    return rows


def unexplained_settings(records):
    """(λ, η) of every setting of the original's Table 1 with a number that no variant explains (the
    settings the deeper search of ``make search`` trains)."""
    return sorted({(n["lam"], n["eta"]) for n in table1_numbers_audit(records) if n["verdict"] == UNEXPLAINED})


#: The choices of a configuration of the gradient check's search.
CHECK_CHOICES = ("lam", "n_images", "n_dims", "h", "method")


def check_configurations(search_rows):
    """The search's rows grouped by configuration: (choices..., param) -> {stat: [values over seeds]}."""
    groups = {}
    for r in search_rows:
        key = tuple(r[c] for c in CHECK_CHOICES) + (r["param"],)
        values = groups.setdefault(key, {})
        for stat in original.GRADCHECK[r["param"]]:
            values.setdefault(stat, []).append(r[stat])
    return groups


def gradcheck_numbers_audit(search_rows, baseline):
    """Each number of the original's section 1.1: its :func:`explain` over the gradient check's search.

    Parameters
    ----------
    search_rows : list of dict
        :func:`helpers.gradcheck.search_gradient_check`: one row per configuration, seed and parameter.
    baseline : dict
        The course setup of the check (``lam``, ``n_images``, ``n_dims``, ``h``, ``method``); it must be
        one of the searched configurations.

    Returns
    -------
    list of dict
        :func:`explain` plus ``section`` ("1.1"), ``param``, ``stat``, ``name`` and ``contradicted`` (the
        number is one of a set the original cannot all have printed, see :func:`contradicted_numbers`).
    """
    groups = check_configurations(search_rows)
    contradicted = contradicted_numbers()
    rows = []
    for param, stats in original.GRADCHECK.items():
        base_key = tuple(baseline[c] for c in CHECK_CHOICES) + (param,)
        if base_key not in groups:
            continue
        for stat, text in stats.items():
            candidates = [{"changed": {c: v for c, v in zip(CHECK_CHOICES, key) if v != baseline[c]}, "values": values[stat]}
                          for key, values in groups.items() if key[-1] == param and key != base_key]
            candidates = [c for c in candidates if not likelihood.contradictions("1.1", c["changed"])]
            result = explain(text, groups[base_key][stat], candidates, baseline)
            rows.append({**result, "section": "1.1", "param": param, "stat": stat,
                         "name": f"Section 1.1, g{param}, {stat.replace('_', ' ')}",
                         "contradicted": (param, stat) in contradicted})
    return rows


def numbers_audit(records, search_rows, check_baseline):
    """Every number the original printed (Table 1, then section 1.1), each with its four-way verdict."""
    return ([{**r, "contradicted": False} for r in table1_numbers_audit(records)]
            + gradcheck_numbers_audit(search_rows, check_baseline))


def verdict_counts(numbers):
    """How many numbers have each of :data:`VERDICTS`, ``total``, and ``contradicted``: the unexplained ones
    that the original cannot all have printed (not failures of the reproduction)."""
    counts = {v: sum(n["verdict"] == v for n in numbers) for v in VERDICTS}
    counts["contradicted"] = sum(n["verdict"] == UNEXPLAINED and n["contradicted"] for n in numbers)
    return {**counts, "total": len(numbers)}


def furthest_number(numbers):
    """The number that stays furthest from the original after the search: the largest z of the closest
    configuration (the course setup included) among the unexplained ones; None if none is unexplained."""
    def distance(n):
        return min([n["z"]] + [c["z"] for c in n["candidates"]])
    left = [n for n in numbers if n["verdict"] == UNEXPLAINED and not n["contradicted"]] or \
        [n for n in numbers if n["verdict"] == UNEXPLAINED]
    return max(left, key=distance) if left else None


def sensitivity(number):
    """How a number moves with each choice changed alone: the choice that moves it most, and its points.

    Parameters
    ----------
    number : dict
        One row of :func:`numbers_audit`.

    Returns
    -------
    dict or None
        ``choice`` (the one whose levels' means spread widest), ``course`` (its value in the course
        setup), ``levels``: list of (value, [values over seeds]) in order of value where the values
        are numbers, the course setup's among them; None when no configuration changes one choice.
    """
    baseline_values = number["values"]
    by_choice = {}
    for c in number["candidates"]:
        if len(c["changed"]) == 1:
            (k, v), = c["changed"].items()
            by_choice.setdefault(k, []).append((v, c["values"]))
    if not by_choice:
        return None

    def width(levels):
        means = [statistics.fmean(vals) for _, vals in levels] + [statistics.fmean(baseline_values)]
        finite = [m for m in means if math.isfinite(m)]
        return max(finite) - min(finite) if finite else 0.0

    choice = max(sorted(by_choice), key=lambda k: width(by_choice[k]))
    course = number["baseline_choice"].get(choice)
    levels = [(course, list(baseline_values))] + by_choice[choice]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v, _ in levels):
        levels.sort(key=lambda lv: lv[0])
    return {"choice": choice, "course": course, "levels": levels}


def self_contradictions():
    """Numbers of the original's section 1.1 that cannot all be right.

    A set of values inside [min, max] has a standard deviation of at most
    (max - min) / 2; a printed std above that bound contradicts the printed range.

    Returns
    -------
    list of str
    """
    found = []
    for param, s in original.GRADCHECK.items():
        lo, hi, sd = (original.value(s[k]) for k in ("grad_min", "grad_max", "grad_std"))
        bound = (hi - lo + original.half_unit(s["grad_min"]) + original.half_unit(s["grad_max"])) / 2
        if sd - original.half_unit(s["grad_std"]) > bound:
            found.append(f"g{param}: the printed std {s['grad_std']} exceeds half the printed range "
                         f"({s['grad_min']} … {s['grad_max']}: at most {bound:.3g} even after rounding)")
    return found


def contradicted_numbers():
    """(param, stat) of every number in a set the original cannot all have printed (its gradient range
    and std, see :func:`self_contradictions`)."""
    found = self_contradictions()
    return {(param, k) for param in original.GRADCHECK if any(c.startswith(f"g{param}:") for c in found)
            for k in ("grad_min", "grad_max", "grad_std")}


# --- measures behind the claims --------------------------------------------------------------

def roughness(image):
    """Roughness of one image (H, W, C) or (H, W): see the module doc (1 ~ noise, 0 ~ smooth)."""
    im = np.asarray(image, dtype=np.float64)
    var = im.var()
    if var == 0:
        return 0.0
    dx = np.diff(im, axis=1) ** 2
    dy = np.diff(im, axis=0) ** 2
    return float((dx.mean() + dy.mean()) / 2 / (2 * var))


def weight_roughness(W):
    """Mean roughness of the K images of W: (K, 3072) (channel-planar 32x32x3)."""
    ims = np.asarray(W, dtype=np.float64).reshape(W.shape[0], 3, 32, 32).transpose(0, 2, 3, 1)
    return statistics.fmean(roughness(im) for im in ims)


def final_gaps(run):
    """Training-minus-validation gaps after the last epoch: ``loss`` (val - train) and ``accuracy`` (train - val)."""
    h = run["history"]
    return {"loss": h["val_loss"][-1] - h["train_loss"][-1], "accuracy": h["train_accuracy"][-1] - h["val_accuracy"][-1]}


def jitter(values):
    """Mean absolute change from one epoch to the next."""
    v = np.asarray(values, dtype=float)
    return float(np.mean(np.abs(np.diff(v)))) if v.size > 1 else 0.0


def _pm(s, fmt=".3f"):
    return f"{s['mean']:{fmt}} ± {s['std']:{fmt}}"


def _claim(cid, verdict_, evidence, measures=None):
    where, text = original.CLAIMS[cid]
    return {"id": cid, "where": where, "claim": text, "verdict": verdict_, "evidence": evidence,
            "measures": measures or {}}


def _missing(cid, what):
    return _claim(cid, "not measured", f"needs {what}, which the settings do not include")


def claim_large_step(records, variant=BASELINE, last=20):
    """η = 0.1: fairly good after epoch 1 (validation accuracy at epoch 1 at least 75 % of the best
    final validation accuracy of the η = 0.001 settings) and not converging (mean epoch-to-epoch
    change of the validation cost over the last ``last`` epochs at least 10 times that of η = 0.001,
    and no gain in validation accuracy after epoch 1 beyond 0.02)."""
    fast = [r for r in records if r["variant"] == variant and r["original_setting"] and r["eta"] >= CHAOTIC_ETA]
    slow = [r for r in records if r["variant"] == variant and r["original_setting"] and r["eta"] < CHAOTIC_ETA]
    if not fast or not slow:
        return _missing("eta-0.1", "an η = 0.1 and an η = 0.001 setting")
    first = spread([r["history"]["val_accuracy"][1] for r in fast])
    final = spread([r["history"]["val_accuracy"][-1] for r in fast])
    best_slow = max(spread([r["history"]["val_accuracy"][-1] for r in slow if r["lam"] == lam])["mean"]
                    for lam in {r["lam"] for r in slow})
    j_fast = spread([jitter(r["history"]["val_cost"][-last:]) for r in fast])
    j_slow = spread([jitter(r["history"]["val_cost"][-last:]) for r in slow])
    good_start = first["mean"] >= 0.75 * best_slow
    ratio = j_fast["mean"] / j_slow["mean"] if j_slow["mean"] > 0 else math.inf
    no_convergence = ratio >= 10 and final["mean"] - first["mean"] <= 0.02
    v = HOLDS if good_start and no_convergence else PARTLY if good_start or no_convergence else FAILS
    evidence = (f"validation accuracy after epoch 1: {_pm(first)} (best final of η = 0.001: {best_slow:.3f}); "
                f"after the last epoch: {_pm(final)}; epoch-to-epoch change of the validation cost over the "
                f"last {last} epochs: {_pm(j_fast, '.3g')} against {_pm(j_slow, '.3g')} with η = 0.001 "
                f"({ratio:.0f} times larger)")
    return _claim("eta-0.1", v, evidence, {"first": first, "final": final, "jitter_ratio": ratio})


def claim_small_step(records, variant=BASELINE, last=10):
    """η = 0.001 converges (mean relative epoch-to-epoch change of the validation cost over the last
    ``last`` epochs below 0.5 %) and ends with a higher test accuracy than η = 0.1 at the same λ."""
    rows, higher, converged = [], [], []
    for lam in sorted({r["lam"] for r in records if r["variant"] == variant}):
        fast = runs_of(records, variant, lam, 0.1)
        slow = runs_of(records, variant, lam, 0.001)
        if not slow:
            continue
        rel = spread([jitter(r["history"]["val_cost"][-last:]) / abs(r["history"]["val_cost"][-1]) for r in slow])
        converged.append(rel["mean"] < 0.005)
        text = f"λ = {lam:g}: relative change of the validation cost per epoch {rel['mean'] * 100:.2f} %"
        if fast:
            acc_slow, acc_fast = spread([r["test"]["accuracy"] for r in slow]), spread([r["test"]["accuracy"] for r in fast])
            higher.append(acc_slow["mean"] > acc_fast["mean"])
            text += f"; test accuracy {_pm(acc_slow)} against {_pm(acc_fast)} with η = 0.1"
        rows.append(text)
    if not converged or not higher:
        return _missing("eta-0.001", "η = 0.001 and η = 0.1 settings at the same λ")
    ok = all(converged) and all(higher)
    v = HOLDS if ok else PARTLY if any(converged) or any(higher) else FAILS
    return _claim("eta-0.001", v, "; ".join(rows))


def claim_lambda_gap(records, variant=BASELINE, considerable=0.03):
    """λ = 0 shows a considerable train-validation gap (accuracy gap at least ``considerable``),
    and the gaps in loss and accuracy shrink as λ grows (η = 0.001 settings)."""
    lams = sorted({r["lam"] for r in records if r["variant"] == variant and r["eta"] == 0.001 and r["original_setting"]})
    if len(lams) < 2 or lams[0] != 0:
        return _missing("lambda-gap", "λ = 0 and larger λ with η = 0.001")
    gaps = {lam: {m: spread([final_gaps(r)[m] for r in runs_of(records, variant, lam, 0.001)]) for m in ("loss", "accuracy")}
            for lam in lams}
    big = gaps[0.0]["accuracy"]["mean"] >= considerable
    shrinking = all(gaps[a][m]["mean"] > gaps[b][m]["mean"] for a, b in zip(lams, lams[1:]) for m in ("loss", "accuracy"))
    v = HOLDS if big and shrinking else PARTLY if big or shrinking else FAILS
    evidence = "; ".join(f"λ = {lam:g}: accuracy gap {_pm(g['accuracy'])}, loss gap {_pm(g['loss'])}" for lam, g in gaps.items())
    return _claim("lambda-gap", v, evidence, {"gaps": gaps})


def claim_lambda_one(records, variant=BASELINE):
    """λ = 1 is worse than λ = 0.1 (η = 0.001): test accuracy lower by more than the two stds
    together (holds), lower but within them (partly), not lower (does not hold)."""
    a, b = runs_of(records, variant, 1.0, 0.001), runs_of(records, variant, 0.1, 0.001)
    if not a or not b:
        return _missing("lambda-1", "λ = 1 and λ = 0.1 with η = 0.001")
    one, tenth = spread([r["test"]["accuracy"] for r in a]), spread([r["test"]["accuracy"] for r in b])
    diff = tenth["mean"] - one["mean"]
    v = HOLDS if diff > one["std"] + tenth["std"] else PARTLY if diff > 0 else FAILS
    return _claim("lambda-1", v, f"test accuracy {_pm(one)} with λ = 1 against {_pm(tenth)} with λ = 0.1 "
                                  f"(difference {diff:+.3f})")


def claim_smooth_weights(records, variant=BASELINE):
    """The roughness of W's images falls as λ grows (η = 0.001 settings), each step by more than
    the spread over seeds (holds); falls overall but not at every step (partly)."""
    lams = sorted({r["lam"] for r in records if r["variant"] == variant and r["eta"] == 0.001
                   and r["original_setting"] and r["W"] is not None})
    if len(lams) < 2:
        return _missing("smooth-W", "weights of at least two λ with η = 0.001")
    rough = {lam: spread([weight_roughness(r["W"]) for r in runs_of(records, variant, lam, 0.001) if r["W"] is not None])
             for lam in lams}
    steps = [rough[a]["mean"] - rough[b]["mean"] > rough[a]["std"] + rough[b]["std"] for a, b in zip(lams, lams[1:])]
    v = HOLDS if all(steps) else PARTLY if rough[lams[0]]["mean"] > rough[lams[-1]]["mean"] else FAILS
    evidence = "roughness of the images of W: " + "; ".join(f"λ = {lam:g}: {_pm(s)}" for lam, s in rough.items())
    return _claim("smooth-W", v, evidence, {"roughness": rough})


def joint_configuration(search_rows, baseline):
    """The configuration of the gradient check's search that matches the most of section 1.1's numbers at once
    (ties: fewer changed choices, then the order of the search).

    Returns
    -------
    dict or None
        ``changed`` (its choices that differ from ``baseline``), ``matched`` and ``of`` (numbers).
    """
    configs = {}
    for key, values in check_configurations(search_rows).items():
        configs.setdefault(key[:-1], {})[key[-1]] = values
    best = None
    for choice, params in configs.items():
        numbers = [(p, k, t) for p, stats in original.GRADCHECK.items() if p in params for k, t in stats.items()]
        matched = sum(matches(t, params[p][k]) for p, k, t in numbers)
        changed = {c: v for c, v in zip(CHECK_CHOICES, choice) if v != baseline[c]}
        if likelihood.contradictions("1.1", changed):   # what the original states rules it out
            continue
        if best is None or (matched, -len(changed)) > (best["matched"], -len(best["changed"])):
            best = {"changed": changed, "matched": matched, "of": len(numbers)}
    return best


def claim_gradients(gradcheck_rows, search_rows=(), baseline=None):
    """Differences tiny next to the gradients: mean |Δ| / std of the numerical gradient below 1e-6
    for every method, λ and parameter of our check (holds). Also measured: the configuration of the
    search that matches the most of the original's section 1.1 numbers at once
    (:func:`joint_configuration`), and the original's self-contradictions."""
    ratios = [r["diff_mean"] / r["grad_std"] for r in gradcheck_rows if r["grad_std"] > 0]
    orig = {p: original.value(s["diff_mean"]) / original.value(s["grad_std"]) for p, s in original.GRADCHECK.items()}
    small = bool(ratios) and max(ratios) < 1e-6
    evidence = (f"largest mean |Δ| / std of the gradient in our check: {max(ratios):.2g} "
                f"(the original's: gW {orig['W']:.2g}, gb {orig['b']:.2g})")
    joint = joint_configuration(search_rows, baseline) if search_rows and baseline else None
    if joint:
        evidence += (f"; of the searched configurations, {describe(joint['changed'])} matches the most of its "
                     f"section 1.1 numbers at once: {joint['matched']} of {joint['of']}")
    contradictions = self_contradictions()
    if contradictions:
        evidence += "; the original contradicts itself: " + "; ".join(contradictions)
    return _claim("gradients", HOLDS if small else FAILS, evidence, {"joint": joint})


def check_claims(records, gradcheck_rows, search_rows=(), check_baseline=None, variant=BASELINE):
    """Every claim of the original, measured: a list of dicts with ``claim``, ``evidence``, ``verdict``."""
    return [claim_large_step(records, variant), claim_small_step(records, variant), claim_lambda_gap(records, variant),
            claim_lambda_one(records, variant), claim_smooth_weights(records, variant),
            claim_gradients(gradcheck_rows, search_rows, check_baseline)]
