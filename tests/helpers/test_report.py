"""The report's tables and sentences, on synthetic records where the truth is known."""

import re

from helpers import audit, report
from helpers.params import validate_params
from tests.helpers.test_audit import history, records_for


def test_table1_has_one_row_per_setting_with_the_mean_and_the_original():
    recs = records_for({(0.1, 0.001): [0.40, 0.41, 0.42]})
    html = report.table1_html(recs)
    sid = validate_params(0.1, 0.001).setting_id
    assert f'<tr data-run-id="{sid}">' in html
    assert '<td data-col="accuracy">0.4100</td>' in html
    assert '<td data-col="original_accuracy">0.41</td>' in html
    assert '<td data-col="verdict_accuracy">reproduced</td>' in html


def test_a_diverged_run_shows_nan_not_a_dash():
    recs = records_for({(0.0, 0.1): [float("nan")]})
    assert '<td data-col="accuracy">nan</td>' in report.table1_html(recs)


def test_the_summary_counts_every_printed_number():
    recs = records_for({key: [float(acc)] * 3 for key, acc in
                        {(0.0, 0.1): 0.27, (0.0, 0.001): 0.32, (0.1, 0.001): 0.41, (1.0, 0.001): 0.37}.items()})
    grad = [{"lam": 0.0, "method": "centred", "param": p, "diff_mean": 1e-9, "diff_std": 1e-9, "diff_max": 1e-8,
             "grad_min": -1, "grad_max": 1, "grad_std": 0.5, "rel_max": 1e-7} for p in ("W", "b")]
    text = report.summary_markdown(recs, grad, [], audit.check_claims(recs, grad))
    assert re.search(r"of the original's 24 printed numbers", text)


def test_api_documentation_shows_no_default_values():
    text = report.api_markdown(("data", "train"))
    assert "helpers.data" in text and "load_dataset(data_dir=…, options=…, **kwargs)" in text
    assert "pipeline" not in text and "{" not in text


def test_a_figure_is_embedded_with_its_id():
    html = report.figure_html(b"\x89PNG fake", "fig-x", "caption")
    assert 'id="fig-x"' in html and "data:image/png;base64," in html


def test_history_helper_is_consistent():
    assert len(history(0.5)["val_cost"]) == 41
