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
    near = records_for({(0.0, 0.001): [0.318, 0.322, 0.320]}, "raw", overrides={"normalise": False})
    ranking = audit.rank_variants(course + near)
    assert [v["variant"] for v in ranking] == ["raw", "course"]
    (n,) = [n for n in audit.table1_numbers_audit(course + near) if n["metric"] == "accuracy"]
    assert n["verdict"] == audit.EXPLAINED and n["explanation"]["changed"] == {"normalise": False}
    # the same match from the one-batch split, which contradicts the original's 45000/5000, explains nothing
    split = records_for({(0.0, 0.001): [0.318, 0.322, 0.320]}, "one-batch", overrides={"split": "one-batch"})
    (n,) = [n for n in audit.table1_numbers_audit(course + split) if n["metric"] == "accuracy"]
    assert n["verdict"] == audit.UNEXPLAINED and n["tried"] == 0


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


# --- pinning the formulas: hand-computed values, boundaries and both sides of them ------------------

def test_a_number_exactly_two_spreads_and_half_a_unit_away_is_within_rounding():
    # "2" has half unit 0.5 (exact in binary); one seed, no spread: |2 - 2.5| = 0.5 = 0 + 0.5
    assert audit.verdict("2", [2.5]) == audit.ROUNDING
    assert audit.verdict("2", [1.5]) == audit.ROUNDING
    assert audit.verdict("2", [2.5000001]) == audit.NOT_REPRODUCED


def test_a_table1_row_carries_the_printed_value_our_spread_and_the_verdict():
    # printed accuracy 0.32 at λ = 0, η = 0.001; ours 0.31, 0.32, 0.33: mean 0.32, std 0.01, z = 0
    (row,) = [r for r in audit.table1_audit(records_for({(0.0, 0.001): [0.31, 0.32, 0.33]}))
              if r["metric"] == "accuracy"]
    assert row["original"] == 0.32 and row["text"] == "0.32"
    assert row["spread"]["n"] == 3 and row["spread"]["mean"] == pytest.approx(0.32)
    assert row["spread"]["std"] == pytest.approx(0.01)
    assert row["verdict"] == audit.REPRODUCED and row["z"] == pytest.approx(0.0, abs=1e-9)


def test_a_variant_counts_the_numbers_it_reproduces():
    # loss 1.8 and cost 1.9 (records_for) are far from the printed 2.02; the accuracy 0.32 is reproduced
    (v,) = audit.rank_variants(records_for({(0.0, 0.001): [0.31, 0.32, 0.33]}))
    assert (v["reproduced"], v["n"], len(v["rows"])) == (1, 3, 3)


def test_a_variant_with_only_the_chaotic_row_ranks_last_with_an_infinite_score():
    chaotic = records_for({(0.0, 0.1): [0.27]}, "chaotic-only")
    calm = records_for({(0.0, 0.001): [0.32]}, "course")
    ranking = audit.rank_variants(chaotic + calm)
    assert [v["variant"] for v in ranking] == ["course", "chaotic-only"]
    # chaotic row: loss 1.8 and cost 1.9 against the printed 6.92 (half unit 0.005), accuracy 0.27 exact:
    # (5.12 / 0.005 + 5.02 / 0.005 + 0) / 3 = (1024 + 1004) / 3 = 676
    assert math.isinf(ranking[1]["score"]) and ranking[1]["chaotic_score"] == pytest.approx(676.0)


def test_an_explained_number_is_not_counted_as_contradicted():
    numbers = [{"verdict": audit.EXPLAINED, "contradicted": True}, {"verdict": audit.EXPLAINED, "contradicted": True},
               {"verdict": audit.UNEXPLAINED, "contradicted": True}]
    assert audit.verdict_counts(numbers)["contradicted"] == 1


