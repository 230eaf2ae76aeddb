"""The Makefile rules of the runs: one training target per setting and variant, figures for the baseline."""

import re
import subprocess
import sys

from helpers.paths import ROOT
from helpers.settings import parse_settings, parse_variants
from pipeline.rules import make_rules, report_order

VARIANTS = "name,seeds,overrides,description\ncourse,1 2,,c\nraw,3,normalise=false,r\nsmall,4,split=one-batch,s\n"


def test_one_training_target_per_setting_and_variant_and_figures_for_the_baseline():
    settings = parse_settings("lam,eta,n_batch,n_epochs\n0,0.1,100,40\n1,0.001,100,40\n0.5,0.01,10,1\n")
    variants = parse_variants(VARIANTS)
    text = make_rules(settings, variants, "s.csv")
    for s in settings:
        for v in variants:
            assert f"$(RESULTS_DIR)/{v.name}/{s.setting_id}/summary.json: $(TRAIN_NB) $(TRAIN_DEPS)" in text
        assert f"$(FIGURES_DIR)/{s.setting_id}_curves.png $(FIGURES_DIR)/{s.setting_id}_weights.png &:" in text
        assert f"""-p run '{{"lam": {s.lam}, "eta": {s.eta}, "n_batch": {s.n_batch}, "n_epochs": {s.n_epochs}, """ in text
    assert text.count("$(EXECUTE) notebooks/train.ipynb") == 9
    assert text.count("$(EXECUTE) notebooks/figures.ipynb") == 3
    # a notebook that ran without error must also have written its target (and a group be that run)
    assert text.count("--expect $@") == 9 and text.count("--expect $(FIGURES_DIR)/") == 3 * 2
    # make passes every parameter: a notebook's defaults never reach a build
    assert text.count("-p quick false") == 9 and text.count('"init_std": 0.01, "b_init": "like-W", "smooth": 0.0') == 9 + 3
    assert "-p seeds '[1, 2]' -p variant course" in text and '"normalise": false' in text
    # one cache per data variant, each a prerequisite of its runs
    assert "$(DATA_DIR)/cache/course-val$(N_VAL)-norm-float64/CACHE.json:" in text
    assert "$(DATA_DIR)/cache/course-val$(N_VAL)-raw-float64/CACHE.json:" in text
    assert "$(DATA_DIR)/cache/one-batch-norm-float64/CACHE.json:" in text
    # each variant's row is a stamp named after its content, so changing one row re-runs only its runs
    stamps = re.findall(r"^(\$\(BUILD_DIR\)/variants/raw/[0-9a-f]{16}):$", text, re.M)
    assert len(stamps) == 1 and "FORCE" not in text
    changed = make_rules(settings, parse_variants(VARIANTS.replace("raw,3,", "raw,3 4,")), "s.csv")
    assert stamps[0] not in changed and "$(BUILD_DIR)/variants/course/" in changed


def test_a_setting_s_figures_come_one_variant_after_its_runs_in_the_report_s_inputs():
    """make -j starts the report's inputs in their listed order: a setting's figures are listed
    after the same setting of the next variant, when its runs are done in practice; with one
    variant, after the last run."""
    groups = [f"{v}/{s}" for v in ("course", "raw", "small") for s in ("a", "b")]
    figures_of = {0: ["fa"], 1: ["fb"]}
    assert report_order(groups, figures_of, 2) == ["course/a", "course/b", "raw/a", "fa", "raw/b", "fb",
                                                   "small/a", "small/b"]
    assert report_order(groups[:2], figures_of, 2) == ["course/a", "course/b", "fa", "fb"]
    settings = parse_settings("lam,eta,n_batch,n_epochs\n0,0.1,100,40\n1,0.001,100,40\n")
    text = make_rules(settings, parse_variants(VARIANTS), "s.csv")
    inputs = re.search(r"^REPORT_INPUTS := (.*)$", text, re.M).group(1).split()
    assert len(inputs) == 3 * 2 + 2 * 2 and inputs.index("$(RESULTS_DIR)/raw/" + settings[0].setting_id
                                                          + "/summary.json") == 2


