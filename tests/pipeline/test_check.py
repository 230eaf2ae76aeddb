"""The report checker on pages built here: each rule passes a good page and fails the page that breaks it.

(tests/test_notebooks.py runs the checker on a report the notebooks rendered.)
"""

import json
import re

import pytest

from helpers.errors import UserError
from helpers.settings import parse_settings, parse_variants
from pipeline.check import check_report, link_is_broken

SETTINGS = parse_settings("lam,eta,n_batch,n_epochs\n0,0.1,100,40\n1,0.001,100,40\n")
VARIANTS = parse_variants("name,seeds,overrides,description\ncourse,1 2,,the course\nraw,3,normalise=false,raw\n")
PNG = "data:image/png;base64," + "A" * 200
GLANCE = [  # (number, ours, verdict, explanation)
    ("test loss", "1.80 ± 0.01", "reproduced", ""),
    ("test cost", "1.90 ± 0.01", "within the printed digits", ""),
    ("test accuracy", "0.30 ± 0.01", "explained", "init_std 0.2"),
    ("val accuracy", "0.20 ± 0.01", "unexplained", "closest: init_std 0.3, z = 4.1"),
]


VERDICT_WORDS = ("reproduced", "within the printed digits", "explained", "unexplained")


def _marked(total, *per_verdict):
    """A summary of the verdicts with its counts marked as the report marks them (any words around them)."""
    c = lambda key, n: f'<span data-count="{key}">{n}</span>'   # noqa: E731
    return (f"Of the {c('total', total)} numbers, {c(VERDICT_WORDS[0], per_verdict[0])} are reproduced, "
            f"{c(VERDICT_WORDS[1], per_verdict[1])} more within the digits, {c(VERDICT_WORDS[2], per_verdict[2])} "
            f"explained, and {c(VERDICT_WORDS[3], per_verdict[3])} unexplained.")


def _counts(glance):
    return _marked(len(glance), *[sum(row[2] == verdict for row in glance) for verdict in VERDICT_WORDS])


def _findings(tmp_path, glance=GLANCE):
    path = tmp_path / "findings.json"
    counts = {v: sum(row[2] == v for row in glance) for v in VERDICT_WORDS}
    path.write_text(json.dumps({"counts": {**counts, "total": len(glance)}}))
    return path


def _figure(fig_id, src=PNG):
    return f'<figure id="{fig_id}"><img src="{src}"></figure>'


def _table(table_id, rows):
    body = "".join("<tr" + (f' data-run-id="{rid}"' if rid else "") + ">"
                   + "".join(f'<td data-col="{k}">{v}</td>' for k, v in cells.items()) + "</tr>"
                   for rid, cells in rows)
    return f'<table id="{table_id}"><tr><th>header</th></tr>{body}</table>'


def page(settings=SETTINGS, table1=None, glance=GLANCE, counts=None, ranking=None, claims=True,
         fig_audit=PNG, section="3 Reproduction audit", figures=None):
    """A report page with every part check_report reads; each argument replaces one part."""
    if table1 is None:
        table1 = {p.setting_id: {"loss": "1.7", "cost": "1.8", "accuracy": "0.39"} for p in settings}
    if ranking is None:
        ranking = {v.name: {"reproduced": "3 of 24", "score": "1.25"} for v in VARIANTS}
    if figures is None:
        figures = [f"fig{k}-{p.setting_id}" for p in settings for k in (1, 2)]
    parts = [f"<h1>Report</h1><p>{_counts(glance) if counts is None else counts}</p>"]
    parts += [_figure(f) for f in figures]
    parts.append(_table("table1", list(table1.items())))
    parts.append(_table("audit-glance", [(None, dict(zip(("number", "ours", "verdict", "explanation"), g)))
                                         for g in glance]))
    parts.append(_table("variant-ranking", [(None, {"variant": name, **cells}) for name, cells in ranking.items()]))
    parts.append(_table("claims", [(None, {"claim": "gradients agree", "verdict": "holds"})] if claims else []))
    if fig_audit:
        parts.append(_figure("fig-audit", fig_audit))
    parts.append(f"<h2>{section}</h2>")
    return "<html><body>" + "".join(parts) + "</body></html>"


