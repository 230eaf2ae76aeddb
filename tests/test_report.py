import math

from helpers.report import SEED_TABLE1, api_markdown, markdown_table, table1, table1_html


def doc(lam, eta, acc, diverged=None):
    return {"params": {"lam": lam, "eta": eta, "n_batch": 100, "n_epochs": 40},
            "test": {"loss": 1.5, "cost": 1.6, "accuracy": acc}, "diverged_at": diverged}


def test_table1_puts_the_seed_values_beside_ours():
    df = table1([doc(0.1, 0.001, 0.40), doc(0.5, 0.01, 0.2, diverged=3)])
    assert df.loc[0, "seed accuracy"] == SEED_TABLE1[(0.1, 0.001)][2]
    assert math.isclose(df.loc[0, "Δ accuracy"], 0.40 - 0.41)
    assert math.isnan(df.loc[1, "seed accuracy"])
    assert df.loc[1, "status"] == "diverged at epoch 3"


def test_table1_html_marks_rows_and_columns():
    df = table1([doc(0, 0.1, 0.3)])
    html = table1_html(df, ["runA"])
    assert '<table id="table1">' in html and '<tr data-run-id="runA">' in html
    assert '<td data-col="accuracy">0.3000</td>' in html
    assert '<td data-col="seed_accuracy">0.27</td>' in html


def test_api_markdown_documents_the_helpers():
    text = api_markdown()
    for name in ("helpers.train", "`train(train_split, val_split, params", "`compute_cost(X, y, W, b, lam)`",
                 "helpers.archive", "`extract_and_verify("):
        assert name in text


def test_markdown_table():
    assert markdown_table(["a", "b"], [[1, 2]]) == "| a | b |\n|---|---|\n| 1 | 2 |"


def test_seed_values_only_for_the_seed_reports_settings():
    other = doc(0.1, 0.001, 0.40)
    other["params"]["n_batch"] = 50
    df = table1([other])
    assert math.isnan(df.loc[0, "seed accuracy"])