@pytest.mark.parametrize("std, flagged", [("3", False), ("4", True)])
def test_a_printed_std_contradicts_the_range_only_beyond_half_of_it_after_rounding(monkeypatch, std, flagged):
    # range -2 … 2, each ± 0.5 (integers): bound (4 + 0.5 + 0.5) / 2 = 2.5; std "3" may be 2.5: not above
    monkeypatch.setattr(original, "GRADCHECK", {"W": {"grad_min": "-2", "grad_max": "2", "grad_std": std}})
    found = audit.self_contradictions()
    assert bool(found) == flagged
    if flagged:
        assert found == ["gW: the printed std 4 exceeds half the printed range (-2 … 2: at most 2.5 even after rounding)"]


def stripes(axis):
    """±1 stripes one pixel wide along ``axis`` (1: vertical stripes, 0: horizontal), 3 channels."""
    yy, xx = np.mgrid[0:32, 0:32]
    return np.repeat((1.0 - 2.0 * ((xx if axis == 1 else yy) % 2))[..., None], 3, axis=2)


CHECKER = stripes(1) * stripes(0)    # ±1 checkerboard: mean 0, variance 1
FLAT = np.full((32, 32, 3), 0.7)


@pytest.mark.parametrize("image, expected", [
    (CHECKER, 2.0),                                # every neighbour differs by 2: (4 + 4) / 2 / (2 * 1)
    (stripes(1), 1.0),                             # only horizontal neighbours differ: (4 + 0) / 2 / 2
    (stripes(0), 1.0),                             # only vertical neighbours differ: (0 + 4) / 2 / 2
    (FLAT, 0.0),                                   # no variance: perfectly smooth
    (((CHECKER + 1) * 127.5).astype(np.uint8), 2.0),  # 0/255 pixels: no wrap-around of uint8 differences
])
def test_roughness_of_known_images(image, expected):
    assert audit.roughness(image) == expected


def test_weight_roughness_reads_integer_weights_without_wrapping():
    W = planar([((CHECKER + 1) * 127.5).astype(np.uint8), np.zeros((32, 32, 3), np.uint8)])
    assert audit.weight_roughness(W) == 1.0        # mean of 2 (checkerboard) and 0 (flat)


@pytest.mark.parametrize("values, expected", [
    ([1.0, 3.0, 2.0, 2.0], 1.0),                   # |2| + |-1| + |0| over 3 steps
    ([1.0, 1.5], 0.5),
    ([1.7], 0.0),                                  # a single epoch has no change
    ([], 0.0),
])
def test_jitter_is_the_mean_absolute_step(values, expected):
    assert audit.jitter(values) == pytest.approx(expected)


def test_final_gaps_read_the_last_epoch():
    h = {"train_loss": [3.0, 2.0, 1.5], "val_loss": [3.0, 2.5, 2.0],
         "train_accuracy": [0.1, 0.5, 0.75], "val_accuracy": [0.1, 0.4, 0.5]}
    assert audit.final_gaps({"history": h}) == {"loss": 0.5, "accuracy": 0.25}   # 2.0 - 1.5, 0.75 - 0.5


def test_a_run_record_keeps_the_setting_the_seed_and_the_divergence():
    params = validate_params(0.1, 0.001, seed=3)
    doc = {"test": {"accuracy": 0.4}, "history": {}, "diverged_at": 12}
    r = audit.run_record("v", params, doc)
    assert (r["n_batch"], r["n_epochs"], r["seed"], r["diverged_at"]) == (100, 40, 3, 12)
    assert (r["label"], r["setting_id"], r["original_setting"]) == (params.label, params.setting_id, True)
    # a variant that sets init_std 0.1: the run's own init_std, the row's id, label and original setting
    row = validate_params(0.1, 0.001)
    run = audit.run_record("v", validate_params(0.1, 0.001, init_std=0.1, seed=3), doc, row=row)
    assert (run["init_std"], run["setting_id"], run["label"]) == (0.1, row.setting_id, row.label)
    assert run["original_setting"]
    # a row of its own init_std is not one of the original's settings, in any variant
    own = validate_params(0.1, 0.001, init_std=0.05)
    assert not audit.run_record("v", validate_params(0.1, 0.001, init_std=0.1), doc, row=own)["original_setting"]
    # which epoch trained it and where, as its results.json says (the report's appendix reads them)
    prov = {"git": {"commit": "abc", "dirty": False}}
    with_prov = audit.run_record("v", params, {**doc, "epoch": "numpy", "provenance": prov})
    assert (with_prov["epoch"], with_prov["provenance"]) == ("numpy", prov)
    assert (r["epoch"], r["provenance"]) == (None, {})                  # an older results.json: none recorded