def check(tmp_path, html, settings=SETTINGS, variants=VARIANTS, findings=None):
    path = tmp_path / "index.html"
    path.write_text(html, encoding="utf-8")
    return check_report(path, settings, variants, findings)


def test_a_complete_page_passes_with_a_summary_of_what_it_found(tmp_path):
    summary = check(tmp_path, page())
    assert summary.startswith("report ok: 2 settings, 4 figures, finite Table 1; audit: 4 numbers, 2 variants, 1 claims")


def test_without_variants_only_table1_and_the_figures_are_checked(tmp_path):
    path = tmp_path / "index.html"
    path.write_text(page(glance=[], claims=False, fig_audit=None, section="no audit"))
    assert check_report(path, SETTINGS).startswith("report ok: 2 settings, 4 figures, finite Table 1 (")


def test_a_missing_report_says_how_to_make_it(tmp_path):
    with pytest.raises(UserError, match="no report at .*; run `make report`"):
        check_report(tmp_path / "none.html", SETTINGS, VARIANTS)


@pytest.mark.parametrize("which", [0, 1, 2, 3])
def test_each_figure_of_each_setting_is_required(tmp_path, which):
    names = [f"fig{k}-{p.setting_id}" for p in SETTINGS for k in (1, 2)]
    with pytest.raises(UserError, match=f"figure {names[which]} is missing"):
        check(tmp_path, page(figures=names[:which] + names[which + 1:]))


@pytest.mark.parametrize("src", ["data:image/png;base64,AAAA", "data:image/jpeg;base64," + "A" * 200, ""])
def test_a_figure_needs_an_embedded_png(tmp_path, src):
    html = page().replace(f'<figure id="fig2-{SETTINGS[1].setting_id}"><img src="{PNG}">',
                          f'<figure id="fig2-{SETTINGS[1].setting_id}"><img src="{src}">')
    with pytest.raises(UserError, match=f"figure fig2-{SETTINGS[1].setting_id} is missing or has no embedded PNG"):
        check(tmp_path, html)


def test_an_image_outside_the_figure_does_not_count(tmp_path):
    sid = SETTINGS[0].setting_id
    html = page().replace(f'<figure id="fig1-{sid}"><img src="{PNG}"></figure>',
                          f'<figure id="fig1-{sid}"></figure><img src="{PNG}">')
    with pytest.raises(UserError, match=f"figure fig1-{sid} is missing"):
        check(tmp_path, html)


def test_every_setting_needs_a_table1_row(tmp_path):
    table1 = {SETTINGS[0].setting_id: {"loss": "1.7", "cost": "1.8", "accuracy": "0.39"}}
    with pytest.raises(UserError, match=f"Table 1 has no row for {SETTINGS[1].setting_id}"):
        check(tmp_path, page(table1=table1))


@pytest.mark.parametrize("metric", ["loss", "cost", "accuracy"])
@pytest.mark.parametrize("value, message", [("nan", "is nan"), ("inf", "is inf"), ("-inf", "is -inf"),
                                            ("", "is not a number: ''"), ("n/a", "is not a number: 'n/a'")])
def test_every_table1_number_must_be_finite(tmp_path, metric, value, message):
    table1 = {p.setting_id: {"loss": "1.7", "cost": "1.8", "accuracy": "0.39"} for p in SETTINGS}
    table1[SETTINGS[1].setting_id][metric] = value
    with pytest.raises(UserError, match=f"Table 1 {metric} of {SETTINGS[1].setting_id} {message}"):
        check(tmp_path, page(table1=table1))


def test_a_table1_number_may_carry_spaces(tmp_path):
    table1 = {p.setting_id: {"loss": " 1.7 ", "cost": "\n1.8", "accuracy": "0.39 ± 0.01"} for p in SETTINGS}
    assert check(tmp_path, page(table1=table1)).startswith("report ok")
    table1[SETTINGS[0].setting_id]["loss"] = "nan ± 0.1"              # the mean is what counts
    with pytest.raises(UserError, match=f"Table 1 loss of {SETTINGS[0].setting_id} is nan"):
        check(tmp_path, page(table1=table1))


