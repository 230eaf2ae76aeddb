"""The report's tables and sentences, on synthetic records where the truth is known."""

import numpy as np
import pytest

from helpers import audit, gradcheck, report
from helpers.params import validate_params
from tests.helpers.test_audit import records_for


def test_table1_has_one_row_per_setting_with_the_mean_and_the_original():
    recs = records_for({(0.1, 0.001): [0.40, 0.41, 0.42]})
    html = report.table1_html(recs)
    sid = validate_params(0.1, 0.001).setting_id
    assert f'<tr data-run-id="{sid}">' in html
    # 0.40, 0.41, 0.42: mean 0.41, sample std 0.01 (two significant digits: 3 decimals), min–max under it
    assert '<td data-col="accuracy">0.410 ± 0.010<br><small class="range">0.400–0.420</small></td>' in html
    assert '<td data-col="original_accuracy">0.41</td>' in html
    assert '<td data-col="verdict_accuracy">reproduced</td>' in html


def test_a_diverged_run_shows_nan_not_a_dash():
    recs = records_for({(0.0, 0.1): [float("nan")]})
    assert '>nan ± 0.0000<br>' in report.table1_html(recs)


def test_the_summary_counts_every_printed_number_by_its_verdict():
    # accuracy as printed, loss 1.8 and cost 1.9 everywhere, no variants: Table 1 has 4 reproduced numbers
    # and 8 unexplained ones (loss and cost are 0.02 to 5 away from the printed ones, with no spread)
    recs = records_for({key: [float(acc)] * 3 for key, acc in
                        {(0.0, 0.1): 0.27, (0.0, 0.001): 0.32, (0.1, 0.001): 0.41, (1.0, 0.001): 0.37}.items()})
    rng = np.random.default_rng(0)
    space = {"lam": (0.0,), "n_images": (2, 5), "n_dims": (20,), "h": (1e-6,), "method": ("centred",)}
    search = gradcheck.search_gradient_check(rng.normal(size=(5, 20)), rng.integers(0, 10, 5), space, (1, 2))
    baseline = {"lam": 0.0, "n_images": 5, "n_dims": 20, "h": 1e-6, "method": "centred"}
    numbers = audit.numbers_audit(recs, search, baseline)
    table1 = [n["verdict"] for n in numbers if n["section"] == "Table 1"]
    assert table1.count(audit.REPRODUCED) == 4 and table1.count(audit.UNEXPLAINED) == 8
    check = [n["verdict"] for n in numbers if n["section"] == "1.1"]
    assert len(check) == 12
    text = report.summary_markdown(numbers, recs, [], audit.check_claims(recs, search, search, baseline), 12.0)
    count = lambda key, n: f'<span data-count="{key}">{n}</span>'   # noqa: E731  (marked for pipeline.check)
    assert (f"Of the original's {count('total', 24)} printed numbers, "
            f"{count(audit.REPRODUCED, 4 + check.count(audit.REPRODUCED))} are reproduced by the course setup") in text
    assert f"{count(audit.EXPLAINED, check.count(audit.EXPLAINED))} are explained" in text
    assert f"{count(audit.UNEXPLAINED, 8 + check.count(audit.UNEXPLAINED))} stay unexplained" in text
    assert f"{count(audit.ROUNDING, check.count(audit.ROUNDING))} more within its printed digits" in text
    assert "12 training runs" in text and "took 12 s" in text


def test_an_explanation_names_its_choice_and_the_configurations_tried():
    recs = records_for({(0.0, 0.001): [0.41, 0.412, 0.414]})
    recs += records_for({(0.0, 0.001): [0.319, 0.32, 0.321]}, "init-std-0.1", overrides={"init_std": 0.1})
    recs += records_for({(0.0, 0.001): [0.2, 0.2, 0.2]}, "raw", overrides={"normalise": False})
    (acc,) = [n for n in audit.table1_numbers_audit(recs) if n["metric"] == "accuracy"]
    html = report.glance_html([{**acc, "contradicted": False}])
    assert "init_std = 0.1: 0.3200 ± 0.0010" in html
    assert "1 of 2 configurations tried match; 1 of the matches change 1 choice, none fewer" in html
    assert '<td data-col="verdict">explained</td>' in html


