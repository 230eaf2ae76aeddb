"""What the report notebook shows: tables, sentences and figures computed from the results files.

The report's prose lives in the report notebook's Markdown cells; this module
computes the numbers and tables that go between them. HTML tables carry ids
(``table1``, ``audit-glance``, ``variant-ranking``, ``claims``) and figures
``<figure id=...>`` so that the rendered page can be checked.
"""

import base64
import html
import importlib
import inspect
import math
from pathlib import Path

from helpers import audit, original
from helpers.results import load_group

#: Modules documented in section 2: the ones the notebooks call, in the order of the data flow.
DOCUMENTED = ("cifar10", "data", "params", "settings", "model", "gradcheck", "train", "reference",
              "results", "figures", "audit")


def load_records(results_dir, settings, variants, weights_for=(audit.BASELINE,)):
    """Every run's record (:func:`helpers.audit.run_record`), weights only for ``weights_for`` variants."""
    from dataclasses import replace

    records = []
    for v in variants:
        for s in settings:
            for doc in load_group(results_dir, v.name, replace(s, **v.train), weights=v.name in weights_for):
                params = replace(s, seed=doc["params"]["seed"], **v.train)
                records.append(audit.run_record(v.name, params, doc, doc.get("W"), setting_label=s.label))
    return records


def pm(s, fmt=".4f"):
    """``mean ± std`` of a spread dict."""
    return f"{s['mean']:{fmt}} ± {s['std']:{fmt}}"


def _td(col, text):
    return f'<td data-col="{col}">{html.escape(str(text))}</td>'


def _table(table_id, head, rows):
    head_html = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return f'<table id="{table_id}"><thead><tr>{head_html}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def setting_groups(records, variant=audit.BASELINE):
    """The records of one variant grouped by setting (in order): label -> list of records."""
    groups = {}
    for r in records:
        if r["variant"] == variant:
            groups.setdefault((r["lam"], r["eta"], r["n_batch"], r["n_epochs"], r["label"]), []).append(r)
    return groups


def setting_key(lam, eta, n_batch, n_epochs):
    """The id of a setting in the HTML (``data-run-id``), as in :attr:`TrainParams.setting_id`."""
    from helpers.params import TrainParams

    return TrainParams(lam, eta, n_batch, n_epochs).setting_id


def table1_html(records, variant=audit.BASELINE):
    """Table 1: test loss, cost and accuracy per setting (mean ± std, min–max over seeds) beside the original.

    Rows carry ``data-run-id`` (the setting id); cells ``data-col`` (``loss``, ``cost``, ``accuracy``
    hold the means). A run that diverged shows nan or inf, never a dash.
    """
    rows = []
    for (lam, eta, nb, ep, _), runs in setting_groups(records, variant).items():
        printed = original.TABLE1.get((lam, eta)) if runs[0]["original_setting"] else None
        cells = [_td("lam", f"{lam:g}"), _td("eta", f"{eta:g}"), _td("seeds", len(runs))]
        for i, m in enumerate(audit.METRICS):
            s = audit.spread([r["test"][m] for r in runs])
            cells += [_td(m, f"{s['mean']:.4f}"), _td(f"{m}_std", f"± {s['std']:.4f}"),
                      _td(f"{m}_range", f"{s['min']:.4f}–{s['max']:.4f}"),
                      _td(f"original_{m}", printed[i] if printed else "—"),
                      _td(f"verdict_{m}", audit.verdict(printed[i], [r["test"][m] for r in runs]) if printed else "—")]
        diverged = [r for r in runs if r["diverged_at"]]
        cells.append(_td("status", f"{len(diverged)} of {len(runs)} diverged" if diverged else "completed"))
        rows.append(f'<tr data-run-id="{html.escape(setting_key(lam, eta, nb, ep))}">{"".join(cells)}</tr>')
    head = ["λ", "η", "seeds"] + [h for m in audit.METRICS for h in (m, "std", "min–max", "original", "verdict")] + ["status"]
    return _table("table1", head, rows)


def runs_html(records, variant=audit.BASELINE, table_id="runs"):
    """Every single run of a variant: setting, seed, test loss, cost, accuracy, epochs run."""
    rows = []
    for r in records:
        if r["variant"] != variant:
            continue
        t = r["test"]
        rows.append("<tr>" + "".join([_td("setting", r["label"]), _td("seed", r["seed"]),
                                      _td("loss", f"{t['loss']:.4f}"), _td("cost", f"{t['cost']:.4f}"),
                                      _td("accuracy", f"{t['accuracy']:.4f}"),
                                      _td("status", f"diverged at epoch {r['diverged_at']}" if r["diverged_at"] else "completed")])
                    + "</tr>")
    return _table(table_id, ["setting", "seed", "test loss", "test cost", "test accuracy", "status"], rows)


