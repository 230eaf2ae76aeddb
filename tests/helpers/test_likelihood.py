"""The audit's answer by likelihood: planted truths are named, noise does not win, stated facts bind."""

import math
from statistics import NormalDist

import numpy as np
import pytest

from helpers import gradcheck, likelihood as L, original


# --- one printed number ----------------------------------------------------------------------

def test_a_rounded_number_is_its_half_unit_either_side_and_a_cut_one_the_unit_toward_zero():
    assert L.printed_interval("0.27", L.ROUNDED) == pytest.approx((0.265, 0.275))
    assert L.printed_interval("0.27", L.CUT) == pytest.approx((0.27, 0.28))
    assert L.printed_interval("-0.1", L.CUT) == pytest.approx((-0.2, -0.1))
    assert L.printed_interval("5.12e-09", L.CUT) == pytest.approx((5.12e-9, 5.13e-9))
    with pytest.raises(ValueError, match="convention"):
        L.printed_interval("0.27", "floor")


def test_a_value_printed_like_the_original_keeps_its_last_digit_and_convention():
    assert L.printed_like(0.4167, "0.41", L.CUT) == "0.41"
    assert L.printed_like(0.4167, "0.41", L.ROUNDED) == "0.42"
    assert L.printed_like(-0.1789, "-0.1", L.CUT) == "-0.1"
    assert float(L.printed_like(5.1299e-9, "5.12e-09", L.CUT)) == pytest.approx(5.12e-9)
    assert float(L.printed_like(5.1299e-9, "5.12e-09", L.ROUNDED)) == pytest.approx(5.13e-9)


def test_the_mass_on_an_interval_is_the_normal_cdf_difference_and_stays_finite_far_out():
    d = NormalDist(1.0, 0.3)
    assert math.exp(L.log_mass(0.8, 1.5, 1.0, 0.3)) == pytest.approx(d.cdf(1.5) - d.cdf(0.8), rel=1e-12)
    assert math.exp(L.log_mass(-2.0, -1.0, 1.0, 0.3)) == pytest.approx(d.cdf(-1.0) - d.cdf(-2.0), rel=1e-9)
    far, farther = L.log_mass(20.0, 20.1, 1.0, 0.3), L.log_mass(40.0, 40.1, 1.0, 0.3)
    assert -math.inf < farther < far < -1000
    # the far tail agrees with the exact value where both can be computed (z = 29 and 31)
    exact = math.log(0.5 * math.erfc(29 / math.sqrt(2)) - 0.5 * math.erfc(29.5 / math.sqrt(2)))
    assert L.log_mass(29.0, 29.5, 0.0, 1.0) == pytest.approx(exact, rel=1e-9)
    assert L.log_mass(31.0, 31.5, 0.0, 1.0) < L.log_mass(29.0, 29.5, 0.0, 1.0)


def test_a_t_distributions_mass_has_heavier_tails_than_the_normals():
    from scipy import stats

    t = stats.t(2)
    assert math.exp(L.log_mass(0.8, 1.5, 1.0, 0.3, df=2)) == pytest.approx(
        t.cdf((1.5 - 1) / 0.3) - t.cdf((0.8 - 1) / 0.3), rel=1e-12)
    # 50 scales away: a normal's log-probability falls with the square of the distance, a t's with its log
    assert L.log_mass(16.0, 16.1, 1.0, 0.3, df=2) > L.log_mass(16.0, 16.1, 1.0, 0.3) + 1000
    assert -20 < L.log_mass(16.0, 16.1, 1.0, 0.3, df=2) < L.log_mass(2.0, 2.1, 1.0, 0.3, df=2)


def test_the_predictive_scale_widens_the_spread_by_the_uncertainty_of_the_mean():
    m, s, df = L.predictive([1.0, 2.0, 3.0])
    assert m == 2.0 and s == pytest.approx(1.0 * math.sqrt(1 + 1 / 3)) and df == 2
    m, s, df = L.predictive([1e-9, 1e-8], log=True)
    assert m == pytest.approx(math.log(1e-9 * 10 ** 0.5)) and s > 0 and df == 1
    assert math.isnan(L.predictive([1.0, math.nan])[0])
    assert L.predictive([2.0, 2.0])[1] > 0


