"""The reproduction audit: is each number and claim of the original reproduced, and if not, why?

Everything here is computed from the runs' results (lists of dicts, see
:func:`run_record`), so a new seed, variant or setting shows up without a code
change.

Formulas
--------
* Spread of a number over seeds: mean, sample std (ddof 1), min, max.
* Verdict of one printed number ``o`` against our values over seeds (mean ``m``,
  std ``s``): *reproduced* if ``|o - m| <= 2 s`` (within the seed-to-seed spread);
  else *within rounding* if ``|o - m| <= 2 s + u``, where ``u`` is half a unit of
  the last printed digit (0.005 for "0.27"); else *not reproduced*.
* Agreement of a variant with one printed number: ``z = |o - m| / max(s, u)``;
  a variant's score is the mean ``z`` over the original's Table 1 numbers
  (lower is better), the η = 0.1 row scored apart because it is chaotic.
* Roughness of an image of W: the mean squared difference of horizontally and
  vertically neighbouring pixels divided by twice the image's variance (all
  channels): about 1 for white noise, near 0 for a smooth image.
"""

import math
import statistics

import numpy as np

from helpers import original
from helpers.results import spread

METRICS = ("loss", "cost", "accuracy")
BASELINE = "course"
REPRODUCED, ROUNDING, NOT_REPRODUCED = "reproduced", "within rounding", "not reproduced"
HOLDS, PARTLY, FAILS = "holds", "partly", "does not hold"
#: A setting whose η is at least this is treated as the chaotic regime.
CHAOTIC_ETA = 0.1


def run_record(variant, params, doc, W=None, setting_label=None):
    """One run as the audit reads it: variant, setting, seed, test metrics, history (and W).

    Parameters
    ----------
    variant : str
    params : helpers.params.TrainParams
        The run's parameters (the variant's overrides included).
    doc : dict
        The run's results document (:func:`helpers.results.load_run`).
    setting_label : str or None
        The label of the setting's row in ``settings.csv`` (default: ``params.label``), the same
        for every variant.
    """
    return {"variant": variant, "lam": float(params.lam), "eta": float(params.eta), "n_batch": params.n_batch,
            "n_epochs": params.n_epochs, "seed": params.seed, "label": setting_label or params.label,
            "original_setting": params.is_original_setting, "test": doc["test"], "history": doc["history"],
            "diverged_at": doc.get("diverged_at"), "W": W}


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


def best_explanations(records):
    """For each number the baseline does not reproduce: the variant that comes closest.

    Returns
    -------
    list of dict
        ``number`` (the baseline's audit row), ``variant``, its ``z`` and ``spread``, and
        ``baseline_z``; sorted by the baseline's distance, largest first.
    """
    ranking = rank_variants(records)
    by_variant = {v["variant"]: {(r["lam"], r["eta"], r["metric"]): r for r in v["rows"]} for v in ranking}
    out = []
    for row in table1_audit(records, BASELINE):
        if row["verdict"] != NOT_REPRODUCED:
            continue
        key = (row["lam"], row["eta"], row["metric"])
        candidates = [(rows[key]["z"], name) for name, rows in by_variant.items() if key in rows]
        z, name = min(candidates)
        out.append({"number": row, "variant": name, "z": z, "spread": by_variant[name][key]["spread"],
                    "verdict": by_variant[name][key]["verdict"], "baseline_z": row["z"]})
    return sorted(out, key=lambda e: -e["baseline_z"])


def gradcheck_audit(gradcheck_rows, method=original.GRADCHECK_METHOD, lam=0.0):
    """Each number of the original's section 1.1 against our gradient check (one draw, no spread).

    Returns
    -------
    list of dict
        ``param``, ``stat``, ``text``, ``original``, ``ours``, ``verdict``, ``ratio`` (ours / original).
    """
    ours = {r["param"]: r for r in gradcheck_rows if r["method"] == method and r["lam"] == lam}
    rows = []
    for param, stats in original.GRADCHECK.items():
        for stat, text in stats.items():
            if param not in ours:
                continue
            value = ours[param][stat]
            rows.append({"param": param, "stat": stat, "text": text, "original": original.value(text),
                         "ours": value, "verdict": verdict(text, [value]),
                         "ratio": value / original.value(text) if original.value(text) else math.nan})
    return rows