@pytest.mark.parametrize("table", ["audit-glance", "variant-ranking", "claims"])
def test_each_audit_table_is_required(tmp_path, table):
    html = page().replace(f'id="{table}"', 'id="other"')
    with pytest.raises(UserError, match=f"the audit table {table} is missing or empty"):
        check(tmp_path, html)


def test_an_empty_claims_table_fails(tmp_path):
    with pytest.raises(UserError, match="the audit table claims is missing or empty"):
        check(tmp_path, page(claims=False))


@pytest.mark.parametrize("ours", ["nan ± nan", "inf", "-", ""])
def test_every_audited_value_must_be_a_finite_number(tmp_path, ours):
    glance = [GLANCE[0], ("test cost", ours, "within the printed digits", ""), *GLANCE[2:]]
    with pytest.raises(UserError, match=f"the audit's value for 'test cost' is not a finite number: {ours!r}"):
        check(tmp_path, page(glance=glance))


def test_an_audited_value_is_read_from_its_first_number(tmp_path):
    glance = [("test loss", "mean 1.80 ± nan", "reproduced", ""), *GLANCE[1:]]
    assert check(tmp_path, page(glance=glance)).startswith("report ok")


@pytest.mark.parametrize("verdict", ["not reproduced", "Reproduced", ""])
def test_a_verdict_must_be_one_of_the_four(tmp_path, verdict):
    glance = [GLANCE[0], GLANCE[1], ("test accuracy", "0.30", verdict, "init_std 0.2"), GLANCE[3]]
    with pytest.raises(UserError, match="verdict for 'test accuracy' is .*, not one of reproduced, within the printed digits, "
                                        "explained, unexplained"):
        check(tmp_path, page(glance=glance, counts=_counts(GLANCE)))


@pytest.mark.parametrize("row", [2, 3])
def test_an_explained_or_unexplained_number_names_a_configuration(tmp_path, row):
    glance = list(GLANCE)
    number, ours, verdict, _ = glance[row]
    glance[row] = (number, ours, verdict, "  ")
    with pytest.raises(UserError, match=f"the {verdict} number '{number}' names no configuration"):
        check(tmp_path, page(glance=glance))


@pytest.mark.parametrize("row", [0, 1])
def test_a_reproduced_number_needs_no_configuration(tmp_path, row):
    assert GLANCE[row][3] == ""
    assert check(tmp_path, page()).startswith("report ok")


def test_the_summary_must_count_the_four_verdicts(tmp_path):
    with pytest.raises(UserError, match="the summary does not count the audit's four verdicts"):
        check(tmp_path, page(counts="All numbers are fine."))


@pytest.mark.parametrize("position", range(5))
def test_each_count_of_the_summary_must_equal_the_table(tmp_path, position):
    numbers = [4, 1, 1, 1, 1]
    numbers[position] += 1
    with pytest.raises(UserError, match="the summary counts .* the audit table "
                                        r"\{'reproduced': 1, 'within the printed digits': 1, 'explained': 1, 'unexplained': 1\} of 4"):
        check(tmp_path, page(counts=_marked(*numbers)))


def test_every_summary_on_the_page_is_checked(tmp_path):
    with pytest.raises(UserError, match="the summary counts"):
        check(tmp_path, page(counts=_counts(GLANCE) + " " + _marked(5, 1, 1, 1, 1)))


def test_a_count_rendered_after_its_mark_is_read_as_one_inside_it(tmp_path):
    """nbconvert, embedding images, closes an inline tag at once: <span data-count="total"></span>4."""
    after = re.sub(r'(<span data-count="[^"]+">)(\d+)</span>', r"\1</span>\2", _counts(GLANCE))
    assert after != _counts(GLANCE) and check(tmp_path, page(counts=after)).startswith("report ok")
    wrong = after.replace('"explained"></span>1', '"explained"></span>2')
    with pytest.raises(UserError, match="the summary counts"):
        check(tmp_path, page(counts=wrong))


def test_a_summary_missing_a_count_is_named(tmp_path):
    without = _counts(GLANCE).replace('<span data-count="explained">1</span>', "1")
    with pytest.raises(UserError, match="a summary of the verdicts does not count explained"):
        check(tmp_path, page(counts=without))


