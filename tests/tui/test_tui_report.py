"""The evaluate screen shows intervals, the operating point and the baseline comparison, and one key
(ctrl+g) writes the HTML report of the run and shows its path. A real tiny run, real subprocesses."""

from __future__ import annotations

import asyncio
import json

from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.tui.app import ClinituiApp
from clinitui.tui.screens.evaluate import EvaluateScreen
from tests.conftest import TINY, make_rows, write_csv
from test_tui_pilot import type_into, wait_for


def shown(dialog) -> str:
    """The plain text of the dialog's result area."""
    from rich.console import Console

    console = Console(width=200, record=True, file=open("/dev/null", "w"))
    console.print(dialog.query_one("#eval-result").content)
    return console.export_text()


def test_evaluate_screen_shows_intervals_and_writes_the_report(tmp_path):
    data = write_csv(tmp_path / "notes.csv", make_rows(200, seed=8))
    run = tmp_path / "runs" / "r1"
    trained = CliRunner().invoke(app, ["train", "--data", str(data), "--run-dir", str(run), *TINY, "--epochs", "1",
                                       "--bootstrap", "100", "--quiet"])
    assert trained.exit_code == 0, trained.output

    async def scenario() -> None:
        tui = ClinituiApp(tmp_path / "runs", planner=False)
        async with tui.run_test(size=(120, 50)) as pilot:
            dialog = EvaluateScreen(run)
            tui.push_screen(dialog)
            await wait_for(pilot, lambda: tui.screen is dialog, 5, "the evaluate dialog")
            await pilot.press("ctrl+g")  # the run's own test split: no data file needed
            await wait_for(pilot, lambda: dialog.report_path is not None, 120, "the HTML report")
            assert (run / "report.html").is_file() and dialog.report_path == str(run / "report.html")
            await pilot.pause()
            assert "report written" in shown(dialog)

            await type_into(pilot, "eval-data", str(data))
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: dialog.metrics is not None, 120, "the evaluation")
            await pilot.pause()
            text = shown(dialog)
            assert "95% intervals" in text and "operating point" in text and "calibration" in text
            assert "on the run's test split:" in text  # the baseline verdict of the training run
            assert "[" in text.split("F1 ")[1].split("·")[0]  # F1 0.861 [0.842, 0.879]
            assert dialog.metrics["f1_macro_ci"][0] <= dialog.metrics["f1_macro"] <= dialog.metrics["f1_macro_ci"][1]

    asyncio.run(scenario())
    assert json.loads((run / "report.json").read_text())["metrics"]["n"] > 0
