"""Check a rendered report: every setting present with both figures, finite Table 1, every local link leads
to a file, the audit complete.

The report notebook marks its parts with ids: ``<table id="table1">`` with a
``data-run-id`` (the setting id) on each row; ``<figure id="fig1-SETTING">`` /
``<figure id="fig2-SETTING">`` holding an embedded PNG; the audit's tables
``audit-glance``, ``variant-ranking`` and ``claims``, and its figure ``fig-audit``; each count of a
summary of the verdicts in ``<span data-count="VERDICT">`` (the total ``data-count="total"``; the count is
the first text after the mark, inside the span or, as nbconvert renders it, right after it). It also writes
what it found as data, ``findings.json``; the checker compares the page with it, and reads no sentence.
"""

import json
import math
import posixpath
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from helpers.errors import UserError
from helpers.results import METRICS

#: The audit's verdicts of a printed number (helpers.audit.VERDICTS; the checker reads only the page).
VERDICTS = ("reproduced", "within the printed digits", "explained", "unexplained")
#: The keys of a summary's marked counts: the total, then one per verdict.
COUNT_KEYS = ("total", *VERDICTS)
AUDIT_TABLES = ("audit-glance", "variant-ranking", "claims")
#: Links the check leaves alone (:func:`link_is_broken`): to the web, data and mail.
OTHER_SCHEMES = ("http", "https", "data", "mailto")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|nan|inf)", re.IGNORECASE)


class _ReportParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.figures = {}        # figure id -> list of img srcs
        self.links = []          # every href
        self.tables = {}         # table id -> list of rows ({column: text}, plus "_id")
        self.text = []
        self.counts = []         # each summary of the verdicts: {key: text of the marked count}
        self._count = None
        self._figure = None
        self._table = None
        self._row = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "figure" and a.get("id"):
            self._figure = a["id"]
            self.figures.setdefault(self._figure, [])
        elif tag == "img" and self._figure:
            self.figures[self._figure].append(a.get("src") or "")
        elif tag == "table" and a.get("id"):
            self._table = a["id"]
            self.tables.setdefault(self._table, [])
        elif tag == "tr" and self._table:
            self._row = {"_id": a.get("data-run-id")}
        elif tag == "td" and self._row is not None and a.get("data-col"):
            self._cell = a["data-col"]
            self._row[self._cell] = ""
        elif tag == "span" and a.get("data-count") is not None:
            self._count = a["data-count"]
            if self._count == "total" or not self.counts or self._count in self.counts[-1]:
                self.counts.append({})   # a total, or a key seen already, begins the next summary
            self.counts[-1][self._count] = ""

    def handle_endtag(self, tag):
        if tag == "figure":
            self._figure = None
        elif tag == "table":
            self._table = None
        elif tag == "tr":
            if self._table and self._row is not None and len(self._row) > 1:
                self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "td":
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._row is not None and self._cell:
            self._row[self._cell] += data
        if self._count is not None and data.strip():   # the count: the first text after its mark, inside it or
            self.counts[-1][self._count] = data.split()[0]   # after it (nbconvert embedding images closes an
            self._count = None                          # inline tag at once: <span data-count="total"></span>18)


def _first_number(text):
    m = _NUMBER.search(text or "")
    return float(m.group(0)) if m else None


def _has_png(parser, fig):
    return any(s.startswith("data:image/png;base64,") and len(s) > 100 for s in parser.figures.get(fig, []))


def link_is_broken(page, href):
    """Whether ``href`` on ``page`` is a local link that leads nowhere, or a link that would not travel
    with the report's folder.

    Read as a browser reads it: surrounding whitespace, the ``?query`` and the ``#fragment`` dropped,
    ``%20`` decoded once. An in-page link or one to the web, data or mail is not checked. Broken: a link
    that cannot be parsed, any other scheme (``file:``, ``javascript:``), a host (``//host/x``), an absolute
    path, an encoded ``/``, a path outside the page's folder, a file that does not exist, and a folder
    without an ``index.html``.
    """
    try:
        parts = urlsplit(href.strip(" \t\n\f\r"))
    except ValueError:   # e.g. "http://[::1": no browser would follow it either
        return True
    if parts.scheme in OTHER_SCHEMES or not (parts.scheme or parts.netloc or parts.path):
        return False
    if parts.scheme or parts.netloc or parts.path.startswith("/") or "%2f" in parts.path.lower():
        return True
    path = posixpath.normpath(unquote(parts.path))   # ".." resolved on the text, as a browser does
    if path == ".." or path.startswith("../"):
        return True
    target = Path(page).parent / path                 # a symbolic link inside the folder is followed
    if parts.path.endswith("/") or target.is_dir():
        target = target / "index.html"
    return not target.is_file()


def findings_beside(html_path):
    """Where the build that rendered ``html_path`` (``report/index.html``) wrote its findings:
    ``results/findings.json`` beside the report's folder."""
    return Path(html_path).resolve().parent.parent / "results" / "findings.json"


def _read_counts(counts, path):
    """A summary's marked counts as integers, naming the page when one is missing or no integer."""
    missing = [k for k in COUNT_KEYS if k not in counts]
    if missing:
        raise UserError(f"{path}: a summary of the verdicts does not count {', '.join(missing)}")
    try:
        return {k: int(counts[k].strip()) for k in COUNT_KEYS}
    except ValueError:
        raise UserError(f"{path}: a summary's counts are not whole numbers: {counts}") from None