def test_the_words_around_the_counts_are_free_and_the_findings_file_must_agree(tmp_path):
    reworded = _counts(GLANCE).replace(" are reproduced", "\n   hold, <b>as printed</b>,")
    assert "counts as in" in check(tmp_path, page(counts=reworded), findings=_findings(tmp_path))
    other = _findings(tmp_path, GLANCE[:3] + [GLANCE[2]])          # the build found 2 explained, 0 unexplained
    with pytest.raises(UserError, match=r"the summary counts .* its findings"):
        check(tmp_path, page(), findings=other)
    (tmp_path / "old.json").write_text('{"build": "make report"}')  # a findings file from before the counts
    with pytest.raises(UserError, match="no counts of the verdicts to compare the page with"):
        check(tmp_path, page(), findings=tmp_path / "old.json")


def test_every_variant_must_be_ranked(tmp_path):
    with pytest.raises(UserError, match="the variant ranking lacks raw"):
        check(tmp_path, page(ranking={"course": {"reproduced": "3 of 24", "score": "1.2"}}))


@pytest.mark.parametrize("score", ["nan", "inf", ""])
def test_a_variant_score_must_be_finite(tmp_path, score):
    ranking = {"course": {"reproduced": "3 of 24", "score": "1.2"}, "raw": {"reproduced": "0 of 24", "score": score}}
    with pytest.raises(UserError, match=f"the agreement score of raw is not finite: {score!r}"):
        check(tmp_path, page(ranking=ranking))


def test_a_variant_with_none_of_the_originals_settings_needs_no_score(tmp_path):
    ranking = {"course": {"reproduced": "3 of 24", "score": "1.2"}, "raw": {"reproduced": "0 of 0", "score": "-"}}
    assert check(tmp_path, page(ranking=ranking)).startswith("report ok")


def test_the_audit_figure_is_required(tmp_path):
    with pytest.raises(UserError, match="the audit figure fig-audit is missing"):
        check(tmp_path, page(fig_audit=None))
    with pytest.raises(UserError, match="the audit figure fig-audit is missing or has no embedded PNG"):
        check(tmp_path, page(fig_audit="data:image/png;base64,AA"))


def test_the_audit_section_is_required(tmp_path):
    with pytest.raises(UserError, match="the section '3 Reproduction audit' is missing"):
        check(tmp_path, page(section="3 Audit"))


# --- how the page is read: nested tags, cells and tables the checker must not misread ------------

def test_an_element_with_an_id_inside_a_table_keeps_the_rows_in_that_table(tmp_path):
    html = page().replace('<table id="table1"><tr><th>header</th></tr>',
                          '<table id="table1"><tr><th><span id="note">header</span></th></tr>')
    assert check(tmp_path, html).startswith("report ok")


def test_a_cell_without_a_column_name_is_skipped(tmp_path):
    sid = SETTINGS[0].setting_id
    html = page().replace(f'<tr data-run-id="{sid}">', f'<tr data-run-id="{sid}"><td>row 1</td>')
    assert check(tmp_path, html).startswith("report ok")


def test_rows_of_a_table_without_an_id_after_the_reports_tables_are_not_read(tmp_path):
    stray = ('<table><tr data-run-id="x"><td data-col="verdict">nonsense</td><td data-col="ours">nan</td></tr>'
             '</table>')
    html = page().replace('<table id="variant-ranking">', stray + '<table id="variant-ranking">')
    assert check(tmp_path, html).startswith("report ok")


def test_a_row_of_one_cell_counts(tmp_path):
    html = page().replace('<td data-col="claim">gradients agree</td><td data-col="verdict">holds</td>',
                          '<td data-col="claim">gradients agree</td>')
    assert "1 claims" in check(tmp_path, html)


def test_a_cell_s_text_is_read_whole_across_nested_tags(tmp_path):
    html = page().replace('<td data-col="verdict">within the printed digits</td>',
                          '<td data-col="verdict">within the <i>printed</i> digits</td>')
    assert check(tmp_path, html).startswith("report ok")


def test_the_audit_section_s_title_may_hold_nested_tags(tmp_path):
    assert check(tmp_path, page(section="3 Reproduction <a>audit</a>")).startswith("report ok")