def test_long_detail_is_folded_with_a_summary_that_says_what_it_holds():
    html = report.folded("Every run (20)", "<table><tr><td>x</td></tr></table>")
    assert html.startswith("<details><summary>Every run (20)</summary><table>") and html.endswith("</details>")


def test_the_provenance_appendix_names_commit_machine_build_blas_packages_and_data():
    facts = {"runs": 68, "commits": ["0123456789abcdef0123"], "dirty": True, "epochs": ["compiled"],
             "versions": {"numpy": "2.4.6", "python": "3.11.7"}, "data_sha256": {"data_batch_1": "ab12"},
             "provenance": {"cpu": {"model": "Some CPU", "machine": "x86_64", "isa_level": "x86-64-v3"},
                            "compiled_epoch": {"version": "gcc 12.2", "flags": ["-O3", "-march=native"]},
                            "blas": [{"internal_api": "openblas", "version": "0.3.31", "architecture": "Haswell"}]}}
    text = report.provenance_markdown(facts)
    assert "commit `0123456789ab` with uncommitted changes in the working tree (68 runs; epoch: compiled)" in text
    assert "Some CPU (x86_64, x86-64-v3)" in text and "gcc 12.2, flags `-O3 -march=native`" in text
    assert "openblas 0.3.31 (Haswell kernel)" in text and "numpy 2.4.6, python 3.11.7" in text
    assert "`data_batch_1`: `ab12`" in text
    clean = report.provenance_markdown({**facts, "dirty": False, "provenance": {**facts["provenance"], "compiled_epoch": None},
                                        "epochs": ["numpy"]})
    assert "uncommitted" not in clean and "not used (the NumPy epoch)" in clean


def test_a_figure_is_embedded_with_its_id():
    html = report.figure_html(b"\x89PNG fake", "fig-x", "caption")
    assert 'id="fig-x"' in html and "data:image/png;base64," in html


def _save(results_dir, variant, row, seeds, accuracy, init_std=None):
    """Runs of ``row`` in ``variant`` as the training notebook saves them (results.json, summary.json)."""
    from dataclasses import replace

    from helpers.results import group_dir, save_group, save_run
    from helpers.train import TrainResult

    setting = replace(row, init_std=init_std or row.init_std)
    folder = group_dir(results_dir, variant, setting)
    history = {k: [1.0, 0.5] for k in ("train_loss", "train_cost", "train_accuracy", "val_loss", "val_cost", "val_accuracy")}
    tests = []
    for seed in seeds:
        test = {"loss": 1.8, "cost": 1.9, "accuracy": accuracy}
        save_run(folder / f"seed{seed}", replace(setting, seed=seed), TrainResult(np.zeros((10, 3)), np.zeros(10), history),
                 test, {})
        tests.append(test)
    save_group(folder, seeds, tests)


def test_two_rows_that_differ_only_in_init_std_are_two_rows_of_table1_never_pooled(tmp_path):
    from helpers.settings import parse_settings, parse_variants

    settings = parse_settings("lam,eta,n_batch,n_epochs,init_std\n0,0.001,100,40,\n0,0.001,100,40,0.1\n")
    variants = parse_variants("name,seeds,overrides,description\ncourse,1 2,,c\n")
    _save(tmp_path, "course", settings[0], (1, 2), 0.30)
    _save(tmp_path, "course", settings[1], (1, 2), 0.40)
    records = report.load_records(tmp_path, settings, variants)
    assert [(r["setting_id"], r["init_std"]) for r in records] == [(settings[0].setting_id, 0.01)] * 2 + \
        [(settings[1].setting_id, 0.1)] * 2
    html = report.table1_html(records)
    assert f'<tr data-run-id="{settings[0].setting_id}">' in html and f'<tr data-run-id="{settings[1].setting_id}">' in html
    assert ">0.3000 ± 0.0000<br>" in html and ">0.4000 ± 0.0000<br>" in html
    assert '<td data-col="init_std">0.1</td>' in html and "<th>init_std</th>" in html
    # the original's number is compared with the course setup only, not the row of its own init_std
    numbers = audit.table1_numbers_audit(records)
    accuracy = [n for n in numbers if n["metric"] == "accuracy"][0]
    assert accuracy["spread"]["mean"] == 0.30 and accuracy["spread"]["n"] == 2


