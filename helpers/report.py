"""What the report notebook shows: tables, sentences and figures computed from the results files.

The report's prose lives in the report notebook's Markdown cells; this module
computes the numbers and tables that go between them. HTML tables carry ids
(``table1``, ``audit-glance``, ``variant-ranking``, ``claims``) and figures
``<figure id=...>`` so that the rendered page can be checked.
"""

import base64
import html
import itertools
import json
import math
import os
import re
import string
from pathlib import Path

from helpers import audit, likelihood, original
from helpers.files import write_text
from helpers.params import CHOICES, OPTIONAL_CHOICES, SETTING_CHOICES, DataOptions, TrainParams
from helpers.pages import RUNS_DIR, run_page
from helpers.paths import project_path
from helpers.results import METRICS, load_group
from helpers.settings import ALL, BASELINE, Variant, named_variants, run_setting, training_pairs


def load_records(results_dir, settings, variants, weights_for=(audit.BASELINE,), searched=(), trained_in=None):
    """Every run's record (:func:`helpers.audit.run_record`), weights only for ``weights_for`` variants.

    Parameters
    ----------
    searched : sequence of (Variant, TrainParams)
        The deeper search's runs (``make search``): each variant trained in one setting.
    trained_in : dict or None
        The variants each settings row is trained in (:func:`helpers.settings.read_setting_rows`); None: every one.
    """
    pairs = training_pairs(settings, variants, trained_in) + list(searched)
    records = []
    for v, s in pairs:
        for doc in load_group(results_dir, v.name, run_setting(s, v), weights=v.name in weights_for):
            # the run's parameters as its results.json records them, never rebuilt from the CSV
            records.append(audit.run_record(v.name, TrainParams(**doc["params"]), doc, doc.get("W"), row=s,
                                            overrides={**v.train, **v.data}))
    return records


def load_search(record_file):
    """The runs of the deeper search (``results/search.json``, written by ``make search``) as pairs
    (Variant, TrainParams) for :func:`load_records`; none when the file does not exist."""
    path = project_path(record_file)
    if not path.is_file():
        return []
    doc = json.loads(path.read_text())
    settings = [TrainParams(**s) for s in doc["settings"]]
    variants = [Variant(v["name"], tuple(v["seeds"]), v["train"], v["data"], v["description"]) for v in doc["variants"]]
    return [(v, s) for v in variants for s in settings]


def decimals_that_matter(std, least=2, most=6):
    """Decimals to print a mean with: those of its std's first significant digit (and one more when that
    digit is a 1), at least ``least`` (the original printed two), at most ``most``.

    0.4792 -> 2, 0.0086 -> 3, 0.0015 -> 4, 0.0006 -> 4, 0.0196 -> 3; a std of 0 or not finite -> 4.
    """
    if not (math.isfinite(std) and std > 0):
        return 4
    place = math.floor(math.log10(std))
    if int(std / 10.0 ** place) == 1:   # 0.0015: two significant digits, not 0.002
        place -= 1
    return min(max(-place, least), most)


def pm(s, fmt=None):
    """``mean ± std`` of a spread dict, with :func:`decimals_that_matter` unless ``fmt`` is given."""
    fmt = fmt or f".{decimals_that_matter(s['std'])}f"
    return f"{s['mean']:{fmt}} ± {s['std']:{fmt}}"


def _td(col, text):
    return f'<td data-col="{col}">{html.escape(str(text))}</td>'


#: A table with more columns than this is "wide": printed on a landscape page of its own (the template's print CSS).
WIDE_TABLE = 8


def _table(table_id, head, rows):
    head_html = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    wide = ' class="wide"' if len(head) > WIDE_TABLE else ""
    return f'<table id="{table_id}"{wide}><thead><tr>{head_html}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def setting_groups(records, variant=audit.BASELINE):
    """The records of one variant grouped by their settings row (in order): row's setting id -> records.

    Two rows that differ only in init_std are two groups, never pooled.
    """
    groups = {}
    for r in records:
        if r["variant"] == variant:
            groups.setdefault(r["setting_id"], []).append(r)
    return groups


def table1_verdicts(numbers):
    """(λ, η, metric) -> the verdict of each of the original's Table 1 numbers (rows of ``numbers`` with
    ``section`` "Table 1"), so that Table 1 shows the same verdicts as section 3."""
    return {(n["lam"], n["eta"], n["metric"]): n["verdict"] for n in numbers if n["section"] == "Table 1"}


