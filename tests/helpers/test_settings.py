import pytest

from helpers.errors import ParameterError
from tests.conftest import committed_text
from helpers.settings import OPTIONAL, REQUIRED, check_batch_sizes, parse_settings, parse_variants, read_settings


def test_the_committed_settings_are_the_reports_four():
    runs = parse_settings(committed_text("settings.csv"))
    assert [(r.lam, r.eta, r.n_batch, r.n_epochs) for r in runs] == [
        (0.0, 0.1, 100, 40), (0.0, 0.001, 100, 40), (0.1, 0.001, 100, 40), (1.0, 0.001, 100, 40)]


def test_optional_columns_comments_and_blank_lines():
    runs = parse_settings("# c\nlam,eta,n_batch,n_epochs,init_std\n\n0,0.1,100,40,0.02\n# x\n1,0.01,50,2,0.01\n")
    assert [r.init_std for r in runs] == [0.02, 0.01]


def test_a_seed_column_points_to_the_variants():
    with pytest.raises(ParameterError, match="unknown \\['seed'\\]; the seeds are set per variant, in variants.csv"):
        parse_settings("lam,eta,n_batch,n_epochs,seed\n0,0.1,100,40,7\n")


def test_a_fifth_row_is_a_fifth_run():
    text = "lam,eta,n_batch,n_epochs\n0,0.1,100,40\n0,0.001,100,40\n0.1,0.001,100,40\n1,0.001,100,40\n0.01,0.01,100,40\n"
    assert len(parse_settings(text)) == 5


@pytest.mark.parametrize("text,message", [
    ("lam,eta,n_batch,n_epochs\n0,0.1,100,40\n0,-1,100,40\n", "row 2 (line 3): eta=-1 is out of range"),
    ("lam,eta,n_batch,n_epochs\n0,0.1,100\n", "row 1 (line 2): has 3 values, the header has 4"),
    ("lam,eta,n_batch,n_epochs\n0,abc,100,40\n", "row 1 (line 2): eta='abc' is not a number"),
    ("lam,eta,n_batch\n0,0.1,100\n", "missing ['n_epochs']"),
    ("lam,eta,n_batch,n_epochs,colour\n0,0.1,100,40,red\n", "unknown ['colour']"),
    ("lam,eta,n_batch,n_epochs\n0,0.1,100,40\n0,0.1,100,40\n", "row 2 (line 3): repeats row 1"),
    ("lam,eta,n_batch,n_epochs\n", "no settings rows"),
    ("", "is empty"),
])
def test_bad_rows_are_refused_with_the_row_number(text, message):
    with pytest.raises(ParameterError) as info:
        parse_settings(text, source="s.csv")
    assert message in str(info.value)


def test_missing_settings_file(tmp_path):
    with pytest.raises(ParameterError, match="cannot read the settings file"):
        read_settings(tmp_path / "nope.csv")


VARIANTS = """name,seeds,overrides,description
course,2022 2023,,the course
init-std-0.1,2022,init_std=0.1,wide init
raw,5 6 7,normalise=false; split=one-batch,raw pixels on one batch
"""


def test_the_committed_variants_start_with_the_course_and_five_seeds():
    variants = parse_variants(committed_text("variants.csv"))
    assert variants[0].name == "course" and variants[0].seeds == (2022, 2023, 2024, 2025, 2026)
    assert {v.name for v in variants} >= {"course", "init-std-0.1", "init-std-0.001", "no-normalisation", "one-batch"}
    assert all(len(v.seeds) >= 3 for v in variants)


def test_variants_parse_their_overrides_and_seeds():
    course, wide, raw = parse_variants(VARIANTS)
    assert course.train == {} and course.data == {} and course.seeds == (2022, 2023)
    assert wide.train == {"init_std": 0.1} and wide.data == {}
    assert raw.data == {"normalise": False, "split": "one-batch"} and raw.seeds == (5, 6, 7)
    assert raw.overrides_text == "normalise=false; split=one-batch"


