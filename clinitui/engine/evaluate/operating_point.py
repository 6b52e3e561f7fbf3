"""A locked operating point for binary tasks: a threshold on the positive-class probability.

The threshold is *chosen* on validation by a rule and then *applied unchanged* to test and to
``predict``, as diagnostic-accuracy reporting requires (a threshold tuned on test overstates it).
Rules: ``auto`` (the default: the rule that serves the run's headline metric, :data:`HEADLINE`),
``argmax`` (0.5 on the calibrated probability: the most probable class), ``macro-f1`` (the threshold
of the best macro-F1, kept only when its gain over ``argmax`` on validation is real -- its paired-
bootstrap 95 % interval above zero, engine/evaluate/stats.py ``real_gain`` -- else 0.5), ``f1`` (max F1 of the positive class), ``youden`` (max
sensitivity + specificity − 1), ``sensitivity:0.95`` (the highest threshold still reaching that
sensitivity), ``specificity:0.90`` (the lowest threshold reaching that specificity), or a number
in (0, 1) used as is. ``f1``, ``youden`` and the targets are clinical choices: they trade the
headline macro-F1 for another figure, so a run only uses them when asked to.
A note is predicted positive when p(positive) >= threshold.
"""

from __future__ import annotations

import math

import numpy as np

from clinitui.engine.evaluate.stats import paired_gain, real_gain, wilson
from clinitui.errors import ConfigError

DEFAULT_RULE = "auto"
# What ``auto`` means per task: the rule that serves the headline metric (docs/accuracy.md, "The default
# operating rule", has the measurement behind the binary choice). Multi-label: each label's own F1, the
# per-label rule closest to the headline micro-F1.
HEADLINE = {"binary": "argmax", "multilabel": "f1"}
NAMED = ("auto", "argmax", "macro-f1", "f1", "youden")
RULE_HELP = ("auto (default: argmax for a binary task, f1 per label for a multi-label one), argmax, macro-f1, f1, "
             "youden, sensitivity:0.95, specificity:0.90, or a threshold such as 0.3")


def resolve_rule(rule: str, multilabel: bool = False) -> str:
    """The concrete rule a run locks in: ``auto`` becomes its task's :data:`HEADLINE` rule."""
    text = str(rule).strip().lower()
    return HEADLINE["multilabel" if multilabel else "binary"] if text == "auto" else str(rule)


def parse_rule(rule: str) -> tuple[str, float | None]:
    """('auto'|'argmax'|'macro-f1'|'f1'|'youden'|'sensitivity'|'specificity'|'fixed', value); ConfigError otherwise."""
    text = str(rule).strip().lower()
    if text in NAMED:
        return text, None
    kind, _, value = text.partition(":")
    try:
        number = float(value if value else kind)
    except ValueError:
        raise ConfigError(f"threshold rule '{rule[:40]}' is not understood; use {RULE_HELP}") from None
    if not 0.0 < number < 1.0:
        raise ConfigError(f"threshold rule '{rule[:40]}': the number must lie strictly between 0 and 1")
    if value:
        if kind not in ("sensitivity", "specificity", "sens", "spec"):
            raise ConfigError(f"threshold rule '{rule[:40]}' is not understood; use {RULE_HELP}")
        return ("sensitivity" if kind.startswith("sens") else "specificity"), number
    return "fixed", number


def _counts(pos: np.ndarray, p: np.ndarray, thresholds: np.ndarray):
    """tp, fp, fn, tn for each threshold (vectorised over thresholds)."""
    flagged = p[None, :] >= thresholds[:, None]
    tp = (flagged & pos).sum(axis=1)
    fp = (flagged & ~pos).sum(axis=1)
    return tp, fp, pos.sum() - tp, (~pos).sum() - fp


