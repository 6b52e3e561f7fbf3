"""Statistics (engine/evaluate/stats.py) against hand-computed values and reference implementations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from clinitui.engine.evaluate import stats


def test_wilson_matches_hand_computed_and_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    # 8/10: centre (0.8 + 1.96²/20)/(1 + 1.96²/10) = 0.7166, half-width 0.2265 (by hand)
    lo, hi = stats.wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    for k, n in [(0, 12), (12, 12), (3, 40), (57, 100)]:
        assert stats.wilson(k, n) == pytest.approx(list(proportion_confint(k, n, method="wilson")), abs=1e-9)
    assert stats.wilson(0, 0) is None


def test_mcnemar_exact_matches_statsmodels():
    from statsmodels.stats.contingency_tables import mcnemar

    for b, c in [(2, 9), (5, 5), (0, 7), (13, 30), (0, 0)]:
        ref = mcnemar([[40, b], [c, 35]], exact=True).pvalue if b + c else 1.0
        assert stats.mcnemar_exact(b, c) == pytest.approx(ref, rel=1e-9)


def test_vectorised_auc_and_average_precision_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=(4, 200)).astype(bool)
    s = rng.random((4, 200)) + 0.3 * y
    s[0, :20] = 0.5  # ties: mid-ranks, as sklearn
    for row in range(4):
        assert stats.auc_rows(y, s)[row] == pytest.approx(roc_auc_score(y[row], s[row]), abs=1e-12)
        if row:  # average precision without ties is the same definition
            assert stats.average_precision_rows(y, s)[row] == pytest.approx(average_precision_score(y[row], s[row]))


def _noisy(n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    p1 = np.clip(0.5 + (y - 0.5) * 0.4 + rng.normal(0, 0.25, n), 0.01, 0.99)
    probs = np.column_stack([1 - p1, p1])
    return y, probs.argmax(axis=1), probs


def test_bootstrap_intervals_cover_the_point_estimate_and_shrink_with_n():
    from clinitui.engine.evaluate.metrics import classification_metrics

    widths = []
    for n in (100, 1600):
        y, pred, probs = _noisy(n)
        point = classification_metrics(y, probs, ["0", "1"], 1)
        cis = stats.bootstrap_intervals(y, pred, probs, 1, n_resamples=300)
        for key in ("accuracy", "f1_macro", "f1_weighted", "precision_macro", "recall_macro", "roc_auc"):
            lo, hi = cis[key]
            assert lo <= point[key] <= hi, key
        widths.append(cis["f1_macro"][1] - cis["f1_macro"][0])
    assert widths[1] < widths[0] / 2  # 16× the notes: about a quarter of the width


def test_bootstrap_is_stratified_and_reproducible():
    y = np.array([0] * 90 + [1] * 10)
    idx = stats.stratified_indices(y, 50, seed=3)
    assert idx.shape == (50, 100) and (y[idx].sum(axis=1) == 10).all()
    assert (idx == stats.stratified_indices(y, 50, seed=3)).all()


def test_paired_deltas_zero_for_a_model_against_itself_and_positive_for_a_better_one():
    y, pred, probs = _noisy(400)
    same = stats.paired_deltas(y, pred, probs, pred, probs, 1, n_resamples=200)
    assert same["delta_f1_macro"] == 0 and same["delta_f1_macro_ci"] == [0, 0] and same["mcnemar_p"] == 1.0
    assert same["verdict"].startswith("No detectable difference")
    perfect = np.column_stack([1 - y, y]).astype(float) * 0.9 + 0.05
    better = stats.paired_deltas(y, perfect.argmax(axis=1), perfect, pred, probs, 1, n_resamples=200)
    assert better["delta_f1_macro"] > 0 and better["delta_f1_macro_ci"][0] > 0 and better["mcnemar_p"] < 0.001
    assert better["verdict"].startswith("The model beats the baseline: ΔF1 +")


def test_multiclass_intervals_are_one_vs_rest_per_class():
    rng = np.random.default_rng(2)
    y = np.arange(300) % 3
    probs = rng.dirichlet([1, 1, 1], 300) + np.eye(3)[y] * 0.5
    probs /= probs.sum(axis=1, keepdims=True)
    cis = stats.bootstrap_intervals(y, probs.argmax(axis=1), probs, None, n_resamples=100)
    assert {"class0_f1", "class2_recall", "roc_auc", "pr_auc"} <= set(cis)
    assert "f1_positive" not in cis