def test_a_number_inside_the_printed_digits_within_two_scales_is_reproduced():
    assert L.reproduces("0.41", [0.400, 0.401, 0.402], L.ROUNDED) is False
    assert L.reproduces("0.41", [0.406, 0.407, 0.408], L.ROUNDED)
    assert L.reproduces("0.40", [0.406, 0.407, 0.408], L.CUT)   # cut: 0.40 means [0.40, 0.41)
    # the distance is to the nearer end of the interval: 0.4160 is 0.001 above 0.415, within 2σ (σ ≈ 0.0006)
    values = [0.4155, 0.4160, 0.4165]
    assert 0.0005 < 2 * L.predictive(values)[1] / 2 < 0.0007
    assert L.reproduces("0.41", values, L.ROUNDED) and not L.reproduces("0.40", values, L.ROUNDED)


# --- configurations --------------------------------------------------------------------------

def section(n=6):
    """A synthetic section of n numbers printed with two decimals."""
    return [{"id": i, "text": "0.00", "log": False, "name": f"n{i}"} for i in range(n)]


def config(name, changed, means, std, rng, seeds=(1, 2, 3, 4, 5), contradicts=()):
    values = {i: list(rng.normal(m, std, len(seeds))) for i, m in enumerate(means)}
    return {"name": name, "changed": changed, "values": values, "seeds": {i: list(seeds) for i in values},
            "contradicts": list(contradicts)}


def printed_section(values, convention):
    return [{"id": i, "text": L.printed_like(v, "0.00", convention), "log": False, "name": f"n{i}"}
            for i, v in enumerate(values)]


def planted_section(convention, seed=0):
    """Four configurations with narrow spreads; the original is one more run of ``planted``, printed."""
    rng = np.random.default_rng(seed)
    truth = [0.412, 1.837, 0.268, 2.021, 0.371, 1.913]
    configs = [config("course", {}, [t + 0.03 for t in truth], 0.002, rng),
               config("planted", {"init_std": 0.1, "normalise": False}, truth, 0.002, rng),
               config("one", {"init_std": 0.1}, [t + 0.01 for t in truth], 0.002, rng),
               config("wide", {"dtype": "float32"}, truth, 0.2, rng)]
    original_run = rng.normal(truth, 0.002)
    return printed_section(original_run, convention), configs


@pytest.mark.parametrize("convention", L.CONVENTIONS)
def test_a_planted_truth_of_two_choices_is_named_whole_with_its_convention(convention):
    numbers, configs = planted_section(convention)
    a = L.answer(numbers, configs, convention)
    assert a["named"]["name"] == "planted" and a["named"]["changed"] == {"init_std": 0.1, "normalise": False}
    assert a["ratio"] > 0 and a["course"]["name"] == "course"
    evidence = L.convention_evidence({"Table 1": (numbers, configs)})
    assert evidence["favoured"] == convention and evidence["evidence"] > 1


def test_a_configuration_with_a_wide_spread_never_beats_the_planted_one():
    for seed in range(20):
        numbers, configs = planted_section(L.ROUNDED, seed)
        ranking = L.rank(numbers, configs, L.ROUNDED)
        wide, planted = (next(s for s in ranking if s["name"] == n) for n in ("wide", "planted"))
        assert len(wide["reproduced"]) == len(numbers)   # "within 2 spreads" would call it a full match
        assert planted["score"] > wide["score"] + 5


def test_a_configuration_that_contradicts_a_stated_fact_is_never_named():
    numbers, configs = planted_section(L.ROUNDED)
    configs[1]["contradicts"] = ["split = one-batch, where the original states course"]
    a = L.answer(numbers, configs, L.ROUNDED)
    assert a["named"]["name"] != "planted"
    assert any(s["name"] == "planted" and s["contradicts"] for s in a["ranking"])


def test_stated_facts_make_the_forward_method_and_the_one_batch_split_contradictions():
    assert L.contradictions("1.1", {"method": "forward", "lam": 0.1}) == [
        "method = forward, where the original states centred"]
    assert L.contradictions("Table 1", {"split": "one-batch"})
    assert L.contradictions("Table 1", {"init_std": 0.1}) == []
    assert original.STATED["1.1"]["method"] == original.GRADCHECK_METHOD


def test_an_incomplete_configuration_is_scored_but_not_named():
    numbers, configs = planted_section(L.ROUNDED)
    del configs[1]["values"][0]
    a = L.answer(numbers, configs, L.ROUNDED)
    assert a["named"]["name"] != "planted" and a["eligible"] == 3