def table1_html(records, variant=audit.BASELINE, verdicts=None):
    """Table 1: test loss, cost and accuracy per setting (mean ± std over seeds) beside the original and the verdict.

    One cell per metric, "mean ± std" and under it, small, the min–max over seeds (shown, so that print
    and touch have it too); wide (:data:`WIDE_TABLE`): it scrolls on a narrow screen and prints on a
    landscape page. Rows carry ``data-run-id`` (the setting id); cells ``data-col`` (``loss``, ``cost``,
    ``accuracy``). A run that diverged shows nan or inf, never a dash. ``verdicts``: :func:`table1_verdicts`
    (the audit's); without it, each number's verdict against this variant alone (:func:`helpers.audit.verdict`).
    """
    rows = []
    groups = setting_groups(records, variant)
    # a column for each optional training choice some row changes (init_std, b_init, ...)
    shown = [c for c in OPTIONAL_CHOICES if any(runs[0][c] != CHOICES[c].default for runs in groups.values())]
    for setting_id, runs in groups.items():
        lam, eta = runs[0]["lam"], runs[0]["eta"]
        printed = original.TABLE1.get((lam, eta)) if runs[0]["original_setting"] else None
        cells = [_td("lam", f"{lam:g}"), _td("eta", f"{eta:g}")]
        cells += [_td(c, _choice_text(runs[0][c])) for c in shown]
        cells += [_td("seeds", len(runs))]
        for i, m in enumerate(METRICS):
            s = audit.spread([r["test"][m] for r in runs])
            d = decimals_that_matter(s["std"])
            cells += [f'<td data-col="{m}">{pm(s, f".{d}f")}<br><small class="range">{s["min"]:.{d}f}–{s["max"]:.{d}f}</small></td>',
                      _td(f"original_{m}", printed[i] if printed else "—"),
                      _td(f"verdict_{m}", "—" if not printed else verdicts[(lam, eta, m)] if verdicts
                          and (lam, eta, m) in verdicts else audit.verdict(printed[i], [r["test"][m] for r in runs]))]
        diverged = [r for r in runs if r["diverged_at"]]
        cells.append(_td("status", f"{len(diverged)} of {len(runs)} diverged" if diverged else "completed"))
        cells.append(f'<td data-col="run">{run_link(run_page("train", setting_id), "training")}</td>')
        rows.append(f'<tr data-run-id="{html.escape(setting_id)}">{"".join(cells)}</tr>')
    head = ["λ", "η"] + [CHOICES[c].label for c in shown] + ["seeds"] + [h for m in METRICS
                                                                        for h in (f"{m}, mean ± std", "original", "verdict")] + ["status", "made by"]
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


def _named_value(n):
    return _value(audit.spread(n["named"]["values"]), n["text"]) if n.get("named") and n["named"]["values"] else "—"


def _explanation_text(n):
    """What explains one audited number, or what comes closest, in words: the configuration named for its
    section (when the row has the answer's ``named``), then the per-number diagnostic."""
    if "named" in n:
        named = n["named"]
        alone = _diagnostic_text(n)
        if n["verdict"] == audit.EXPLAINED:
            return f"{audit.describe(named['changed'])}, named for its section: {_named_value(n)}; alone: {alone}"
        if n["verdict"] == audit.UNEXPLAINED:
            head = (f"not by {audit.describe(named['changed'])}, named for its section ({_named_value(n)})"
                    if named else "no configuration named for its section")
            return f"{head}; alone: {alone}"
        return ""
    return _diagnostic_text(n)


def _diagnostic_text(n):
    """The per-number diagnostic (:func:`helpers.audit.explain`): the best match of this number alone, or the closest."""
    tried = f"{n['matching']} of {n['tried']} configurations tried match"
    verdict = n.get("diagnostic", n["verdict"])
    if verdict == audit.EXPLAINED:
        e = n["explanation"]
        k = len(e["changed"])
        text = (f"{audit.describe(e['changed'])}: {_value(e['spread'], n['text'])} (z = {e['z']:.1f}; {tried}; "
                f"{e['matching_alike']} of the matches change {k} choice{'s' if k > 1 else ''}, none fewer)")
    elif verdict == audit.UNEXPLAINED:
        c = n["closest"]
        text = (f"closest: {audit.describe(c['changed'])}: {_value(c['spread'], n['text'])}, {c['z']:.1f} spreads away; "
                f"none of {n['tried']} configurations tried matches") if c else "no other configuration was tried"
    elif "diagnostic" in n:
        text = "the course setup matches it (within 2 spreads plus its rounding)"
    else:
        return ""
    if n["contradicted"]:
        text += "; the original's own range and std of this gradient cannot all be right"
    return text


def _value(s, text):
    """Our mean ± std, in a format fit for the printed number ``text`` (fixed or scientific)."""
    return pm(s, ".3e" if "e" in text.lower() else None)


def glance_html(numbers):
    """Every number the original printed (:func:`helpers.audit.numbers_audit`): its value, ours under the course
    setup (mean ± std over seeds), the verdict of four, and the explanation or the closest configuration."""
    rows = ["<tr>" + "".join([_td("number", n["name"]), _td("original", n["text"]), _td("ours", _value(n["spread"], n["text"])),
                              _td("verdict", n["verdict"]), _td("explanation", _explanation_text(n))]) + "</tr>"
            for n in numbers]
    return _table("audit-glance", ["number", "original", "ours, course setup (mean ± std over seeds)", "verdict",
                                   "explained by, or closest configuration"], rows)