def test_a_run_s_parameters_are_read_from_its_results_file(tmp_path):
    """A variant that sets init_std: the record carries the run's init_std from results.json."""
    from helpers.settings import parse_settings, parse_variants

    settings = parse_settings("lam,eta,n_batch,n_epochs\n0,0.001,100,40\n")
    variants = parse_variants("name,seeds,overrides,description\ncourse,1,,c\nwide,3,init_std=0.1,w\n")
    _save(tmp_path, "course", settings[0], (1,), 0.30)
    _save(tmp_path, "wide", settings[0], (3,), 0.35, init_std=0.1)
    wide = [r for r in report.load_records(tmp_path, settings, variants) if r["variant"] == "wide"]
    assert [(r["init_std"], r["seed"], r["setting_id"]) for r in wide] == [(0.1, 3, settings[0].setting_id)]
    assert "<th>init_std</th>" not in report.table1_html(report.load_records(tmp_path, settings, variants))


def test_glance_rows_carry_the_match_distance_of_the_course_setup_and_of_the_explanation():
    # "0.41": half unit 0.005; course mean 0.40, std 0.001: |0.41 - 0.40| / (0.002 + 0.005) = 1.43;
    # explanation mean 0.411, std 0.002: 0.001 / 0.009 = 0.111
    numbers = [{"name": "n1", "verdict": "explained", "text": "0.41", "spread": {"mean": 0.40, "std": 0.001},
                "explanation": {"spread": {"mean": 0.411, "std": 0.002}}},
               {"name": "n2", "verdict": "reproduced", "text": "0.41", "spread": {"mean": 0.41, "std": 0.0},
                "explanation": None}]
    rows = report.glance_rows(numbers)
    assert [(r["name"], r["verdict"]) for r in rows] == [("n1", "explained"), ("n2", "reproduced")]
    assert rows[0]["distance"] == pytest.approx(0.01 / 0.007) and rows[0]["distance_best"] == pytest.approx(0.001 / 0.009)
    assert rows[1]["distance"] == pytest.approx(0.0) and rows[1]["distance_best"] is None


@pytest.mark.parametrize("values", [[0.40, 0.41, 0.42], [0.401, 0.402, 0.403], [0.3, 0.5, 0.4], [0.39, 0.3901, 0.3902],
                                    [0.414, 0.4141, 0.4142], [0.416, 0.4161, 0.4162]])
def test_a_match_distance_of_at_most_1_is_exactly_a_match(values):
    s = audit.spread(values)
    assert (audit.match_distance("0.41", s) <= 1) == audit.matches("0.41", values)


@pytest.mark.parametrize("std, decimals", [(0.4792, 2), (0.0086, 3), (0.0015, 4), (0.0006, 4), (0.0196, 3),
                                           (0.00095, 4), (0.00014, 5), (3.0, 2), (1e-300, 6), (0.0, 4),
                                           (float("nan"), 4), (float("inf"), 4)])
def test_a_mean_is_printed_to_its_std_s_first_significant_digit_and_one_more_after_a_1(std, decimals):
    assert report.decimals_that_matter(std) == decimals


def test_mean_and_std_are_printed_with_the_digits_that_matter():
    assert report.pm({"mean": 6.75823, "std": 0.47921}) == "6.76 ± 0.48"
    assert report.pm({"mean": 0.410321, "std": 0.001512}) == "0.4103 ± 0.0015"
    assert report.pm({"mean": 1.0, "std": 0.5}, ".1f") == "1.0 ± 0.5"


def planted_answer():
    """An audit answer where Table 1 is explained by init_std = 0.1 (the course is 0.1 off in accuracy)."""
    from helpers import likelihood

    printed = {(0.0, 0.1): 0.27, (0.0, 0.001): 0.32, (0.1, 0.001): 0.41, (1.0, 0.001): 0.37}
    recs = records_for({k: [v - 0.1, v - 0.101, v - 0.099] for k, v in printed.items()})
    recs += records_for({k: [v + 0.001, v, v - 0.001] for k, v in printed.items()}, "init-std-0.1",
                        overrides={"init_std": 0.1})
    rng = np.random.default_rng(0)
    space = {"lam": (0.0, 1.0), "n_images": (5,), "n_dims": (20,), "h": (1e-6,), "method": ("centred",)}
    search = gradcheck.search_gradient_check(rng.normal(size=(5, 20)), rng.integers(0, 10, 5), space, (1, 2, 3))
    baseline = {"lam": 0.0, "n_images": 5, "n_dims": 20, "h": 1e-6, "method": "centred"}
    return likelihood.audit_answer(recs, search, baseline), recs


