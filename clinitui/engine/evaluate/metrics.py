"""Classification metrics (accuracy, precision, recall, F1 macro/weighted/positive, ROC-AUC).

A metric the scored rows cannot define is ``None``, never a stand-in number: a file may hold one
class only (a holdout of positives), and 0.5 or 1.0 there would read as a measurement. The rule,
one per metric (docs/report.md, "Undefined metrics"):

* precision, recall and F1 of a class with no notes in ``y_true`` (support 0) are ``None``; its
  predictions still show in the confusion matrix and lower the recall of the classes they belong to;
* macro averages run over the classes present in ``y_true`` (scikit-learn's ``labels=`` set to
  them); a present class never predicted has precision 0, as scikit-learn's ``zero_division=0``;
* the positive-class figures (binary) are ``None`` without a positive note;
* ROC-AUC and PR-AUC need both outcomes: ``None`` with one class only (multi-class ROC-AUC: every class).

With every class present this is exactly the previous computation (the same calls on the same label
set), so metrics of normal splits do not move.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def classification_metrics(y_true: Sequence[int], probs: np.ndarray, label_names: list[str],
                           positive_index: int | None, y_pred: Sequence[int] | None = None) -> dict:
    from sklearn.metrics import (accuracy_score, confusion_matrix, precision_recall_fscore_support,
                                 roc_auc_score)

    y_true = np.asarray(y_true)
    # y_pred: what the checkpoint predicts (a locked threshold may differ from argmax)
    y_pred = probs.argmax(axis=1) if y_pred is None else np.asarray(y_pred)
    labels = list(range(len(label_names)))
    present = sorted(set(y_true.tolist()))
    averaged = present or labels  # the classes the macro averages run over
    p, r, f, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    pm, rm, fm, _ = precision_recall_fscore_support(y_true, y_pred, labels=averaged, average="macro",
                                                    zero_division=0)
    _, _, fw, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="weighted", zero_division=0)
    out = {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision_macro": float(pm),
        "recall_macro": float(rm),
        "f1_macro": float(fm),
        "f1_weighted": float(fw),
    }

    def defined(values, i: int) -> float | None:
        return float(values[i]) if support[i] > 0 else None

    auc = None
    if positive_index is not None:
        out["f1_positive"] = defined(f, positive_index)
        out["precision_positive"] = defined(p, positive_index)
        out["recall_positive"] = defined(r, positive_index)
        if len(present) == 2:
            auc = roc_auc_score(y_true == positive_index, probs[:, positive_index])
    elif len(present) == len(labels) and len(labels) > 2:
        auc = roc_auc_score(y_true, probs, multi_class="ovr", average="macro", labels=labels)
    out["roc_auc"] = None if auc is None or math.isnan(auc) else float(auc)
    out["confusion_matrix"] = confusion_matrix(y_true, y_pred, labels=labels).tolist()
    out["per_class"] = {
        name: {"precision": defined(p, i), "recall": defined(r, i), "f1": defined(f, i), "support": int(support[i])}
        for i, name in enumerate(label_names)
    }
    return out


def undefined_warning(y_true: Sequence[int], label_names: list[str], positive_index: int | None) -> str | None:
    """One sentence naming the metrics the rows leave undefined and why; None when every class is present."""
    present = set(np.asarray(y_true).tolist())
    absent = [name for i, name in enumerate(label_names) if i not in present]
    if not absent or not present:
        return None
    if len(present) == 1:
        why = f"only class '{label_names[next(iter(present))]}'"
    else:
        why = f"no notes of class{'es' if len(absent) > 1 else ''} {', '.join(repr(a) for a in absent)}"
    undefined = []
    if positive_index is not None and positive_index not in present:
        undefined.append("the positive-class precision, recall and F1")
    if positive_index is None or len(present) < 2:
        undefined.append("ROC-AUC" if len(present) > 1 else "ROC-AUC, PR-AUC")
    undefined.append(f"the per-class figures of {', '.join(repr(a) for a in absent)}")
    listed = ", ".join(undefined[:-1]) + " and " + undefined[-1] if len(undefined) > 1 else undefined[0]
    return (f"has {why}: {listed} are undefined (null); macro averages cover the "
            f"class{'es' if len(present) > 1 else ''} present only")