def glance_rows(numbers):
    """The rows of the at-a-glance figure (:func:`helpers.figures.plot_glance`): name, verdict, and the
    :func:`helpers.audit.match_distance` of the course setup and of the explaining configuration (None
    when nothing explains it). A distance of at most 1 is a match, so a dot left of 1 is reproduced or
    within rounding, whatever the spread."""
    def best(n):
        if n.get("named") and n["named"]["changed"]:
            return audit.match_distance(n["text"], audit.spread(n["named"]["values"]))
        return audit.match_distance(n["text"], n["explanation"]["spread"]) if n.get("explanation") and "named" not in n else None

    return [{"name": n["name"], "verdict": n["verdict"], "distance": audit.match_distance(n["text"], n["spread"]),
             "distance_best": best(n)} for n in numbers]


def counts_sentence(counts):
    """The four verdicts' counts in one sentence (:func:`helpers.audit.verdict_counts`), each count marked
    ``<span data-count="VERDICT">`` (and the total ``data-count="total"``) for the report's checker
    (``pipeline.check``), which compares them with the audit's table and with ``findings.json``."""
    def n(key):
        return f'<span data-count="{key}">{counts[key]}</span>'

    text = (f"Of the original's {n('total')} printed numbers, {n(audit.REPRODUCED)} are reproduced by the "
            f"course setup within the seed-to-seed spread, {n(audit.ROUNDING)} more within its printed digits, "
            f"{n(audit.EXPLAINED)} are explained by the configuration the audit names for their section, and "
            f"{n(audit.UNEXPLAINED)} stay unexplained")
    if counts["contradicted"]:
        text += (f" ({counts['contradicted']} of them belong to a set of numbers the original cannot all have printed, "
                 "so not every one of them can be reproduced)")
    return text + "."


def summary_markdown(numbers, records, variants, claims, search_seconds=None):
    """The computed summary paragraph at the top of the report (``numbers``: :func:`helpers.audit.numbers_audit`,
    ``claims``: :func:`helpers.audit.check_claims`)."""
    counts = audit.verdict_counts(numbers)
    held = sum(cl["verdict"] == audit.HOLDS for cl in claims)
    text = f"**Reproduction in one paragraph.** {counts_sentence(counts)} "
    text += furthest_sentence(numbers) + " "
    text += (f"Of the original's {len(claims)} claims, {held} hold as measured here (section 3.3). "
             f"All of this comes from {len(records)} training runs ({len(audit.variants_of(records))} variants × "
             f"settings × seeds)")
    if search_seconds is not None:
        text += f" and a search of the gradient check that took {search_seconds:.0f} s"
    return text + "."


def furthest_sentence(numbers):
    """One computed sentence on the number that stays furthest from the original after the search."""
    n = audit.furthest_number(numbers)
    if n is None:
        return "Every number is reproduced, within its printed digits or explained by the configuration named for its section."
    c = n["closest"]
    text = (f"The number that stays furthest from the original is {n['name']} (original {n['text']}, ours "
            f"{_value(n['spread'], n['text'])}, {n['z']:.1f} spreads away)")
    if c is None:
        return text + "; no other configuration was tried for it."
    return (text + f"; the closest of the {n['tried']} configurations tried, {audit.describe(c['changed'])}, is still "
            f"{c['z']:.1f} spreads away (Figure 4).")


def search_markdown(gradcheck):
    """What the gradient check's search tried (``results/gradcheck.json``): the choices, their values, the
    number of configurations and seeds, and what it cost."""
    space, base = gradcheck["space"], gradcheck["baseline"]
    n_configs = math.prod(len(v) for v in space.values())
    lines = [f"- {audit.choice_name(k)}: "
             + ", ".join(f"**{v:g}**" if v == base[k] and not isinstance(v, str) else f"**{v}**" if v == base[k]
                         else (f"{v:g}" if not isinstance(v, str) else v) for v in values)
             for k, values in space.items()]
    return ("\n".join(lines) + f"\n\nIn bold the course setup (section 1.1's own check). {n_configs} configurations "
            f"× {len(gradcheck['search_seeds'])} seeds, computed on one core (the executed notebook says how long); "
            "the numerical gradients come from the costs of the course's loop evaluated all at once "
            "(`helpers.gradcheck.perturbed_costs`, tested against the loop)." + grown_sentence(gradcheck))