@pytest.mark.parametrize("length, ok", [(100, False), (101, True)])
def test_an_embedded_png_needs_more_than_100_characters(tmp_path, length, ok):
    src = "data:image/png;base64,"
    src += "A" * (length - len(src))
    html = page(fig_audit=src)
    if ok:
        assert check(tmp_path, html).startswith("report ok")
    else:
        with pytest.raises(UserError, match="fig-audit is missing or has no embedded PNG"):
            check(tmp_path, html)


def test_a_page_without_table1_names_the_missing_row(tmp_path):
    html = page().replace('id="table1"', 'id="tableA"')
    with pytest.raises(UserError, match=f"Table 1 has no row for {SETTINGS[0].setting_id}"):
        check(tmp_path, html)


def test_a_missing_cell_is_a_clear_error_not_a_crash(tmp_path):
    table1 = {p.setting_id: {"loss": "1.7", "cost": "1.8"} for p in SETTINGS}
    with pytest.raises(UserError, match=f"Table 1 accuracy of {SETTINGS[0].setting_id} is not a number: None"):
        check(tmp_path, page(table1=table1))
    html = page().replace('<td data-col="explanation">init_std 0.2</td>', "")
    with pytest.raises(UserError, match="the explained number 'test accuracy' names no configuration"):
        check(tmp_path, html)
    ranking = {v.name: {"score": "1.25"} for v in VARIANTS}
    assert check(tmp_path, page(ranking=ranking)).startswith("report ok")


def test_the_wrong_verdict_is_quoted_in_the_error(tmp_path):
    glance = [GLANCE[0], GLANCE[1], ("test accuracy", "0.30", "not reproduced", "x"), GLANCE[3]]
    with pytest.raises(UserError, match="verdict for 'test accuracy' is 'not reproduced', not one of"):
        check(tmp_path, page(glance=glance, counts=_counts(GLANCE)))


def test_every_missing_variant_is_named(tmp_path):
    variants = parse_variants("name,seeds,overrides,description\ncourse,1,,c\nraw,3,normalise=false,r\n"
                              "f32,4,dtype=float32,f\n")
    with pytest.raises(UserError, match="the variant ranking lacks raw, f32$"):
        check(tmp_path, page(ranking={"course": {"reproduced": "3 of 24", "score": "1.2"}}), variants=variants)


def test_a_variant_without_the_original_s_settings_does_not_end_the_score_checks(tmp_path):
    ranking = {"raw": {"reproduced": "0 of 0", "score": "-"}, "course": {"reproduced": "3 of 24", "score": "nan"}}
    with pytest.raises(UserError, match="the agreement score of course is not finite"):
        check(tmp_path, page(ranking=ranking))


def test_every_local_link_must_lead_to_a_file(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "train_a.html").write_text("<html></html>")
    links = ('<a href="runs/train_a.html#seed-1">the run</a><a href="#1-Section">up</a><a href="https://example.org">x</a>'
             '<a href="http://example.org">y</a><a href="data:text/plain,z">z</a><a href="mailto:a@example.org">m</a>')
    html = page().replace("<h1>Report</h1>", "<h1>Report</h1>" + links)
    assert check(tmp_path, html).startswith("report ok")
    with pytest.raises(UserError, match="1 links lead nowhere, the first 'runs/train_b.html'"):
        check(tmp_path, html.replace("runs/train_a.html#seed-1", "runs/train_b.html"))


@pytest.mark.parametrize("href", ["..", "&#46;&#46;", "&period;&period;/", "runs/../.."])
def test_a_link_to_the_folder_above_is_broken_however_the_page_writes_it(tmp_path, href):
    """The folder above holds an index.html; the report's link to it would not travel with the report."""
    report = tmp_path / "report"
    (report / "runs").mkdir(parents=True)
    (tmp_path / "index.html").write_text("<html></html>")
    html = page().replace("<h1>Report</h1>", f'<h1>Report</h1><a href="{href}">up</a>')
    with pytest.raises(UserError, match="1 links lead nowhere"):
        check(report, html)


