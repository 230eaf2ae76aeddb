"""The audit's verdicts, agreement scores, claims and smoothness, on synthetic results with a known truth."""

import math

import numpy as np
import pytest

from helpers import audit, original
from helpers.params import validate_params


def history(acc, epochs=40, jitter=0.0, gap=0.0, seed=0):
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, jitter, epochs + 1) if jitter else np.zeros(epochs + 1)
    val_cost = list(np.linspace(2.3, 1.7, epochs + 1) + noise)
    val_acc = list(np.linspace(0.1, acc, epochs + 1))
    return {"train_loss": list(np.array(val_cost) - gap), "train_cost": list(np.array(val_cost) - gap),
            "train_accuracy": list(np.array(val_acc) + gap / 10), "val_loss": val_cost, "val_cost": val_cost,
            "val_accuracy": val_acc}


def records_for(values, variant="course", W=None, metric="accuracy", histories=None, overrides=None):
    """Records whose test ``metric`` takes ``values[(lam, eta)]`` over seeds (others fixed)."""
    recs = []
    for (lam, eta), vals in values.items():
        for seed, v in enumerate(vals):
            params = validate_params(lam, eta, seed=seed)
            test = {"loss": 1.8, "cost": 1.9, "accuracy": 0.4}
            test[metric] = v
            h = histories[(lam, eta)] if histories else history(0.4)
            recs.append(audit.run_record(variant, params, {"test": test, "history": h, "diverged_at": None},
                                         W[(lam, eta)] if W else None, overrides=overrides))
    return recs


def test_a_number_inside_the_spread_is_reproduced_and_one_outside_is_not():
    assert audit.verdict("0.41", [0.40, 0.41, 0.42]) == audit.REPRODUCED
    assert audit.verdict("0.32", [0.412, 0.413, 0.411]) == audit.NOT_REPRODUCED


def test_a_number_off_by_less_than_its_rounding_is_within_rounding():
    # one seed, no spread: 0.413 prints as 0.41
    assert audit.verdict("0.41", [0.4135]) == audit.ROUNDING
    assert audit.verdict("0.41", [0.4160]) == audit.NOT_REPRODUCED


def test_half_units_follow_the_printed_digits():
    assert original.half_unit("0.27") == pytest.approx(0.005)
    assert original.half_unit("-0.1") == pytest.approx(0.05)
    assert original.half_unit("5.12e-09") == pytest.approx(5e-12)


def test_the_variant_that_matches_the_original_ranks_first_and_explains_the_deviation():
    course = records_for({(0.0, 0.001): [0.412, 0.413, 0.411]}, "course")
    near = records_for({(0.0, 0.001): [0.318, 0.322, 0.320]}, "one-batch", overrides={"split": "one-batch"})
    ranking = audit.rank_variants(course + near)
    assert [v["variant"] for v in ranking] == ["one-batch", "course"]
    (n,) = [n for n in audit.table1_numbers_audit(course + near) if n["metric"] == "accuracy"]
    assert n["verdict"] == audit.EXPLAINED and n["explanation"]["changed"] == {"split": "one-batch"}


def test_the_chaotic_row_is_scored_apart():
    calm = records_for({(0.1, 0.001): [0.41, 0.41]})
    (v,) = audit.rank_variants(records_for({(0.0, 0.1): [0.9, 0.9]}) + calm)
    (only_calm,) = audit.rank_variants(calm)
    assert v["chaotic_score"] > 100 and v["score"] == only_calm["score"]


def test_the_smoothness_measure_ranks_a_smooth_image_above_a_noisy_one():
    yy, xx = np.mgrid[0:32, 0:32]
    smooth = np.sin(xx / 6.0)[..., None] * np.ones(3)
    noisy = np.random.default_rng(0).normal(size=(32, 32, 3))
    assert audit.roughness(smooth) < 0.05 < 0.8 < audit.roughness(noisy)


def planar(images):
    return np.stack([im.transpose(2, 0, 1).reshape(-1) for im in images])