def table1_search_markdown(records):
    """What Table 1's configurations tried: each choice with the values tried alone or together, the course's in
    bold, and how many configurations combine two or more choices (``records``: every run's record)."""
    configs = {tuple(sorted((k, repr(v)) for k, v in r["overrides"].items())): r["overrides"]
               for r in records if r["original_setting"] and r["variant"] != audit.BASELINE}
    values = {}
    for changed in configs.values():
        for k, v in changed.items():
            values.setdefault(k, set()).add(v)
    course = {**{c: CHOICES[c].default for c in OPTIONAL_CHOICES}, **{k: v for k, v in vars(DataOptions()).items()}}
    lines = []
    for k in sorted(values, key=lambda k: (k not in CHOICES, k)):
        shown = sorted(values[k] | ({course[k]} if k in course else set()), key=lambda v: (isinstance(v, str), str(v) if isinstance(v, (str, bool)) else v))
        lines.append(f"- {html.escape(audit.choice_name(k))}: " + ", ".join(
            f"**{_choice_text(v)}**" if k in course and v == course[k] else _choice_text(v) for v in shown))
    together = sum(len(c) > 1 for c in configs.values())
    return ("\n".join(lines) + f"\n\nIn bold the course setup. {len(configs)} configurations besides the course setup, "
            f"{together} of them with two or more choices together; every one trained for all "
            f"{len({(r['lam'], r['eta']) for r in records if r['original_setting']})} settings of the original.")


def table1_ranges(records, gradcheck):
    """Where each continuous choice's best value alone lies in the range Table 1's configurations tried
    (:func:`helpers.likelihood.range_report`, under the favoured printing convention)."""
    sections = likelihood.sections_of(records, gradcheck["search"], gradcheck["baseline"])
    numbers, configs = sections["Table 1"]
    convention = likelihood.convention_evidence(sections)["favoured"]
    found = (likelihood.range_report(numbers, configs, convention, k, v) for k, v in likelihood.CONTINUOUS.items())
    return [r for r in found if r]


def table1_ranges_markdown(ranges):
    """A paragraph with one line per continuous choice of :func:`table1_ranges`: its best value alone and whether
    the range tried holds it inside, or where the search would go next; "" for none."""
    lines = []
    for r in ranges:
        name, tried = html.escape(audit.choice_name(r["key"])), f"{r['low']:g} to {r['high']:g}"
        if r["where"] == "inside":
            text = f"best alone at {r['best']:g}, inside the range tried ({tried})"
        elif r["where"] == "course":
            text = f"best at the course's {r['best']:g}, the choice's own bound; every value tried ({tried}) scores lower"
        elif r["where"] == "bound":
            text = (f"best alone at {r['best']:g}, on the edge of the range tried ({tried}); one step further is "
                    "beyond what is plausible, so the range ends there")
        else:
            text = (f"best alone at {r['best']:g}, on the edge of the range tried ({tried}): the range is not yet "
                    f"wide enough; `make search` tries {', '.join(f'{v:g}' for v in r['next'])} next")
        lines.append(f"- {name}: {text}.")
    if not lines:
        return ""
    return ("\n\nEach continuous choice tried alone (a best value on an edge makes `make search` step outward):\n\n"
            + "\n".join(lines))


def loop_and_search(gradcheck):
    """Section 1.1's own check (the loop) beside the search's value of the same configuration and draw.

    Returns
    -------
    list of (param, stat, loop value, search value)
        For every statistic of the original's section 1.1 at the course setup (its λ, method and the check's
        own seed); empty when the search did not draw with that seed.
    """
    base = gradcheck["baseline"]
    loop = {r["param"]: r for r in gradcheck["rows"] if r["lam"] == base["lam"] and r["method"] == base["method"]}
    found = {r["param"]: r for r in gradcheck["search"] if r["seed"] == gradcheck["seed"]
             and all(r[k] == v for k, v in base.items())}
    return [(p, stat, loop[p][stat], found[p][stat]) for p in original.GRADCHECK if p in loop and p in found
            for stat in original.GRADCHECK[p]]


def loop_and_search_sentence(gradcheck):
    """Why the audit's course setup and section 1.1's table can differ in |Δ|: both values, and the reason."""
    pairs = [(p, s, a, b) for p, s, a, b in loop_and_search(gradcheck) if s in ("diff_mean", "diff_max")]
    if not pairs:
        return ""
    shown = "; ".join(f"g{p} {s.replace('diff_', '')} |Δ| {a:.3g} by the loop, {b:.3g} by the search"
                      for p, s, a, b in pairs)
    return ("The audit scores every configuration with the search's costs, computed all at once; at this table's "
            f"own configuration and draw they give: {shown}. The gradients agree to about 1e-8, but |Δ| at this "
            "size is the rounding error of the cost (about one unit in the last place divided by 2h), and the "
            "two ways of computing the cost round differently: the loop recomputes X Wᵀ for every step, the "
            "search adds the step's column to the scores once computed. A test checks that they stay within a "
            "factor of 4 of each other on arrays of this size.")


def grown_sentence(gradcheck):
    """Which ranges of the gradient check's search grew because the configuration named lay on their edge."""
    grown = gradcheck.get("grown") or []
    if not grown:
        return " No range had to grow: the configuration named lies inside every range searched."
    parts = [f"{audit.choice_name(g['choice'])} to {g['value']:g} (the configuration named lay on the edge, "
             f"{g['edge']:g})" for g in grown]
    return " Ranges grown: " + "; ".join(parts) + "."