def test_each_changed_choice_costs_half_the_log_of_the_count_of_numbers():
    numbers, configs = planted_section(L.ROUNDED)
    s = L.score(numbers, configs[1], L.ROUNDED)
    assert s["penalty"] == pytest.approx(2 * math.log(6) / 2)
    assert s["score"] == pytest.approx(s["log_likelihood"] - s["penalty"])
    assert s["log_likelihood"] == pytest.approx(math.fsum(s["per_number"].values()))


# --- calibration -----------------------------------------------------------------------------

def test_the_calibration_counts_how_often_pure_seed_noise_is_explained():
    rng = np.random.default_rng(3)
    numbers = section()
    seeds = tuple(range(1, 21))
    course = config("course", {}, [0.4] * 6, 0.01, rng, seeds)
    same = config("same", {"init_std": 0.1}, [0.4] * 6, 0.01, rng, seeds)    # another draw of the same law
    far = config("far", {"normalise": False}, [0.5] * 6, 0.01, rng, seeds)
    cal = L.calibrate(numbers, [course, same, far], L.ROUNDED)
    assert cal["trials"] == 20 and set(cal["named"]) == set(seeds)
    assert cal["false"] == sum(v != {} for v in cal["named"].values())
    assert all(v in ({}, {"init_std": 0.1}) for v in cal["named"].values())   # never the far one
    lo, hi = cal["interval"]
    assert lo <= cal["rate"] <= hi
    # the penalty makes a configuration with the course's own law rarely win: well under half the time
    assert cal["rate"] < 0.5


def test_the_calibrations_rate_matches_the_rate_of_repeated_experiments_within_its_uncertainty():
    """The same search on fresh noise, many times: the observed share of false names lies inside the
    Wilson interval the calibration reports for one experiment of 20 trials, nearly always."""
    numbers = section()
    seeds = tuple(range(1, 21))
    rates = []
    for rep in range(30):
        rng = np.random.default_rng(100 + rep)
        configs = [config("course", {}, [0.4] * 6, 0.01, rng, seeds),
                   config("same", {"init_std": 0.1}, [0.4] * 6, 0.01, rng, seeds)]
        cal = L.calibrate(numbers, configs, L.ROUNDED)
        rates.append(cal["rate"])
    pooled = float(np.mean(rates))
    covered = 0
    for rate in rates:
        lo, hi = L.wilson(round(rate * 20), 20)
        covered += lo <= pooled <= hi
    assert covered >= 0.9 * len(rates)


def test_wilson_interval_of_a_proportion():
    lo, hi = L.wilson(0, 10)
    assert lo == 0 and hi == pytest.approx(0.2775, abs=1e-3)
    lo, hi = L.wilson(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-3) and hi == pytest.approx(0.7634, abs=1e-3)
    assert all(math.isnan(v) for v in L.wilson(0, 0))


# --- the gradient check's search, planted ----------------------------------------------------

SPACE = {"lam": (0.0, 1.0), "n_images": (2, 8), "n_dims": (10,), "h": (1e-4, 1e-5, 1e-6), "method": gradcheck.METHODS}
BASELINE = {"lam": 0.0, "n_images": 8, "n_dims": 10, "h": 1e-6, "method": "centred"}
PLANTED = {"lam": 1.0, "n_images": 2, "n_dims": 10, "h": 1e-4, "method": "centred"}


def gradcheck_original(X, y, planted, seed, convention):
    """The original's section 1.1 as one run of the project's own check under ``planted`` would print it."""
    rows = gradcheck.search_gradient_check(X, y, {k: (v,) for k, v in planted.items()}, (seed,))
    printed = {}
    for r in rows:
        for stat, text in original.GRADCHECK[r["param"]].items():
            printed[(r["param"], stat)] = L.printed_like(r[stat], text, convention)
    return [{**n, "text": printed[n["id"]]} for n in L.gradcheck_numbers()]


@pytest.fixture(scope="module")
def tiny_check():
    rng = np.random.default_rng(5)
    return rng.normal(size=(8, 10)), rng.integers(0, 10, 8)


def test_a_planted_gradient_check_of_three_choices_is_named_whole(tiny_check):
    X, y = tiny_check
    rows = gradcheck.search_gradient_check(X, y, SPACE, (1, 2, 3, 4, 5))
    numbers = gradcheck_original(X, y, PLANTED, 11, L.CUT)
    a = L.answer(numbers, L.gradcheck_configurations(rows, BASELINE), L.CUT)
    assert a["named"]["changed"] == {"lam": 1.0, "n_images": 2, "h": 1e-4}
    assert a["ratio"] > 0
    # the forward method, which the original's text rules out, is scored but never named
    assert all(s["changed"].get("method") != "forward" for s in a["ranking"][:a["eligible"]])