def test_the_smooth_weights_claim_holds_and_fails_as_built():
    rng = np.random.default_rng(1)
    xx = np.mgrid[0:32, 0:32][1]
    smooth = planar([np.sin(xx / (4.0 + k))[..., None] * np.ones(3) + rng.normal(0, 0.01, (32, 32, 3)) for k in range(10)])
    noisy = planar([rng.normal(size=(32, 32, 3)) for _ in range(10)])
    keys = {(0.0, 0.001): [0.4] * 2, (1.0, 0.001): [0.37] * 2}
    holds = records_for(keys, W={(0.0, 0.001): noisy, (1.0, 0.001): smooth})
    fails = records_for(keys, W={(0.0, 0.001): smooth, (1.0, 0.001): noisy})
    assert audit.claim_smooth_weights(holds)["verdict"] == audit.HOLDS
    assert audit.claim_smooth_weights(fails)["verdict"] == audit.FAILS


def test_the_large_step_claim_holds_for_a_jumpy_history_and_fails_for_a_smooth_one():
    slow = history(0.40)
    jumpy = history(0.32, jitter=0.5)
    jumpy["val_accuracy"][1:] = [0.32] * 40
    smooth = history(0.40)
    keys = {(0.0, 0.1): [0.3] * 2, (0.0, 0.001): [0.4] * 2}
    holds = records_for(keys, histories={(0.0, 0.1): jumpy, (0.0, 0.001): slow})
    fails = records_for(keys, histories={(0.0, 0.1): smooth, (0.0, 0.001): slow})
    assert audit.claim_large_step(holds)["verdict"] == audit.HOLDS
    # a smooth η = 0.1 history: poor after epoch 1 (0.11 against 0.40) and as steady as η = 0.001
    assert audit.claim_large_step(fails)["verdict"] == audit.FAILS


def test_the_gap_claim_follows_the_gaps():
    keys = {(0.0, 0.001): [0.4] * 2, (0.1, 0.001): [0.41] * 2, (1.0, 0.001): [0.37] * 2}
    shrinking = {(0.0, 0.001): history(0.4, gap=0.6), (0.1, 0.001): history(0.4, gap=0.3), (1.0, 0.001): history(0.4, gap=0.05)}
    growing = {(0.0, 0.001): history(0.4, gap=0.0), (0.1, 0.001): history(0.4, gap=0.1), (1.0, 0.001): history(0.4, gap=0.2)}
    assert audit.claim_lambda_gap(records_for(keys, histories=shrinking))["verdict"] == audit.HOLDS
    assert audit.claim_lambda_gap(records_for(keys, histories=growing))["verdict"] == audit.FAILS


def test_the_lambda_one_claim():
    assert audit.claim_lambda_one(records_for({(1.0, 0.001): [0.37, 0.371], (0.1, 0.001): [0.41, 0.409]}))["verdict"] == audit.HOLDS
    assert audit.claim_lambda_one(records_for({(1.0, 0.001): [0.42, 0.421], (0.1, 0.001): [0.41, 0.409]}))["verdict"] == audit.FAILS


def test_a_missing_setting_is_reported_not_guessed():
    assert audit.claim_lambda_one(records_for({(0.1, 0.001): [0.41]}))["verdict"] == "not measured"


def test_the_original_contradicts_itself_on_gb():
    found = audit.self_contradictions()
    assert len(found) == 1 and found[0].startswith("gb")


def test_the_gradient_claim_holds_for_tiny_differences_and_fails_for_large_ones():
    def rows(d):
        return [{"lam": 0.0, "method": m, "param": p, "diff_mean": d, "diff_std": d, "diff_max": d, "grad_min": -1,
                 "grad_max": 1, "grad_std": 0.4, "rel_max": 1e-7} for m in ("forward", "centred") for p in ("W", "b")]
    claim = audit.claim_gradients(rows(4e-9))
    assert claim["verdict"] == audit.HOLDS and "contradicts itself" in claim["evidence"]
    assert audit.claim_gradients(rows(4e-6))["verdict"] == audit.FAILS


def test_spread_of_one_value_has_no_std():
    assert audit.spread([0.3]) == {"mean": 0.3, "std": 0.0, "min": 0.3, "max": 0.3, "n": 1}
    assert math.isinf(audit.agreement("0.3", [float("nan")]))


# --- the four verdicts and the explanation rule, at their boundaries ------------------------------

# Values whose mean (0.4375) and sample std (0.0625) are exact in binary: 2 spreads end at 0.5625.
EXACT = [0.375, 0.4375, 0.5]


