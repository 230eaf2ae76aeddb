"""Rewrites of a rendered page's text: every "section 1.1" a link to that section's heading, every number whole.

nbconvert gives each Markdown heading an id made of its text (``<h3 id="1.1-Checking-the-gradients">``);
:func:`link_sections` maps each numbered heading's number to its id and turns the references in the
page's text into links: ``section 1.1``, ``Sections 1.1 and 1.2`` (each number a link). Text inside
tags (an image's ``alt``), links, headings, code, scripts and styles is left as it is, and so is a
number no heading has (``make layout-check`` reports such a reference as unresolved).

:func:`keep_numbers_whole` wraps each number a line could break inside (``4.95e-09``, ``-0.5``,
``0.392 ± 0.006``, ``0.38–0.40``) in ``<span class="num">``, which the page's style keeps on one line.
"""

import html as html_lib
import re

_HEADING = re.compile(r'<h[1-6]\b[^>]*?\bid="((\d+(?:\.\d+)*)[^"]*)"', re.IGNORECASE)
_NUMBER = r"\d+(?:\.\d+)*"
_REFERENCE = re.compile(rf"\b([Ss]ections?\s+)({_NUMBER}(?:(?:,\s*|\s+and\s+|\s+or\s+){_NUMBER})*)")
_RAW = re.compile(r"(<(script|style)\b.*?</\2\s*>)", re.DOTALL | re.IGNORECASE)   # never parsed: may hold "<"
_TOKEN = re.compile(r"(<!--.*?-->|<[^>]*>)", re.DOTALL)
_TAG_NAME = re.compile(r"<\s*(/?)\s*([a-zA-Z][a-zA-Z0-9]*)")
#: Elements whose text is never linked: links already, headings, code, and what is not text.
SKIP = frozenset({"a", "h1", "h2", "h3", "h4", "h5", "h6", "code", "pre", "title", "textarea"})


def section_ids(page):
    """``{"1.1": "1.1-Checking-the-gradients", ...}``: each numbered heading's number and id (the first wins)."""
    ids = {}
    for m in _HEADING.finditer(page):
        ids.setdefault(m.group(2), html_lib.unescape(m.group(1)))
    return ids


def _link(ids, match):
    words, numbers = match.group(1), match.group(2)
    parts = re.split(rf"({_NUMBER})", numbers)   # numbers at odd places, separators between
    out = []
    for i, part in enumerate(parts):
        if i % 2 and part in ids:
            href = html_lib.escape("#" + ids[part], quote=False).replace('"', "&quot;")   # in "...": ' may stay
            text = (words if i == 1 else "") + part
            out.append(f'<a class="section-ref" href="{href}">{text}</a>')
        else:
            out.append((words if i == 1 else "") + part)
    return "".join(out)


def map_text(page, rewrite, skip=SKIP):
    """``page`` (HTML) with ``rewrite(text)`` applied to each piece of its text: not to tags or their attributes,
    comments, scripts, styles, nor to the text inside the elements named in ``skip``."""
    pieces = _RAW.split(page)   # [text, raw block, its tag name, text, ...]
    out, skipping = [], None
    for index in range(0, len(pieces), 3):
        for token in _TOKEN.split(pieces[index]):
            if token.startswith("<"):
                m = _TAG_NAME.match(token)
                if m:
                    closing, name = m.group(1) == "/", m.group(2).lower()
                    if skipping is None and not closing and name in skip and not token.rstrip().endswith("/>"):
                        skipping = name
                    elif skipping == name and closing:
                        skipping = None
                out.append(token)
            else:
                out.append(token if skipping else rewrite(token))
        if index + 1 < len(pieces):
            out.append(pieces[index + 1])
    return "".join(out)


def link_sections(page):
    """``page`` (HTML) with its "section x.y" references linked to the headings (:func:`section_ids`)."""
    ids = section_ids(page)
    if not ids:
        return page
    return map_text(page, lambda text: _REFERENCE.sub(lambda m: _link(ids, m), text))


_FIGURE = r"[-−]?\d+(?:[.,]\d+)*(?:[eE][-−+]?\d+)?%?"
#: A number with a place a line may break: a sign or an exponent's, a "±" or a range's dash between two numbers.
_WHOLE = re.compile(rf"(?<![\w.])(?:{_FIGURE}(?:\s*(?:±|&plusmn;)\s*{_FIGURE}|\s*[–-]\s*{_FIGURE}(?![\w.]))"
                    rf"|[-−]\d+(?:[.,]\d+)*(?:[eE][-−+]?\d+)?%?|\d+(?:\.\d+)?[eE][-−+]\d+)(?![\w])")


def keep_numbers_whole(page):
    """``page`` (HTML) with each number a line could break inside wrapped in ``<span class="num">``
    (text in headings, links, code, titles, inline SVG and MathML is left as it is)."""
    return map_text(page, lambda text: _WHOLE.sub(lambda m: f'<span class="num">{m.group(0)}</span>', text),
                    skip=SKIP | {"span", "svg", "math"})
