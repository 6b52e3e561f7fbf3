"""From probabilities to a clinical evaluation: intervals, calibration, operating point, comparisons.

One function, :func:`assess`, serves training (test split), ``clinitui eval`` and ``clinitui
report``, so the three always agree. What a run does after its best checkpoint is loaded -- fit
the temperature and choose the threshold on *validation*, lock both in the checkpoint's
``config.json``, then assess the test split with them locked -- is engine/recipes/finish.py's
``finalize`` (this layer computes; it writes no checkpoint).
"""

from __future__ import annotations

import numpy as np

from clinitui.engine.evaluate import calibration
from clinitui.engine.evaluate import stats
from clinitui.engine.evaluate.operating_point import (at_threshold, choose_threshold, decision_curve,
                                             predict_with_threshold, threshold_curve)
from clinitui.kinds import Task

PREDICTIONS_FILE = "predictions.json"  # labels and probabilities of val/test (numbers only, no text)
MIN_GROUP_N, MIN_GROUP_EVENTS = 30, 5
N_ERROR_IDS = 10
CI_KEYS = ("accuracy", "precision_macro", "recall_macro", "f1_macro", "f1_weighted", "f1_positive",
           "precision_positive", "recall_positive", "roc_auc", "pr_auc")


def postprocess_raw(probs: np.ndarray, raw: dict, positive_index: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Apply a checkpoint's stored temperature, then its threshold (binary) or argmax.

    Multi-label (``task`` = multilabel): the multi-hot prediction at the stored per-label thresholds."""
    if Task.of(raw) is Task.MULTILABEL:
        from clinitui.engine.evaluate.multilabel import apply_thresholds, thresholds_of

        return probs, apply_thresholds(probs, thresholds_of(raw, probs.shape[1]))
    probs = calibration.apply_temperature(probs, raw.get("temperature"))
    op = raw.get("operating_point") or {}
    if positive_index is not None and op.get("threshold") is not None:
        return probs, predict_with_threshold(probs, positive_index, float(op["threshold"]))
    return probs, probs.argmax(axis=1)


def postprocess(probs: np.ndarray, info) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, predicted index) as the checkpoint ``info`` (CheckpointInfo) predicts them."""
    return postprocess_raw(probs, info.raw, info.positive_index)


def pr_auc(y: np.ndarray, probs: np.ndarray, positive_index: int | None) -> float | None:
    """Average precision of the positive class (multi-class: the mean over the classes present); None
    where a class has no positives or no negatives (every note positive gives 1.0 whatever the model)."""
    from sklearn.metrics import average_precision_score

    y = np.asarray(y)
    classes = [positive_index] if positive_index is not None else range(probs.shape[1])
    values = [average_precision_score(y == k, probs[:, k]) for k in classes if (y == k).any() and not (y == k).all()]
    return float(np.mean(values)) if values else None


def log_loss(y, probs) -> float | None:
    """Mean negative log-probability of the true class (clipped at 1e-15, as scikit-learn)."""
    y = np.asarray(y, dtype=int)
    if not len(y):
        return None
    p = np.clip(np.asarray(probs, dtype=float)[np.arange(len(y)), y], 1e-15, 1.0)
    return float(-np.log(p).mean())


def scored(y, raw_probs, label_names: list[str], positive_index: int | None, temperature: float | None,
           threshold: float | None) -> tuple[dict, np.ndarray, np.ndarray]:
    """(metrics, probabilities, predictions) at a temperature and threshold: the thresholded figures beside
    the threshold-free ROC-AUC and PR-AUC (a run adds the log-loss, :func:`log_loss`; ``eval`` keeps the keys
    it always wrote)."""
    from clinitui.engine.evaluate.metrics import classification_metrics

    y = np.asarray(y)
    probs, pred = postprocess_raw(np.asarray(raw_probs, dtype=float),
                                  {"temperature": temperature, "operating_point": {"threshold": threshold}},
                                  positive_index)
    metrics = classification_metrics(y, probs, label_names, positive_index, y_pred=pred)
    metrics["pr_auc"] = pr_auc(y, probs, positive_index)
    return metrics, probs, pred


def assess(y, raw_probs, label_names: list[str], positive_index: int | None, *, temperature: float | None = None,
           threshold: float | None = None, rule: str | None = None, n_boot: int = stats.DEFAULT_RESAMPLES,
           seed: int = stats.DEFAULT_SEED, baseline_probs=None, baseline_pred=None, groups: list[str] | None = None,
           ids: list[str] | None = None) -> tuple[dict, dict]:
    """(metrics with ``m_ci`` intervals, extras) for labels ``y`` and un-scaled probabilities.

    extras: ``calibration``, ``operating_point`` (binary), ``vs_baseline`` (with ``baseline_probs``;
    the baseline predicts ``baseline_pred``, by default its argmax), ``subgroups`` (with ``groups``),
    ``errors`` (with ``ids``).
    """
    y = np.asarray(y)
    raw_probs = np.asarray(raw_probs, dtype=float)
    metrics, probs, pred = scored(y, raw_probs, label_names, positive_index, temperature, threshold)
    cis = stats.bootstrap_intervals(y, pred, probs, positive_index, n_boot, seed)
    for key in CI_KEYS:
        if key in metrics:
            metrics[f"{key}_ci"] = None if metrics[key] is None else cis.get(key)
    for k, name in enumerate(label_names):
        for m in ("precision", "recall", "f1"):
            metrics["per_class"][name][f"{m}_ci"] = cis.get(f"class{k}_{m}")
    metrics["bootstrap"] = {"resamples": n_boot, "seed": seed, "method": "stratified percentile"}
    extras: dict = {"calibration": calibration.calibration_report(y, raw_probs, temperature, positive_index)}
    if positive_index is not None:
        extras["operating_point"] = at_threshold(y, probs[:, positive_index], positive_index,
                                                 0.5 if threshold is None else threshold,
                                                 rule or ("argmax" if threshold is None else "fixed"))
    if baseline_probs is not None:
        base = np.asarray(baseline_probs, dtype=float)
        base_pred = base.argmax(axis=1) if baseline_pred is None else np.asarray(baseline_pred)
        extras["vs_baseline"] = stats.paired_deltas(y, pred, probs, base_pred, base, positive_index, n_boot, seed)
    if groups is not None:
        extras["subgroups"] = subgroups(y, pred, probs, groups, positive_index, n_boot, seed)
    if ids is not None:
        extras["errors"] = error_ids(y, pred, probs, ids, label_names, positive_index)
    return metrics, extras


def compare(y, pred_a, probs_a, pred_b, probs_b, positive_index, n_boot: int, seed: int, names=("A", "B")) -> dict:
    """The paired comparison of two checkpoints on the same notes (``eval A --compare B``)."""
    out = stats.paired_deltas(y, pred_a, probs_a, pred_b, probs_b, positive_index, n_boot, seed)
    out["verdict"] = stats.verdict(out, names[0], names[1])
    return out


def subgroups(y, pred, probs, groups: list[str], positive_index: int | None, n_boot: int, seed: int) -> list[dict]:
    """Per-group n, events and metrics with intervals; small groups flagged (n < 30 or < 5 events)."""
    y, pred, groups_arr = np.asarray(y), np.asarray(pred), np.asarray([str(g) for g in groups])
    out = []
    for value in sorted(set(groups_arr.tolist())):
        mask = groups_arr == value
        yg, pg, probs_g = y[mask], pred[mask], probs[mask]
        events = int((yg == positive_index).sum()) if positive_index is not None else int(
            min(np.bincount(yg, minlength=probs.shape[1])))
        cis = stats.bootstrap_intervals(yg, pg, probs_g, positive_index, n_boot, seed)
        row = {"group": value, "n": int(mask.sum()), "events": events,
               "accuracy": float((yg == pg).mean()), "accuracy_ci": cis.get("accuracy"),
               "f1_macro": float(stats.metric_rows(yg[None], pg[None], probs_g[None], positive_index)["f1_macro"][0]),
               "f1_macro_ci": cis.get("f1_macro"),
               "too_small": bool(mask.sum() < MIN_GROUP_N or events < MIN_GROUP_EVENTS)}
        auc = stats.metric_rows(yg[None], pg[None], probs_g[None], positive_index)["roc_auc"][0]
        row["roc_auc"], row["roc_auc_ci"] = (float(auc), cis.get("roc_auc")) if np.isfinite(auc) else (None, None)
        if positive_index is not None:
            pos, flag = yg == positive_index, pg == positive_index
            tp, fn, tn, fp = [int(x) for x in ((pos & flag).sum(), (pos & ~flag).sum(), (~pos & ~flag).sum(),
                                               (~pos & flag).sum())]
            row.update({"sensitivity": tp / (tp + fn) if tp + fn else None, "sensitivity_ci": stats.wilson(tp, tp + fn),
                        "specificity": tn / (tn + fp) if tn + fp else None, "specificity_ci": stats.wilson(tn, tn + fp)})
        out.append(row)
    return out


def error_ids(y, pred, probs, ids: list[str], label_names: list[str], positive_index: int | None) -> dict:
    """Ids (never text) of the most confident errors: false positives and negatives (binary) or any."""
    y, pred = np.asarray(y), np.asarray(pred)
    ids = [str(i) for i in ids]

    def top(mask: np.ndarray, score: np.ndarray) -> list[dict]:
        rows = np.flatnonzero(mask)
        rows = rows[np.argsort(-score[rows], kind="stable")][:N_ERROR_IDS]
        return [{"id": ids[r], "true": label_names[y[r]], "predicted": label_names[pred[r]],
                 "confidence": round(float(score[r]), 4)} for r in rows]

    if positive_index is not None:
        p = probs[:, positive_index]
        return {"false_positives": top((pred == positive_index) & (y != positive_index), p),
                "false_negatives": top((pred != positive_index) & (y == positive_index), 1 - p)}
    return {"most_confident_errors": top(pred != y, probs.max(axis=1))}


def curves(y, raw_probs, label_names: list[str], positive_index: int | None, temperature: float | None) -> dict:
    """ROC and PR curves (positive class, or one-vs-rest per class), threshold and decision curves."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    y = np.asarray(y)
    probs = calibration.apply_temperature(np.asarray(raw_probs, dtype=float), temperature)
    classes = [positive_index] if positive_index is not None else list(range(len(label_names)))
    out: dict = {"roc": {}, "pr": {}}
    for k in classes:
        if not (y == k).any() or (y == k).all():
            continue
        fpr, tpr, _ = roc_curve(y == k, probs[:, k])
        prec, rec, _ = precision_recall_curve(y == k, probs[:, k])
        out["roc"][label_names[k]] = {"fpr": fpr.tolist(), "tpr": tpr.tolist()}
        out["pr"][label_names[k]] = {"precision": prec.tolist(), "recall": rec.tolist()}
    if positive_index is not None:
        out["threshold"] = threshold_curve(y, probs[:, positive_index], positive_index)
        out["decision"] = decision_curve(y, probs[:, positive_index], positive_index)
    return out


def fit_on_validation(y_val, val_probs, positive_index: int | None, rule: str) -> tuple[float | None, float | None]:
    """(temperature, threshold) chosen on validation: the threshold (binary only, else None) on the scaled
    probabilities, by ``rule`` (engine/evaluate/operating_point.py)."""
    temperature = calibration.fit_temperature(y_val, val_probs)
    if positive_index is None:
        return temperature, None
    scaled = calibration.apply_temperature(val_probs, temperature)
    return temperature, choose_threshold(y_val, scaled[:, positive_index], positive_index, rule)
