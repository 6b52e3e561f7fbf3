"""Calibration measures and temperature scaling (engine/evaluate/calibration.py)."""

from __future__ import annotations

import numpy as np
import pytest

from clinitui.engine.evaluate import calibration as cal


def _overconfident(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    logits = rng.normal(0, 1, (n, 3)) + 1.2 * np.eye(3)[y]
    probs = np.exp(4 * logits)  # logits × 4: far too sure of itself
    return y, probs / probs.sum(axis=1, keepdims=True)


def test_temperature_lowers_validation_nll_and_never_changes_the_predicted_class():
    y, probs = _overconfident(600)
    t = cal.fit_temperature(y, probs)
    assert t > 1.5  # it softens an overconfident model
    scaled = cal.apply_temperature(probs, t)
    assert cal.nll(y, scaled) < cal.nll(y, probs)
    assert (scaled.argmax(axis=1) == probs.argmax(axis=1)).all()
    assert np.allclose(scaled.sum(axis=1), 1)
    y2, probs2 = _overconfident(600, seed=1)  # and it carries to fresh data from the same model
    assert cal.nll(y2, cal.apply_temperature(probs2, t)) < cal.nll(y2, probs2)


def test_temperature_is_one_when_nothing_can_be_learnt():
    probs = np.array([[0.9, 0.1], [0.2, 0.8]])
    assert cal.fit_temperature(np.array([0, 1]), probs) == 1.0  # separable: a fit would only sharpen
    assert cal.fit_temperature(np.array([0, 0]), probs) == 1.0
    assert cal.apply_temperature(probs, None) is not None and np.allclose(cal.apply_temperature(probs, 1.0), probs)


def test_brier_ece_and_reliability_by_hand():
    y = np.array([1, 0, 1, 0])
    probs = np.array([[0.2, 0.8], [0.7, 0.3], [0.4, 0.6], [0.9, 0.1]])
    assert cal.brier(y, probs, 1) == pytest.approx((0.04 + 0.09 + 0.16 + 0.01) / 4)
    # bins: 0.1 (y 0), 0.3 (y 0), 0.6 (y 1), 0.8 (y 1): |0-.1|+|0-.3|+|1-.6|+|1-.8| over 4
    assert cal.ece(y, probs, 1) == pytest.approx((0.1 + 0.3 + 0.4 + 0.2) / 4)
    assert [b["n"] for b in cal.reliability(y, probs, 1)] == [1, 1, 1, 1]


def test_slope_and_intercept_near_ideal_for_a_calibrated_model():
    rng = np.random.default_rng(5)
    p = rng.uniform(0.02, 0.98, 20000)
    y = (rng.random(20000) < p).astype(int)
    slope, intercept = cal.slope_intercept(y, np.column_stack([1 - p, p]), 1)
    assert slope == pytest.approx(1, abs=0.08) and intercept == pytest.approx(0, abs=0.08)
    report = cal.calibration_report(y, np.column_stack([1 - p, p]), 1.0, 1)
    assert {"brier", "ece", "slope", "intercept", "temperature", "before", "after"} <= set(report)


def test_slope_and_intercept_match_statsmodels_logit():
    import statsmodels.api as sm

    rng = np.random.default_rng(9)
    p = rng.uniform(0.3, 0.45, 500)  # a timid model: its probabilities barely spread
    y = (rng.random(500) < 1 / (1 + np.exp(-(0.5 + 6 * np.log(p / (1 - p)))))).astype(int)
    ref = sm.Logit(y, sm.add_constant(np.log(p / (1 - p)))).fit(disp=0).params
    slope, intercept = cal.slope_intercept(y, np.column_stack([1 - p, p]), 1)
    assert slope == pytest.approx(ref[1], rel=1e-6) and intercept == pytest.approx(ref[0], rel=1e-6)