def test_a_planted_value_beyond_an_edge_makes_the_range_grow(tiny_check):
    """h = 1e-8, two decades below the range searched: |Δ| is the cost's rounding error there and grows as h
    shrinks, so the named h sits on the range's lower edge until the range reaches the planted value."""
    X, y = tiny_check
    numbers = gradcheck_original(X, y, {**BASELINE, "h": 1e-8}, 11, L.CUT)

    def name_best(rows):
        named = L.answer(numbers, L.gradcheck_configurations(rows, BASELINE), L.CUT)["named"]
        return [{**BASELINE, **named["changed"]}]

    rows, space, grown = gradcheck.search_until_inside(X, y, SPACE, (1, 2, 3, 4, 5), name_best)
    assert grown[:2] == [{"choice": "h", "value": 1e-7, "edge": 1e-6}, {"choice": "h", "value": 1e-8, "edge": 1e-7}]
    assert space["h"] == tuple(sorted(space["h"])) and 1e-8 in space["h"]
    best = name_best(rows)[0]
    assert best["h"] == 1e-8 and min(space["h"]) < best["h"]   # inside: the range grew one step beyond it


def test_edges_grow_only_where_plausible():
    space = {"h": (1e-6, 1e-5), "lam": (0.0, 1.0), "n_images": (1, 5), "n_dims": (20, 3072)}
    assert gradcheck.edge_extensions(space, {"h": 1e-5, "lam": 0.5, "n_images": 3, "n_dims": 3072}) == {"h": 1e-4}
    assert gradcheck.edge_extensions(space, {"h": 1e-6, "lam": 0.0, "n_images": 1, "n_dims": 20}) == {"h": 1e-7}
    assert gradcheck.edge_extensions(space, {"h": 3e-6, "lam": 1.0, "n_images": 5, "n_dims": 20}) == {
        "lam": 10.0, "n_images": 10}
    assert gradcheck.edge_extensions({"h": (1e-2, 1e-3)}, {"h": 1e-2}) == {}       # 1e-1 is implausible
    assert gradcheck.edge_extensions({"h": (1e-6,)}, {"h": 1e-6}) == {}            # one value: not a range


def test_the_calibration_leaves_the_pretend_originals_seed_out_of_every_configuration(monkeypatch):
    rng = np.random.default_rng(4)
    numbers = section(3)
    configs = [config("course", {}, [0.4] * 3, 0.01, rng), config("same", {"init_std": 0.1}, [0.4] * 3, 0.01, rng)]
    seen = []
    real = L.answer

    def spy(numbers_, configs_, convention):
        seen.append({c["name"]: {s for seeds in c["seeds"].values() for s in seeds} for c in configs_})
        return real(numbers_, configs_, convention)

    monkeypatch.setattr(L, "answer", spy)
    cal = L.calibrate(numbers, configs, L.ROUNDED)
    assert cal["trials"] == 5 and len(seen) == 5
    for seed, used in zip((1, 2, 3, 4, 5), seen):
        assert used == {"course": {1, 2, 3, 4, 5} - {seed}, "same": {1, 2, 3, 4, 5} - {seed}}


def test_a_numbers_verdict_comes_from_its_sections_answer():
    from helpers import audit

    numbers = [{"id": i, "text": t, "log": False, "name": f"n{i}"} for i, t in enumerate(["0.41", "0.41", "0.32", "0.50"])]
    course = {"changed": {}, "values": {0: [0.409, 0.410, 0.411], 1: [0.4165, 0.4166, 0.4167], 2: [0.41, 0.41, 0.41],
                                        3: [0.41, 0.41, 0.41]}}
    named = {"changed": {"init_std": 0.1}, "values": {0: [0.41] * 3, 1: [0.41] * 3, 2: [0.319, 0.32, 0.321],
                                                     3: [0.32] * 3}, "reproduced": [0, 1, 2]}
    a = {"course": course, "named": named}
    # 0.41 within 2σ of 0.410; 0.4166 ± tiny is outside 0.41 but inside its cut interval [0.41, 0.42)
    assert [L.verdict(n, a, L.CUT) for n in numbers] == [audit.REPRODUCED, audit.ROUNDING, audit.EXPLAINED,
                                                         audit.UNEXPLAINED]
    # rounded, [0.405, 0.415] misses the course's 0.4166: then the named configuration, which reproduces it
    assert L.verdict(numbers[1], a, L.ROUNDED) == audit.EXPLAINED
    assert L.verdict(numbers[1], {**a, "named": {**named, "reproduced": [0]}}, L.ROUNDED) == audit.UNEXPLAINED
    # the course setup named for the section explains nothing
    assert L.verdict(numbers[2], {"course": course, "named": {**course, "reproduced": [2]}}, L.CUT) == audit.UNEXPLAINED