# --- explain and the per-number audits ----------------------------------------------------------

def test_the_audit_of_a_number_carries_its_spreads_and_z():
    # ours EXACT: mean 0.4375, std 0.0625; "0.5" is 0.0625 away: z = 0.0625 / max(0.0625, 0.05) = 1
    n = audit.explain("0.5", EXACT, [candidate({"init_std": 0.1}, [0.5, 0.5])])
    assert (n["text"], n["original"]) == ("0.5", 0.5)
    assert (n["spread"]["mean"], n["spread"]["std"], n["z"]) == (0.4375, 0.0625, 1.0)
    assert n["verdict"] == audit.REPRODUCED and n["closest"] is None and n["explanation"] is None
    (c,) = n["candidates"]
    assert (c["spread"]["mean"], c["z"]) == (0.5, 0.0)


def test_an_explained_number_names_its_explanation_as_the_closest():
    n = audit.explain("0.32", [0.41], [candidate({"init_std": 0.1}, [0.32])])
    assert n["verdict"] == audit.EXPLAINED and n["closest"]["changed"] == {"init_std": 0.1}


def test_a_number_with_nothing_tried_is_unexplained_with_no_closest():
    n = audit.explain("0.32", [0.41], [])
    assert (n["verdict"], n["closest"], n["tried"]) == (audit.UNEXPLAINED, None, 0)


def test_a_table1_number_with_single_runs_knows_the_course_setup_and_its_name():
    course = records_for({(0.0, 0.001): [0.41]})
    other = records_for({(0.0, 0.001): [0.32]}, "init-std-0.1", overrides={"init_std": 0.1})
    (n,) = [n for n in audit.table1_numbers_audit(course + other) if n["metric"] == "accuracy"]
    assert n["verdict"] == audit.EXPLAINED and n["explanation"]["changed"] == {"init_std": 0.1}
    assert n["baseline_choice"] == {"init_std": 0.01, "b_init": "like-W", "smooth": 0.0, "split": "course",
                                    "normalise": True, "dtype": "float64",
                                    "norm": "dimension", "stats": "train", "val": "last"}
    assert (n["section"], n["lam"], n["eta"]) == ("Table 1", 0.0, 0.001)
    assert n["name"] == "Table 1, λ = 0, η = 0.001, accuracy"


TWO_SETTINGS = {(0.0, 0.001): ("1.80", "1.90", "0.32"), (0.1, 0.001): ("1.80", "1.90", "0.41")}


def test_the_settings_searched_deeper_are_those_with_an_unexplained_number(monkeypatch):
    monkeypatch.setattr(original, "TABLE1", TWO_SETTINGS)
    # accuracy 0.41 in both: 0.32 is unexplained at λ = 0, everything at λ = 0.1 is reproduced
    records = records_for({(0.0, 0.001): [0.41], (0.1, 0.001): [0.41]})
    assert audit.unexplained_settings(records) == [(0.0, 0.001)]


STATS = ("diff_mean", "diff_std", "diff_max", "grad_min", "grad_max", "grad_std")
COURSE_CHECK = {"lam": 0.0, "n_images": 1, "n_dims": 20, "h": 1e-6, "method": "centred"}


def check_rows(changed=None, params=("W", "b"), scale=1.0, seeds=2):
    """Search rows of one configuration: every statistic the printed one times ``scale`` (1: all match,
    3: none does)."""
    choice = {**COURSE_CHECK, **(changed or {})}
    return [{**choice, "seed": s, "param": p, **{k: original.value(original.GRADCHECK[p][k]) * scale for k in STATS}}
            for s in range(seeds) for p in params]


