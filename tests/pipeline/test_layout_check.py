"""The report as a reader's screen shows it: too-wide elements and links that land nowhere fail the check."""

import pytest

from pipeline.layout_check import check_pages, main, measure, problems
from pipeline.render import CONTENT_SECURITY_POLICY
from tests.conftest import require_playwright_chromium

# a tier `make test` runs and `make test-fast` leaves out (pyproject.toml); on one worker, which launches the module's
# Chromium once
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("layout_check")]

POLICY = f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8">""" + POLICY + """</head><body style="margin:0">
<h1 id="top">Report</h1><p><a href="#top">up</a> <a href="#3.3-The-original%27s-claims">claims</a></p>
<h2 id="3.3-The-original's-claims">claims</h2>{extra}<div style="height:2000px">text</div></body></html>"""


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module's checks."""
    from pipeline.browser import chromium

    require_playwright_chromium("layout test")
    with chromium() as launched:
        yield launched


def test_a_page_that_fits_reports_its_height_and_passes(browser, tmp_path, capsys):
    (tmp_path / "a.html").write_text(PAGE.format(extra=""))
    m = measure(tmp_path / "a.html", widths=(1024,), browser=browser)[1024]
    assert m["height"] >= 2000 and m["anchors"] == 2 and m["broken"] == [] and problems(m) == []
    assert main([str(tmp_path / "a.html")], browser=browser) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["layout at 390 px", "layout at 800 px", "layout at 1024 px",
                                                    "layout at 1280 px", "policy of the 0 run pages (no "
                                                    "script, no network, no frames; every image shown; no console error)"]
    assert all("fits" in line for line in out[:4]) and out[4].endswith("all pass; the report's is checked at each width above")


def test_a_wide_table_in_a_box_that_scrolls_fits_and_is_counted_but_the_box_itself_must_fit(browser, tmp_path):
    table = '<table id="t2"><tr><td style="white-space:nowrap">' + "wide " * 250 + "</td></tr></table>"
    (tmp_path / "s.html").write_text(PAGE.format(extra=f'<div style="overflow-x:auto">{table}</div>'))
    m = measure(tmp_path / "s.html", widths=(390,), browser=browser)[390]
    assert m["scrolling"] == 1 and m["overCount"] == 0 and problems(m) == []
    (tmp_path / "w.html").write_text(PAGE.format(extra=f'<div style="overflow-x:auto; width:2000px">{table}</div>'))
    m = measure(tmp_path / "w.html", widths=(390,), browser=browser)[390]
    assert m["overCount"] == 1 and "div" in m["over"][0]


def test_an_element_wider_than_the_screen_or_a_link_to_nowhere_fails(browser, tmp_path):
    wide = '<table id="t1"><tr><td style="white-space:nowrap">' + "wide " * 250 + '</td></tr></table><a href="#nowhere">x</a>'
    (tmp_path / "b.html").write_text(PAGE.format(extra=wide))
    m = measure(tmp_path / "b.html", widths=(1024,), browser=browser)[1024]
    found = problems(m)
    assert any("wider than the 1024 px viewport" in p and "table#t1" in p for p in found), found
    assert any("1 links land nowhere, e.g. #nowhere" in p for p in found), found
    assert measure(tmp_path / "b.html", widths=(1280,), browser=browser)[1280]["overCount"] > 0          # 250 words do not fit either
    assert main([str(tmp_path / "b.html")], browser=browser) == 1


def test_a_section_reference_that_is_not_a_link_to_a_section_fails(browser, tmp_path):
    linked = '<p><a class="section-ref" href="#3.3-The-original&#x27;s-claims">section 3.3</a></p>'
    (tmp_path / "c.html").write_text(PAGE.format(extra=linked))
    m = measure(tmp_path / "c.html", widths=(1024,), browser=browser)[1024]
    assert m["references"] == 1 and m["unlinkedCount"] == 0 and problems(m) == []
    (tmp_path / "d.html").write_text(PAGE.format(extra=linked + "<p>as section 2.1 says</p><h3>section 9</h3>"))
    m = measure(tmp_path / "d.html", widths=(1024,), browser=browser)[1024]
    assert m["unlinked"] == ["section 2.1"] and problems(m) == [
        "1 \"section x.y\" references are not links to a section, e.g. 'section 2.1'"]


def test_a_page_without_the_policy_or_with_a_console_error_fails_and_so_does_a_run_page(browser, tmp_path, capsys):
    (tmp_path / "runs").mkdir()
    (tmp_path / "index.html").write_text(PAGE.format(extra="").replace(POLICY, ""))
    assert problems(measure(tmp_path / "index.html", widths=(1024,), browser=browser)[1024]) == ["no Content-Security-Policy"]
    # a script the policy blocks, an image from the network it blocks: errors in the console
    (tmp_path / "index.html").write_text(PAGE.format(extra='<script>document.title = "ran"</script>'))
    (tmp_path / "runs" / "a.html").write_text(PAGE.format(extra=""))
    (tmp_path / "runs" / "b.html").write_text(PAGE.format(extra='<img src="http://evil.example/x.png">'))
    found = problems(measure(tmp_path / "index.html", widths=(1024,), browser=browser)[1024])
    assert len(found) == 1 and found[0].startswith("1 console errors, e.g. \"Executing inline script violates"), found
    checked = check_pages([tmp_path / "runs" / "a.html", tmp_path / "runs" / "b.html"], browser=browser)
    assert checked[tmp_path / "runs" / "a.html"] == []
    assert [p.split(",")[0] for p in checked[tmp_path / "runs" / "b.html"]] == [
        "1 requests would leave the machine", "1 console errors", "1 images do not decode"]
    assert main([str(tmp_path / "index.html")], browser=browser) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[4].startswith("run page b.html: 1 requests would leave the machine, e.g. http://evil.example/x.png") and out[5].startswith("policy of the 2 run pages")
    assert "1 fail;" in out[5]


def test_a_fold_whose_content_sits_outside_it_fails_and_one_that_grows_passes(browser, tmp_path):
    good = '<details><summary>the formulas</summary><p>a</p><p>b</p></details>'
    empty = '<details><summary>the runs; click to open</summary></details><p>the rows, outside the fold</p>'
    (tmp_path / "f.html").write_text(PAGE.format(extra=good))
    m = measure(tmp_path / "f.html", widths=(800,), browser=browser)[800]
    assert m["folds"] == 1 and m["emptyFolds"] == [] and problems(m) == []
    (tmp_path / "g.html").write_text(PAGE.format(extra=good + empty))
    m = measure(tmp_path / "g.html", widths=(800,), browser=browser)[800]
    assert problems(m) == ["1 of 2 folds open to nothing, e.g. 'the runs; click to open'"]


def test_no_chromium_is_one_line_and_status_2(tmp_path, monkeypatch, capsys):
    (tmp_path / "a.html").write_text(PAGE.format(extra=""))
    monkeypatch.setenv("BROWSER_CHECK_CHROMIUM", str(tmp_path / "no-such-chromium"))
    assert main([str(tmp_path / "a.html")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: BROWSER_CHECK_CHROMIUM=") and "make browser" in err
