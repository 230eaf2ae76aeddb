"""The deeper search's plan and record (pipeline/search.py), on synthetic records."""

import json

from helpers import report
from pipeline import search
from tests.helpers.test_audit import records_for

SETTINGS = "lam,eta,n_batch,n_epochs,variants\n0,0.001,100,40,all\n0.1,0.001,100,40,all\n"
VARIANTS = "name,seeds,overrides,description\ncourse,1 2 3,,c\nwide,1 2 3,init_std=0.1,w\nraw,1 2 3,normalise=false,r\n"


def project(tmp_path):
    (tmp_path / "settings.csv").write_text(SETTINGS)
    (tmp_path / "variants.csv").write_text(VARIANTS)
    return tmp_path


def fake_records(explained_by_wide):
    """λ = 0: accuracy 0.32 printed; the course gives 0.41, `wide` 0.32 or 0.25. λ = 0.1 as printed (loss 1.74,
    cost 1.80, accuracy 0.41)."""
    recs = records_for({(0.0, 0.001): [0.41, 0.411, 0.412]})
    recs += records_for({(0.0, 0.001): [0.32, 0.32, 0.32] if explained_by_wide else [0.25] * 3}, "wide",
                        overrides={"init_std": 0.1})
    recs += records_for({(0.0, 0.001): [0.2] * 3}, "raw", overrides={"normalise": False})
    for r in recs:
        r["test"].update(loss=2.02, cost=2.02)
    for r in records_for({(0.1, 0.001): [0.41] * 3}):
        r["test"].update(loss=1.74, cost=1.80)
        recs.append(r)
    return recs


def test_an_unexplained_number_makes_the_plan_train_every_setting_of_the_original(tmp_path, monkeypatch):
    p = project(tmp_path)
    monkeypatch.setattr(report, "load_records", lambda *a, **k: fake_records(explained_by_wide=False))
    chosen, extra = search.plan_search(p / "settings.csv", p / "variants.csv", p / "results", p / "search")
    assert [(s.lam, s.eta) for s in chosen] == [(0.0, 0.001), (0.1, 0.001)]   # only λ = 0 is unexplained
    assert (p / "search/settings.csv").read_text().splitlines()[1:] == ["0.0,0.001,100,40,0.01,like-W,0.0,all", "0.1,0.001,100,40,0.01,like-W,0.0,all"]
    names = [line.split(",")[0] for line in (p / "search/variants.csv").read_text().splitlines()[1:]]
    assert names[0] == "course" and "init-std-0.03" in names and not any("__" in n for n in names)   # no pairs
    doc = search.record_search(p / "search", p / "results/search.json")
    assert json.loads(json.dumps(doc)) == json.loads((p / "results/search.json").read_text())
    pairs = report.load_search(p / "results/search.json")
    assert {v.name for v, _ in pairs} == set(names[1:]) and {s.lam for _, s in pairs} == {0.0, 0.1}


def test_with_every_number_explained_nothing_is_trained_and_the_record_is_empty(tmp_path, monkeypatch):
    p = project(tmp_path)
    (p / "search").mkdir()
    (p / "search/settings.csv").write_text("stale")
    monkeypatch.setattr(report, "load_records", lambda *a, **k: fake_records(explained_by_wide=True))
    chosen, _ = search.plan_search(p / "settings.csv", p / "variants.csv", p / "results", p / "search")
    assert chosen == [] and not (p / "search/settings.csv").exists()
    assert search.record_search(p / "search", p / "results/search.json") == {"settings": [], "variants": []}
    assert report.load_search(p / "results/search.json") == []
    assert report.load_search(p / "nothing.json") == []