def test_the_gradient_check_audit_skips_a_parameter_the_course_setup_did_not_check():
    rows = audit.gradcheck_numbers_audit(check_rows(params=("b",)), COURSE_CHECK)
    assert [r["param"] for r in rows] == ["b"] * 6
    assert all(r["verdict"] == audit.REPRODUCED and r["baseline_choice"] == COURSE_CHECK for r in rows)
    by_stat = {r["stat"]: r for r in rows}
    assert by_stat["grad_min"]["name"] == "Section 1.1, gb, grad min" and by_stat["grad_min"]["section"] == "1.1"
    # gb's range and std contradict each other; its differences do not
    assert by_stat["grad_std"]["contradicted"] and not by_stat["diff_mean"]["contradicted"]


def test_every_number_comes_once_table1_first_with_only_the_gb_range_flagged(monkeypatch):
    monkeypatch.setattr(original, "TABLE1", {(0.0, 0.001): ("1.80", "1.90", "0.32")})
    numbers = audit.numbers_audit(records_for({(0.0, 0.001): [0.32]}), check_rows(), COURSE_CHECK)
    assert [n["section"] for n in numbers] == ["Table 1"] * 3 + ["1.1"] * 12
    flagged = {(n.get("param"), n.get("stat")) for n in numbers if n["contradicted"]}
    assert flagged == {("b", "grad_min"), ("b", "grad_max"), ("b", "grad_std")}


@pytest.mark.parametrize("configs, winner", [
    # (changed, scale) in search order; scale 1 matches all 12 numbers, 3 none
    ([({}, 3), ({"h": 1e-5, "method": "forward"}, 1), ({"h": 1e-5}, 1)], {"h": 1e-5}),  # fewer changes win a tie
    ([({}, 1), ({"h": 1e-5}, 1)], {}),                                                  # the course setup first
    ([({}, 3), ({"h": 1e-5}, 1), ({"method": "forward"}, 1)], {"h": 1e-5}),             # then the search order
])
def test_the_joint_configuration_matches_most_then_changes_least(configs, winner):
    rows = [r for changed, scale in configs for r in check_rows(changed, scale=scale)]
    assert audit.joint_configuration(rows, COURSE_CHECK) == {"changed": winner, "matched": 12, "of": 12}


# --- describe and sensitivity -----------------------------------------------------------------------

@pytest.mark.parametrize("changed, words", [
    ({"lam": 1.0, "n_images": 20}, "λ = 1, 20 images"),
    ({"n_dims": 10}, "10 dimensions"),
    ({"normalise": False}, "normalise = false"),
    ({"h": 1e-5, "method": "forward"}, "h = 1e-05, method = forward"),
    ({"init_std": 0.1, "split": "one-batch"}, "init_std = 0.1, split = one-batch"),
    ({"seed_count": 3}, "seed_count = 3"),          # an unnamed choice keeps its key
    ({}, "the course setup"),
])
def test_a_change_is_described_in_words(changed, words):
    assert audit.describe(changed) == words


def sensitive_number(baseline_values, baseline_choice, candidates):
    return {"values": baseline_values, "baseline_choice": baseline_choice,
            "candidates": [candidate(ch, vals) for ch, vals in candidates]}


def test_the_choice_that_moves_a_number_most_is_chosen():
    # from the course's 0.5: h moves it to 0.6 (0.1), λ to 0.1 (0.4), method to 0.55 (0.05); a double
    # change (to 5.0) does not count, as it changes two choices at once
    n = sensitive_number([0.5], {"h": 1e-6, "lam": 0.0, "method": "centred"},
                         [({"h": 1e-5}, [0.6]), ({"lam": 0.1}, [0.1]), ({"method": "forward"}, [0.55]),
                          ({"h": 1e-5, "lam": 0.1}, [5.0])])
    assert audit.sensitivity(n) == {"choice": "lam", "course": 0.0, "levels": [(0.0, [0.5]), (0.1, [0.1])]}


def test_a_choice_whose_runs_all_diverged_does_not_move_the_number():
    n = sensitive_number([math.nan], {"init_std": 0.01, "h": 1e-6},
                         [({"init_std": 0.1}, [math.nan]), ({"h": 1e-5}, [0.3]), ({"h": 1e-4}, [0.5])])
    assert audit.sensitivity(n)["choice"] == "h"


