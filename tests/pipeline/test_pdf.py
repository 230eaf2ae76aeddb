"""make pdf: the report printed by Chromium, folded detail opened, a page break where the print CSS asks."""

import pytest

from helpers.errors import UserError
from pipeline.pdf import page_count, write_pdf
from tests.conftest import require_playwright_chromium

pytestmark = pytest.mark.browser   # a tier `make test` runs and `make test-fast` leaves out (pyproject.toml)

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>
@media print {{ h2 {{ break-before: page; }} }}</style></head><body>
<h1>Report</h1><p>Answer first.</p>{details}<h2>2 Section</h2><p>More.</p></body></html>"""


@pytest.fixture(scope="module")
def chromium():
    return require_playwright_chromium("PDF test")


def test_the_print_css_breaks_before_each_top_level_section(chromium, tmp_path):
    (tmp_path / "a.html").write_text(PAGE.format(details=""))
    assert write_pdf(tmp_path / "a.html", tmp_path / "a.pdf") == 2
    assert (tmp_path / "a.pdf").read_bytes().startswith(b"%PDF")
    assert not list(tmp_path.glob(".*.tmp"))                       # written whole, under its name


def test_folded_detail_is_printed_open(chromium, tmp_path):
    tall = '<details><summary>every run</summary><div style="height:2500px">rows</div></details>'
    (tmp_path / "b.html").write_text(PAGE.format(details=tall))
    assert write_pdf(tmp_path / "b.html", tmp_path / "b.pdf") >= 4     # 2500 px of rows: 2 pages more, at least


def test_no_report_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="no report at .*; run `make report`"):
        write_pdf(tmp_path / "none.html", tmp_path / "x.pdf")


def test_pages_are_counted_without_the_page_tree():
    assert page_count(b"<< /Type /Pages /Count 2 >> << /Type /Page >> << /Type /Page >>") == 2


def test_the_pdf_s_text_holds_the_section_titles_and_the_table_s_numbers(chromium, tmp_path):
    """Read back with pdftotext (Debian's poppler-utils; CI installs it): what a reader searches for is text."""
    import os
    import shutil
    import subprocess

    if not shutil.which("pdftotext"):
        if os.environ.get("BROWSER_TESTS") == "required":
            pytest.fail("pdftotext is not installed (Debian: apt-get install poppler-utils)", pytrace=False)
        pytest.skip("pdftotext is not installed (Debian: apt-get install poppler-utils)")
    table = ('<table id="table1"><tr><th>λ</th><th>accuracy, mean ± std</th></tr>'
             '<tr><td>0.1</td><td>0.4085 ± 0.0013</td></tr></table>')
    (tmp_path / "c.html").write_text(PAGE.format(details=f"<details><summary>Table 1</summary>{table}</details>"))
    write_pdf(tmp_path / "c.html", tmp_path / "c.pdf")
    text = subprocess.run(["pdftotext", str(tmp_path / "c.pdf"), "-"], capture_output=True, text=True).stdout
    assert "Report" in text and "2 Section" in text and "0.4085 ± 0.0013" in text


def test_every_column_of_table_1_and_of_the_variants_table_is_in_the_pdf(chromium, tmp_path):
    """The report's own template and tables, printed: pdftotext finds every header and every cell (a wide
    table must not be cut at the page's edge)."""
    import re
    import shutil
    import subprocess
    from html import unescape

    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    from helpers import report
    from helpers.settings import parse_variants
    from pipeline.render import render_html
    from tests.helpers.test_audit import records_for

    if not shutil.which("pdftotext"):
        pytest.fail("pdftotext is not installed (Debian: apt-get install poppler-utils)", pytrace=False)
    records = records_for({(0.0, 0.1): [0.2712, 0.2745, 0.2698], (1.0, 0.001): [0.3701, 0.3712, 0.3690]})
    records += records_for({(0.0, 0.1): [0.2801, 0.2815, 0.2790]}, "init-std-0.1", overrides={"init_std": 0.1})
    table1 = report.table1_html(records)
    variants = parse_variants("name,seeds,overrides,description\ncourse,2022 2023 2024 2025 2026,,the original's own setup\n"
                              "init-std-0.1,2022 2023 2024,init_std=0.1,W and b drawn from a wider normal\n"
                              "no-normalisation,2022 2023 2024,normalise=false,\"pixels scaled to [0, 1] only\"\n")
    ranking = report.ranking_html(records, variants)
    cells = []
    for html in (table1, ranking):
        cell = new_code_cell("")
        cell.outputs = [new_output("display_data", data={"text/html": html})]
        cells += [new_markdown_cell("## A section"), cell]
    nbformat.write(new_notebook(cells=cells), str(tmp_path / "nb.ipynb"))
    render_html(tmp_path / "nb.ipynb", tmp_path / "index.html")
    write_pdf(tmp_path / "index.html", tmp_path / "r.pdf")
    text = subprocess.run(["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True).stdout
    words = " ".join(text.split())
    sizes = re.findall(r"^Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", subprocess.run(
        ["pdfinfo", "-f", "1", "-l", "99", str(tmp_path / "r.pdf")], capture_output=True, text=True).stdout, re.M)
    assert sum(float(w) > float(h) for w, h in sizes) == 2 and float(sizes[0][0]) < float(sizes[0][1])  # wide: landscape
    for html in (table1, ranking):
        for piece in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", html, re.S):
            piece = " ".join(unescape(re.sub(r"<[^>]+>", " ", piece)).split())
            for word in piece.split():
                assert word in words, (word, piece)