def log_distance(ours, printed):
    """|log10(ours / printed)|, capped at 3 (a different sign or a zero counts as far)."""
    if ours == 0 or printed == 0 or (ours > 0) != (printed > 0) or not math.isfinite(ours):
        return 3.0
    return min(3.0, abs(math.log10(ours / printed)))


def closest_subset(subset_rows):
    """The subset (images, dimensions) whose centred check is closest to the original's section 1.1:
    the smallest mean :func:`log_distance` over its 12 numbers.

    Returns
    -------
    dict or None
        ``n_images``, ``n_dims``, ``distance`` and ``rows`` (param -> stats), or None without subsets.
    """
    groups = {}
    for r in subset_rows:
        groups.setdefault((r["n_images"], r["n_dims"]), {})[r["param"]] = r
    best = None
    for (n_images, n_dims), rows in groups.items():
        d = statistics.fmean(log_distance(rows[p][k], original.value(t))
                             for p, stats in original.GRADCHECK.items() for k, t in stats.items())
        if best is None or d < best["distance"]:
            best = {"n_images": n_images, "n_dims": n_dims, "distance": d, "rows": rows}
    return best


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


def claim_gradients(gradcheck_rows, subset_rows=()):
    """Differences tiny next to the gradients: mean |Δ| / std of the numerical gradient below 1e-6
    for every method, λ and parameter of our check (holds). Also measured: which of our methods gives
    differences closest to the original's in magnitude (mean :func:`log_distance` of mean, std and max
    |Δ|), the subset closest to the original's numbers, and the original's self-contradictions."""
    ratios = [r["diff_mean"] / r["grad_std"] for r in gradcheck_rows if r["grad_std"] > 0]
    orig = {p: original.value(s["diff_mean"]) / original.value(s["grad_std"]) for p, s in original.GRADCHECK.items()}
    small = bool(ratios) and max(ratios) < 1e-6
    distance = {}
    for method in sorted({r["method"] for r in gradcheck_rows}):
        rows = [r for r in gradcheck_rows if r["method"] == method and r["lam"] == 0.0 and r["param"] in original.GRADCHECK]
        distance[method] = statistics.fmean(log_distance(r[k], original.value(original.GRADCHECK[r["param"]][k]))
                                            for r in rows for k in ("diff_mean", "diff_std", "diff_max"))
    closest = min(distance, key=distance.get) if distance else None
    evidence = (f"largest mean |Δ| / std of the gradient in our check: {max(ratios):.2g} "
                f"(the original's: gW {orig['W']:.2g}, gb {orig['b']:.2g}); distance of our |Δ| statistics "
                "to the original's (mean |log10 ratio|, λ = 0): "
                + ", ".join(f"{m} {d:.2f}" for m, d in distance.items())
                + f", so {closest} differences are the closer in magnitude (the original says it used centred ones)")
    subset = closest_subset(subset_rows)
    if subset:
        evidence += (f"; the subset closest to all of its section 1.1 numbers is {subset['n_images']} images × "
                     f"{subset['n_dims']} dimensions (mean |log10 ratio| {subset['distance']:.2f})")
    contradictions = self_contradictions()
    if contradictions:
        evidence += "; the original contradicts itself: " + "; ".join(contradictions)
    return _claim("gradients", HOLDS if small else FAILS, evidence,
                  {"closest_method": closest, "distance": distance, "subset": subset})


def check_claims(records, gradcheck_rows, subset_rows=(), variant=BASELINE):
    """Every claim of the original, measured: a list of dicts with ``claim``, ``evidence``, ``verdict``."""
    return [claim_large_step(records, variant), claim_small_step(records, variant), claim_lambda_gap(records, variant),
            claim_lambda_one(records, variant), claim_smooth_weights(records, variant),
            claim_gradients(gradcheck_rows, subset_rows)]