def test_every_optional_training_choice_is_a_column_and_an_override():
    from helpers.params import TRAIN_CHOICES

    settings = parse_settings("lam,eta,n_batch,n_epochs,b_init,smooth\n0,0.1,100,40,zero,\n0,0.1,100,40,,0.1\n")
    assert settings[0].b_init == "zero" and settings[1].smooth == 0.1 and settings[1].b_init == "like-W"
    (course, v) = parse_variants("name,seeds,overrides,description\ncourse,1,,c\nz,2,b_init=zero; smooth=0.2,z\n")
    assert v.train == {"b_init": "zero", "smooth": 0.2}
    assert set(REQUIRED + OPTIONAL) == {c.name for c in TRAIN_CHOICES} - {"seed"}
    with pytest.raises(ParameterError, match="smooth=1 is out of range"):
        parse_variants("name,seeds,overrides,description\ncourse,1,,c\nz,2,smooth=1,z\n")


@pytest.mark.parametrize("text,message", [
    ("name,seeds,overrides,description\nother,1,,x\n", "no row named 'course'"),
    ("name,seeds,overrides,description\ncourse,1,init_std=0.1,x\n", "takes no overrides"),
    ("name,seeds,overrides,description\ncourse,1,,x\nb,1 1,,x\n", "row 2 (line 3): seed 1 is listed twice"),
    ("name,seeds,overrides,description\ncourse,1,,x\nb,,,x\n", "no seeds"),
    ("name,seeds,overrides,description\ncourse,1,,x\nb,1,colour=red,x\n", "unknown override 'colour'"),
    ("name,seeds,overrides,description\ncourse,1,,x\nb,1,init_std=-1,x\n", "init_std=-1 is out of range"),
    ("name,seeds,overrides,description\ncourse,1,,x\nb,1,split=two,x\n", "split='two' is not allowed"),
    ("name,seeds,overrides,description\ncourse,1,,x\nB c,1,,x\n", "must be lower-case"),
    ("name,seeds,overrides,description\ncourse,1,,x\ncourse,2,,y\n", "repeats the variant 'course'"),
])
def test_bad_variant_rows_are_refused_with_the_row_number(text, message):
    with pytest.raises(ParameterError) as info:
        parse_variants(text)
    assert message in str(info.value)


def test_a_batch_larger_than_a_variants_training_set_is_refused_before_any_run():
    settings = parse_settings("lam,eta,n_batch,n_epochs\n0,0.1,20000,40\n")
    check_batch_sizes(settings, parse_variants(VARIANTS)[:2], n_val=5000)
    with pytest.raises(ParameterError, match="variant 'raw': n_batch=20000 is out of range; allowed: an integer from 1 to 10000"):
        check_batch_sizes(settings, parse_variants(VARIANTS), n_val=5000)
    small = parse_settings("lam,eta,n_batch,n_epochs\n0,0.1,151,40\n")
    with pytest.raises(ParameterError, match="variant 'course': n_batch=151 is out of range; allowed: an integer from 1 to 150"):
        check_batch_sizes(small, parse_variants(VARIANTS), n_val=50, n_images=200)


def test_the_deeper_search_screens_each_choice_alone_with_the_course_s_first_seeds():
    from helpers.settings import SCREEN_SEEDS, parse_variants, search_variants

    variants = parse_variants(
        "name,seeds,overrides,description\ncourse,1 2 5,,c\nstd-a,3 4,init_std=0.1,a\nstd-b,3 4,init_std=0.001,b\n"
        "raw,3 4,normalise=false,r\nsmall,3 4,split=one-batch,s\n")
    found = {v.name: v for v in search_variants(variants, fine_init_std=(0.001, 0.03), choices={})}
    # no pairs (the combine stage makes those); 0.001 is a variant already: only 0.03 is added
    assert list(found) == ["init-std-0.03"]
    assert found["init-std-0.03"].train == {"init_std": 0.03}
    assert SCREEN_SEEDS == 2 and found["init-std-0.03"].seeds == (1, 2)      # the course's first two