def check_report(html_path, settings, variants=None, findings=None):
    """Check the rendered report at ``html_path`` against the settings and variants files, and the counts it
    states against its ``findings`` file (``findings.json``; None: not compared).

    Returns
    -------
    str
        A one-line summary.

    Raises
    ------
    UserError
        Naming the first missing setting, figure, table row or non-finite number.
    """
    path = Path(html_path)
    if not path.is_file():
        raise UserError(f"no report at {path}; run `make report`")
    parser = _ReportParser()
    parser.feed(path.read_text(encoding="utf-8"))
    table1 = {row["_id"]: row for row in parser.tables.get("table1", [])}
    for p in settings:
        sid = p.setting_id
        for fig in (f"fig1-{sid}", f"fig2-{sid}"):
            if not _has_png(parser, fig):
                raise UserError(f"{path}: figure {fig} is missing or has no embedded PNG")
        row = table1.get(sid)
        if row is None:
            raise UserError(f"{path}: Table 1 has no row for {sid}")
        for metric in METRICS:   # "mean ± std": the mean
            value = _first_number(row.get(metric))
            if value is None:
                raise UserError(f"{path}: Table 1 {metric} of {sid} is not a number: {row.get(metric)!r}")
            if not math.isfinite(value):
                raise UserError(f"{path}: Table 1 {metric} of {sid} is {value}")
    broken = [h for h in parser.links if link_is_broken(path, h)]
    if broken:
        raise UserError(f"{path}: {len(broken)} links lead nowhere, the first {broken[0]!r}")
    if variants is None:
        return f"report ok: {len(settings)} settings, {2 * len(settings)} figures, finite Table 1 ({path})"
    for table in AUDIT_TABLES:
        if not parser.tables.get(table):
            raise UserError(f"{path}: the audit table {table} is missing or empty")
    for row in parser.tables["audit-glance"]:
        value = _first_number(row.get("ours"))
        if value is None or not math.isfinite(value):
            raise UserError(f"{path}: the audit's value for {row.get('number')!r} is not a finite number: {row.get('ours')!r}")
        if row.get("verdict") not in VERDICTS:
            raise UserError(f"{path}: the audit's verdict for {row.get('number')!r} is {row.get('verdict')!r}, "
                            f"not one of {', '.join(VERDICTS)}")
        if row["verdict"] in ("explained", "unexplained") and not row.get("explanation", "").strip():
            raise UserError(f"{path}: the {row['verdict']} number {row.get('number')!r} names no configuration")
    glance = {r.get("number"): r["verdict"] for r in parser.tables["audit-glance"]}
    for row in parser.tables.get("table1", []):   # Table 1 shows the audit's verdicts, in the same words
        for metric in METRICS:
            name = f"Table 1, λ = {row.get('lam')}, η = {row.get('eta')}, {metric}"
            if name in glance and row.get(f"verdict_{metric}") != glance[name]:
                raise UserError(f"{path}: Table 1 says {row.get(f'verdict_{metric}')!r} for {name!r}, the audit "
                                f"{glance[name]!r}")
    table = {"total": len(parser.tables["audit-glance"]),
             **{v: sum(r["verdict"] == v for r in parser.tables["audit-glance"]) for v in VERDICTS}}
    if not parser.counts:
        raise UserError(f"{path}: the summary does not count the audit's four verdicts")
    found = None
    if findings is not None:
        try:
            found = json.loads(Path(findings).read_text(encoding="utf-8"))["counts"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UserError(f"{findings}: no counts of the verdicts to compare the page with ({exc}); run `make report`") from None
    for marked in parser.counts:
        counts = _read_counts(marked, path)
        if counts != table:
            raise UserError(f"{path}: the summary counts {_shown(counts)}, the audit table {_shown(table)}")
        if found is not None and counts != {k: found.get(k) for k in COUNT_KEYS}:
            raise UserError(f"{path}: the summary counts {_shown(counts)}, its findings ({findings}) {found}")
    ranked = {row.get("variant") for row in parser.tables["variant-ranking"]}
    missing = [v.name for v in variants if v.name not in ranked]
    if missing:
        raise UserError(f"{path}: the variant ranking lacks {', '.join(missing)}")
    for row in parser.tables["variant-ranking"]:
        if row.get("reproduced", "").endswith(" of 0"):  # the settings include none of the original's
            continue
        score = _first_number(row.get("score"))
        if score is None or not math.isfinite(score):
            raise UserError(f"{path}: the agreement score of {row.get('variant')} is not finite: {row.get('score')!r}")
    if not _has_png(parser, "fig-audit"):
        raise UserError(f"{path}: the audit figure fig-audit is missing or has no embedded PNG")
    if "3 Reproduction audit" not in "".join(parser.text):
        raise UserError(f"{path}: the section '3 Reproduction audit' is missing")
    return (f"report ok: {len(settings)} settings, {2 * len(settings)} figures, finite Table 1; audit: "
            f"{len(parser.tables['audit-glance'])} numbers, {len(ranked)} variants, "
            f"{len(parser.tables['claims'])} claims, audit figure; counts "
            + (f"as in {findings}" if findings is not None else "not compared with a findings file") + f" ({path})")


def _shown(counts):
    return f"{ {v: counts[v] for v in VERDICTS} } of {counts['total']}"
