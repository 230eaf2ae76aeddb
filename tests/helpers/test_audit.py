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


def records_for(values, variant="course", W=None, metric="accuracy", histories=None):
    """Records whose test ``metric`` takes ``values[(lam, eta)]`` over seeds (others fixed)."""
    recs = []
    for (lam, eta), vals in values.items():
        for seed, v in enumerate(vals):
            params = validate_params(lam, eta, seed=seed)
            test = {"loss": 1.8, "cost": 1.9, "accuracy": 0.4}
            test[metric] = v
            h = histories[(lam, eta)] if histories else history(0.4)
            recs.append(audit.run_record(variant, params, {"test": test, "history": h, "diverged_at": None},
                                         W[(lam, eta)] if W else None))
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
    near = records_for({(0.0, 0.001): [0.318, 0.322, 0.320]}, "one-batch")
    ranking = audit.rank_variants(course + near)
    assert [v["variant"] for v in ranking] == ["one-batch", "course"]
    (e,) = [e for e in audit.best_explanations(course + near) if e["number"]["metric"] == "accuracy"]
    assert e["variant"] == "one-batch" and e["verdict"] == audit.REPRODUCED


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
    assert audit.claim_large_step(fails)["verdict"] != audit.HOLDS


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


def test_gradient_claim_names_the_method_of_the_originals_magnitude():
    rows = [{"lam": 0.0, "method": m, "param": p, "diff_mean": d, "diff_std": d, "diff_max": d, "grad_min": -1,
             "grad_max": 1, "grad_std": 0.4, "rel_max": 1e-7}
            for m, d in (("forward", 1e-7), ("centred", 4e-9)) for p in ("W", "b")]
    claim = audit.claim_gradients(rows)
    assert claim["verdict"] == audit.HOLDS and claim["measures"]["closest_method"] == "centred"
    assert "contradicts itself" in claim["evidence"]


def test_the_closest_subset_is_the_one_with_the_originals_numbers():
    def row(n, p, scale):
        stats = {k: original.value(t) * scale for k, t in original.GRADCHECK[p].items()}
        return {"n_images": n, "n_dims": 20, "param": p, "method": "centred", "lam": 0.0, **stats}

    rows = [row(n, p, scale) for n, scale in ((1, 10.0), (5, 1.01), (100, 0.1)) for p in ("W", "b")]
    best = audit.closest_subset(rows)
    assert (best["n_images"], best["n_dims"]) == (5, 20) and best["distance"] < 0.01
    assert audit.closest_subset([]) is None


def test_spread_of_one_value_has_no_std():
    assert audit.spread([0.3]) == {"mean": 0.3, "std": 0.0, "min": 0.3, "max": 0.3, "n": 1}
    assert math.isinf(audit.agreement("0.3", [float("nan")]))
