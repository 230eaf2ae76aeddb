"""The README's opening paragraph is the one its findings give, and `make readme` rewrites only that block."""

import json

import pytest

from helpers.errors import UserError
from helpers.paths import ROOT
from helpers.report import findings_markdown
from pipeline.readme import END, START, findings_block, read_block, rewrite, update_readme

FINDINGS = {"build": "make search", "machine": "Intel Xeon, 2 cores, openblas SkylakeX", "claims": 6, "claims_hold": 5,
            "convention": "rounded", "convention_ratio": 4.7,
            "sections": {"1.1": {"named": "h = 0.0001", "n": 12, "reproduced": 11, "course": 2, "ratio": 80.2,
                                 "false": 2, "trials": 5},
                         "Table 1": {"named": "init_std = 0.1", "n": 12, "reproduced": 6, "course": 6, "ratio": 61.9,
                                     "false": 1, "trials": 5}}}


def test_the_committed_readme_states_exactly_what_its_findings_give():
    found, paragraph = read_block((ROOT / "README.md").read_text())
    assert paragraph == findings_markdown(found)
    assert found["build"] in ("make report", "make search") and found["machine"]


def test_rewrite_replaces_the_block_and_nothing_else(tmp_path):
    text = f"# Title\n\n{findings_block(FINDINGS)}\n\nThe rest, with 12 of 24.\n"
    found, paragraph = read_block(text)
    assert found == FINDINGS and "11 of its 12 numbers reproduced" in paragraph
    changed = {**FINDINGS, "claims_hold": 4}
    after = rewrite(text, changed)
    assert "4 of its 6 claims hold" in after and "5 of its 6" not in after
    assert after.startswith("# Title\n\n" + START) and after.endswith(END + "\n\nThe rest, with 12 of 24.\n")
    (tmp_path / "README.md").write_text(text)
    (tmp_path / "findings.json").write_text(json.dumps(changed))
    assert update_readme(tmp_path / "README.md", tmp_path / "findings.json") is True
    assert (tmp_path / "README.md").read_text() == after
    assert update_readme(tmp_path / "README.md", tmp_path / "findings.json") is False


def test_a_readme_without_the_block_or_a_build_without_findings_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="no findings block"):
        rewrite("# Title\n", FINDINGS)
    (tmp_path / "README.md").write_text(findings_block(FINDINGS))
    with pytest.raises(UserError, match="run `make report`"):
        update_readme(tmp_path / "README.md", tmp_path / "missing.json")
