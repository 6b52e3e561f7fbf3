"""Interval estimates and paired tests for classification results: the one statistics module.

Why these methods:
- *Stratified* bootstrap: each resample draws with replacement *within* each true class, so every
  resample holds every class (ROC-AUC stays defined) and class prevalence is the test set's.
- Vectorised: one ``(B, N)`` index matrix per class, metrics computed for all ``B`` resamples at
  once with numpy (no Python loop over resamples), so 2,000 resamples of 1,000 notes take well
  under a second per metric.
- Wilson intervals for proportions (sensitivity, specificity, PPV, NPV): good coverage at small n
  and near 0 or 1, where the normal approximation fails.
- McNemar's *exact* test (binomial on the discordant pairs) for two classifiers on the same notes.
- Percentile intervals, fixed seed: the same inputs always give the same figures.
"""

from __future__ import annotations

import math

import numpy as np

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 20240501
Z95 = 1.959963984540054


def wilson(k: int, n: int, z: float = Z95) -> list[float] | None:
    """Wilson score interval for k successes in n trials; None when n == 0."""
    if n <= 0:
        return None
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return [max(0.0, centre - half), min(1.0, centre + half)]


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts b (A right, B wrong) and c."""
    from scipy.stats import binom

    n = b + c
    if n == 0:
        return 1.0
    return float(min(1.0, 2.0 * binom.cdf(min(b, c), n, 0.5)))


def stratified_indices(y: np.ndarray, n_resamples: int, seed: int = DEFAULT_SEED) -> np.ndarray:
    """A ``(B, N)`` matrix of row indices: each row a resample drawn within each true class."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    blocks = []
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        blocks.append(rows[rng.integers(0, len(rows), size=(n_resamples, len(rows)))])
    return np.concatenate(blocks, axis=1) if blocks else np.zeros((n_resamples, 0), dtype=int)


def _percentile(values: np.ndarray) -> list[float] | None:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    lo, hi = np.percentile(values, [2.5, 97.5])
    return [float(lo), float(hi)]


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), 0.0)


def _class_counts(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int):
    """tp, predicted and true counts per class: arrays of shape (B, C)."""
    tp = np.stack([((y_true == k) & (y_pred == k)).sum(axis=1) for k in range(n_classes)], axis=1)
    pred = np.stack([(y_pred == k).sum(axis=1) for k in range(n_classes)], axis=1)
    true = np.stack([(y_true == k).sum(axis=1) for k in range(n_classes)], axis=1)
    return tp, pred, true


def auc_rows(pos: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC-AUC of each row (Mann-Whitney U on mid-ranks, so ties count one half); NaN if one class."""
    from scipy.stats import rankdata

    ranks = rankdata(scores, axis=1)
    n_pos = pos.sum(axis=1).astype(float)
    n_neg = pos.shape[1] - n_pos
    u = (ranks * pos).sum(axis=1) - n_pos * (n_pos + 1) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), u / (n_pos * n_neg), np.nan)


def average_precision_rows(pos: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Average precision (PR-AUC) of each row: mean precision at the rank of each positive."""
    order = np.argsort(-scores, axis=1, kind="stable")
    hits = np.take_along_axis(pos, order, axis=1).astype(float)
    precision = np.cumsum(hits, axis=1) / np.arange(1, hits.shape[1] + 1)
    n_pos = hits.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n_pos > 0, (precision * hits).sum(axis=1) / n_pos, np.nan)


