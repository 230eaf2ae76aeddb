from html.parser import HTMLParser

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from pipeline.render import CONTENT_SECURITY_POLICY, external_references, page_policy, render_html


def test_external_references_are_found():
    html = ('<script src="https://cdn.example/require.js"></script><link href="//fonts.example/x.css">'
            '<img src="data:image/png;base64,AAAA"><script>var a = "https://x";</script>'
            '<a href="https://example.org">a link is not a load</a>')
    found = external_references(html)
    assert len(found) == 2 and "require.js" in found[0]


def test_rendered_page_has_no_code_and_loads_nothing(tmp_path):
    cell = new_code_cell("secret_code_line = 1\nprint('shown output')")
    cell.outputs = [new_output("stream", name="stdout", text="shown output\n")]
    cell.metadata["execution"] = {"iopub.execute_input": "2026-01-01T00:00:00"}
    nb = new_notebook(cells=[new_markdown_cell("# Title\n\nSome $x^2$ text"), cell])
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, str(path))
    out = render_html(path, tmp_path / "out" / "index.html")
    html = out.read_text()
    assert "shown output" in html and "Title" in html
    assert "secret_code_line" not in html
    assert external_references(html) == []
    assert "<script src=" not in html


@pytest.mark.parametrize("html", [
    '<img srcset="a.png 1x, https://cdn.example/b.png 2x">',
    '<style>body { background: url("https://cdn.example/a.png") }</style>',
    "<style>@import 'https://cdn.example/a.css';</style>",
    '<object data="//cdn.example/a.svg"></object>',
    '<video poster="https://cdn.example/p.jpg"></video>',
])
def test_other_network_loads_are_found(html):
    assert external_references(html)


@pytest.mark.parametrize("html", [
    '<img src="data:image/png;base64,AAAA//BBBB+/==">',
    '<style>x { background: url(data:image/png;base64,AA//BB) }</style>',
    '<img srcset="a.png 1x, b//c.png 2x">',
    '<a href="https://example.org">a link is not a load</a>',
])
def test_local_content_is_not_flagged(html):
    assert external_references(html) == []


class StartTags(HTMLParser):
    """The start tags of a page, in order, with their attributes."""

    def __init__(self, html):
        super().__init__()
        self.tags = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_every_rendered_page_starts_its_head_with_the_policy_and_a_policy_in_the_body_is_none(tmp_path):
    nb = new_notebook(cells=[new_markdown_cell("# Title"), new_code_cell("x = 1")])
    nbformat.write(nb, str(tmp_path / "nb.ipynb"))
    for show_code in (False, True):     # the report, a run page
        html = render_html(tmp_path / "nb.ipynb", tmp_path / f"{show_code}.html", show_code=show_code).read_text()
        assert page_policy(html) == CONTENT_SECURITY_POLICY
        tags = StartTags(html).tags
        assert [t for t, _ in tags[:3]] == ["html", "head", "meta"] and tags[2][1]["http-equiv"] == "Content-Security-Policy"
    for directive in ("default-src 'none'", "script-src 'none'", "connect-src 'none'", "frame-src 'none'",
                      "img-src 'self' data:", "style-src 'unsafe-inline'"):
        assert directive in CONTENT_SECURITY_POLICY.split("; ")
    assert page_policy('<html><head></head><body><meta http-equiv="Content-Security-Policy" content="x"></body></html>') is None
