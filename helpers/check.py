"""Check a rendered report: every setting present, both figures each, finite Table 1.

The report notebook marks its parts with ids: ``<table id="table1">`` with a
``data-run-id`` on each row, and ``<figure id="fig1-RUN_ID">`` /
``<figure id="fig2-RUN_ID">`` holding an embedded PNG.
"""

import math
from html.parser import HTMLParser
from pathlib import Path

from helpers.errors import UserError

TABLE1_METRICS = ("loss", "cost", "accuracy")


class _ReportParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.figures = {}        # figure id -> list of img srcs
        self.rows = {}           # run id -> {column: text}
        self._figure = None
        self._in_table1 = False
        self._row = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "figure" and a.get("id"):
            self._figure = a["id"]
            self.figures.setdefault(self._figure, [])
        elif tag == "img" and self._figure:
            self.figures[self._figure].append(a.get("src") or "")
        elif tag == "table" and a.get("id") == "table1":
            self._in_table1 = True
        elif tag == "tr" and self._in_table1 and a.get("data-run-id"):
            self._row = a["data-run-id"]
            self.rows[self._row] = {}
        elif tag == "td" and self._row and a.get("data-col"):
            self._cell = a["data-col"]
            self.rows[self._row][self._cell] = ""

    def handle_endtag(self, tag):
        if tag == "figure":
            self._figure = None
        elif tag == "table":
            self._in_table1 = False
        elif tag == "tr":
            self._row = None
        elif tag == "td":
            self._cell = None

    def handle_data(self, data):
        if self._row and self._cell:
            self.rows[self._row][self._cell] += data


def check_report(html_path, runs):
    """Check the rendered report at ``html_path`` against the runs of the settings file.

    Returns
    -------
    str
        A one-line summary.

    Raises
    ------
    UserError
        Naming the first missing setting, figure or non-finite number.
    """
    path = Path(html_path)
    if not path.is_file():
        raise UserError(f"no report at {path}; run `make report`")
    parser = _ReportParser()
    parser.feed(path.read_text(encoding="utf-8"))
    for p in runs:
        rid = p.run_id
        for fig in (f"fig1-{rid}", f"fig2-{rid}"):
            srcs = parser.figures.get(fig, [])
            if not any(s.startswith("data:image/png;base64,") and len(s) > 100 for s in srcs):
                raise UserError(f"{path}: figure {fig} is missing or has no embedded PNG")
        row = parser.rows.get(rid)
        if row is None:
            raise UserError(f"{path}: Table 1 has no row for {rid}")
        for metric in TABLE1_METRICS:
            try:
                value = float(row.get(metric, "").strip())
            except ValueError:
                raise UserError(f"{path}: Table 1 {metric} of {rid} is not a number: {row.get(metric)!r}") from None
            if not math.isfinite(value):
                raise UserError(f"{path}: Table 1 {metric} of {rid} is {value}")
    return f"report ok: {len(runs)} settings, {2 * len(runs)} figures, finite Table 1 ({path})"