def metric_rows(y_true: np.ndarray, y_pred: np.ndarray, probs: np.ndarray, positive_index: int | None) -> dict:
    """Every bootstrapped metric for each row of the ``(B, N)`` label/prediction matrices.

    ``probs`` is ``(B, N, C)``; the keys match ``engine.metrics.classification_metrics``.
    """
    n_classes = probs.shape[-1]
    tp, pred, true = _class_counts(y_true, y_pred, n_classes)
    precision = _safe_div(tp, pred)
    recall = _safe_div(tp, true)
    f1 = _safe_div(2 * precision * recall, precision + recall)
    weights = _safe_div(true, true.sum(axis=1, keepdims=True))
    # as engine/evaluate/metrics.py: macro over the classes present (a stratified resample keeps the
    # file's classes), NaN (no interval) for what the rows leave undefined
    present = true.any(axis=0)
    cols = slice(None) if present.all() else np.flatnonzero(present)
    out = {
        "accuracy": (y_true == y_pred).mean(axis=1),
        "precision_macro": precision[:, cols].mean(axis=1),
        "recall_macro": recall[:, cols].mean(axis=1),
        "f1_macro": f1[:, cols].mean(axis=1),
        "f1_weighted": (f1 * weights).sum(axis=1),
    }
    precision, recall, f1 = (np.where(present, m, np.nan) for m in (precision, recall, f1))
    both = present & (true < y_true.shape[1]).all(axis=0)  # classes with positives and negatives
    if positive_index is not None:
        out["f1_positive"] = f1[:, positive_index]
        out["precision_positive"] = precision[:, positive_index]
        out["recall_positive"] = recall[:, positive_index]
        pos = y_true == positive_index
        out["roc_auc"] = auc_rows(pos, probs[..., positive_index])
        out["pr_auc"] = average_precision_rows(pos, probs[..., positive_index])
        if not both[positive_index]:
            out["pr_auc"] = np.full(len(y_true), np.nan)
    else:  # one-vs-rest, macro-averaged (as sklearn's multi_class="ovr"); PR-AUC over the classes present
        out["roc_auc"] = np.mean([auc_rows(y_true == k, probs[..., k]) for k in range(n_classes)], axis=0)
        ovr = [average_precision_rows(y_true == k, probs[..., k]) for k in range(n_classes) if both[k]]
        out["pr_auc"] = np.mean(ovr, axis=0) if ovr else np.full(len(y_true), np.nan)
    for k in range(n_classes):
        out[f"class{k}_precision"], out[f"class{k}_recall"], out[f"class{k}_f1"] = precision[:, k], recall[:, k], f1[:, k]
    return out