def test_two_spreads_is_the_edge_of_reproduced():
    assert audit.verdict("0.5625", EXACT) == audit.REPRODUCED        # exactly 2 spreads
    assert audit.verdict("0.3125", EXACT) == audit.REPRODUCED        # exactly 2 spreads below
    assert audit.verdict("0.5627", EXACT) == audit.NOT_REPRODUCED    # 2.003 spreads, half unit 0.00005
    assert audit.verdict("0.5", EXACT) == audit.REPRODUCED


def test_rounding_adds_half_a_unit_to_two_spreads():
    # 0.6 is 2.6 spreads away (not reproduced), but within 2 spreads + 0.05 (its half unit)
    assert audit.verdict("0.6", EXACT) == audit.ROUNDING
    assert audit.verdict("0.7", EXACT) == audit.NOT_REPRODUCED       # 0.2625 > 0.125 + 0.05
    # one seed, no spread: the half unit alone, on both sides
    assert audit.verdict("0.41", [0.41499]) == audit.ROUNDING
    assert audit.verdict("0.41", [0.40501]) == audit.ROUNDING
    assert audit.verdict("0.41", [0.41501]) == audit.NOT_REPRODUCED
    assert audit.verdict("0.41", [0.40499]) == audit.NOT_REPRODUCED


def test_z_divides_by_the_larger_of_the_std_and_the_half_unit():
    assert audit.agreement("0.6", EXACT) == pytest.approx(0.1625 / 0.0625)   # std 0.0625 > half unit 0.05
    assert audit.agreement("0.6", [0.4375]) == pytest.approx(0.1625 / 0.05)  # no std: the half unit
    assert audit.agreement("0.60", EXACT) == pytest.approx(2.6)              # half unit 0.005 < std


def candidate(changed, values):
    return {"changed": changed, "values": values}


def test_a_match_that_changes_one_choice_beats_a_closer_one_that_changes_two():
    one = candidate({"init_std": 0.1}, [0.31, 0.33, 0.35])           # z = 0.5: matches
    two = candidate({"init_std": 0.1, "split": "one-batch"}, [0.32, 0.32, 0.32])  # z = 0: matches
    far = candidate({"normalise": False}, [0.2, 0.21, 0.22])
    n = audit.explain("0.32", [0.41, 0.42, 0.43], [two, far, one])
    assert n["verdict"] == audit.EXPLAINED
    assert n["explanation"]["changed"] == {"init_std": 0.1}
    assert (n["tried"], n["matching"], n["explanation"]["matching_alike"]) == (3, 2, 1)


def test_of_two_matches_with_as_many_changes_the_closer_explains():
    a = candidate({"init_std": 0.1}, [0.31, 0.33, 0.35])
    b = candidate({"init_std": 0.03}, [0.319, 0.32, 0.321])
    n = audit.explain("0.32", [0.41, 0.42, 0.43], [a, b])
    assert n["explanation"]["changed"] == {"init_std": 0.03} and n["explanation"]["matching_alike"] == 2


def test_a_number_nothing_produces_stays_unexplained_with_the_closest_named():
    a = candidate({"init_std": 0.1}, [0.30, 0.301, 0.302])
    b = candidate({"normalise": False}, [0.25, 0.251, 0.252])
    n = audit.explain("0.32", [0.41, 0.42, 0.43], [a, b])
    assert n["verdict"] == audit.UNEXPLAINED and n["explanation"] is None
    assert n["closest"]["changed"] == {"init_std": 0.1} and n["closest"]["z"] == pytest.approx(0.019 / 0.005)  # half unit 0.005 > std 0.001
    assert n["matching"] == 0


def test_the_course_setup_comes_first_even_when_a_variant_matches_better():
    n = audit.explain("0.42", [0.41, 0.42, 0.43], [candidate({"init_std": 0.1}, [0.42, 0.42, 0.42])])
    assert n["verdict"] == audit.REPRODUCED and n["explanation"] is None and n["matching"] == 1


def test_the_counts_follow_the_verdicts_and_set_contradictions_apart():
    numbers = [{"verdict": v, "contradicted": c} for v, c in
               ((audit.REPRODUCED, False), (audit.ROUNDING, False), (audit.EXPLAINED, False),
                (audit.UNEXPLAINED, True), (audit.UNEXPLAINED, False), (audit.EXPLAINED, True))]
    counts = audit.verdict_counts(numbers)
    assert counts == {audit.REPRODUCED: 1, audit.ROUNDING: 1, audit.EXPLAINED: 2, audit.UNEXPLAINED: 2,
                      "contradicted": 1, "total": 6}


