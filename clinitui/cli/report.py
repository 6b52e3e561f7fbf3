"""Metric reports: a Rich table in a terminal (stdout), plain aligned text otherwise."""

from __future__ import annotations

METRIC_ROWS = [
    ("accuracy", "Accuracy"), ("precision_macro", "Precision (macro)"), ("recall_macro", "Recall (macro)"),
    ("f1_macro", "F1 (macro)"), ("f1_weighted", "F1 (weighted)"), ("f1_positive", "F1 (positive class)"),
    ("roc_auc", "ROC-AUC"),
]


def print_metrics(metrics: dict, labels: list[str], title: str = "metrics") -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    console.print(f"[bold]{title}[/bold] (n={metrics.get('n', '?')})")
    summary = Table(show_header=True)
    summary.add_column("metric")
    summary.add_column("value", justify="right")
    for key, name in METRIC_ROWS:
        if key in metrics:
            value = metrics[key]
            summary.add_row(name, "n/a" if value is None else f"{value:.4f}")
    console.print(summary)

    per_class = Table(show_header=True)
    for col in ("class", "precision", "recall", "F1", "support"):
        per_class.add_column(col, justify="left" if col == "class" else "right")
    for name, row in metrics.get("per_class", {}).items():
        per_class.add_row(name, f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}", str(row["support"]))
    console.print(per_class)

    console.print("confusion matrix (rows: true label, columns: predicted)")
    matrix = Table(show_header=True)
    matrix.add_column("true \\ pred")
    for name in labels:
        matrix.add_column(name, justify="right")
    for name, row in zip(labels, metrics.get("confusion_matrix", [])):
        matrix.add_row(name, *[str(v) for v in row])
    console.print(matrix)