def test_apply_answer_gives_every_audited_number_its_sections_verdict_and_keeps_the_diagnostic():
    from tests.helpers.test_report import planted_answer
    from helpers import audit

    ans, recs = planted_answer()
    rows = audit.table1_numbers_audit(recs)
    applied = L.apply_answer([{**r, "contradicted": False} for r in rows], ans)
    assert [r["diagnostic"] for r in applied] == [r["verdict"] for r in rows]
    accuracy = [r for r in applied if r["metric"] == "accuracy"]
    assert {r["verdict"] for r in accuracy} == {audit.EXPLAINED}
    assert all(r["named"]["changed"] == {"init_std": 0.1} and len(r["named"]["values"]) == 3 for r in applied)


def test_the_vectorised_scores_are_the_readable_ones(tiny_check):
    X, y = tiny_check
    rows = gradcheck.search_gradient_check(X, y, SPACE, (1, 2, 3))
    numbers = gradcheck_original(X, y, PLANTED, 11, L.ROUNDED)
    configs = L.gradcheck_configurations(rows, BASELINE)
    section_numbers, section_configs = planted_section(L.CUT)
    for nums, confs, convention in ((numbers, configs, L.ROUNDED), (section_numbers, section_configs, L.CUT)):
        fast = L.score_all(nums, confs, convention)
        for f, c in zip(fast, confs):
            slow = L.score(nums, c, convention)
            assert f["reproduced"] == slow["reproduced"] and f["penalty"] == slow["penalty"]
            assert f["log_likelihood"] == pytest.approx(slow["log_likelihood"], rel=1e-12, abs=1e-9)
            assert all(f["per_number"][k] == pytest.approx(v, rel=1e-12, abs=1e-12) for k, v in slow["per_number"].items())


def test_a_section_without_configurations_names_nothing_and_weighs_nothing():
    numbers, configs = planted_section(L.CUT)
    empty = L.answer(numbers, [], L.CUT)
    assert empty["named"] is None and empty["course"] is None and math.isnan(empty["ratio"]) and empty["tried"] == 0
    both = L.convention_evidence({"a": (numbers, configs), "b": (numbers, [])})
    assert both == L.convention_evidence({"a": (numbers, configs)})


def test_a_course_setup_that_did_not_run_the_whole_section_gives_no_calibration():
    numbers, configs = planted_section(L.ROUNDED)
    del configs[0]["values"][0], configs[0]["seeds"][0]
    cal = L.calibrate(numbers, configs, L.ROUNDED)
    assert cal["trials"] == 0 and math.isnan(cal["rate"])


# --- Table 1, planted with the project's own training ----------------------------------------

def planted_training(init_std, norm, seeds):
    """Table 1's four settings trained by the project's own code (3 epochs) on tiny synthetic pixels whose
    informative dimensions have a small spread, so that normalising per dimension or per channel matters."""
    from helpers.data import Split, column_stats, decode, pooled_stats
    from helpers.model import one_hot
    from helpers.params import validate_params
    from helpers.train import evaluate_seeds, train_seeds

    rng = np.random.default_rng(0)
    informative = np.zeros(3072, bool)
    informative[::8] = True
    noise = np.where(informative, 3.0, 70.0)
    centres = rng.normal(0, 3, (10, 3072))

    def pixels(n):
        y = rng.integers(0, 10, n)
        X = 128 + np.where(informative, centres[y], 0) + rng.normal(0, 1, (n, 3072)) * noise
        return np.clip(X, 0, 255).astype(np.uint8), y

    sets = [pixels(n) for n in (300, 100, 300)]
    mean, std = pooled_stats(*column_stats(decode(sets[0][0], np.float64)), norm)
    train, val, test = (Split(decode(X, np.float64, mean, std), y, one_hot(y)) for X, y in sets)
    out = {}
    for lam, eta in original.TABLE1:
        params = validate_params(lam, eta, n_batch=50, n_epochs=3, init_std=init_std)
        out[(lam, eta)] = evaluate_seeds(test, train_seeds(train, val, params, seeds), lam)
    return out