def test_the_answer_names_one_configuration_per_section_with_its_counts_ratio_and_false_rate():
    ans, recs = planted_answer()
    t1 = ans["sections"]["Table 1"]
    assert t1["named"]["changed"] == {"init_std": 0.1} and t1["ratio"] > 0
    html = report.answer_html(ans)
    assert '<td data-col="section">Table 1 (test metrics)</td><td data-col="named">init_std = 0.1</td>' in html
    assert f'<td data-col="reproduced">{len(t1["named"]["reproduced"])} of 12</td>' in html
    assert f'<td data-col="course">{len(t1["course"]["reproduced"])} of 12</td>' in html
    assert f'<td data-col="ratio">{t1["ratio"]:.1f}</td>' in html
    cal = t1["calibration"]
    assert cal["trials"] == 3 and f'{cal["false"]} of 3 (' in html
    summary = report.reproducibility_summary_markdown(ans, [], len(recs))
    for part in ("*Scope.*", "*Method.*", "*Results.*", "*What was easy.*", "*What was hard.*"):
        assert part in summary
    assert "Table 1 is explained best by **init_std = 0.1**" in summary
    assert ans["convention"]["favoured"] in report.convention_sentence(ans)


def test_the_findings_are_the_answers_numbers_and_the_readme_paragraph_says_them():
    ans, recs = planted_answer()
    claims = [{"verdict": "holds"}, {"verdict": "does not hold"}]
    f = report.findings(ans, claims, [], "a CPU, 2 cores, openblas Haswell")
    t1 = ans["sections"]["Table 1"]
    assert f["build"] == "make report" and report.findings(ans, claims, [("x", 1)], "m")["build"] == "make search"
    assert f["sections"]["Table 1"] == {"named": "init_std = 0.1", "n": 12, "reproduced": len(t1["named"]["reproduced"]),
                                        "course": len(t1["course"]["reproduced"]), "ratio": round(t1["ratio"], 1),
                                        "false": t1["calibration"]["false"], "trials": 3}
    assert (f["convention"], f["claims_hold"], f["claims"]) == (ans["convention"]["favoured"], 1, 2)
    assert "counts" not in f                 # the verdicts' counts only when given, as the page states them
    counts = {audit.REPRODUCED: 3, audit.ROUNDING: 1, audit.EXPLAINED: 2, audit.UNEXPLAINED: 1, "contradicted": 0, "total": 7}
    assert report.findings(ans, claims, [], "m", counts)["counts"] == {k: v for k, v in counts.items() if k != "contradicted"}
    text = report.findings_markdown(f)
    assert "(after `make report`, on a CPU, 2 cores, openblas Haswell)" in text
    assert (f"Table 1 by init_std = 0.1 ({f['sections']['Table 1']['reproduced']} of its 12 numbers reproduced; the course "
            f"setup reproduces {f['sections']['Table 1']['course']}; a log-likelihood ratio of "
            f"{f['sections']['Table 1']['ratio']} in its favour)") in text
    assert f"{t1['calibration']['false']} of 3 times (Table 1)" in text and "1 of its 2 claims hold" in text
    # a section that names nothing and has no seeds to calibrate with says so, in words
    none = {**f["sections"]["1.1"], "named": "none", "ratio": None, "reproduced": 0, "false": 0, "trials": 0}
    text = report.findings_markdown({**f, "sections": {**f["sections"], "1.1": none}})
    assert (f"section 1.1's gradient check is explained best: no configuration covers every number (the course setup "
            f"reproduces {none['course']} of 12)") in text
    assert "no course-setup seeds to calibrate section 1.1 with" in text and "None" not in text