def glance_html(records, gradcheck_rows, subset_rows=()):
    """Every number the original printed: its value, ours (mean ± std), the verdict, the best variant if not reproduced.

    For section 1.1 the "variants" are subsets of images and dimensions (:func:`helpers.audit.closest_subset`).
    """
    subset = audit.closest_subset(subset_rows)
    explained = {(e["number"]["lam"], e["number"]["eta"], e["number"]["metric"]): e for e in audit.best_explanations(records)}
    rows = []
    for row in audit.table1_audit(records):
        key = (row["lam"], row["eta"], row["metric"])
        e = explained.get(key)
        best = f"{e['variant']}: {pm(e['spread'], '.3f')} (z = {e['z']:.1f})" if e else ""
        rows.append("<tr>" + "".join([
            _td("number", f"Table 1, λ = {row['lam']:g}, η = {row['eta']:g}, {row['metric']}"),
            _td("original", row["text"]), _td("ours", pm(row["spread"], ".4f")),
            _td("verdict", row["verdict"]), _td("best_variant", best)]) + "</tr>")
    for row in audit.gradcheck_audit(gradcheck_rows):
        best = ""
        if row["verdict"] == audit.NOT_REPRODUCED and subset:
            value = subset["rows"][row["param"]][row["stat"]]
            best = (f"subset of {subset['n_images']} images × {subset['n_dims']} dimensions: {value:.3g} "
                    f"({audit.verdict(row['text'], [value])})")
        rows.append("<tr>" + "".join([
            _td("number", f"Section 1.1, g{row['param']}, {row['stat'].replace('_', ' ')}"),
            _td("original", row["text"]), _td("ours", f"{row['ours']:.3g}"), _td("verdict", row["verdict"]),
            _td("best_variant", best)]) + "</tr>")
    return _table("audit-glance", ["number", "original", "ours (mean ± std over seeds)", "verdict",
                                   "closest variant where not reproduced"], rows)


def glance_counts(records, gradcheck_rows):
    """How many of the original's numbers are reproduced, within rounding, not reproduced."""
    verdicts = [r["verdict"] for r in audit.table1_audit(records)] + [r["verdict"] for r in audit.gradcheck_audit(gradcheck_rows)]
    return {v: verdicts.count(v) for v in (audit.REPRODUCED, audit.ROUNDING, audit.NOT_REPRODUCED)} | {"total": len(verdicts)}


def summary_markdown(records, gradcheck_rows, variants, claims):
    """The computed summary paragraph at the top of the report (``claims``: :func:`helpers.audit.check_claims`)."""
    c = glance_counts(records, gradcheck_rows)
    t1 = audit.table1_audit(records)
    t1_ok = sum(r["verdict"] != audit.NOT_REPRODUCED for r in t1)
    ranking = audit.rank_variants(records)
    held = sum(cl["verdict"] == audit.HOLDS for cl in claims)
    n_runs = len(records)
    text = (f"**Reproduction in one paragraph.** {c[audit.REPRODUCED]} of the original's {c['total']} printed numbers "
            f"are reproduced within the seed-to-seed spread and {c[audit.ROUNDING]} more within the rounding of the "
            f"printed digits; {c[audit.NOT_REPRODUCED]} are not. Of its Table 1, {t1_ok} of {len(t1)} numbers are "
            f"reproduced or within rounding. ")
    text += explanation_sentence(records, ranking) + " "
    text += (f"Of the original's {len(claims)} claims, {held} hold as measured here (section 3.3). "
             f"All of this comes from {n_runs} training runs ({len(variants)} variants × settings × seeds).")
    return text


def explanation_sentence(records, ranking=None):
    """One computed sentence: which variant explains which deviation best, and how well."""
    ranking = ranking or audit.rank_variants(records)
    explained = audit.best_explanations(records)
    if not explained:
        return "Every number of Table 1 is reproduced by the course's own setup, so no variant is needed."
    e = explained[0]
    n = e["number"]
    base = next(r for r in audit.table1_audit(records) if (r["lam"], r["eta"], r["metric"]) == (n["lam"], n["eta"], n["metric"]))
    how = ("reproduces it" if e["verdict"] == audit.REPRODUCED else "reproduces it within rounding"
           if e["verdict"] == audit.ROUNDING else f"comes closest but still misses it by {e['z']:.1f} spreads")
    best = ranking[0]
    sentence = (f"The largest deviation, the {n['metric']} for λ = {n['lam']:g}, η = {n['eta']:g} (original {n['text']}, "
                f"ours {pm(base['spread'], '.3f')}, {e['baseline_z']:.1f} spreads away), is best explained by the "
                f"variant `{e['variant']}` ({pm(e['spread'], '.3f')}), which {how}. ")
    sentence += (f"Over Table 1 without the chaotic η = 0.1 row, the variant that agrees best with the original is "
                 f"`{best['variant']}` (mean distance {best['score']:.1f} spreads, {best['reproduced']} of {best['n']} "
                 f"numbers reproduced or within rounding); this is a hypothesis about how the original was run, "
                 "with its evidence, not a verdict on its author.")
    return sentence