def test_the_deeper_search_tries_each_data_choice_alone_unless_a_variant_makes_it():
    from helpers.settings import SEARCH_CHOICES, parse_variants, search_variants

    variants = parse_variants("name,seeds,overrides,description\ncourse,1,,c\nfirst,3 4,val=first,f\n")
    found = {v.name: v for v in search_variants(variants, fine_init_std=())}
    assert [n for n in found] == [n for n in SEARCH_CHOICES if n != "val-first"]
    assert found["norm-channel"].data == {"norm": "channel"} and found["norm-channel"].train == {}
    assert found["b-zero"].train == {"b_init": "zero"} and found["b-zero"].data == {}
    assert found["stats-all"].seeds == (1,)          # the course's seeds (it has one)


def test_written_settings_and_variants_read_back_the_same():
    from helpers.settings import parse_settings, parse_variants, search_variants, settings_csv, variants_csv

    variants = parse_variants("name,seeds,overrides,description\ncourse,1,,\"the course, as given\"\n"
                              "raw,3,normalise=false,r\nsmall,3,split=one-batch,s\n")
    every = [variants[0], *search_variants(variants)]
    assert parse_variants(variants_csv(every)) == every
    settings = parse_settings("lam,eta,n_batch,n_epochs,init_std\n0,0.1,100,40,0.01\n0.1,0.001,50,3,0.3\n")
    assert parse_settings(settings_csv(settings)) == settings


def test_init_std_may_be_left_blank_in_a_row():
    rows = parse_settings("lam,eta,n_batch,n_epochs,init_std\n0,0.1,100,40,\n0,0.1,100,40,0.05\n")
    assert [r.init_std for r in rows] == [0.01, 0.05]
    assert rows[0].setting_id != rows[1].setting_id          # two settings, not one
    with pytest.raises(ParameterError, match="optional: init_std, b_init, smooth, variants, which a row may leave blank"):
        parse_settings("lam,eta,n_batch,n_epochs,std\n0,0.1,100,40,0.1\n")


def test_a_row_and_a_variant_that_train_the_same_runs_are_refused_naming_both():
    from helpers.settings import check_duplicate_runs

    settings = parse_settings("lam,eta,n_batch,n_epochs,init_std\n0,0.001,100,40,\n0,0.001,100,40,0.1\n")
    variants = parse_variants("name,seeds,overrides,description\ncourse,1 2 3,,c\nwide,2 3,init_std=0.1,w\n")
    with pytest.raises(ParameterError, match=r"settings row 1 \(λ = 0, η = 0.001\) in variant 'wide' is the run of "
                                             r"settings row 2 \(.*init_std = 0.1\) in variant 'course' .*seeds 2 3"):
        check_duplicate_runs(settings, variants)
    # other seeds: no run in common
    check_duplicate_runs(settings, parse_variants("name,seeds,overrides,description\ncourse,1,,c\nwide,2,init_std=0.1,w\n"))
    # two rows one variant trains alike (init_std 0.05 and the default, both set to 0.1 by the variant): one run, allowed
    alike = parse_settings("lam,eta,n_batch,n_epochs,init_std\n0,0.001,100,40,\n0,0.001,100,40,0.05\n")
    check_duplicate_runs(alike, variants)


VARIANTS_3 = "name,seeds,overrides,description\ncourse,1,,c\nwide,2,init_std=0.1,w\nraw,3,normalise=false,r\n"