def test_the_answers_detail_shows_both_conventions_for_every_number():
    ans, _ = planted_answer()
    html = report.answer_detail_html(ans)
    assert html.count("<tr>") == 1 + 2 * 2 * 12
    assert html.count('<td data-col="convention">rounded</td>') == html.count('<td data-col="convention">cut</td>') == 24


def test_the_search_says_which_ranges_grew_at_an_edge():
    check = {"space": {"h": [1e-5, 1e-4, 1e-3], "lam": [0.0]}, "baseline": {"h": 1e-5, "lam": 0.0}, "search_seeds": [1],
             "search_seconds": 3.0, "grown": [{"choice": "h", "value": 1e-3, "edge": 1e-4}]}
    assert "Ranges grown: h to 0.001 (the configuration named lay on the edge, 0.0001)." in report.search_markdown(check)
    assert "No range had to grow" in report.search_markdown({**check, "grown": []})


def test_the_loop_and_the_search_are_shown_side_by_side_at_the_tables_own_configuration():
    base = {"lam": 0.0, "n_images": 5, "n_dims": 20, "h": 1e-6, "method": "centred"}
    stats = {k: 1.0 for k in ("diff_std", "grad_min", "grad_max", "grad_std")}
    rows = [{"lam": 0.0, "method": "centred", "param": p, **stats, "diff_mean": 1e-9, "diff_max": 4e-9} for p in "Wb"]
    rows.append({"lam": 0.0, "method": "forward", "param": "W", **stats, "diff_mean": 7.0, "diff_max": 7.0})
    search = [{**base, "seed": s, "param": p, **stats, "diff_mean": 2e-9 * s, "diff_max": 8e-9} for s in (1, 2) for p in "Wb"]
    check = {"baseline": base, "rows": rows, "search": search, "seed": 2}
    pairs = report.loop_and_search(check)
    assert ("W", "diff_mean", 1e-9, 4e-9) in pairs and len(pairs) == 12
    text = report.loop_and_search_sentence(check)
    assert "gW mean |Δ| 1e-09 by the loop, 4e-09 by the search" in text and "factor of 4" in text
    assert report.loop_and_search_sentence({**check, "seed": 3}) == ""


def test_folded_markdown_is_rendered_inside_its_fold():
    html = report.folded_markdown("Formulas; click to open", "* one `x`\n* two *y*")
    assert html.startswith("<details><summary>Formulas; click to open</summary>") and html.endswith("</details>")
    inner = html[len("<details><summary>Formulas; click to open</summary>"):-len("</details>")]
    assert "<li>one <code>x</code></li>" in inner and "<em>y</em>" in inner


# --- text from the files a user edits reaches the page as text ------------------------------------------

#: Text that would make an element, an attribute, emphasis, code, a link or a bare address if it reached the
#: page as markup (the tag names and attributes are markers the page checks look for).
HOSTILE = ('<script src="data:text/javascript,alert(1)"></script> <img src="x" onerror="alert(1)"> '
           '<svg onload="alert(1)"><hostile-tag data-hostile="1"> <a href="javascript:alert(1)">a</a> '
           '[link](javascript:alert(1)) ![i](http://evil.example/i.png) <http://evil.example> http://evil.example/x '
           'www.evil.example x@evil.example **bold** _em_ `code` $x^2$ \\(y\\) &lt;b&gt; &amp; | # end')