def training_configuration(name, changed, runs):
    values, seeds = {}, {}
    for (lam, eta), per_seed in runs.items():
        for metric in ("loss", "cost", "accuracy"):
            values[(lam, eta, metric)] = [m[metric] for m in per_seed.values()]
            seeds[(lam, eta, metric)] = list(per_seed)
    return {"name": name, "changed": changed, "values": values, "seeds": seeds, "contradicts": []}


def test_a_planted_training_of_two_choices_printed_cut_is_named_whole():
    seeds = (1, 2, 3, 4, 5)
    configs = [training_configuration(name, changed, planted_training(std, norm, seeds)) for name, changed, std, norm in (
        ("course", {}, 0.01, "dimension"), ("init-std-0.1", {"init_std": 0.1}, 0.1, "dimension"),
        ("norm-channel", {"norm": "channel"}, 0.01, "channel"),
        ("both", {"init_std": 0.1, "norm": "channel"}, 0.1, "channel"))]
    truth = planted_training(0.1, "channel", (99,))      # the "original": one more run, its own seed
    numbers = [{**n, "text": L.printed_like(truth[n["id"][:2]][99][n["id"][2]], n["text"], L.CUT)}
               for n in L.table1_numbers()]
    a = L.answer(numbers, configs, L.CUT)
    assert a["named"]["changed"] == {"init_std": 0.1, "norm": "channel"}
    assert a["ratio"] > 10 and len(a["named"]["reproduced"]) > len(a["course"]["reproduced"])


def staged_section(seed=0):
    """A planted truth of two choices whose effects add up: each alone moves the numbers half way."""
    rng = np.random.default_rng(seed)
    truth = np.array([0.412, 1.837, 0.268, 2.021, 0.371, 1.913])
    off = np.array([0.03, -0.04, 0.03, 0.05, -0.03, 0.04])
    screen = [config("course", {}, truth + off, 0.002, rng),
              config("std", {"init_std": 0.1}, truth + off / 2, 0.002, rng, seeds=(1, 2, 3)),
              config("std-far", {"init_std": 0.3}, truth + 2 * off, 0.002, rng, seeds=(1, 2, 3)),
              config("raw", {"normalise": False}, truth + off / 2, 0.002, rng, seeds=(1, 2, 3)),
              config("f32", {"dtype": "float32"}, truth + off, 0.002, rng, seeds=(1, 2, 3))]
    both = config("std__raw", {"init_std": 0.1, "normalise": False}, truth, 0.002, rng, seeds=(1, 2, 3))
    return printed_section(rng.normal(truth, 0.002), L.ROUNDED), screen, both


@pytest.mark.parametrize("seed", range(6))
def test_the_staged_search_screens_combines_and_confirms_a_planted_truth_of_two_choices(seed):
    numbers, screen, both = staged_section(seed)
    raising = L.raising_choices(numbers, screen, L.ROUNDED)
    # the two choices that move toward the truth raise the score most, each at its best value (0.1, not 0.3);
    # a choice without effect may pass the screen by luck of its draws, never ahead of them
    assert sorted(map(str, (s["changed"] for s in raising[:2]))) == ["{'init_std': 0.1}", "{'normalise': False}"]
    assert all(s["changed"] == {"dtype": "float32"} for s in raising[2:])
    assert L.combinations(raising)[0] == {"init_std": 0.1, "normalise": False}
    assert {"init_std": 0.1, "normalise": False} not in L.combinations(raising, tried=[{"normalise": False, "init_std": 0.1}])
    ranking = L.rank(numbers, screen + [both], L.ROUNDED)
    winner, missing = L.confirmation(ranking, (1, 2, 3, 4, 5))
    assert winner["changed"] == {"init_std": 0.1, "normalise": False} and missing == (4, 5)
    assert L.confirmation(L.rank(numbers, screen[:1], L.ROUNDED), (1, 2, 3, 4, 5)) is None   # the course wins