def sensitivity_figure(numbers):
    """Figure 4: the number that stays furthest from the original, against the choice that moves it most
    (:func:`helpers.audit.sensitivity`); None when every number is explained."""
    from helpers.figures import plot_sensitivity

    n = audit.furthest_number(numbers)
    s = audit.sensitivity(n) if n else None
    if s is None:
        return None
    name = audit.choice_name(s["choice"])
    return plot_sensitivity(s["levels"], s["course"], n["original"], original.half_unit(n["text"]), name, n["name"])


def ranking_html(records, variants, table_id="variant-ranking"):
    """``variants`` ranked by their distance to the original's Table 1 (closest first), with their Table 1.

    The rank is by distance (the mean z), not by the count of numbers reproduced, which the table also
    gives: a variant a little further on average can reproduce more numbers.
    """
    described = {v.name: v for v in variants}
    rows = []
    ranked = [v for v in audit.rank_variants(records) if v["variant"] in described]
    for rank, v in enumerate(ranked, 1):
        var = described.get(v["variant"])
        table = "; ".join(f"λ={r['lam']:g} η={r['eta']:g} {r['metric'][:3]} {pm(r['spread'], '.3f')}"
                          for r in v["rows"] if r["metric"] == "accuracy")
        rows.append("<tr>" + "".join([
            _td("rank", rank), _td("variant", v["variant"]), _td("overrides", var.overrides_text if var else ""),
            _td("description", var.description if var else ""), _td("seeds", len(var.seeds) if var else ""),
            _td("score", f"{v['score']:.2f}" if v["n"] else "— (no setting of the original)"),
            _td("chaotic_score", "—" if math.isnan(v["chaotic_score"]) else f"{v['chaotic_score']:.2f}"),
            _td("reproduced", f"{v['reproduced']} of {v['n']}"), _td("accuracy", table)]) + "</tr>")
    return _table(table_id, ["rank", "variant", "overrides", "what it tests", "seeds", "distance (η < 0.1)",
                             "distance (η = 0.1)", "reproduced", "test accuracy (mean ± std)"], rows)


