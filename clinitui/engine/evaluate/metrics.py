"""Classification metrics (accuracy, precision, recall, F1 macro/weighted/positive, ROC-AUC)."""

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
    p, r, f, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    pm, rm, fm, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    _, _, fw, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="weighted", zero_division=0)
    out = {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision_macro": float(pm),
        "recall_macro": float(rm),
        "f1_macro": float(fm),
        "f1_weighted": float(fw),
    }
    present = sorted(set(y_true.tolist()))
    auc = None
    if positive_index is not None:
        out["f1_positive"] = float(f[positive_index])
        out["precision_positive"] = float(p[positive_index])
        out["recall_positive"] = float(r[positive_index])
        if len(present) == 2:
            auc = roc_auc_score(y_true == positive_index, probs[:, positive_index])
    elif len(present) == len(labels) and len(labels) > 2:
        auc = roc_auc_score(y_true, probs, multi_class="ovr", average="macro", labels=labels)
    out["roc_auc"] = None if auc is None or math.isnan(auc) else float(auc)
    out["confusion_matrix"] = confusion_matrix(y_true, y_pred, labels=labels).tolist()
    out["per_class"] = {
        name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(support[i])}
        for i, name in enumerate(label_names)
    }
    return out
