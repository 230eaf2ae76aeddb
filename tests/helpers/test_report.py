"""The report's tables and sentences, on synthetic records where the truth is known."""

import numpy as np

from helpers import audit, gradcheck, report
from helpers.params import validate_params
from tests.helpers.test_audit import records_for


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
    assert (f"Of the original's 24 printed numbers, {4 + check.count(audit.REPRODUCED)} are reproduced by the "
            f"course setup") in text
    assert f"{check.count(audit.EXPLAINED)} are explained" in text
    assert f"{8 + check.count(audit.UNEXPLAINED)} stay unexplained" in text
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


def test_api_documentation_shows_no_default_values():
    text = report.api_markdown(("data", "train"))
    assert "helpers.data" in text and "load_dataset(data_dir=…, options=…, **kwargs)" in text
    assert "pipeline" not in text and "{" not in text


def test_a_figure_is_embedded_with_its_id():
    html = report.figure_html(b"\x89PNG fake", "fig-x", "caption")
    assert 'id="fig-x"' in html and "data:image/png;base64," in html
