"""Render an executed notebook to a self-contained HTML page.

No code cells are shown, every image is embedded, every "section x.y" in the text links to its
heading (:mod:`pipeline.crossref`), and the template loads nothing from the network (``pipeline/templates/offline``). The written page is
checked: a reference to an external script, stylesheet or image is an error. The page carries a
Content-Security-Policy (:data:`CONTENT_SECURITY_POLICY`): even markup that a missed escape let
through can run no script and reach no network.
"""

import functools
import re
from html.parser import HTMLParser
from pathlib import Path

from helpers.errors import UserError
from helpers.files import write_text
from helpers.pages import run_page
from pipeline.crossref import keep_numbers_whole, link_sections

TEMPLATES = Path(__file__).parent / "templates"

#: The policy of every rendered page (the report and its run pages), in a ``<meta http-equiv>`` at the top of its
#: head: no script, no request to the network (fetch, frames, objects, fonts, forms), images only from data: URLs
#: and the page's own folder, styles only inline (the page's own ``<style>`` elements and ``style`` attributes).
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'none'; connect-src 'none'; frame-src 'none'; "
                           "object-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; base-uri 'none'; "
                           "form-action 'none'")

_TAG = r"<(?:script|link|img|iframe|source|video|audio|embed|object|input|track)\b[^>]*?"
_REMOTE = r"(?:https?:)?//[^\"'\s>,)]*"
_EXTERNAL = (
    # a src/href/data/poster attribute whose value starts with a network address
    re.compile(_TAG + r"\b(?:src|href|data|poster)\s*=\s*[\"']?\s*" + _REMOTE, re.IGNORECASE),
    # CSS url(...) and @import "..."
    re.compile(r"url\(\s*[\"']?\s*" + _REMOTE, re.IGNORECASE),
    re.compile(r"@import\s+[\"']\s*" + _REMOTE, re.IGNORECASE),
)
_SRCSET = re.compile(_TAG + r"\bsrcset\s*=\s*[\"']([^\"']*)[\"']", re.IGNORECASE)
_REMOTE_START = re.compile(r"^\s*(?:https?:)?//")


def external_references(html):
    """Places in ``html`` that would load something from the network."""
    found = [m.group(0) for pattern in _EXTERNAL for m in pattern.finditer(html)]
    for m in _SRCSET.finditer(html):
        found += [c.strip() for c in m.group(1).split(",") if _REMOTE_START.match(c)]
    return found


class _HeadPolicies(HTMLParser):
    """The contents of the Content-Security-Policy ``<meta>`` elements in a page's head (one in the body is none)."""

    def __init__(self):
        super().__init__()
        self.policies, self.in_head = [], True

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "body":
            self.in_head = False
        elif tag == "meta" and self.in_head and (attrs.get("http-equiv") or "").lower() == "content-security-policy":
            self.policies.append(attrs.get("content"))

    def handle_endtag(self, tag):
        if tag == "head":
            self.in_head = False


def page_policy(html):
    """The content of the page's Content-Security-Policy ``<meta>`` in its ``<head>``, or None."""
    parser = _HeadPolicies()
    parser.feed(html)
    parser.close()
    return parser.policies[0] if parser.policies else None


def normalise_notebook(nb):
    """Drop what differs between equal runs: timings, papermill metadata, random cell ids.

    papermill gives its injected-parameters cell a random id, and nbclient
    records per-cell timings; both would end up in the HTML.
    """
    for index, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
        cell["id"] = f"cell-{index}"
    nb.metadata.pop("papermill", None)
    return nb


_MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.S)
#: TeX that matplotlib's mathtext writes differently (it has no \lVert, \rVert).
_MATHTEXT = {r"\lVert": r"\Vert", r"\rVert": r"\Vert"}


@functools.cache
def math_image(tex):
    """``tex`` (without dollars) drawn by matplotlib's mathtext as an ``<img>`` of an SVG data: URL, its alt
    text the TeX itself: math a page shows with no script (the policy forbids MathJax) and no network. Drawn once
    per TeX in a process (the run pages of a build share their formulas)."""
    import base64
    import html
    import io

    from matplotlib import mathtext
    from matplotlib.font_manager import FontProperties

    source = tex.strip()
    for a, b in _MATHTEXT.items():
        source = source.replace(a, b)
    buf = io.BytesIO()
    mathtext.math_to_image(f"${source}$", buf, format="svg", prop=FontProperties(size=12))
    # without its metadata: matplotlib dates each drawing, and a page would differ from build to build
    svg = re.sub(rb"<metadata>.*?</metadata>\s*", b"", buf.getvalue(), flags=re.S)
    data = base64.b64encode(svg).decode("ascii")
    return (f'<img class="math" alt="{html.escape(tex.strip())}" style="vertical-align: middle" '
            f'src="data:image/svg+xml;base64,{data}">')