@pytest.mark.parametrize("choice, course, others, order", [
    ("init_std", 0.01, [0.1, 0.03], [0.01, 0.03, 0.1]),     # numbers: in order of value
    ("normalise", True, [False], [True, False]),             # yes/no: the course setup first
    ("method", "forward", ["centred"], ["forward", "centred"]),
])
def test_the_levels_of_a_choice_are_ordered_by_value_only_when_they_are_numbers(choice, course, others, order):
    n = sensitive_number([0.4], {choice: course}, [({choice: v}, [0.3 + 0.01 * i]) for i, v in enumerate(others)])
    s = audit.sensitivity(n)
    assert [v for v, _ in s["levels"]] == order and s["course"] == course


# --- the claims, at their thresholds ---------------------------------------------------------------

def run(lam, eta, history_=None, accuracy=0.4, variant="course", seed=0, W=None):
    params = validate_params(lam, eta, seed=seed)
    doc = {"test": {"loss": 1.8, "cost": 1.9, "accuracy": accuracy}, "history": history_ or history(0.4)}
    return audit.run_record(variant, params, doc, W)


def step_histories(first, final, best_slow, amplitude):
    """η = 0.1 and η = 0.001 histories (41 epochs) with exact binary numbers.

    η = 0.1: validation accuracy ``first`` after epoch 1 (0.125 after epoch 2) until the last, ``final``;
    its cost alternates by ``amplitude`` over the last 20 epochs, with no step into them.
    η = 0.001: final accuracy ``best_slow`` (0.75 the epoch before); its cost falls by 1/16 per epoch
    over the last 20, after a jump of 0.8125 into them.
    """
    fast_acc = [0.1, first, 0.125] + [first] * 37 + [final]
    fast_cost = [2.0 + amplitude] * 21 + [2.0 + amplitude * (i % 2) for i in range(21, 41)]
    slow_acc = [0.1] * 39 + [0.75, best_slow]
    slow_cost = [3.0] * 21 + [1.0 + 0.0625 * (40 - i) for i in range(21, 41)]
    return ({"val_accuracy": fast_acc, "val_cost": fast_cost}, {"val_accuracy": slow_acc, "val_cost": slow_cost})


@pytest.mark.parametrize("first, final, amplitude, expected", [
    # threshold of a good start: 0.75 * 0.5 = 0.375; jitter ratio amplitude / (1/16): 0.625 -> 10, 0.5 -> 8
    (0.375, 0.375, 0.625, audit.HOLDS),     # exactly at both thresholds
    (0.375, 0.375, 0.5, audit.PARTLY),      # good start, but the cost settles (ratio 8 < 10)
    (0.25, 0.25, 0.625, audit.PARTLY),      # no good start, but does not converge
    (0.25, 0.375, 0.625, audit.FAILS),      # no good start, and gains 0.125 > 0.02 after epoch 1
    (0.375, 0.5, 0.625, audit.PARTLY),      # good start, but gains 0.125
])
def test_the_large_step_claim_at_its_thresholds(first, final, amplitude, expected):
    fast, slow = step_histories(first, final, 0.5, amplitude)
    claim = audit.claim_large_step([run(0.0, 0.1, fast), run(0.0, 0.001, slow)])
    assert claim["verdict"] == expected


def test_the_large_step_claim_measures_epoch_one_the_last_epoch_and_the_last_20_epochs():
    fast, slow = step_histories(0.375, 0.25, 0.5, 0.625)
    claim = audit.claim_large_step([run(0.0, 0.1, fast), run(0.0, 0.001, slow)])
    m = claim["measures"]
    assert (m["first"]["mean"], m["final"]["mean"]) == (0.375, 0.25)
    assert m["jitter_ratio"] == 10.0                 # 0.625 / 0.0625 over exactly the last 20 epochs
    assert "best final of η = 0.001: 0.500" in claim["evidence"] and "(10 times larger)" in claim["evidence"]


