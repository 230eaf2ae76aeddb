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


def test_math_becomes_an_image_with_its_tex_as_alt_text_and_no_dollar_is_left():
    from pipeline.render import render_math

    out = render_math(r"cost $J = \lambda \lVert W \rVert^2$ and $$S = X W^\top$$ end")
    assert "$" not in out
    alts = [a for t, a in StartTags(out).tags if t == "img"]
    assert [a["alt"] for a in alts] == [r"J = \lambda \lVert W \rVert^2", r"S = X W^\top"]
    assert all(a["src"].startswith("data:image/svg+xml;base64,") and a["class"] == "math" for a in alts)
    assert render_math(r"$\notacommand{x}$") == r"$\notacommand{x}$"      # what mathtext cannot draw stays


def test_a_run_page_has_its_title_a_link_back_first_and_math_drawn_under_the_policy(tmp_path):
    nb = new_notebook(cells=[new_markdown_cell("# Training\n\n" r"scores $S = X W^\top + \mathbf{1} b^\top$"),
                             new_code_cell("x = 1")])
    nbformat.write(nb, str(tmp_path / "nb.ipynb"))
    html = render_html(tmp_path / "nb.ipynb", tmp_path / "run.html", show_code=True, title="Training, λ 0 — A1",
                       back=("../index.html#table1", "the report: Table 1")).read_text()
    assert "<title>Training, λ 0 — A1</title>" in html
    body = html[html.index("<body"):]
    links = [a for t, a in StartTags(body).tags if t == "a" and "href" in a]
    assert links[0]["href"] == "../index.html#table1"
    assert body.index("the report: Table 1") < body.index('id="Training"')
    assert body.count(r"W^\top + \mathbf{1}") == 1 and 'alt="S = X W^\\top + \\mathbf{1} b^\\top"' in body
    assert 'class="math"' in body and page_policy(html) == CONTENT_SECURITY_POLICY
    assert external_references(html) == []
    plain = render_html(tmp_path / "nb.ipynb", tmp_path / "index.html").read_text()
    assert "<title>DD2424 Assignment 1</title>" in plain and 'class="math"' not in plain