def test_a_row_is_trained_in_the_course_and_the_variants_it_names_a_new_row_in_the_course_only():
    from helpers.settings import ALL, parse_trained_in, training_pairs

    text = "lam,eta,n_batch,n_epochs,variants\n0,0.1,100,40,all\n0.5,0.01,10,1,\n0.2,0.01,10,1,raw\n0.3,0.01,10,1,course raw\n"
    settings, variants, trained_in = parse_settings(text), parse_variants(VARIANTS_3), parse_trained_in(text)
    assert list(trained_in.values()) == [ALL, (), ("raw",), ("raw",)]
    pairs = [(v.name, s.lam) for v, s in training_pairs(settings, variants, trained_in)]
    assert pairs == [("course", 0.0), ("course", 0.5), ("course", 0.2), ("course", 0.3),   # variant by variant
                     ("wide", 0.0), ("raw", 0.0), ("raw", 0.2), ("raw", 0.3)]
    assert len(training_pairs(settings, variants)) == 12                  # no column read: every row in every one
    no_column = parse_settings("lam,eta,n_batch,n_epochs\n0,0.1,100,40\n")
    assert training_pairs(no_column, variants, parse_trained_in("lam,eta,n_batch,n_epochs\n0,0.1,100,40\n")) == [
        (variants[0], no_column[0])]


@pytest.mark.parametrize("cell, message", [
    ("all raw", "'all' or names of variants, not both"), ("raw raw", "names a variant twice"),
    ("<b>", "holds '<b>', which is no variant's name")])
def test_a_bad_variants_cell_is_refused_naming_the_row(cell, message):
    from helpers.settings import parse_trained_in

    with pytest.raises(ParameterError, match=f"s.csv row 1 \\(line 2\\): variants .*{message}"):
        parse_trained_in(f"lam,eta,n_batch,n_epochs,variants\n0,0.1,100,40,{cell}\n", source="s.csv")


def test_a_row_naming_a_variant_the_variants_file_lacks_is_refused_before_any_run():
    from helpers.settings import check_duplicate_runs, parse_trained_in

    text = "lam,eta,n_batch,n_epochs,variants\n0,0.1,100,40,\n0.5,0.01,10,1,wider\n"
    with pytest.raises(ParameterError, match="settings row 2 .*: variants names 'wider', which is not a variant; "
                                             "the variants: course, wide, raw"):
        check_duplicate_runs(parse_settings(text), parse_variants(VARIANTS_3), parse_trained_in(text))


def test_a_batch_too_large_only_for_a_variant_the_row_is_not_trained_in_is_no_error():
    from helpers.settings import parse_trained_in

    variants = parse_variants("name,seeds,overrides,description\ncourse,1,,c\nsmall,2,split=one-batch,s\n")
    text = "lam,eta,n_batch,n_epochs,variants\n0,0.1,20000,40,\n"
    check_batch_sizes(parse_settings(text), variants, 5000, trained_in=parse_trained_in(text))   # the course only
    with pytest.raises(ParameterError, match="variant 'small': n_batch=20000"):
        check_batch_sizes(parse_settings(text), variants, 5000, trained_in=parse_trained_in(text.replace(",\n", ",all\n")))


def test_the_committed_settings_train_the_originals_four_in_every_variant():
    from helpers.settings import ALL, parse_trained_in

    assert set(parse_trained_in(committed_text("settings.csv")).values()) == {ALL}


def test_the_settings_file_is_parsed_once_for_its_settings_and_the_variants_they_are_trained_in(tmp_path, monkeypatch):
    from helpers import settings as settings_module

    path = tmp_path / "settings.csv"
    path.write_text("lam,eta,n_batch,n_epochs,variants\n0,0.1,100,40,all\n1,0.001,100,40,\n")
    parses = []
    real = settings_module._parse_setting_rows
    monkeypatch.setattr(settings_module, "_parse_setting_rows", lambda *a: parses.append(1) or real(*a))
    settings, trained_in = settings_module.read_setting_rows(path)
    assert len(parses) == 1
    assert [s.lam for s in settings] == [0, 1]
    assert trained_in == {settings[0].setting_id: settings_module.ALL, settings[1].setting_id: ()}
    assert (settings, trained_in) == (settings_module.parse_settings(path.read_text()),
                                      settings_module.parse_trained_in(path.read_text()))