def render_math(markdown):
    """Every ``$...$`` and ``$$...$$`` of a Markdown text as :func:`math_image` (TeX that mathtext cannot
    draw stays as it was)."""
    def one(match):
        tex = match.group(1) or match.group(2)
        try:
            image = math_image(tex)
        except ValueError:
            return match.group(0)
        return f"\n\n{image}\n\n" if match.group(1) else image
    return _MATH.sub(one, markdown)


@functools.cache
def _exporter(show_code):
    """nbconvert's HTML exporter with the offline template, made once per process (its templates compile once)."""
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="offline", extra_template_basedirs=[str(TEMPLATES)], exclude_input=not show_code,
                        exclude_input_prompt=True, exclude_output_prompt=True, embed_images=True)


def render_html(notebook, output, show_code=False, title=None, back=None):
    """Render ``notebook`` to ``output`` (HTML), atomically; with its code cells when ``show_code``.

    Parameters
    ----------
    title : str or None
        The page's title (default: the project's name).
    back : (str, str) or None
        ``(href, text)`` of a link back to the report, first on the page; the Markdown's math is then
        drawn as images (:func:`render_math`): a run page shows the notebook's formulas.

    Raises
    ------
    UserError
        When the page would load anything from the network.
    """
    import html as html_lib

    import nbformat

    nb = normalise_notebook(nbformat.read(str(notebook), as_version=4))
    if back:
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = render_math(cell.source)
        href, text = back
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(
            f'<p class="back"><a href="{html_lib.escape(href)}">← {html_lib.escape(text)}</a></p>'))
        normalise_notebook(nb)
    resources = {"metadata": {"name": title or "DD2424 Assignment 1"}, "content_security_policy": CONTENT_SECURITY_POLICY}
    html, _ = _exporter(show_code).from_notebook_node(nb, resources=resources)
    html = keep_numbers_whole(link_sections(html))
    found = external_references(html)
    if found:
        raise UserError(f"the rendered report would load from the network: {found[0]}...")
    if page_policy(html) != CONTENT_SECURITY_POLICY:
        raise UserError(f"the rendered page lacks its Content-Security-Policy (template {TEMPLATES / 'offline'})")
    write_text(output, html)
    return Path(output)


def run_pages(results_dir, settings, baseline="course"):
    """The executed notebooks the report links to, as (notebook, page name, title, back link): the gradient
    check, and the training and figures runs of every setting in the baseline variant; each page links back
    to what it feeds in the report (``../index.html#id``)."""
    results_dir = Path(results_dir)
    pages = [(results_dir / "executed" / "gradient_check.ipynb", run_page("gradient_check"),
              "Gradient check (section 1.1) — DD2424 Assignment 1", ("../index.html#gradcheck", "the report: section 1.1"))]
    for s in settings:
        group = results_dir / baseline / s.setting_id
        pages += [(group / "train.ipynb", run_page("train", s.setting_id), f"Training, {s.label} — DD2424 Assignment 1",
                   ("../index.html#table1", "the report: Table 1")),
                  (group / "figures.ipynb", run_page("figures", s.setting_id),
                   f"Figures 1 and 2, {s.label} — DD2424 Assignment 1",
                   (f"../index.html#fig1-{s.setting_id}", "the report: Figure 1"))]
    return pages


def render_runs(results_dir, out_dir, settings):
    """Render :func:`run_pages` (code shown) into ``out_dir``, where the report's provenance links point.

    Returns
    -------
    list of Path
    """
    written = []
    for notebook, name, title, back in run_pages(results_dir, settings):
        if not notebook.is_file():
            raise UserError(f"no executed notebook at {notebook}; run `make report`")
        written.append(render_html(notebook, Path(out_dir) / name, show_code=True, title=title, back=back))
    return written
