"""A pretraining run's held-out evaluations: MLM loss and perplexity per evaluation step.

Shown on the run screen's Metrics tab instead of the accuracy / F1 table and the confusion
matrix, which a masked-language model does not have. The last column compares each loss with
the held-out loss of token frequencies alone (the ``unigram_loss`` of ``run_started``): below
it, the backbone has learnt some context.
"""

from __future__ import annotations

from textual.widgets import DataTable

from clinitui.fmt import fmt_metric

COLUMNS = ("step", "held-out MLM loss", "perplexity", "vs token frequencies")


class MlmTable(DataTable):
    """One row per held-out evaluation."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_columns(*COLUMNS)

    def show(self, evals: list[dict], unigram: float | None) -> None:
        self.clear()
        for e in evals:
            loss = e.get("mlm_loss")
            delta = "-" if unigram is None or loss is None else f"{loss - unigram:+.3f}"
            self.add_row(str(e.get("step", "?")), fmt_metric(loss, 4), fmt_metric(e.get("perplexity"), 1), delta)