def test_the_originals_gb_range_and_std_are_flagged_and_nothing_else():
    assert audit.contradicted_numbers() == {("b", "grad_min"), ("b", "grad_max"), ("b", "grad_std")}


def test_a_table1_number_from_a_planted_init_std_is_explained_by_it(monkeypatch):
    monkeypatch.setattr(original, "TABLE1", {(0.0, 0.001): ("1.80", "1.90", "0.35")})
    course = records_for({(0.0, 0.001): [0.41, 0.412, 0.414]})
    planted = records_for({(0.0, 0.001): [0.349, 0.35, 0.351]}, "init-std-0.03", overrides={"init_std": 0.03})
    pair = records_for({(0.0, 0.001): [0.35, 0.35, 0.35]}, "pair",
                       overrides={"init_std": 0.1, "normalise": False})
    decoy = records_for({(0.0, 0.001): [0.30, 0.30, 0.30]}, "init-std-0.1", overrides={"init_std": 0.1})
    rows = {r["metric"]: r for r in audit.table1_numbers_audit(course + planted + pair + decoy)}
    acc = rows["accuracy"]
    assert acc["verdict"] == audit.EXPLAINED and acc["explanation"]["changed"] == {"init_std": 0.03}
    assert (acc["tried"], acc["matching"]) == (3, 2)
    # loss and cost are 1.8 and 1.9 in every record (records_for): untouched, reproduced
    assert rows["loss"]["verdict"] == rows["cost"]["verdict"] == audit.REPRODUCED
    s = audit.sensitivity(acc)
    assert s["choice"] == "init_std" and [v for v, _ in s["levels"]] == [0.01, 0.03, 0.1]


def test_the_furthest_number_is_the_unexplained_one_furthest_from_everything():
    near = {"verdict": audit.UNEXPLAINED, "contradicted": False, "z": 9.0, "candidates": [{"z": 3.0}]}
    far = {"verdict": audit.UNEXPLAINED, "contradicted": False, "z": 5.0, "candidates": [{"z": 4.0}]}
    flagged = {"verdict": audit.UNEXPLAINED, "contradicted": True, "z": 50.0, "candidates": []}
    assert audit.furthest_number([near, far, flagged]) is far
    assert audit.furthest_number([flagged]) is flagged
    assert audit.furthest_number([{"verdict": audit.EXPLAINED, "contradicted": False}]) is None


def test_roughness_of_a_colour_image_reads_the_channel_planes():
    # each channel smooth on its own, but the channels differ: read without the planar layout, the
    # pixels interleave the three channels and look rough
    xx = np.mgrid[0:32, 0:32][1]
    image = np.stack([np.sin(xx / 5.0), np.cos(xx / 7.0) * 3, -np.sin(xx / 9.0) * 5], axis=2)
    W = planar([image])
    assert audit.weight_roughness(W) == pytest.approx(audit.roughness(image))
    assert audit.weight_roughness(W) < 0.05
    assert audit.roughness(W.reshape(1, 32, 32, 3)[0]) > 0.08  # the same numbers in the wrong layout


def test_the_small_step_claim_holds_when_eta_0_001_converges_higher_and_fails_otherwise():
    steady = history(0.40)                     # cost falls smoothly: relative change well below 0.5 %
    steady["val_cost"][-10:] = [1.7] * 10
    jumpy = history(0.40, jitter=0.3)          # the last epochs jump by far more than 0.5 %
    keys = {(0.0, 0.1): [0.30] * 2, (0.0, 0.001): [0.40] * 2}
    holds = audit.claim_small_step(records_for(keys, histories={(0.0, 0.1): jumpy, (0.0, 0.001): steady}))
    assert holds["verdict"] == audit.HOLDS
    lower = {(0.0, 0.1): [0.45] * 2, (0.0, 0.001): [0.40] * 2}      # converges, but ends lower than η = 0.1
    partly = audit.claim_small_step(records_for(lower, histories={(0.0, 0.1): jumpy, (0.0, 0.001): steady}))
    assert partly["verdict"] == audit.PARTLY
    fails = audit.claim_small_step(records_for(lower, histories={(0.0, 0.1): jumpy, (0.0, 0.001): jumpy}))
    assert fails["verdict"] == audit.FAILS