@pytest.mark.parametrize("href,broken", [
    ("runs/train%20a.html", False),           # %20 is the space in the file's name
    ("runs/train_a.html?v=2#seed-1", False),  # a query and a fragment name no other file
    ("runs/train_b.html?v=2", True),
    ("runs/train%2520a.html", True),          # decoded once, as a browser does
    ("file:///etc/hostname", True),           # would not travel with the report's folder
    ("//example.org/x.html", True),
    ("#sec", False), ("?only=query", False), ("https://example.org/a b", False), ("HTTPS://example.org", False),
    ("", False), ("runs/train_a.html \n", False),   # browsers strip the whitespace around a link
    ("./runs/../runs/train_a.html", False),
    ("runs/", False), ("runs", False),              # a folder with an index.html
    ("runs/train_a.html/", True),                   # a file is not a folder
    ("other/", True),                               # a folder without an index.html
    ("javascript:void(0)", True),
    ("http://[::1", True),                          # cannot be parsed
    ("/abs/index.html", True), ("../outside.html", True),   # exist here, but not in the report's folder
    ("runs%2Ftrain_a.html", True),                  # an encoded / is no folder separator
    ("linked/train_a.html", False),                 # a symbolic link in the folder leads on
    ("runs/../../report/runs/train_a.html", True),  # out of the folder and back in: still out
    # the folder above: it holds an index.html, which is no reason to follow a link out
    ("..", True), ("../", True), ("./..", True), ("runs/../..", True), ("runs/../../", True),
    ("runs/./../..", True), ("..#top", True), ("..?v=2", True), (" .. ", True),
    ("runs/..", False), ("runs/.", False), (".", False), ("./", False),   # this folder, with its index.html
    ("%2e%2e", True), ("%2E%2E/", True), (".%2e", True), ("%2e%2e/outside.html", True),   # dots encoded
    ("runs/%2e%2e/%2e%2e", True), ("runs/%2e%2e/runs/train_a.html", False),
    ("..\\", True), ("..\\outside.html", True), ("runs\\..\\..", True),   # a backslash, which a browser reads as /
    ("..%5c", True), ("..%5Coutside.html", True),
    (".//..", True),                      # stricter than a browser (which stays here): the empty segment is dropped
    ("runs//../../..", True), (".\t./outside.html", True),   # browsers drop a tab inside a link
    (".//abs/index.html", True),          # a doubled / is no absolute path: report/tmp/.../index.html, none
    ("..notes.html", False),              # a name that starts with two dots is in this folder
])
def test_a_local_link_is_read_as_a_browser_reads_it(tmp_path, href, broken):
    report, runs = tmp_path / "report", tmp_path / "report" / "runs"
    runs.mkdir(parents=True)
    (tmp_path / "report" / "other").mkdir()
    for name in ("train a.html", "train_a.html", "index.html"):
        (runs / name).write_text("<html></html>")
    for page in ("outside.html", "index.html", "report/index.html", "report/..notes.html"):
        (tmp_path / page).write_text("<html></html>")
    (report / "linked").symlink_to(runs)
    href = href.replace("/abs/", f"{tmp_path}/report/runs/")
    assert link_is_broken(report / "index.html", href) is broken


@pytest.mark.parametrize("href", ["runs/..", ".", "./", "runs/../", "%2e"])
def test_a_link_to_the_page_s_own_folder_needs_an_index_html_there(tmp_path, href):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "index.html").write_text("<html></html>")
    assert link_is_broken(tmp_path / "report.html", href)
    (tmp_path / "index.html").write_text("<html></html>")
    assert not link_is_broken(tmp_path / "report.html", href)


def test_table1_must_show_the_audits_verdict_of_each_number(tmp_path):
    glance = [("Table 1, λ = 1, η = 0.001, accuracy", "0.39 ± 0.01", "explained", "init_std = 0.1"), *GLANCE[1:]]
    table1 = {p.setting_id: {"lam": f"{p.lam:g}", "eta": f"{p.eta:g}", "loss": "1.7", "cost": "1.8", "accuracy": "0.39",
                             "verdict_accuracy": "explained"} for p in SETTINGS}
    assert check(tmp_path, page(table1=table1, glance=glance)).startswith("report ok")
    table1[SETTINGS[1].setting_id]["verdict_accuracy"] = "not reproduced"
    with pytest.raises(UserError, match="Table 1 says 'not reproduced' for 'Table 1, λ = 1, η = 0.001, accuracy', "
                                        "the audit 'explained'"):
        check(tmp_path, page(table1=table1, glance=glance))