def variant_tables_html(records):
    """Each variant's Table 1 (mean ± std over its seeds) beside the original, as one table."""
    rows = []
    for v in audit.variants_of(records):
        for row in audit.table1_audit(records, v):
            rows.append("<tr>" + "".join([_td("variant", v), _td("lam", f"{row['lam']:g}"), _td("eta", f"{row['eta']:g}"),
                                          _td("metric", row["metric"]), _td("original", row["text"]),
                                          _td("ours", pm(row["spread"])), _td("z", f"{row['z']:.1f}"),
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


def run_link(page, text="the notebook run"):
    """A link to an executed notebook rendered under :data:`RUNS_DIR` (``page``: :func:`run_page`)."""
    return f'<a href="{RUNS_DIR}/{html.escape(page)}">{html.escape(text)}</a>'


def figure_html(png, fig_id, caption, link=None):
    """An HTML ``<figure>`` with a PNG (bytes or a file path) embedded as base64; ``link``: its provenance."""
    data = png if isinstance(png, bytes) else Path(png).read_bytes()
    b64 = base64.b64encode(data).decode("ascii")
    source = f" · made by {link}" if link else ""
    return (f'<figure id="{html.escape(fig_id)}" style="margin:0 0 1em 0">'
            f'<img src="data:image/png;base64,{b64}" alt="{html.escape(caption)}" style="max-width:100%">'
            f"<figcaption>{html.escape(caption)}{source}</figcaption></figure>")


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


#: ASCII characters other than letters, digits and spaces: in Markdown they may start markup.
_MARKDOWN_SPECIAL = re.compile(r"[\x00-\x1f!-/:-@\[-`{-\x7f]")


def markdown_text(text):
    """``text`` as Markdown that shows it literally (a string from a file a user edits, e.g. a description).

    Every ASCII character other than a letter, digit or space becomes a numeric character reference,
    so no HTML element, emphasis, code, link or bare address (``http://``, ``www.``) can form:
    ``<b>[x](y)`` -> ``&#60;b&#62;&#91;x&#93;&#40;y&#41;``, which the page shows as ``<b>[x](y)``.
    """
    return _MARKDOWN_SPECIAL.sub(lambda m: f"&#{ord(m.group())};", str(text))


def markdown_code(text):
    """``text`` as inline code in Markdown, shown literally whatever it holds: a code span fenced by more
    backticks than ``text`` has in a row, padded with a space on each side (which Markdown drops)."""
    text = " ".join(str(text).splitlines())
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}"


def variants_markdown(variants):
    """The variants as a Markdown list: name, overrides, seeds, description (each shown literally)."""
    return "\n".join(f"- {markdown_code(v.name)} ({markdown_text(v.overrides_text)}; seeds "
                     f"{', '.join(map(str, v.seeds))}): {markdown_text(v.description)}" for v in variants)


def load_gradcheck(path):
    """The gradient check's results file (``results/gradcheck.json``)."""
    return json.loads(project_path(path).read_text())


def setting_figures(settings, figures_dir, kind):
    """Figure 1 (``kind="curves"``) or 2 (``"weights"``) of every setting, as HTML figures (a), (b), ..."""
    fig_id = {"curves": "fig1", "weights": "fig2"}[kind]
    return [figure_html(project_path(figures_dir) / f"{s.setting_id}_{kind}.png", f"{fig_id}-{s.setting_id}",
                        f"({letter}) {s.label}", run_link(run_page("figures", s.setting_id)))
            for letter, s in zip(_letters(), settings)]


def _letters():
    """a, b, ..., z, aa, ab, ...: panel letters for any number of settings."""
    for size in itertools.count(1):
        for combo in itertools.product(string.ascii_lowercase, repeat=size):
            yield "".join(combo)


def run_facts(records, results_dir, settings, variants):
    """Facts of the baseline's first run for section 2 and the appendix: split sizes, data hashes, package
    versions, provenance (commit, CPU, compiler, BLAS), and the commits and epochs of every run."""
    first = load_group(results_dir, variants[0].name, settings[0])[0]
    return {"n_train": first["n_train"], "n_val": first["n_val"], "data_sha256": first["data_sha256"],
            "versions": first["versions"], "runs": len(records), "provenance": first.get("provenance") or {},
            "commits": sorted({(r["provenance"].get("git") or {}).get("commit") or "unknown" for r in records}),
            "dirty": any((r["provenance"].get("git") or {}).get("dirty") for r in records),
            "epochs": sorted({r["epoch"] or "unknown" for r in records})}


def figure_grid(figures, min_width=460):
    """Figures side by side, as many per row as the page has room for (one on a narrow screen)."""
    return (f'<div class="figure-grid" style="display:grid;grid-template-columns:repeat(auto-fit,minmax({min_width}px,1fr));'
            f'gap:0.5em 1em">{"".join(figures)}</div>')


def folded(summary, html_text):
    """Long detail folded away (``<details>``), so the reading flow stays short; opened by a click."""
    return f"<details><summary>{html.escape(summary)}</summary>{html_text}</details>"


def folded_markdown(summary, markdown_text):
    """:func:`folded` for Markdown: rendered to HTML first (by nbconvert's own Markdown renderer, as the rest of
    the page), so that the text is inside the fold; a Markdown block inside ``<details>`` would be left outside."""
    from nbconvert.filters import markdown2html_mistune

    return folded(summary, markdown2html_mistune(markdown_text))


def provenance_markdown(facts):
    """The appendix: the commit(s), the machine, the compiled epoch's build, the BLAS, the packages, the data."""
    prov = facts["provenance"]
    cpu, build, blas = prov.get("cpu") or {}, prov.get("compiled_epoch") or {}, prov.get("blas") or []
    commits = ", ".join(f"`{c[:12]}`" for c in facts["commits"])
    lines = [f"- **Code**: commit {commits}" + (" with uncommitted changes in the working tree" if facts["dirty"] else "")
             + f" ({facts['runs']} runs; epoch: {', '.join(facts['epochs'])}).",
             f"- **CPU**: {cpu.get('model') or 'unknown'} ({cpu.get('machine') or '?'}, {cpu.get('isa_level') or 'level unknown'}).",
             "- **Compiled epoch**: " + (f"{build.get('version') or build.get('compiler') or 'a library built before'}, "
                                        f"flags `{' '.join(build.get('flags') or [])}`." if build else "not used (the NumPy epoch)."),
             "- **BLAS**: " + ("; ".join(f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')} kernel)"
                                         for b in blas) or "unknown") + ".",
             "- **Packages**: " + ", ".join(f"{k} {v}" for k, v in sorted(facts["versions"].items())) + ".",
             "- **Data**: the content hashes (sha256) of the batches:"]
    lines += [f"  - `{k}`: `{v}`" for k, v in sorted(facts["data_sha256"].items())]
    return "\n".join(lines)


def hyperparameters_markdown(settings, trained_in=None):
    """The settings as a Markdown table, a column per training choice and the variants each row is trained in
    (``trained_in``: :func:`helpers.settings.read_setting_rows`; None: every one). The variants and their seeds:
    :func:`variants_markdown`."""
    def variants_of(s):
        named = named_variants(s, trained_in)
        return "every one" if named == ALL else ", ".join(markdown_code(n) for n in (BASELINE, *named))

    head = [CHOICES[c].label + (f" (`{c}`)" if CHOICES[c].label != c else "") for c in SETTING_CHOICES]
    lines = ["| setting | " + " | ".join(head) + " | trained in the variants |", "|---" * (len(head) + 2) + "|"]
    lines += [f"| {markdown_code(s.setting_id)} | " + " | ".join(_choice_text(getattr(s, c)) for c in SETTING_CHOICES)
              + f" | {variants_of(s)} |" for s in settings]
    return "\n".join(lines)


def _choice_text(value):
    """A choice's value as the tables print it: a number in ``g`` format, a word as it is."""
    return f"{value:g}" if isinstance(value, float) else html.escape(str(value))


# --- the audit's answer: one configuration per section (helpers.likelihood) --------------------


def audit_numbers(records, gradcheck):
    """The audit's answer (:func:`helpers.likelihood.audit_answer`) and every number the original printed with
    its verdict from that answer (:func:`helpers.likelihood.apply_answer`; ``gradcheck``: :func:`load_gradcheck`)."""
    answer = likelihood.audit_answer(records, gradcheck["search"], gradcheck["baseline"])
    numbers = audit.numbers_audit(records, gradcheck["search"], gradcheck["baseline"])
    return answer, likelihood.apply_answer(numbers, answer)

#: How the report names each section of the original.
SECTION_NAMES = {"1.1": "Section 1.1 (gradient check)", "Table 1": "Table 1 (test metrics)"}


def _named_text(a):
    named = a["named"]
    return audit.describe(named["changed"]) if named else "none (no configuration covers every number)"


def _rate_text(cal):
    if not cal["trials"]:
        return "— (no course seeds)"
    lo, hi = cal["interval"]
    return f"{cal['false']} of {cal['trials']} ({cal['rate']:.0%}; 95 % interval {lo:.0%}–{hi:.0%})"


def answer_html(ans, table_id="audit-answer"):
    """One row per section of the original: the configuration named, the numbers it and the course setup
    reproduce, the log-likelihood ratio against the course setup and the false-explanation rate
    (``ans``: :func:`helpers.likelihood.audit_answer`)."""
    rows = []
    for section, a in ans["sections"].items():
        named, course = a["named"], a["course"]
        rows.append("<tr>" + "".join([
            _td("section", SECTION_NAMES.get(section, section)), _td("named", _named_text(a)),
            _td("reproduced", f"{len(named['reproduced'])} of {a['n']}" if named else "—"),
            _td("course", f"{len(course['reproduced'])} of {a['n']}" if course else "—"),
            _td("ratio", f"{a['ratio']:.1f}" if math.isfinite(a["ratio"]) else "—"),
            _td("penalty", f"{named['penalty']:.1f}" if named else "—"),
            _td("tried", f"{a['eligible']} of {a['tried']}"),
            _td("false_rate", _rate_text(a["calibration"]))]) + "</tr>")
    return _table(table_id, ["section", "configuration named", "numbers it reproduces", "course setup reproduces",
                             "ln L ratio to the course setup", "its penalty", "eligible of tried",
                             "false explanations of pure seed noise"], rows)


def convention_sentence(ans):
    """Which way the original printed its digits, with the evidence (:func:`helpers.likelihood.convention_evidence`)."""
    c = ans["convention"]
    other = next(k for k in c["scores"] if k != c["favoured"])
    return (f"The original's digits read best as **{c['favoured']}**: the sections' best scores sum to "
            f"{c['scores'][c['favoured']]:.1f} against {c['scores'][other]:.1f} if they were {other}, a log-likelihood "
            f"ratio of {c['evidence']:.1f} (a factor of {math.exp(min(c['evidence'], 700)):.3g}).")


def answer_detail_html(ans):
    """Per section and number, under both printing conventions: does the named configuration reproduce it, and
    does the course setup; with each number's log-probability under the named configuration."""
    rows = []
    for section, a in ans["sections"].items():
        for convention, ac in ((a["convention"], a), (a["other"]["convention"], a["other"])):
            named, course = ac["named"], ac["course"]
            for n in a["numbers"]:
                rows.append("<tr>" + "".join([
                    _td("section", section), _td("convention", convention), _td("number", n["name"]),
                    _td("original", n["text"]), _td("named", _named_text(ac)),
                    _td("named_reproduces", "yes" if named and n["id"] in named["reproduced"] else "no"),
                    _td("log_p", f"{named['per_number'][n['id']]:.1f}" if named else "—"),
                    _td("course_reproduces", "yes" if course and n["id"] in course["reproduced"] else "no")]) + "</tr>")
    return _table("audit-answer-detail", ["section", "digits", "number", "original", "configuration named",
                                          "it reproduces", "ln p", "course setup reproduces"], rows)


def findings(ans, claims, searched, machine, counts=None):
    """What the report finds, as data: the configuration named per section with its counts, ratio and
    false-explanation rate, the printing convention, the claims; which build made it (``searched``: the
    deeper search's variants, empty after a plain ``make report``) and on which ``machine`` (the CPU and BLAS
    kernel); the verdicts' ``counts`` the page states (:func:`helpers.audit.verdict_counts`), which the report's
    checker compares with the page. ``make readme`` writes the README's opening paragraph from it
    (:func:`findings_markdown`)."""
    sections = {}
    for section, a in ans["sections"].items():
        named, course, cal = a["named"], a["course"], a["calibration"]
        sections[section] = {"named": _named_text(a), "n": a["n"],
                             "reproduced": len(named["reproduced"]) if named else 0,
                             "course": len(course["reproduced"]) if course else 0,
                             "ratio": round(float(a["ratio"]), 1) if named else None,
                             "false": cal["false"], "trials": cal["trials"]}
    c = ans["convention"]
    return {"build": "make search" if searched else "make report", "machine": machine, "sections": sections,
            "convention": c["favoured"], "convention_ratio": round(float(c["evidence"]), 1),
            "claims_hold": sum(cl["verdict"] == audit.HOLDS for cl in claims), "claims": len(claims),
            **({"counts": {k: counts[k] for k in (*audit.VERDICTS, "total")}} if counts else {})}


def machine_text(facts):
    """The machine in words: the CPU model and BLAS kernel the runs recorded (``facts``: :func:`run_facts`), and
    the cores of the machine that renders the report (the runs do not record theirs)."""
    prov = facts["provenance"]
    cpu, blas = prov.get("cpu") or {}, prov.get("blas") or []
    kernels = ", ".join(dict.fromkeys(f"{b.get('internal_api')} {b.get('architecture')}" for b in blas)) or "BLAS unknown"
    return f"{cpu.get('model') or 'an unknown CPU'}, {os.cpu_count()} cores, {kernels}"


def save_findings(path, f):
    """Write :func:`findings` to ``path`` (JSON, atomically)."""
    write_text(path, json.dumps(f, indent=1, sort_keys=True) + "\n")


def findings_markdown(f):
    """The README's opening paragraph from :func:`findings` (one build's; the same words every time)."""
    s11, t1 = f["sections"]["1.1"], f["sections"]["Table 1"]

    def named(name, a):
        if a["ratio"] is None:
            return f"{name}: no configuration covers every number (the course setup reproduces {a['course']} of {a['n']})"
        return (f"{name} by {a['named']} ({a['reproduced']} of its {a['n']} numbers reproduced; the course setup "
                f"reproduces {a['course']}; a log-likelihood ratio of {a['ratio']} in its favour)")

    def rate(a, where):
        if not a["trials"]:
            return f"no course-setup seeds to calibrate {where} with"
        return f"{a['false']} of {a['trials']} times ({where})"

    return (f"**What it finds.** The original printed each of its two sections from one run, so the audit names one "
            f"configuration per section, the one that makes all of the section's printed digits most probable "
            f"(after `{f['build']}`, on {f['machine']}): {named('section 1.1' + chr(39) + 's gradient check is explained best', s11)}, "
            f"{named('Table 1', t1)}. The original's digits read as {f['convention']} "
            f"(log-likelihood ratio {f['convention_ratio']}). On pretend originals printed from our own course-setup "
            f"seeds, the same search names something other than the course setup {rate(s11, 'section 1.1')} and "
            f"{rate(t1, 'Table 1')}: leads, not proof. "
            f"{f['claims_hold']} of its {f['claims']} claims hold. The report (`report/index.html`) shows every number, "
            f"how it was decided, and why.")


def reproducibility_summary_markdown(ans, claims, n_runs):
    """The reproducibility summary under the title, in the ML Reproducibility Challenge's shape: scope,
    method, results, what was easy, what was hard."""
    s11, t1 = ans["sections"]["1.1"], ans["sections"]["Table 1"]
    held = sum(cl["verdict"] == audit.HOLDS for cl in claims)

    def result(name, a):
        named, course = a["named"], a["course"]
        if not named:
            return f"{name}: no configuration covers every number."
        return (f"{name} is explained best by **{_named_text(a)}**, which reproduces {len(named['reproduced'])} of its "
                f"{a['n']} numbers (the course setup: {len(course['reproduced']) if course else 0}); log-likelihood "
                f"ratio {a['ratio']:.1f} against the course setup; on pure seed noise the same search names a "
                f"configuration other than the course setup {_rate_text(a['calibration'])} times.")

    def count(a):
        return len(a["course"]["reproduced"]) if a["course"] else 0

    def named_count(a):
        return len(a["named"]["reproduced"]) if a["named"] else 0

    return "\n".join([
        "**Reproducibility summary.**",
        "",
        f"- *Scope.* The original's {s11['n'] + t1['n']} printed numbers (section 1.1's gradient check, Table 1's test "
        f"metrics) and its {len(claims)} claims.",
        "- *Method.* Each section is one run of one program, so one configuration of the choices the original does "
        "not state must explain all its numbers at once. Configurations are scored by the probability their "
        "seed-to-seed distribution gives to the printed digits, with a penalty per changed choice; one that "
        "contradicts what the original states is never named (section 3).",
        f"- *Results.* {result('Section 1.1', s11)} {result('Table 1', t1)} {convention_sentence(ans)} "
        f"{held} of {len(claims)} claims hold. From {n_runs} training runs.",
        f"- *What was easy.* What the original states: with it alone (the course setup) {count(t1)} of Table 1's "
        f"{t1['n']} numbers and {count(s11)} of section 1.1's {s11['n']} are reproduced.",
        f"- *What was hard.* What it leaves unstated: the configurations named raise these to {named_count(t1)} and "
        f"{named_count(s11)}, and each is a guess at choices the original never wrote down, as likely to be "
        "named by chance as its false-explanation rate says.",
    ])
