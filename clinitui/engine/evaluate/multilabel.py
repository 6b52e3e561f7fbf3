"""Multi-label predictions and metrics: per-label thresholds, micro/macro/samples-F1 and the rest.

A multi-label network ends in one sigmoid per label, so "what the checkpoint predicts" is the set
of labels whose probability reaches that label's threshold. The thresholds are chosen on the
validation split, one per label, by the rule of engine/evaluate/operating_point.py (default ``auto``, which
for a multi-label task is ``f1``: the threshold that maximises that label's F1; ``youden``, ``sensitivity:0.95``, ``specificity:0.90`` or
a number work too), stored in the checkpoint's config.json as ``label_thresholds`` and applied
unchanged to test, ``eval`` and ``predict``. A label absent from validation keeps 0.5.

Metrics (keys as scikit-learn names them): ``f1_micro``, ``f1_macro``, ``f1_samples``,
``f1_weighted``, ``precision_micro`` / ``recall_micro``, ``precision_macro`` / ``recall_macro``,
``subset_accuracy`` (the whole set right), ``hamming_loss`` (share of wrong label decisions),
``roc_auc`` (macro over labels with both outcomes present), and ``per_label``
{precision, recall, f1, roc_auc, support}. A label with no positive note in the rows has ``None``
precision, recall and F1, and the macro averages run over the labels with positives only
(scikit-learn's ``labels=``; docs/report.md, "Undefined metrics"). ``f1_samples`` counts an empty set predicted for a
note with no label as right (F1 = 1), as ``zero_division=1`` does in scikit-learn.
"""

from __future__ import annotations

import math

import numpy as np

from clinitui.kinds import Task

# the ``task`` value written into metrics, events and config.json: a plain str, as a resumable state
# (trainer.pt, loaded with weights_only) holds the validation metrics and cannot unpickle an enum
TASK = Task.MULTILABEL.value


def choose_thresholds(y: np.ndarray, probs: np.ndarray, rule: str = "f1") -> list[float]:
    """One threshold per label, chosen on these (validation) rows by ``rule`` (``auto``: each label's F1)."""
    from clinitui.engine.evaluate.operating_point import choose_threshold, resolve_rule

    rule = resolve_rule(rule, multilabel=True)
    y = np.asarray(y, dtype=int).reshape(len(probs), -1)
    probs = np.asarray(probs, dtype=float)
    return [round(choose_threshold(y[:, k], probs[:, k], 1, rule), 6) for k in range(probs.shape[1])]


def apply_thresholds(probs: np.ndarray, thresholds) -> np.ndarray:
    """Multi-hot predictions (int 0/1): label k when p_k >= threshold_k."""
    t = np.asarray(thresholds if thresholds is not None else 0.5, dtype=float)
    return (np.asarray(probs, dtype=float) >= t).astype(int)


def thresholds_of(raw: dict, n_labels: int) -> list[float]:
    """The ``label_thresholds`` stored in a checkpoint's config.json (0.5 each when absent)."""
    spec = raw.get("label_thresholds") or {}
    values = spec.get("thresholds") if isinstance(spec, dict) else None
    if not isinstance(values, list) or len(values) != n_labels:
        return [0.5] * n_labels
    return [float(v) for v in values]


def multilabel_metrics(y, probs, label_names: list[str], y_pred=None, thresholds=None) -> dict:
    """The multi-label metrics of predictions ``y_pred`` (default: ``probs`` at ``thresholds``)."""
    from sklearn.metrics import f1_score, hamming_loss, precision_recall_fscore_support, roc_auc_score

    y = np.asarray(y, dtype=int).reshape(len(probs), len(label_names))
    probs = np.asarray(probs, dtype=float)
    pred = apply_thresholds(probs, thresholds) if y_pred is None else np.asarray(y_pred, dtype=int)
    kw = {"zero_division": 0}
    p, r, f, support = precision_recall_fscore_support(y, pred, average=None, **kw)
    out: dict = {"task": TASK, "n": int(len(y))}
    present = [k for k in range(len(label_names)) if support[k] > 0]
    for avg in ("micro", "macro"):
        # macro over the labels with positives (scikit-learn's labels=), as single-label macro averages
        subset = {"labels": present} if avg == "macro" and 0 < len(present) < len(label_names) else {}
        pa, ra, fa, _ = precision_recall_fscore_support(y, pred, average=avg, **subset, **kw)
        out[f"f1_{avg}"], out[f"precision_{avg}"], out[f"recall_{avg}"] = float(fa), float(pa), float(ra)
    if not present:  # no positive label anywhere: recall, and the macro averages, are undefined
        out["recall_micro"] = out["f1_macro"] = out["precision_macro"] = out["recall_macro"] = None
    out["f1_samples"] = samples_f1(y, pred)
    out["f1_weighted"] = float(f1_score(y, pred, average="weighted", **kw))
    out["subset_accuracy"] = float((pred == y).all(axis=1).mean()) if len(y) else 0.0
    out["hamming_loss"] = float(hamming_loss(y, pred)) if len(y) else 0.0
    out["label_cardinality"] = {"true": float(y.sum(1).mean()) if len(y) else 0.0,
                                "predicted": float(pred.sum(1).mean()) if len(y) else 0.0}
    aucs = []
    per_label = {}
    for k, name in enumerate(label_names):
        auc = None
        if 0 < y[:, k].sum() < len(y):
            auc = float(roc_auc_score(y[:, k], probs[:, k]))
            aucs.append(auc)
        defined = support[k] > 0  # a label with no positive note has no recall, F1 or precision to report
        per_label[name] = {"precision": float(p[k]) if defined else None, "recall": float(r[k]) if defined else None,
                           "f1": float(f[k]) if defined else None, "roc_auc": auc, "support": int(support[k])}
    out["roc_auc"] = float(np.mean(aucs)) if aucs else None
    out["per_label"] = per_label
    return out