def test_a_bad_settings_file_is_one_line_from_rules(tmp_path):
    bad = tmp_path / "s.csv"
    bad.write_text("lam,eta,n_batch,n_epochs\n0,0.1,100,40\n-1,0.1,100,40\n")
    r = subprocess.run([sys.executable, "-m", "pipeline", "rules", str(bad), str(ROOT / "variants.csv")],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2
    assert "row 2 (line 3): lam=-1 is out of range; allowed: a number >= 0" in r.stderr


def test_each_notebook_s_runs_depend_on_a_stamp_named_after_its_code():
    text = make_rules(parse_settings("lam,eta,n_batch,n_epochs\n0,0.1,100,40\n"), parse_variants(VARIANTS), "s.csv")
    for var, stem in (("TRAIN", "train"), ("FIGURES", "figures"), ("GRADCHECK", "gradient_check"), ("REPORT", "report")):
        stamp = re.search(rf"^{var}_NB := (\$\(BUILD_DIR\)/notebooks/{stem}/[0-9a-f]{{16}})$", text, re.M)
        assert stamp, var
        assert f"$({var}_NB):\n\t@$(new_stamp)" in text
    assert "notebooks/train.ipynb $(TRAIN_DEPS)" not in text     # the file's time is not a prerequisite


def test_each_notebook_s_runs_depend_on_a_stamp_named_after_its_helpers_content_not_their_times():
    from pipeline.deps import content_key, module_closure, notebook_dependencies

    text = make_rules(parse_settings("lam,eta,n_batch,n_epochs\n0,0.1,100,40\n"), parse_variants(VARIANTS), "s.csv")
    for var, stem in (("TRAIN", "train"), ("FIGURES", "figures"), ("GRADCHECK", "gradient_check"), ("REPORT", "report"),
                      ("CACHE", "cache")):
        files = (module_closure({"data"}, ROOT / "helpers") if stem == "cache"
                 else notebook_dependencies(ROOT / "notebooks" / f"{stem}.ipynb", ROOT / "helpers"))
        names = " ".join(str(f.relative_to(ROOT)) for f in files)
        stamp = f"$(BUILD_DIR)/helpers/{stem}/{content_key(files, ROOT)}"
        assert f"{var}_DEPS := {stamp}\n$({var}_DEPS):\n\t@$(call content_stamp,{names})\n" in text, var
    # no helper file is a prerequisite (its time would count), only the stamps are
    rules = [ln for ln in text.splitlines() if ":" in ln and not ln.startswith(("\t", "#"))]
    assert rules and [ln for ln in rules if re.search(r"(?<!\$\(BUILD_DIR\)/)helpers/", ln)] == []
    assert "helpers/compiled_epoch.c" in re.search(r"content_stamp,(.*)\)", text).group(1)


def test_two_rows_a_variant_trains_alike_are_one_rule():
    settings = parse_settings("lam,eta,n_batch,n_epochs,init_std\n0,0.1,100,40,\n0,0.1,100,40,0.05\n")
    variants = parse_variants("name,seeds,overrides,description\ncourse,1,,c\nwide,2,init_std=0.1,w\n")
    text = make_rules(settings, variants, "s.csv")
    assert text.count("$(RESULTS_DIR)/wide/lam0_eta0.1_nb100_ep40_std0.1/summary.json:") == 1
    assert "$(RESULTS_DIR)/course/lam0_eta0.1_nb100_ep40/summary.json:" in text          # the course: two rows,
    assert "$(RESULTS_DIR)/course/lam0_eta0.1_nb100_ep40_std0.05/summary.json:" in text   # two runs
    groups = re.search(r"^RUN_GROUPS := (.*)$", text, re.M).group(1).split()
    assert len(groups) == len(set(groups)) == 3


def test_every_value_make_passes_has_the_type_of_the_notebook_s_default():
    """`-p quick False` would reach the notebook as the string "False", which is true: each value make passes
    must parse (as `pipeline execute` parses it) to the type of the parameter's default in the notebook."""
    import ast
    import json
    import shlex

    from pipeline.cli import parse_value

    settings = parse_settings("lam,eta,n_batch,n_epochs,init_std\n0,0.1,100,40,\n0.5,0.01,10,1,0.05\n")
    text = make_rules(settings, parse_variants(VARIANTS), "s.csv")
    for stem in ("train", "figures"):
        nb = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text())
        cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
        defaults = {t.id: ast.literal_eval(node.value) for node in ast.parse("".join(cell["source"])).body
                    for t in node.targets}
        lines = [ln for ln in text.splitlines() if f"$(EXECUTE) notebooks/{stem}.ipynb" in ln]
        assert lines
        for line in lines:
            words = shlex.split(line.replace("$(DATA_PARAMS)", ""))
            for i, word in enumerate(words):
                if word == "-p" and not words[i + 2].startswith("$("):
                    name, value = words[i + 1], parse_value(words[i + 2])
                    expected = type(defaults[name])
                    assert isinstance(value, (int, float) if expected is float else expected), (stem, name, value)