def choose_threshold(y: np.ndarray, p: np.ndarray, positive_index: int, rule: str) -> float:
    """The threshold ``rule`` picks on these (validation) labels and positive-class probabilities."""
    kind, value = parse_rule(resolve_rule(rule))
    if kind == "fixed":
        return float(value)
    if kind == "argmax":
        return 0.5
    pos = np.asarray(y) == positive_index
    p = np.asarray(p, dtype=float)
    if pos.all() or not pos.any():
        return 0.5  # one class only: nothing to choose from
    # candidates halfway between neighbouring scores: a threshold never sits exactly on a note
    u = np.unique(p)
    cands = np.unique(np.concatenate([(u[:-1] + u[1:]) / 2, [u[0] / 2, (u[-1] + 1) / 2, 0.5]]))
    tp, fp, fn, tn = _counts(pos, p, cands)
    sens, spec = tp / (tp + fn), tn / (tn + fp)
    if kind == "macro-f1":
        return _macro_f1_threshold(pos, p, cands, tp, fp, fn, tn)
    if kind == "f1":
        score = np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0)
        best = np.flatnonzero(score == score.max())
    elif kind == "youden":
        score = sens + spec - 1
        best = np.flatnonzero(score == score.max())
    elif kind == "sensitivity":
        ok = np.flatnonzero(sens >= value - 1e-12)
        return float(cands[ok].max()) if ok.size else float(cands.min())
    else:
        ok = np.flatnonzero(spec >= value - 1e-12)
        return float(cands[ok].min()) if ok.size else float(cands.max())
    # ties: the middle of the tied thresholds is the least fragile choice
    return float(cands[best[len(best) // 2]])


def _macro_f1_threshold(pos: np.ndarray, p: np.ndarray, cands, tp, fp, fn, tn) -> float:
    """The best macro-F1 threshold (ties: the middle one), or 0.5 unless its gain over 0.5 on these notes is
    real (:func:`real_gain`): a gain inside the noise of the validation split is not worth moving off the
    most probable class."""
    score = (_f1(tp, fp, fn) + _f1(tn, fn, fp)) / 2
    best = np.flatnonzero(score == score.max())
    threshold = float(cands[best[len(best) // 2]])
    gain, se = paired_gain(pos.astype(int), (p >= threshold).astype(int), (p >= 0.5).astype(int), 2)
    return threshold if real_gain(gain, se) else 0.5


def _f1(tp, fp, fn):
    return np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return float(a / b)


def at_threshold(y: np.ndarray, p: np.ndarray, positive_index: int, threshold: float, rule: str) -> dict:
    """The 2×2 table and diagnostic figures at ``threshold`` (Wilson intervals), target check."""
    pos = np.asarray(y) == positive_index
    flagged = np.asarray(p, dtype=float) >= threshold
    tp, fp = int((flagged & pos).sum()), int((flagged & ~pos).sum())
    fn, tn = int((~flagged & pos).sum()), int((~flagged & ~pos).sum())

    def prop(k: int, n: int) -> float | None:
        return k / n if n else None

    sens, spec, ppv, npv = prop(tp, tp + fn), prop(tn, tn + fp), prop(tp, tp + fp), prop(tn, tn + fn)
    out = {
        "rule": rule, "threshold": float(threshold), "tp": tp, "fp": fp, "fn": fn, "tn": tn,
        "sensitivity": sens, "sensitivity_ci": wilson(tp, tp + fn),
        "specificity": spec, "specificity_ci": wilson(tn, tn + fp),
        "ppv": ppv, "ppv_ci": wilson(tp, tp + fp),
        "npv": npv, "npv_ci": wilson(tn, tn + fn),
        "lr_pos": _ratio(sens, None if spec is None else 1 - spec),
        "lr_neg": _ratio(None if sens is None else 1 - sens, spec),
    }
    try:  # "argmax" (no stored threshold) and annotated rules ("f1 (chosen on ...)") name no target
        kind, value = parse_rule(rule.split(" (")[0])
    except ConfigError:
        kind, value = "other", None
    if kind in ("sensitivity", "specificity"):
        got = sens if kind == "sensitivity" else spec
        out["target"] = {"measure": kind, "value": value, "met": got is not None and got >= value}
        if got is not None and got < value:
            out["warning"] = (f"test {kind} {got:.3f} falls short of the {value:.2f} target chosen on validation")
    return out


def threshold_curve(y: np.ndarray, p: np.ndarray, positive_index: int, n_points: int = 99) -> dict:
    """Sensitivity, specificity, PPV and F1 over a grid of thresholds (for the threshold plot)."""
    pos = np.asarray(y) == positive_index
    grid = np.linspace(0.01, 0.99, n_points)
    tp, fp, fn, tn = _counts(pos, np.asarray(p, dtype=float), grid)
    with np.errstate(divide="ignore", invalid="ignore"):
        curves = {"sensitivity": tp / (tp + fn), "specificity": tn / (tn + fp), "ppv": tp / (tp + fp),
                  "f1": 2 * tp / (2 * tp + fp + fn)}
    return {"threshold": grid.round(4).tolist(),
            **{k: [None if not math.isfinite(x) else float(x) for x in v] for k, v in curves.items()}}


def decision_curve(y: np.ndarray, p: np.ndarray, positive_index: int, n_points: int = 99) -> dict:
    """Net benefit (Vickers) of the model, treat-all and treat-none over threshold probabilities.

    NB(t) = TP/N − FP/N · t/(1 − t); treat-all: prevalence − (1 − prevalence)·t/(1 − t); none: 0.
    """
    pos = np.asarray(y) == positive_index
    grid = np.linspace(0.01, 0.99, n_points)
    tp, fp, _, _ = _counts(pos, np.asarray(p, dtype=float), grid)
    n, prev = len(pos), float(pos.mean()) if len(pos) else 0.0
    odds = grid / (1 - grid)
    return {"threshold": grid.round(4).tolist(), "model": (tp / n - fp / n * odds).tolist(),
            "treat_all": (prev - (1 - prev) * odds).tolist(), "treat_none": [0.0] * len(grid)}


def predict_with_threshold(probs: np.ndarray, positive_index: int, threshold: float) -> np.ndarray:
    """Class index per row: the positive class when its probability reaches the threshold."""
    other = 1 - positive_index
    return np.where(np.asarray(probs)[:, positive_index] >= threshold, positive_index, other)
