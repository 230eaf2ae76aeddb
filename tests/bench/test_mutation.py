"""The mutation run's summary: mutmut's results read, scored per module, survivors matched to their reasons."""

from bench.mutation import module_of, parse_results, read_equivalent, score_table, survivors_report

RESULTS = """\
    helpers.audit.x_explain__mutmut_1: killed
    helpers.audit.x_explain__mutmut_2: survived
    helpers.audit.x_explain__mutmut_3: killed
    helpers.audit.x_explain__mutmut_4: timeout
    pipeline.check.xǁ_ReportParserǁhandle_data__mutmut_4: no tests
    pipeline.check.x_check_report__mutmut_9: survived
some other line
"""


def test_results_are_read_per_mutant_and_a_timeout_counts_as_killed():
    results = parse_results(RESULTS)
    assert results == {"helpers.audit.x_explain__mutmut_1": "killed", "helpers.audit.x_explain__mutmut_2": "survived",
                       "helpers.audit.x_explain__mutmut_3": "killed", "helpers.audit.x_explain__mutmut_4": "killed",
                       "pipeline.check.xǁ_ReportParserǁhandle_data__mutmut_4": "no tests",
                       "pipeline.check.x_check_report__mutmut_9": "survived"}


def test_a_method_s_mutant_belongs_to_its_module():
    assert module_of("pipeline.check.xǁ_ReportParserǁhandle_data__mutmut_4") == "pipeline.check"
    assert module_of("helpers.audit.x_explain__mutmut_12") == "helpers.audit"


def test_the_score_is_killed_over_all_mutants_per_module_and_in_all():
    lines = score_table(parse_results(RESULTS)).splitlines()
    audit = lines[1].split()
    assert audit == ["helpers.audit", "3", "1", "0", "4", "75.0%"]           # 3 of 4 killed
    assert lines[2].split() == ["pipeline.check", "0", "1", "1", "2", "0.0%"]
    assert lines[3].split() == ["all", "3", "2", "1", "6", "50.0%"]


def test_each_survivor_shows_its_reason_or_asks_for_one(tmp_path):
    listed = tmp_path / "equivalent.txt"
    listed.write_text("# comment\npipeline.check.x_check_report__mutmut_9 \"utf-8\" -> \"UTF-8\": the same codec\n\n")
    reasons = read_equivalent(listed)
    assert reasons == {"pipeline.check.x_check_report__mutmut_9": '"utf-8" -> "UTF-8": the same codec'}
    report = survivors_report(parse_results(RESULTS), reasons).splitlines()
    assert report == [
        "helpers.audit.x_explain__mutmut_2 (survived): NOT EXPLAINED YET: kill it or list why",
        "pipeline.check.x_check_report__mutmut_9 (survived): \"utf-8\" -> \"UTF-8\": the same codec",
        "pipeline.check.xǁ_ReportParserǁhandle_data__mutmut_4 (no tests): NOT EXPLAINED YET: kill it or list why",
    ]
    assert read_equivalent(tmp_path / "none.txt") == {}
