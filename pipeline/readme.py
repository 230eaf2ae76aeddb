"""The README's opening paragraph, written from what the last build found (``results/findings.json``).

``make readme`` replaces the marked block at the top of ``README.md``: a comment that holds the findings
as JSON, then the paragraph :func:`helpers.report.findings_markdown` writes from them. A test checks that
the committed paragraph is the one those findings give, so the README cannot state counts that no build
made; which build and machine made them is part of the paragraph.
"""

import json
import re

from helpers.errors import UserError

START = "<!-- findings: `make readme` writes this paragraph from results/findings.json (do not edit it):"
END = "<!-- end of findings -->"
_BLOCK = re.compile(re.escape(START) + r"\s*(\{.*?\})\s*-->\n(.*?)\n" + re.escape(END), re.DOTALL)


def findings_block(f):
    """The marked block for the findings ``f`` (:func:`helpers.report.findings`)."""
    from helpers.report import findings_markdown

    data = json.dumps(f, sort_keys=True, ensure_ascii=False)
    if "--" in data:
        raise UserError("the findings hold '--', which cannot stand in an HTML comment")
    return f"{START}\n{data} -->\n{findings_markdown(f)}\n{END}"


def read_block(text):
    """``(findings, paragraph)`` of the README ``text``'s marked block."""
    m = _BLOCK.search(text)
    if m is None:
        raise UserError("the README has no findings block (its markers are missing or damaged)")
    return json.loads(m.group(1)), m.group(2)


def rewrite(text, f):
    """``text`` with its marked block holding the findings ``f``."""
    read_block(text)
    return _BLOCK.sub(lambda _: findings_block(f), text, count=1)


def update_readme(readme, findings_path):
    """Rewrite ``readme``'s findings from ``findings_path`` (atomically); True if it changed."""
    from pathlib import Path

    from helpers.files import write_text

    try:
        f = json.loads(Path(findings_path).read_text())
    except FileNotFoundError:
        raise UserError(f"no {findings_path}: run `make report` (or `make search`) first") from None
    before = Path(readme).read_text()
    after = rewrite(before, f)
    if after != before:
        write_text(readme, after)
    return after != before
