"""The textbook loop of helpers.reference: its formulas, checked against the model functions."""

import numpy as np
import pytest

from helpers import reference
from helpers.model import evaluate, init_parameters
from helpers.params import validate_params
from tests.conftest import synthetic_split


def test_textbook_evaluation_agrees_with_evaluate():
    tr = synthetic_split(300, 1, dim=40)
    rng = np.random.default_rng(2)
    W, b = rng.normal(0, 0.1, size=(10, 40)), rng.normal(0, 0.1, size=10)
    loss, cost = reference.ComputeCost(tr.X.T, tr.Y.T, W, b[:, None], 0.3)
    ref = evaluate(tr.X, tr.y, W, b, 0.3)
    assert loss == pytest.approx(ref["loss"], rel=1e-12)
    assert cost == pytest.approx(ref["cost"], rel=1e-12)
    assert reference.ComputeAccuracy(tr.X.T, tr.y, W, b[:, None]) == ref["accuracy"]


def test_textbook_gradients_are_the_numerical_ones():
    from helpers.gradcheck import numerical_gradients

    tr = synthetic_split(20, 3, dim=8)
    rng = np.random.default_rng(4)
    W, b = init_parameters(rng, 10, 8, 0.5)
    P = reference.EvaluateClassifier(tr.X.T, W, b[:, None])
    gW, gb = reference.ComputeGradients(tr.X.T, tr.Y.T, P, W, 0.2)
    nW, nb = numerical_gradients(tr.X, tr.y, W, b, 0.2, method="centred")
    assert np.abs(gW - nW).max() < 1e-7 and np.abs(gb[:, 0] - nb).max() < 1e-7


def test_textbook_train_learns_and_repeats():
    tr, va = synthetic_split(500, 1), synthetic_split(100, 2)
    params = validate_params(0.01, 0.05, 20, 5)
    W, b, h = reference.textbook_train(tr, va, params)
    W2, b2, h2 = reference.textbook_train(tr, va, params)
    assert h == h2 and np.array_equal(W, W2)
    assert h["val_accuracy"][-1] > 0.8 and len(h["train_cost"]) == 6