def bootstrap_intervals(y: np.ndarray, y_pred: np.ndarray, probs: np.ndarray, positive_index: int | None,
                        n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> dict[str, list[float] | None]:
    """95% stratified-bootstrap percentile intervals ``{metric: [low, high]}``."""
    y, y_pred, probs = np.asarray(y), np.asarray(y_pred), np.asarray(probs, dtype=float)
    if n_resamples <= 0 or len(y) == 0:
        return {}
    out: dict[str, list[float] | None] = {}
    # chunks bound memory: (chunk, N, C) probabilities at a time
    chunk = max(1, min(n_resamples, 4_000_000 // max(1, len(y) * probs.shape[1])))
    idx_all = stratified_indices(y, n_resamples, seed)
    rows: dict[str, list[np.ndarray]] = {}
    for start in range(0, n_resamples, chunk):
        idx = idx_all[start:start + chunk]
        for key, values in metric_rows(y[idx], y_pred[idx], probs[idx], positive_index).items():
            rows.setdefault(key, []).append(values)
    for key, parts in rows.items():
        out[key] = _percentile(np.concatenate(parts))
    return out


def paired_deltas(y: np.ndarray, pred_a: np.ndarray, probs_a: np.ndarray, pred_b: np.ndarray, probs_b: np.ndarray,
                  positive_index: int | None, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> dict:
    """A − B on the same notes: ΔF1 (macro) and ΔROC-AUC with paired-bootstrap intervals, McNemar p.

    Both models are scored on the *same* resampled rows, so the interval reflects the difference,
    not the two models' separate uncertainties.
    """
    y = np.asarray(y)
    pred_a, pred_b = np.asarray(pred_a), np.asarray(pred_b)
    probs_a, probs_b = np.asarray(probs_a, dtype=float), np.asarray(probs_b, dtype=float)
    full = np.arange(len(y))[None, :]
    point_a = metric_rows(y[full], pred_a[full], probs_a[full], positive_index)
    point_b = metric_rows(y[full], pred_b[full], probs_b[full], positive_index)
    out = {
        "delta_f1_macro": float(point_a["f1_macro"][0] - point_b["f1_macro"][0]),
        "delta_roc_auc": _finite(point_a["roc_auc"][0] - point_b["roc_auc"][0]),
    }
    d_f1, d_auc = [], []
    chunk = max(1, min(max(n_resamples, 1), 4_000_000 // max(1, len(y) * probs_a.shape[1])))
    idx_all = stratified_indices(y, max(n_resamples, 0), seed)
    for start in range(0, max(n_resamples, 0), chunk):
        idx = idx_all[start:start + chunk]
        ra = metric_rows(y[idx], pred_a[idx], probs_a[idx], positive_index)
        rb = metric_rows(y[idx], pred_b[idx], probs_b[idx], positive_index)
        d_f1.append(ra["f1_macro"] - rb["f1_macro"])
        d_auc.append(ra["roc_auc"] - rb["roc_auc"])
    out["delta_f1_macro_ci"] = _percentile(np.concatenate(d_f1)) if d_f1 else None
    out["delta_roc_auc_ci"] = _percentile(np.concatenate(d_auc)) if d_auc else None
    right_a, right_b = pred_a == y, pred_b == y
    b, c = int((right_a & ~right_b).sum()), int((~right_a & right_b).sum())
    out.update({"a_right_b_wrong": b, "a_wrong_b_right": c, "mcnemar_p": mcnemar_exact(b, c), "n": int(len(y))})
    out["verdict"] = verdict(out)
    return out


SELECTION_RESAMPLES = 500  # enough for a standard error to ±3 %, and a choice costs milliseconds


def real_gain(gain: float, se: float) -> bool:
    """Is a gain measured on validation real? Only when its normal 95 % interval (gain ± 1.96·se) lies above
    zero. One standard error is too lenient for an option that was itself picked as a maximum on the same
    notes (a threshold among hundreds, a blend weight among 21): on symmetric scores where 0.5 is right,
    the best threshold beat 0.5 by more than one standard error 7 times in 10 (tests/test_selection.py)."""
    return gain > Z95 * se


def macro_f1_rows(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Macro-F1 of each row of ``(B, N)`` label and prediction matrices (every class counts)."""
    tp, pred, true = _class_counts(y_true, y_pred, n_classes)
    return _safe_div(2 * tp, pred + true).mean(axis=1)


def paired_gain(y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, n_classes: int,
                n_resamples: int = SELECTION_RESAMPLES, seed: int = DEFAULT_SEED) -> tuple[float, float]:
    """(macro-F1 of A − macro-F1 of B on these notes, its standard error by a paired stratified bootstrap).

    The noise rule of every choice made on validation (operating point, blend): the richer option is kept
    only when :func:`real_gain` says its gain over the simpler one is real.
    """
    y, pred_a, pred_b = np.asarray(y), np.asarray(pred_a), np.asarray(pred_b)
    full = np.arange(len(y))[None, :]
    gain = float(macro_f1_rows(y[full], pred_a[full], n_classes)[0] - macro_f1_rows(y[full], pred_b[full], n_classes)[0])
    if len(y) < 2 or not (pred_a != pred_b).any():
        return gain, 0.0
    idx = stratified_indices(y, n_resamples, seed)
    deltas = macro_f1_rows(y[idx], pred_a[idx], n_classes) - macro_f1_rows(y[idx], pred_b[idx], n_classes)
    return gain, float(deltas.std(ddof=1))


def verdict(delta: dict, a: str = "the model", b: str = "the baseline") -> str:
    """The comparison as a sentence: beats / falls short of / no detectable difference. It starts with a
    capital letter (it is printed and written into reports on its own); a checkpoint's name given as
    ``a`` is case-sensitive and left as it is."""
    ci = delta.get("delta_f1_macro_ci")
    text = (f"ΔF1 {delta['delta_f1_macro']:+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}], McNemar p {_p(delta['mcnemar_p'])}"
            if ci else f"ΔF1 {delta['delta_f1_macro']:+.3f}, McNemar p {_p(delta['mcnemar_p'])}")
    subject = a[:1].upper() + a[1:] if a.startswith("the ") else a
    if ci and ci[0] > 0:
        return f"{subject} beats {b}: {text}"
    if ci and ci[1] < 0:
        return f"{subject} falls short of {b}: {text}"
    return f"No detectable difference between {a} and {b}: {text}"


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3f}" if p < 0.1 else f"= {p:.2f}"


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None
