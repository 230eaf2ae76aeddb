"""Render an executed notebook to a self-contained HTML page.

No code cells are shown, every image is embedded, every "section x.y" in the text links to its
heading (:mod:`pipeline.crossref`), and the template loads nothing from the network (``pipeline/templates/offline``). The written page is
checked: a reference to an external script, stylesheet or image is an error. The page carries a
Content-Security-Policy (:data:`CONTENT_SECURITY_POLICY`): even markup that a missed escape let
through can run no script and reach no network.
"""

import re
from html.parser import HTMLParser
from pathlib import Path

from helpers.errors import UserError
from helpers.files import write_text
from helpers.report import run_page
from pipeline.crossref import link_sections

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


def render_html(notebook, output, show_code=False):
    """Render ``notebook`` to ``output`` (HTML), atomically; with its code cells when ``show_code``.

    Raises
    ------
    UserError
        When the page would load anything from the network.
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = normalise_notebook(nbformat.read(str(notebook), as_version=4))
    exporter = HTMLExporter(
        template_name="offline",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=not show_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    html, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": "DD2424 Assignment 1"},
                                                         "content_security_policy": CONTENT_SECURITY_POLICY})
    html = link_sections(html)
    found = external_references(html)
    if found:
        raise UserError(f"the rendered report would load from the network: {found[0]}...")
    if page_policy(html) != CONTENT_SECURITY_POLICY:
        raise UserError(f"the rendered page lacks its Content-Security-Policy (template {TEMPLATES / 'offline'})")
    write_text(output, html)
    return Path(output)


def run_pages(results_dir, settings, baseline="course"):
    """The executed notebooks the report links to, as (notebook, page name): the gradient check, and the
    training and figures runs of every setting in the baseline variant."""
    results_dir = Path(results_dir)
    pages = [(results_dir / "executed" / "gradient_check.ipynb", run_page("gradient_check"))]
    for s in settings:
        group = results_dir / baseline / s.setting_id
        pages += [(group / f"{nb}.ipynb", run_page(nb, s.setting_id)) for nb in ("train", "figures")]
    return pages


def render_runs(results_dir, out_dir, settings):
    """Render :func:`run_pages` (code shown) into ``out_dir``, where the report's provenance links point.

    Returns
    -------
    list of Path
    """
    written = []
    for notebook, name in run_pages(results_dir, settings):
        if not notebook.is_file():
            raise UserError(f"no executed notebook at {notebook}; run `make report`")
        written.append(render_html(notebook, Path(out_dir) / name, show_code=True))
    return written
