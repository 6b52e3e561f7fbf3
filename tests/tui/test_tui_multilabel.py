"""The run screen's metric panel for a multi-label run: micro/macro-F1 instead of accuracy."""

from __future__ import annotations

import asyncio

from textual.app import App

from clinitui.tui.widgets.metrics_table import COLUMNS, MULTILABEL_COLUMNS, MetricsTable

ML_EVAL = {"split": "val", "epoch": 1, "f1_micro": 0.7123, "f1_macro": 0.6543, "f1_samples": 0.7, "subset_accuracy": 0.41,
           "hamming_loss": 0.08, "roc_auc": 0.9}


class _Host(App):
    def compose(self):
        yield MetricsTable()


def test_metrics_table_switches_to_multilabel_columns_and_back():
    async def scenario():
        app = _Host()
        async with app.run_test() as pilot:
            table = app.query_one(MetricsTable)
            table.show([ML_EVAL], {**ML_EVAL, "split": "test"})
            await pilot.pause()
            assert tuple(str(c.label) for c in table.columns.values()) == MULTILABEL_COLUMNS
            assert table.row_count == 2
            assert [str(x) for x in table.get_row_at(0)][2:4] == ["0.712", "0.654"]
            table.show([{"split": "val", "epoch": 1, "accuracy": 0.9, "f1_macro": 0.8}], None)
            await pilot.pause()
            assert tuple(str(c.label) for c in table.columns.values()) == COLUMNS

    asyncio.run(scenario())


def test_dataset_preview_warns_about_joined_label_sets(tmp_path):
    from clinitui.data.multilabel_demo import write_multilabel_file
    from clinitui.tui.preview import table_stats
    from clinitui.tui.widgets.dataset_preview import preview_text

    data = tmp_path / "ml.csv"
    write_multilabel_file(data, 200, seed=3)
    lines = data.read_text(encoding="utf-8").splitlines(keepends=True)
    data.write_text("".join(line for line in lines if not line.rstrip().endswith(",")), encoding="utf-8")
    text = preview_text(table_stats(data, "text", "label")).plain
    assert "looks like joined label sets" in text and "--task multilabel --label-sep '|'" in text
    assert "more" in text.splitlines()[0]  # many classes: the top ones and a count, not a wall of text


def test_evaluate_dialog_and_run_screen_show_per_label_rows():
    from rich.console import Console

    from clinitui.tui.screens.evaluate import report
    from clinitui.tui.widgets.confusion import ConfusionView

    per_label = {"cardio": {"precision": 0.9, "recall": 0.8, "f1": 0.847, "roc_auc": 0.95, "support": 11},
                 "renal": {"precision": 0.5, "recall": 0.6, "f1": 0.545, "roc_auc": None, "support": 5}}
    console = Console(width=120, record=True)
    console.print(report({**ML_EVAL, "per_label": per_label, "labels": ["cardio", "renal"], "data": "x.csv"}))
    text = console.export_text()
    assert "micro-F1 0.712" in text and "cardio" in text and "0.847" in text

    async def scenario():
        class Host(App):
            def compose(self):
                yield ConfusionView()

        app = Host()
        async with app.run_test() as pilot:
            view = app.query_one(ConfusionView)
            view.show({**ML_EVAL, "per_label": per_label}, ["cardio", "renal"])
            await pilot.pause()
            shown = Console(width=120, record=True)
            shown.print(view.content)
            text = shown.export_text()
            assert "per label" in text and "renal" in text and "0.545" in text

    asyncio.run(scenario())