def test_a_flat_small_step_cost_makes_the_jitter_ratio_infinite():
    fast, slow = step_histories(0.375, 0.375, 0.5, 0.625)
    slow["val_cost"] = [1.5] * 41
    claim = audit.claim_large_step([run(0.0, 0.1, fast), run(0.0, 0.001, slow)])
    assert claim["measures"]["jitter_ratio"] == math.inf and claim["verdict"] == audit.HOLDS


def small_step_history(amplitude):
    """Validation cost 3.125, then over the last 10 epochs alternating 1.5625 + amplitude and 1.5625
    (last): relative change amplitude / 1.5625 per epoch (2^-7 -> exactly 0.005, 2^-8 -> 0.0025)."""
    return {"val_cost": [3.125] * 31 + [1.5625 + amplitude * (i % 2) for i in range(31, 41)]}


@pytest.mark.parametrize("amplitude, acc_slow, acc_fast, expected", [
    (2 ** -8, 0.4, 0.3, audit.HOLDS),
    (2 ** -7, 0.4, 0.3, audit.PARTLY),     # relative change exactly 0.5 %: not below it
    (2 ** -8, 0.4, 0.4, audit.PARTLY),     # converges, but ends no higher than η = 0.1
    (2 ** -7, 0.3, 0.4, audit.FAILS),
])
def test_the_small_step_claim_at_its_thresholds(amplitude, acc_slow, acc_fast, expected):
    records = [run(0.0, 0.001, small_step_history(amplitude), acc_slow), run(0.0, 0.1, history(0.3), acc_fast)]
    assert audit.claim_small_step(records)["verdict"] == expected


def test_the_small_step_claim_skips_a_lambda_without_eta_0_001_and_reports_each_lambda():
    records = [run(0.0, 0.1, history(0.3), 0.3),
               run(0.1, 0.001, small_step_history(2 ** -7), 0.4), run(0.1, 0.1, history(0.3), 0.3),
               run(1.0, 0.001, small_step_history(2 ** -7), 0.4), run(1.0, 0.1, history(0.3), 0.3)]
    claim = audit.claim_small_step(records)
    assert claim["verdict"] == audit.PARTLY
    assert claim["evidence"].startswith("λ = 0.1: relative change of the validation cost per epoch 0.50 %; "
                                        "test accuracy 0.400 ± 0.000 against 0.300 ± 0.000 with η = 0.1; λ = 1:")


def gap_history(acc_gap, loss_gap):
    """Final train-minus-validation accuracy gap and validation-minus-train loss gap (exact binary)."""
    return {"train_loss": [2.0, 1.0], "val_loss": [2.0, 1.0 + loss_gap],
            "train_accuracy": [0.1, 0.5 + acc_gap], "val_accuracy": [0.1, 0.5]}


@pytest.mark.parametrize("gaps, considerable, expected", [
    ({0.0: (0.25, 0.5), 1.0: (0.125, 0.25)}, 0.25, audit.HOLDS),      # accuracy gap exactly considerable
    ({0.0: (0.25, 0.5), 1.0: (0.125, 0.25)}, 0.5, audit.PARTLY),      # shrinks, but 0.25 is not considerable
    ({0.0: (0.25, 0.5), 1.0: (0.25, 0.5)}, 0.25, audit.PARTLY),       # equal gaps do not shrink
    ({0.0: (0.25, 0.5), 0.1: (0.0625, 0.125), 1.0: (0.125, 0.25)}, 0.25, audit.PARTLY),  # grows 0.1 -> 1
    ({0.0: (0.125, 0.25), 1.0: (0.25, 0.5)}, 0.25, audit.FAILS),
])
def test_the_gap_claim_at_its_thresholds(gaps, considerable, expected):
    records = [run(lam, 0.001, gap_history(*g)) for lam, g in gaps.items()]
    # other variants and the η = 0.1 setting do not count
    records += [run(0.1, 0.1, gap_history(0.5, 1.0)), run(0.5, 0.001, gap_history(0.5, 1.0), variant="other")]
    assert audit.claim_lambda_gap(records, considerable=considerable)["verdict"] == expected