def test_the_screen_pools_the_spreads_so_a_lucky_wide_draw_does_not_pass_it():
    rng = np.random.default_rng(3)
    course = config("course", {}, [0.5] * 6, 0.002, rng, seeds=(1, 2, 3))
    same = config("same", {"dtype": "float32"}, [0.5] * 6, 0.002, rng, seeds=(1, 2, 3))
    same["values"] = {i: [0.5 - 0.02, 0.5, 0.5 + 0.02] for i in same["values"]}   # no effect, a wide draw
    numbers = printed_section([0.56] * 6, L.ROUNDED)                              # far from both
    assert L.rank(numbers, [course, same], L.ROUNDED)[0]["name"] == "same"         # own spreads: the wide one wins
    assert L.raising_choices(numbers, [course, same], L.ROUNDED) == []             # pooled: it does not pass


def test_combinations_pair_the_best_few_then_chain_them_greedily():
    raising = [{"changed": {k: 1}, "score": -i} for i, k in enumerate("abcde")]
    combos = L.combinations(raising, pairs_of=3)
    assert combos[:3] == [{"a": 1, "b": 1}, {"a": 1, "c": 1}, {"b": 1, "c": 1}]
    assert combos[3:] == [{"a": 1, "b": 1, "c": 1}, {"a": 1, "b": 1, "c": 1, "d": 1},
                          {"a": 1, "b": 1, "c": 1, "d": 1, "e": 1}]


def test_two_variants_of_the_same_choices_are_one_configuration_with_their_seeds_pooled():
    def record(variant, seed, overrides, acc):
        return {"variant": variant, "original_setting": True, "lam": 0.0, "eta": 0.1, "seed": seed,
                "overrides": overrides, "test": {"loss": 1.0, "cost": 1.0, "accuracy": acc}}
    records = [record("wide", s, {"init_std": 0.1}, 0.3) for s in (1, 2, 3)]
    records += [record("confirm-wide", s, {"init_std": 0.1}, 0.31) for s in (4, 5)]
    (c,) = L.table1_configurations(records)
    assert c["name"] == "wide" and c["seeds"][(0.0, 0.1, "accuracy")] == [1, 2, 3, 4, 5]


def scale_section(best, tried=(0.001, 0.03, 0.1, 0.3), seed=0):
    """Configurations of one continuous choice whose numbers move with log(init_std) away from ``best``."""
    rng = np.random.default_rng(seed)
    truth = np.array([0.41, 1.84, 0.27, 2.02, 0.37, 1.91])
    move = lambda v: truth + 0.02 * abs(math.log(v / best))   # noqa: E731
    configs = [config("course", {}, move(0.01), 0.002, rng)]
    configs += [config(f"s{v:g}", {"init_std": v}, move(v), 0.002, rng, seeds=(1, 2, 3)) for v in tried]
    return printed_section(truth, L.ROUNDED), configs


def test_a_continuous_choice_is_refined_between_the_best_and_its_neighbours():
    numbers, configs = scale_section(0.13)
    best, new = L.refinement(numbers, configs, L.ROUNDED, "init_std", 0.01)
    assert best == 0.1 and new == [0.055, 0.17]          # sqrt(0.1 * 0.03), sqrt(0.1 * 0.3)


def smoothing_section(best, tried=(0.1, 0.3), seed=0):
    """Configurations of label smoothing (the course's value 0) whose numbers move with log(smooth) away from
    ``best`` (> 0); the course setup is as far as the smallest value tried, and one step more."""
    rng = np.random.default_rng(seed)
    truth = np.array([0.41, 1.84, 0.27, 2.02, 0.37, 1.91])
    move = lambda v: truth + 0.02 * abs(math.log(v / best))   # noqa: E731
    configs = [config("course", {}, move(min(tried) / 10), 0.002, rng)]
    configs += [config(f"s{v:g}", {"smooth": v}, move(v), 0.002, rng, seeds=(1, 2, 3)) for v in tried]
    return printed_section(truth, L.ROUNDED), configs


