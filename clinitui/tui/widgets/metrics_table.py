"""Validation metrics per epoch (and the test row once the run finished).

A blended run's epoch rows are its network's; the test row is the blend's. The split column says
whose figures each row holds, and the blend's and the TF-IDF model's validation F1 (the ``ensemble``
event) get rows of their own, so no validation figure of one predictor sits unlabelled beside the
test figure of another (clinitui/describe.py does the same for the other views).
"""

from __future__ import annotations

from textual.widgets import DataTable

from clinitui.fmt import fmt_metric

COLUMNS = ("split", "epoch", "accuracy", "precision", "recall", "F1", "F1 w", "ROC-AUC")
# multi-label runs (engine/evaluate/multilabel.py): micro/macro-F1 instead of accuracy
MULTILABEL_COLUMNS = ("split", "epoch", "micro-F1", "macro-F1", "samples-F1", "subset acc", "Hamming", "ROC-AUC")
MULTILABEL_KEYS = ("f1_micro", "f1_macro", "f1_samples", "subset_accuracy", "hamming_loss", "roc_auc")


class MetricsTable(DataTable):
    """One row per evaluation; macro averages, as in the study."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_columns(*COLUMNS)

    def show(self, evals: list[dict], test: dict | None, baseline: dict | None = None,
             ensemble: dict | None = None) -> None:
        rows = [*evals, *([test] if test else [])]
        if ensemble:
            rows = blend_rows(evals, test, ensemble)
        if baseline:
            split = "test · TF-IDF" if ensemble else "baseline"
            rows.append({**baseline, "split": split, "epoch": "-"})  # TF-IDF + LR, same test split
        multilabel = any("f1_micro" in e for e in rows)
        columns = MULTILABEL_COLUMNS if multilabel else COLUMNS
        if tuple(str(c.label) for c in self.columns.values()) != columns:
            self.clear(columns=True)
            self.add_columns(*columns)
        else:
            self.clear()
        for e in rows:
            if multilabel:
                self.add_row(e.get("split", "?"), str(e.get("epoch", "?")), *(fmt_metric(e.get(k)) for k in MULTILABEL_KEYS))
                continue
            self.add_row(
                e.get("split", "?"), str(e.get("epoch", "?")), fmt_metric(e.get("accuracy")),
                fmt_metric(e.get("precision_macro")), fmt_metric(e.get("recall_macro")),
                fmt_metric(e.get("f1_macro")), fmt_metric(e.get("f1_weighted")), fmt_metric(e.get("roc_auc")),
            )


def blend_rows(evals: list[dict], test: dict | None, ensemble: dict) -> list[dict]:
    """The rows of a blended run, each labelled with the predictor its figures are of."""
    weight = ensemble.get("weight")
    blend = f"blend {weight:.2f}" if isinstance(weight, (int, float)) else "blend"
    metric = "f1_micro" if "val_f1_micro" in ensemble else "f1_macro"
    rows = [{**e, "split": "val · network"} for e in evals]
    rows.append({"split": f"val · {blend}", "epoch": "-", metric: ensemble.get(f"val_{metric}")})
    rows.append({"split": "val · TF-IDF", "epoch": "-", metric: ensemble.get(f"tfidf_val_{metric}")})
    if test:
        rows.append({**test, "split": f"test · {blend}"})
    return rows