def ranking_html(records, variants):
    """The variants ranked by agreement with the original's Table 1 (best first), with their Table 1."""
    described = {v.name: v for v in variants}
    rows = []
    for rank, v in enumerate(audit.rank_variants(records), 1):
        var = described.get(v["variant"])
        table = "; ".join(f"λ={r['lam']:g} η={r['eta']:g} {r['metric'][:3]} {pm(r['spread'], '.3f')}"
                          for r in v["rows"] if r["metric"] == "accuracy")
        rows.append("<tr>" + "".join([
            _td("rank", rank), _td("variant", v["variant"]), _td("overrides", var.overrides_text if var else ""),
            _td("description", var.description if var else ""), _td("seeds", len(var.seeds) if var else ""),
            _td("score", f"{v['score']:.2f}" if v["n"] else "— (no setting of the original)"),
            _td("chaotic_score", "—" if math.isnan(v["chaotic_score"]) else f"{v['chaotic_score']:.2f}"),
            _td("reproduced", f"{v['reproduced']} of {v['n']}"), _td("accuracy", table)]) + "</tr>")
    return _table("variant-ranking", ["rank", "variant", "overrides", "what it tests", "seeds",
                                      "distance (η < 0.1 rows)", "distance (η = 0.1 row)", "numbers reproduced",
                                      "test accuracy (mean ± std)"], rows)


def variant_tables_html(records):
    """Each variant's Table 1 (mean ± std over its seeds) beside the original, as one table."""
    rows = []
    for v in audit.variants_of(records):
        for row in audit.table1_audit(records, v):
            rows.append("<tr>" + "".join([_td("variant", v), _td("lam", f"{row['lam']:g}"), _td("eta", f"{row['eta']:g}"),
                                          _td("metric", row["metric"]), _td("original", row["text"]),
                                          _td("ours", pm(row["spread"], ".4f")), _td("z", f"{row['z']:.1f}"),
                                          _td("verdict", row["verdict"])]) + "</tr>")
    return _table("variant-tables", ["variant", "λ", "η", "metric", "original", "mean ± std", "z", "verdict"], rows)


def claims_html(claims):
    """The original's claims (paraphrased), the measured evidence and the verdict."""
    rows = ["<tr>" + "".join([_td("where", c["where"]), _td("claim", c["claim"]), _td("evidence", c["evidence"]),
                              _td("verdict", c["verdict"])]) + "</tr>" for c in claims]
    return _table("claims", ["section", "the original's claim (paraphrased)", "measured", "verdict"], rows)


def accuracy_points(records):
    """The audit figure's points: setting label, variant, seed, test accuracy of every original-setting run."""
    return [{"setting": r["label"], "variant": r["variant"], "seed": r["seed"], "accuracy": r["test"]["accuracy"]}
            for r in records if r["original_setting"]]


def original_accuracies(records):
    """Setting label -> the original's test accuracy, for the settings it printed."""
    out = {}
    for r in records:
        printed = original.TABLE1.get((r["lam"], r["eta"])) if r["original_setting"] else None
        if printed:
            out[r["label"]] = original.value(printed[2])
    return out