def test_the_gap_claim_reports_the_gaps():
    claim = audit.claim_lambda_gap([run(0.0, 0.001, gap_history(0.25, 0.5)), run(1.0, 0.001, gap_history(0.125, 0.25))])
    assert claim["measures"]["gaps"][0.0]["accuracy"]["mean"] == 0.25
    assert claim["evidence"] == ("λ = 0: accuracy gap 0.250 ± 0.000, loss gap 0.500 ± 0.000; "
                                 "λ = 1: accuracy gap 0.125 ± 0.000, loss gap 0.250 ± 0.000")


@pytest.mark.parametrize("one, tenth, expected", [
    ([0.37], [0.41], audit.HOLDS),
    ([0.36, 0.40], [0.37, 0.41], audit.PARTLY),   # 0.01 lower, within the stds 0.028 + 0.028
    ([0.40], [0.40], audit.FAILS),                # not lower
])
def test_the_lambda_one_claim_at_its_thresholds(one, tenth, expected):
    records = records_for({(1.0, 0.001): one, (0.1, 0.001): tenth})
    assert audit.claim_lambda_one(records)["verdict"] == expected


def test_the_lambda_one_claim_reports_the_difference():
    claim = audit.claim_lambda_one(records_for({(1.0, 0.001): [0.37], (0.1, 0.001): [0.41]}))
    assert "(difference +0.040)" in claim["evidence"]


def weight_runs(images, variant="course", eta=0.001):
    """Runs whose W is one image per seed: ``images`` is λ -> [image per seed]."""
    return [run(lam, eta, variant=variant, seed=s, W=planar([im])) for lam, ims in images.items()
            for s, im in enumerate(ims)]


@pytest.mark.parametrize("images, expected", [
    ({0.0: [CHECKER], 1.0: [stripes(1)]}, audit.HOLDS),                        # 2 -> 1
    ({0.0: [CHECKER, stripes(1)], 1.0: [stripes(1), FLAT]}, audit.PARTLY),     # 1.5 -> 0.5, stds 0.71 each
    ({0.0: [stripes(1)], 1.0: [stripes(0)]}, audit.FAILS),                     # 1 -> 1
    ({0.0: [CHECKER], 0.1: [FLAT], 1.0: [stripes(1)]}, audit.PARTLY),          # 2 -> 0 -> 1: falls overall
    ({0.0: [stripes(1)], 0.1: [FLAT], 1.0: [CHECKER]}, audit.FAILS),           # 1 -> 0 -> 2: rises overall
    ({0.0: [stripes(1)], 0.1: [FLAT], 1.0: [stripes(0)]}, audit.FAILS),        # 1 -> 0 -> 1: no fall overall
])
def test_the_smooth_weights_claim_at_its_thresholds(images, expected):
    noise = weight_runs({0.5: [FLAT]}, variant="other") + weight_runs({0.5: [FLAT]}, eta=0.1)
    assert audit.claim_smooth_weights(weight_runs(images) + noise)["verdict"] == expected


def test_the_smooth_weights_claim_reports_the_roughness():
    claim = audit.claim_smooth_weights(weight_runs({0.0: [CHECKER], 1.0: [stripes(1)]}))
    assert claim["measures"]["roughness"][0.0]["mean"] == 2.0
    assert claim["evidence"] == "roughness of the images of W: λ = 0: 2.000 ± 0.000; λ = 1: 1.000 ± 0.000"


def gradient_rows(diff_mean, grad_std):
    return [{"lam": 0.0, "method": "centred", "param": "W", "diff_mean": diff_mean, "grad_std": grad_std}]


@pytest.mark.parametrize("diff_mean, grad_std, expected", [
    (9e-7, 1.0, audit.HOLDS),
    (1e-6, 1.0, audit.FAILS),        # exactly 1e-6: not below
    (2e-7, 0.1, audit.FAILS),        # 2e-7 / 0.1 = 2e-6
])
def test_the_gradient_claim_at_its_threshold(diff_mean, grad_std, expected):
    # a parameter whose gradient is all zero (std 0) has no ratio and is left out
    rows = gradient_rows(diff_mean, grad_std) + gradient_rows(1.0, 0.0)
    assert audit.claim_gradients(rows)["verdict"] == expected