def rendered_markdown(markdown, tmp_path):
    """The HTML the report's renderer (:func:`pipeline.render.render_html`) makes of a ``text/markdown`` output."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    from pipeline.render import render_html

    cell = new_code_cell("")
    cell.outputs = [new_output("display_data", data={"text/markdown": markdown})]
    nbformat.write(new_notebook(cells=[cell]), tmp_path / "nb.ipynb")
    page = render_html(tmp_path / "nb.ipynb", tmp_path / "nb.html").read_text()
    start = page.index("<", page.index('data-mime-type="text/markdown"'))
    return page[start:page.index("</div>", start)]


class Elements:
    """The elements and text of an HTML fragment (html.parser): every start tag with its attributes, the text."""

    def __init__(self, fragment):
        from html.parser import HTMLParser

        self.tags, self.text = [], []
        parser = HTMLParser(convert_charrefs=True)
        parser.handle_starttag = lambda tag, attrs: self.tags.append((tag, dict(attrs)))
        parser.handle_data = self.text.append
        parser.feed(fragment)
        parser.close()


def test_markdown_text_and_code_show_every_character_literally_and_make_no_markup(tmp_path):
    page = Elements(rendered_markdown(f"- {report.markdown_code('``a<b>` ')} and {report.markdown_text(HOSTILE)}", tmp_path))
    assert page.tags == [("ul", {}), ("li", {}), ("code", {})]     # the list and the code: nothing else
    assert [t for t in page.text if t.strip()] == ["``a<b>` ", f" and {HOSTILE}"]


def csv_text(rows):
    """The text of a CSV file with ``rows`` (quoted where needed, as a spreadsheet writes it)."""
    import csv
    import io

    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def test_variants_markdown_shows_the_file_s_text_literally(tmp_path):
    from helpers.settings import parse_variants

    variants = parse_variants(csv_text([("name", "seeds", "overrides", "description"), ("course", "1", "", HOSTILE),
                                        ("raw", "2 3", "normalise=false; dtype=float32", "a `b` <c>")]))
    page = Elements(rendered_markdown(report.variants_markdown(variants), tmp_path))
    assert [tag for tag, _ in page.tags] == ["ul", "li", "code", "li", "code"]
    assert [t for t in page.text if t.strip()] == ["course", f" (none; seeds 1): {HOSTILE}", "raw",
                                                    " (normalise=false; dtype=float32; seeds 2, 3): a `b` <c>"]


def test_table1_search_lists_every_choice_tried_with_the_course_value_in_bold():
    values = {(0.0, 0.1): [0.3, 0.31], (1.0, 0.001): [0.2, 0.21]}
    records = records_for(values)
    records += records_for(values, "init-std-0.1", overrides={"init_std": 0.1})
    records += records_for(values, "b-zero", overrides={"b_init": "zero"})
    records += records_for(values, "combo", overrides={"init_std": 0.05, "norm": "channel"})
    text = report.table1_search_markdown(records)
    assert "- init_std: 0.05, 0.1, **0.01**" not in text and "- init_std: **0.01**, 0.05, 0.1" in text
    assert "- b starts: **like-W**, zero" in text and "- normalisation: channel, **dimension**" in text
    assert "3 configurations besides the course setup, 1 of them with two or more choices together" in text
    assert "all 2 settings of the original" in text


def test_the_settings_table_says_which_variants_each_row_is_trained_in():
    from helpers.settings import parse_settings, parse_trained_in

    text = "lam,eta,n_batch,n_epochs,variants\n0,0.1,100,40,all\n0.5,0.01,10,1,\n0.2,0.01,10,1,raw\n"
    table = report.hyperparameters_markdown(parse_settings(text), parse_trained_in(text)).splitlines()
    assert table[0].endswith("| trained in the variants |") and len(table) == 5
    assert [row.rsplit("|", 2)[1].strip() for row in table[2:]] == ["every one", "` course `", "` course `, ` raw `"]


def test_the_ranges_paragraph_says_where_each_continuous_choice_s_best_lies():
    ranges = [{"key": "init_std", "best": 0.1, "low": 0.003, "high": 0.3, "where": "inside", "next": [0.084]},
              {"key": "smooth", "best": 0.3, "low": 0.1, "high": 0.3, "where": "edge", "next": [0.9]},
              {"key": "init_std", "best": 0.9, "low": 0.001, "high": 0.9, "where": "bound", "next": []},
              {"key": "smooth", "best": 0.0, "low": 0.1, "high": 0.3, "where": "course", "next": []}]
    lines = report.table1_ranges_markdown(ranges).strip().splitlines()[2:]
    assert lines[0] == "- init_std: best alone at 0.1, inside the range tried (0.003 to 0.3)."
    assert lines[1].startswith("- label smoothing: best alone at 0.3, on the edge of the range tried (0.1 to 0.3)")
    assert lines[1].endswith("`make search` tries 0.9 next.")
    assert "beyond what is plausible" in lines[2] and "the course's 0, the choice's own bound" in lines[3]
    assert report.table1_ranges_markdown([]) == ""