def figure_html(png, fig_id, caption):
    """An HTML ``<figure>`` with a PNG (bytes or a file path) embedded as base64."""
    data = png if isinstance(png, bytes) else Path(png).read_bytes()
    b64 = base64.b64encode(data).decode("ascii")
    return (f'<figure id="{html.escape(fig_id)}" style="margin:0 0 1em 0">'
            f'<img src="data:image/png;base64,{b64}" alt="{html.escape(caption)}" style="max-width:100%">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def subsets_html(subset_rows):
    """The centred check on each subset tried, beside the original's numbers (closest subset marked)."""
    best = audit.closest_subset(subset_rows)
    keys = ["diff_mean", "diff_std", "diff_max", "grad_min", "grad_max", "grad_std"]
    body = []
    for r in subset_rows:
        mark = " (closest)" if best and (r["n_images"], r["n_dims"]) == (best["n_images"], best["n_dims"]) else ""
        body.append("<tr>" + _td("subset", f"{r['n_images']} × {r['n_dims']}{mark}") + _td("param", r["param"])
                    + "".join(_td(k, f"{r[k]:.3g}") for k in keys) + "</tr>")
    for p, stats in original.GRADCHECK.items():
        body.append("<tr>" + _td("subset", "the original") + _td("param", p) + "".join(_td(k, stats[k]) for k in keys) + "</tr>")
    return _table("gradcheck-subsets", ["images × dimensions", "gradient", "mean |Δ|", "std |Δ|", "max |Δ|",
                                        "min g_num", "max g_num", "std g_num"], body)


def gradcheck_html(rows, table_id="gradcheck"):
    """The gradient-check statistics, one row per (λ, method, gradient)."""
    head = ["λ", "method", "gradient", "mean |Δ|", "std |Δ|", "max |Δ|", "min g_num", "max g_num", "std g_num",
            "max rel. error"]
    keys = ["diff_mean", "diff_std", "diff_max", "grad_min", "grad_max", "grad_std", "rel_max"]
    body = ["<tr>" + _td("lam", f"{r['lam']:g}") + _td("method", r["method"]) + _td("param", r["param"])
            + "".join(_td(k, f"{r[k]:.2e}") for k in keys) + "</tr>" for r in rows]
    return _table(table_id, head, body)


def original_gradcheck_html():
    """The original's section 1.1 numbers as printed."""
    keys = ["diff_mean", "diff_std", "diff_max", "grad_min", "grad_max", "grad_std"]
    body = ["<tr>" + _td("param", p) + "".join(_td(k, s[k]) for k in keys) + "</tr>" for p, s in original.GRADCHECK.items()]
    return _table("original-gradcheck", ["gradient", "mean |Δ|", "std |Δ|", "max |Δ|", "min g_num", "max g_num",
                                         "std g_num"], body)


def signature(obj):
    """A function's parameters without their default values: ``(X, y, W, b, lam, chunk=…)``."""
    parts = []
    for p in inspect.signature(obj).parameters.values():
        name = {p.VAR_POSITIONAL: f"*{p.name}", p.VAR_KEYWORD: f"**{p.name}"}.get(p.kind, p.name)
        parts.append(name + ("=…" if p.default is not p.empty else ""))
    return f"({', '.join(parts)})"


def api_markdown(modules=DOCUMENTED):
    """A Markdown list of the public functions and classes of the science package.

    Each entry shows the parameters (defaults elided) and the first line of the docstring, so the
    documentation is generated from the code and cannot drift from it.
    """
    lines = []
    for name in modules:
        module = importlib.import_module(f"helpers.{name}")
        summary = (inspect.getdoc(module) or "").splitlines()[0]
        lines.append(f"- **`helpers.{name}`**: {summary}")
        for attr, obj in vars(module).items():
            if attr.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            doc = (inspect.getdoc(obj) or "").splitlines()
            sig = signature(obj) if inspect.isfunction(obj) else ""
            lines.append(f"    - `{attr}{sig}`: {doc[0] if doc else ''}")
    return "\n".join(lines)


def variants_markdown(variants):
    """The variants as a Markdown list: name, overrides, seeds, description."""
    return "\n".join(f"- `{v.name}` ({v.overrides_text}; seeds {', '.join(map(str, v.seeds))}): {v.description}"
                     for v in variants)


def load_gradcheck(path):
    """The gradient check's results file (``results/gradcheck.json``)."""
    import json

    from helpers.paths import project_path

    return json.loads(project_path(path).read_text())


def setting_figures(settings, figures_dir, kind):
    """Figure 1 (``kind="curves"``) or 2 (``"weights"``) of every setting, as HTML figures (a), (b), ..."""
    from helpers.paths import project_path

    fig_id = {"curves": "fig1", "weights": "fig2"}[kind]
    return [figure_html(project_path(figures_dir) / f"{s.setting_id}_{kind}.png", f"{fig_id}-{s.setting_id}",
                        f"({letter}) {s.label}") for letter, s in zip(_letters(), settings)]


def _letters():
    """a, b, ..., z, aa, ab, ...: panel letters for any number of settings."""
    import itertools
    import string

    for size in itertools.count(1):
        for combo in itertools.product(string.ascii_lowercase, repeat=size):
            yield "".join(combo)


def run_facts(records, results_dir, settings, variants):
    """Facts of the baseline's first run for section 2: split sizes, data hashes, package versions."""
    first = load_group(results_dir, variants[0].name, settings[0])[0]
    return {"n_train": first["n_train"], "n_val": first["n_val"], "data_sha256": first["data_sha256"],
            "versions": first["versions"], "runs": len(records)}


def hyperparameters_markdown(settings):
    """The settings as a Markdown table (the variants and their seeds: :func:`variants_markdown`)."""
    lines = ["| setting | λ (`lam`) | η (`eta`) | n_batch | epochs | init std |", "|---|---|---|---|---|---|"]
    lines += [f"| `{s.setting_id}` | {s.lam:g} | {s.eta:g} | {s.n_batch} | {s.n_epochs} | {s.init_std:g} |" for s in settings]
    return "\n".join(lines)