def test_the_gradient_claim_reports_the_originals_ratios_the_joint_match_and_the_contradiction():
    rows = check_rows(scale=3) + check_rows({"h": 1e-5})
    claim = audit.claim_gradients(gradient_rows(4e-9, 0.4), rows, COURSE_CHECK)
    # the original's ratios: 5.12e-09 / 0.42 = 1.2e-08 and 1.60e-09 / 0.12 = 1.3e-08
    assert claim["evidence"].startswith("largest mean |Δ| / std of the gradient in our check: 1e-08 "
                                        "(the original's: gW 1.2e-08, gb 1.3e-08); ")
    assert ("of the searched configurations, h = 1e-05 matches the most of its section 1.1 numbers at once: "
            "12 of 12; the original contradicts itself: gb: the printed std 0.12") in claim["evidence"]
    assert claim["measures"]["joint"] == {"changed": {"h": 1e-5}, "matched": 12, "of": 12}


MISSING = [
    (audit.claim_large_step, lambda: [run(0.0, 0.001)], "eta-0.1", "an η = 0.1 and an η = 0.001 setting"),
    (audit.claim_large_step, lambda: [run(0.0, 0.1)], "eta-0.1", "an η = 0.1 and an η = 0.001 setting"),
    (audit.claim_small_step, lambda: [run(0.0, 0.001)], "eta-0.001", "η = 0.001 and η = 0.1 settings at the same λ"),
    (audit.claim_lambda_gap, lambda: [run(0.1, 0.001), run(1.0, 0.001)], "lambda-gap", "λ = 0 and larger λ with η = 0.001"),
    (audit.claim_lambda_gap, lambda: [run(0.0, 0.001)], "lambda-gap", "λ = 0 and larger λ with η = 0.001"),
    (audit.claim_lambda_one, lambda: [run(0.1, 0.001)], "lambda-1", "λ = 1 and λ = 0.1 with η = 0.001"),
    (audit.claim_smooth_weights, lambda: weight_runs({0.0: [FLAT]}), "smooth-W", "weights of at least two λ with η = 0.001"),
]


@pytest.mark.parametrize("claim_of, records, cid, needs", MISSING)
def test_a_claim_without_its_settings_says_what_it_needs(claim_of, records, cid, needs):
    claim = claim_of(records())
    assert (claim["id"], claim["verdict"], claim["measures"]) == (cid, "not measured", {})
    assert claim["evidence"] == f"needs {needs}, which the settings do not include"


def test_every_claim_is_measured_for_the_variant_asked_for():
    keys = {(0.0, 0.1): [0.3], (0.0, 0.001): [0.4], (0.1, 0.001): [0.41], (1.0, 0.001): [0.37]}
    W = {k: planar([CHECKER if k[0] == 0 else FLAT]) for k in keys}
    records = records_for(keys, "init-std-0.1", W=W)
    claims = audit.check_claims(records, gradient_rows(4e-9, 0.4), check_rows(), COURSE_CHECK, variant="init-std-0.1")
    assert [c["id"] for c in claims] == list(original.CLAIMS)
    assert all(c["verdict"] != "not measured" for c in claims)
    assert [(c["where"], c["claim"]) for c in claims] == list(original.CLAIMS.values())
    assert claims[-1]["measures"]["joint"] == {"changed": {}, "matched": 12, "of": 12}


def test_the_gradient_claim_without_the_course_check_names_no_joint_configuration():
    claim = audit.claim_gradients(gradient_rows(4e-9, 0.4), check_rows(), None)
    assert claim["verdict"] == audit.HOLDS and claim["measures"]["joint"] is None


def test_the_formulas_the_report_prints_name_every_verdict_and_measure():
    for verdict in audit.VERDICTS:
        assert f"*{verdict}*" in audit.FORMULAS
    for formula in ("|o - m| <= 2 s", "|o - m| <= 2 s + u", "r = |o - m| / (2 s + u)", "z = |o - m| / max(s, u)"):
        assert formula in audit.FORMULAS
    assert "FORMULAS" in audit.__doc__