def undefined_labels_warning(y, label_names: list[str]) -> str | None:
    """One sentence naming the labels whose figures the rows leave undefined (null); None when none."""
    y = np.asarray(y, dtype=int).reshape(-1, len(label_names))
    never = [repr(n) for k, n in enumerate(label_names) if not y[:, k].any()]
    always = [repr(n) for k, n in enumerate(label_names) if len(y) and y[:, k].all()]
    parts = []
    if never:
        many = len(never) > 1
        its, it = ("their", "them") if many else ("its", "it")
        parts.append(f"no positive note for label{'s' if many else ''} {', '.join(never)}: {its} precision, recall, "
                     f"F1 and ROC-AUC are undefined (null) and the macro averages leave {it} out")
    if always:
        parts.append(f"every note positive for label{'s' if len(always) > 1 else ''} {', '.join(always)}: "
                     "ROC-AUC undefined (null)")
    return "has " + "; ".join(parts) if parts else None


def samples_f1(y: np.ndarray, pred: np.ndarray) -> float:
    """Mean per-note F1 of the predicted set; a note with no label, predicted with none, scores 1
    (scikit-learn's ``average="samples", zero_division=1``): empty sets are valid answers here."""
    if not len(y):
        return 0.0
    both = (y & pred).sum(axis=1)
    size = y.sum(axis=1) + pred.sum(axis=1)
    return float(np.mean(np.where(size > 0, 2 * both / np.maximum(size, 1), 1.0)))


def paired_micro_f1(y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, n_resamples: int = 1000,
                    seed: int = 0) -> dict:
    """Micro-F1 of A − micro-F1 of B on the same notes (multi-hot ``y`` and predictions), with a 95 %
    paired-bootstrap interval: both are scored on the same resampled notes (None with 0 resamples)."""
    y, pred_a, pred_b = (np.asarray(m, dtype=bool) for m in (y, pred_a, pred_b))

    def counts(pred: np.ndarray) -> np.ndarray:  # per note: true positives, predicted, true labels
        return np.stack([(y & pred).sum(1), pred.sum(1), y.sum(1)], axis=1).astype(float)

    def micro(c: np.ndarray) -> np.ndarray:  # c: (..., 3) summed counts
        return np.divide(2 * c[..., 0], c[..., 1] + c[..., 2], out=np.zeros(c.shape[:-1]),
                         where=(c[..., 1] + c[..., 2]) > 0)

    ca, cb = counts(pred_a), counts(pred_b)
    out = {"metric": "f1_micro", "f1_micro_a": float(micro(ca.sum(0))), "f1_micro_b": float(micro(cb.sum(0)))}
    out["delta_f1_micro"] = out["f1_micro_a"] - out["f1_micro_b"]
    out["delta_f1_micro_ci"] = None
    if n_resamples and len(y) > 1:
        idx = np.random.default_rng(seed).integers(0, len(y), size=(n_resamples, len(y)))
        deltas = micro(ca[idx].sum(1)) - micro(cb[idx].sum(1))
        out["delta_f1_micro_ci"] = [float(np.percentile(deltas, 2.5)), float(np.percentile(deltas, 97.5))]
    return out


def micro_verdict(delta: dict, a: str, b: str) -> str:
    """:func:`paired_micro_f1` as a sentence, like stats.verdict for single-label models."""
    ci = delta.get("delta_f1_micro_ci")
    text = f"Δmicro-F1 {delta['delta_f1_micro']:+.3f}" + (f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "")
    subject = a[:1].upper() + a[1:]
    if ci and ci[0] > 0:
        return f"{subject} beats {b}: {text}"
    if ci and ci[1] < 0:
        return f"{subject} falls short of {b}: {text}"
    return f"No detectable difference between {a} and {b}: {text}"


def bce_loss(y, probs) -> float:
    """Mean binary cross-entropy per label decision (the validation loss)."""
    y = np.asarray(y, dtype=float)
    p = np.clip(np.asarray(probs, dtype=float), 1e-7, 1 - 1e-7)
    value = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))) if y.size else 0.0
    return round(value, 6) if math.isfinite(value) else value


def validation_metrics(y, probs, label_names: list[str], rule: str = "f1") -> dict:
    """Metrics at thresholds chosen on these same rows: what the checkpoint would reach (optimistic,
    used to pick the epoch; the test split is scored with thresholds locked on validation)."""
    thresholds = choose_thresholds(y, probs, rule)
    out = multilabel_metrics(y, probs, label_names, thresholds=thresholds)
    out["loss"] = bce_loss(y, probs)
    return out


def parse_label_set(value: str, sep: str) -> list[str]:
    return [] if not value else [p.strip() for p in value.split(sep) if p.strip()]