def test_label_smoothing_is_refined_on_a_log_scale_of_its_positive_values_its_course_value_0_a_bound():
    numbers, configs = smoothing_section(0.5)                 # beyond the upper edge: one step at 0.3 / 0.1
    assert L.refinement(numbers, configs, L.ROUNDED, "smooth", 0.0) == (0.3, [0.9])
    numbers, configs = smoothing_section(0.17, tried=(0.1, 0.3))
    assert L.refinement(numbers, configs, L.ROUNDED, "smooth", 0.0) == (0.1, [0.033])   # the lower edge: outward,
    # at the ratio 0.3 / 0.1, not towards the course's 0 (no log of 0)
    numbers, configs = smoothing_section(0.15, tried=(0.05, 0.1, 0.3))
    assert L.refinement(numbers, configs, L.ROUNDED, "smooth", 0.0) == (0.1, [0.071, 0.17])
    numbers, configs = smoothing_section(0.1, tried=(0.1,))   # one positive value: a step both ways
    assert L.refinement(numbers, configs, L.ROUNDED, "smooth", 0.0) == (0.1, [0.3, 0.033])
    numbers, configs = smoothing_section(1e-6, tried=(0.1, 0.3))   # the course's 0 closest: on the choice's bound
    configs[0] = config("course", {}, [0.41, 1.84, 0.27, 2.02, 0.37, 1.91], 0.002, np.random.default_rng(1))
    assert L.refinement(numbers, configs, L.ROUNDED, "smooth", 0.0) == (0.0, [])


def test_the_range_report_says_whether_the_best_lies_inside_on_an_edge_or_at_the_bound():
    where = lambda best, tried, key="smooth", course=0.0: L.range_report(   # noqa: E731
        *(smoothing_section(best, tried) if key == "smooth" else scale_section(best, tried)),
        L.ROUNDED, key, course)
    r = where(0.15, (0.05, 0.1, 0.3))
    assert (r["where"], r["best"], r["low"], r["high"], r["next"]) == ("inside", 0.1, 0.05, 0.3, [0.071, 0.17])
    assert where(0.5, (0.1, 0.3))["where"] == "edge" and where(0.5, (0.1, 0.3))["next"] == [0.9]
    assert where(0.8, (0.001, 0.03, 0.1, 0.3, 0.9), "init_std", 0.01)["where"] == "bound"   # 2.7 is implausible
    r = where(0.13, (0.001, 0.03, 0.1, 0.3), "init_std", 0.01)
    assert r["where"] == "inside" and r["low"] == 0.001          # the course's 0.01 is one of the values
    numbers, configs = smoothing_section(0.1)
    assert L.range_report(numbers, configs[:1], L.ROUNDED, "smooth", 0.0) is None    # only the course: no range


def test_refine_rounds_move_an_edge_outward_until_the_best_lies_inside():
    """make search's refine rounds: each round's values trained (here: drawn) before the next is planned. Label
    smoothing planted at 0.04, searched at 0.1 and 0.3: the lower edge moves out (0.033, then 0.011) and the
    best, 0.033, then lies inside, where the third round refines between its neighbours."""
    truth = np.array([0.41, 1.84, 0.27, 2.02, 0.37, 1.91])
    move = lambda v: truth + 0.02 * abs(math.log(max(v, 1e-4) / 0.04))   # noqa: E731
    drawn = lambda name, changed, v: config(name, changed, move(v), 0.002,   # noqa: E731
                                            np.random.default_rng(int(v * 1e6)), seeds=(1, 2, 3))
    numbers = printed_section(truth, L.ROUNDED)
    configs = [drawn("course", {}, 0.0)] + [drawn(f"s{v:g}", {"smooth": v}, v) for v in (0.1, 0.3)]
    rounds = []
    for _ in range(3):
        best, new = L.refinement(numbers, configs, L.ROUNDED, "smooth", 0.0)
        rounds.append((best, new))
        configs += [drawn(f"s{v:g}", {"smooth": v}, v) for v in new]
    assert rounds == [(0.1, [0.033]), (0.033, [0.011]), (0.033, [0.019, 0.057])]
    r = L.range_report(numbers, configs, L.ROUNDED, "smooth", 0.0)
    assert (r["where"], r["best"], r["low"]) == ("inside", 0.033, 0.011)


def test_a_best_value_on_the_edge_extends_the_range_outward_until_implausible():
    numbers, configs = scale_section(0.8)
    best, new = L.refinement(numbers, configs, L.ROUNDED, "init_std", 0.01)
    assert best == 0.3 and new == [0.9]                   # one step further, at the ratio 0.3 / 0.1
    numbers, configs = scale_section(0.8, tried=(0.001, 0.03, 0.1, 0.3, 0.9))
    assert L.refinement(numbers, configs, L.ROUNDED, "init_std", 0.01) == (0.9, [])   # 2.7 is beyond the bound
    numbers, configs = scale_section(1e-5)
    best, new = L.refinement(numbers, configs, L.ROUNDED, "init_std", 0.01)
    assert best == 0.001 and new == [0.0001]              # the lower edge, at the ratio 0.01 / 0.001
