"""The locked operating point (engine/evaluate/operating_point.py)."""

from __future__ import annotations

import numpy as np
import pytest

from clinitui.engine.evaluate import operating_point as op
from clinitui.errors import ConfigError


def _val(n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 3 == 0).astype(int)  # prevalence 1/3
    p = np.clip(0.35 + 0.3 * y + rng.normal(0, 0.18, n), 0, 1)
    return y, p


@pytest.mark.parametrize("target", [0.8, 0.9, 0.95])
def test_sensitivity_rule_reaches_its_target_on_validation(target):
    y, p = _val()
    t = op.choose_threshold(y, p, 1, f"sensitivity:{target}")
    res = op.at_threshold(y, p, 1, t, f"sensitivity:{target}")
    assert res["sensitivity"] >= target and res["target"]["met"]
    # and it is the highest such threshold: a little higher loses the target
    above = np.unique(p[p > t])
    if above.size:
        assert op.at_threshold(y, p, 1, above[0] + 1e-9, "f1")["sensitivity"] < target


def test_specificity_youden_f1_and_fixed_rules():
    y, p = _val()
    t = op.choose_threshold(y, p, 1, "specificity:0.9")
    assert op.at_threshold(y, p, 1, t, "specificity:0.9")["specificity"] >= 0.9
    assert op.choose_threshold(y, p, 1, "0.3") == 0.3
    f1_t, youden_t = op.choose_threshold(y, p, 1, "f1"), op.choose_threshold(y, p, 1, "youden")
    grid = np.linspace(0.01, 0.99, 197)
    best_f1 = max(2 * r["tp"] / max(1, 2 * r["tp"] + r["fp"] + r["fn"])
                  for r in (op.at_threshold(y, p, 1, g, "f1") for g in grid))
    r = op.at_threshold(y, p, 1, f1_t, "f1")
    assert 2 * r["tp"] / (2 * r["tp"] + r["fp"] + r["fn"]) >= best_f1 - 1e-12
    assert 0 < youden_t < 1


def test_report_at_threshold_by_hand_and_shortfall_warning():
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.6, 0.2, 0.7, 0.3, 0.2, 0.1, 0.1, 0.05])
    r = op.at_threshold(y, p, 1, 0.5, "sensitivity:0.95")
    assert (r["tp"], r["fn"], r["fp"], r["tn"]) == (3, 1, 1, 5)
    assert r["sensitivity"] == 0.75 and r["specificity"] == pytest.approx(5 / 6)
    assert r["lr_pos"] == pytest.approx(0.75 / (1 / 6)) and r["lr_neg"] == pytest.approx(0.25 / (5 / 6))
    assert not r["target"]["met"] and "falls short of the 0.95 target" in r["warning"]
    assert r["ppv_ci"][0] < 0.75 < r["ppv_ci"][1]


def test_decision_curve_net_benefit_formula():
    y = np.array([1, 0, 1, 0])
    dc = op.decision_curve(y, np.array([0.9, 0.8, 0.7, 0.1]), 1, n_points=3)  # thresholds 0.01, 0.5, 0.99
    assert dc["treat_all"][1] == pytest.approx(0.5 - 0.5 * 1)
    assert dc["model"][1] == pytest.approx(2 / 4 - 1 / 4 * 1)  # TP 2, FP 1 at 0.5
    assert dc["treat_none"] == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("bad", ["sensitivty:0.9", "sensitivity:1.5", "2", "best", "specificity:"])
def test_bad_rules_are_one_clear_error(bad):
    with pytest.raises(ConfigError, match="threshold rule"):
        op.parse_rule(bad)
