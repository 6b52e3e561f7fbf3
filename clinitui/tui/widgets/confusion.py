"""Confusion matrix and per-class precision / recall / F1 / support of one evaluation."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from clinitui.fmt import ellipsize, fmt_metric


def confusion_table(matrix: list[list[int]], labels: list[str]) -> Table:
    table = Table(title="confusion", title_justify="left", show_edge=False, pad_edge=False,
                  box=None, header_style="bold")
    table.add_column("true\\pred", style="bold")
    for label in labels:
        table.add_column(ellipsize(label, 10), justify="right")
    for i, (label, row) in enumerate(zip(labels, matrix)):
        cells = [Text(str(v), style="bold green" if i == j else "") for j, v in enumerate(row)]
        table.add_row(ellipsize(label, 10), *cells)
    return table


def per_class_table(per_class: dict[str, dict]) -> Table:
    table = Table(title="per class", title_justify="left", show_edge=False, pad_edge=False, box=None,
                  header_style="bold")
    for name in ("class", "prec", "recall", "F1", "n"):
        table.add_column(name, justify="left" if name == "class" else "right")
    for label, m in per_class.items():
        table.add_row(ellipsize(label, 12), fmt_metric(m.get("precision")), fmt_metric(m.get("recall")),
                      fmt_metric(m.get("f1")), str(m.get("support", "-")))
    return table


class ConfusionView(Static):
    """Shows the evaluation it is given; its title says which split and epoch."""

    def show(self, evaluation: dict | None, labels: list[str]) -> None:
        if evaluation and evaluation.get("per_label"):  # multi-label: no confusion matrix, one row per label
            self.update(Group(Text(f"{evaluation.get('split', '?')} · epoch {evaluation.get('epoch', '?')} · "
                                   f"n={evaluation.get('n', '?')} · per label", style="bold"),
                              per_class_table(evaluation["per_label"])))
            return
        if not evaluation or not evaluation.get("confusion_matrix"):
            self.update(Text("confusion matrix: after the first evaluation", style="dim"))
            return
        labels = labels or list(evaluation.get("per_class") or []) or [
            str(i) for i in range(len(evaluation["confusion_matrix"]))]
        head = Text(f"{evaluation.get('split', '?')} · epoch {evaluation.get('epoch', '?')} · "
                    f"n={evaluation.get('n', '?')}", style="bold")
        grid = Table.grid(padding=(0, 3))
        grid.add_row(confusion_table(evaluation["confusion_matrix"], labels),
                     per_class_table(evaluation.get("per_class") or {}))
        self.update(Group(head, grid))
