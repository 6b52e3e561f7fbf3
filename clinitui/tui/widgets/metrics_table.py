"""Validation metrics per epoch (and the test row once the run finished)."""

from __future__ import annotations

from textual.widgets import DataTable

from clinitui.tui.fmt import fmt_metric

COLUMNS = ("split", "epoch", "accuracy", "precision", "recall", "F1", "F1 w", "ROC-AUC")


class MetricsTable(DataTable):
    """One row per evaluation; macro averages, as in the study."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_columns(*COLUMNS)

    def show(self, evals: list[dict], test: dict | None, baseline: dict | None = None) -> None:
        self.clear()
        rows = [*evals, *([test] if test else [])]
        if baseline:
            rows.append({**baseline, "split": "baseline", "epoch": "-"})  # TF-IDF + LR, same test split
        for e in rows:
            self.add_row(
                e.get("split", "?"), str(e.get("epoch", "?")), fmt_metric(e.get("accuracy")),
                fmt_metric(e.get("precision_macro")), fmt_metric(e.get("recall_macro")),
                fmt_metric(e.get("f1_macro")), fmt_metric(e.get("f1_weighted")), fmt_metric(e.get("roc_auc")),
            )
