"""Pilot-driven tests of the console with a real worker process and a real tiny model.

The form is filled by typing, the run is started with ctrl+s (a detached worker, the same
launcher as ``clinitui train --detach``), followed live, stopped behind the confirmation, found
in the runs screen, and its checkpoint evaluated with the engine of ``clinitui eval``.
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from clinitui.tui.app import ClinituiApp
from clinitui.tui.screens.confirm import ConfirmScreen
from clinitui.tui.screens.evaluate import EvaluateScreen
from clinitui.tui.screens.launch import LaunchScreen
from clinitui.tui.screens.run import RunScreen
from clinitui.tui.screens.runs import RunsScreen
from clinitui.tui.widgets.loss_chart import LossChart
from clinitui.tui.widgets.metrics_table import MetricsTable
from clinitui.tui.widgets.runs_table import RunsTable

# A tiny model that would train for long (30 epochs, no early stopping): it is stopped after its
# first evaluation.
TINY = ("model.backbone_options.size=tiny model.backbone_options.vocab_size=300 train.max_length=32 "
        "train.batch_size=16 train.log_every=2 train.threads=1 train.early_stopping=false train.baseline=false")


async def wait_for(pilot, predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.1)


async def type_into(pilot, widget_id: str, text: str) -> None:
    pilot.app.screen.query_one(f"#{widget_id}").focus()
    await pilot.pause()
    await pilot.press(*text)


def _alive(pid: int) -> bool:
    from clinitui.rundir import pid_alive
    from clinitui.tui.processes import reap

    reap()  # the worker is this test's child: an exited one stays a zombie until reaped
    return pid_alive(pid)


@pytest.mark.slow  # 22 s: the console's whole path with a real worker; the marked tier runs it (.ci/run)
def test_launch_follow_stop_list_and_evaluate(tmp_path, small_csv):
    async def scenario() -> None:
        app = ClinituiApp(tmp_path / "runs")
        async with app.run_test(size=(100, 34)) as pilot:
            # -- the launch form
            form = app.screen
            assert isinstance(form, LaunchScreen)
            await wait_for(pilot, lambda: form.catalog_loaded, 20, "the presets")
            await type_into(pilot, "data-path", "./")  # typed, then completed like a file picker would
            form.query_one("#data-path").value = str(small_csv)
            await type_into(pilot, "epochs", "30")
            await type_into(pilot, "seed", "7")
            form.query_one("#extra").value = TINY  # typing 150 characters would only slow the test down
            await wait_for(pilot, lambda: form.preview_ok, 20, "the dataset preview")
            preview = str(form.query_one("#preview").render())
            assert "240 notes" in preview and "120 (50%)" in preview  # counts, never note text
            assert "patient" not in preview
            await wait_for(pilot, lambda: not form.query_one("#start").disabled, 20, "Start to be enabled")
            # the planner (clinitui train --dry-run, in a subprocess) shows the plan before starting
            await wait_for(pilot, lambda: "trainable" in str(form.query_one("#plan").render()), 60, "the memory plan")
            assert "micro-batch 16" in str(form.query_one("#plan").render())

            # -- start: a detached worker; the run screen follows its events
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(app.screen, RunScreen), 20, "the run screen")
            run = app.screen
            await wait_for(pilot, lambda: run.state.loss and run.state.evals, 90, "steps and a first evaluation")
            # charts redraw at most every 3 s (first data at once): give the chart one period, on a busy machine
            await wait_for(pilot, lambda: "val F1" in str(run.query_one(LossChart).render()), 10, "the loss chart")
            chart = str(run.query_one(LossChart).render())
            assert "train loss" in chart and "val F1" in chart
            await pilot.press("3")
            await wait_for(pilot, lambda: run.query_one(MetricsTable).row_count >= 1, 10, "the metrics table")
            assert run.state.status == "running"
            pid = int((run.run_dir / "worker.pid").read_text())
            assert pid != os.getpid()  # trained in another process

            # -- stop, behind a confirmation
            await pilot.press("s")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5, "the stop confirmation")
            await pilot.press("y")
            await wait_for(pilot, lambda: run.state.status == "stopped", 60, "the worker to stop")
            assert any("stopped" in line.text for line in run.state.log)
            await wait_for(pilot, lambda: not _alive(pid), 20, "the worker process to exit")

            # -- the runs screen lists it
            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.listed > 0, 10,
                           "the runs screen")
            table = app.screen.query_one(RunsTable)
            assert [r.status for r in table.runs.values()] == ["stopped"]
            assert table.current.path == run.run_dir

            # -- evaluate its checkpoint (saved at the first evaluation) on the CSV
            await pilot.press("e")
            await wait_for(pilot, lambda: isinstance(app.screen, EvaluateScreen), 5, "the evaluate dialog")
            dialog = app.screen
            await type_into(pilot, "eval-data", str(small_csv))
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: dialog.metrics is not None, 90, "the evaluation report")
            assert dialog.metrics["n"] == 240 and len(dialog.metrics["confusion_matrix"]) == 2
            await pilot.pause()
            assert "confusion" in app.export_screenshot()  # the report is on screen

    asyncio.run(scenario())


def test_form_refuses_bad_input_and_palette_lists_actions(tmp_path):
    async def scenario() -> None:
        app = ClinituiApp(tmp_path / "runs", planner=False)
        async with app.run_test(size=(80, 24)) as pilot:
            form = app.screen
            await wait_for(pilot, lambda: form.catalog_loaded, 20, "the presets")
            titles = {c.title for c in app.get_system_commands(app.screen)}
            assert {"Start run", "Browse data", "Peek notes", "Runs", "New run"} <= titles

            form.query_one("#data-path").value = str(tmp_path / "missing.csv")
            await wait_for(pilot, lambda: form.preview_error is not None, 10, "the reader's error")
            assert form.query_one("#start").disabled
            assert "no such file" in str(form.query_one("#start-reason").render())

            form.query_one("#data-path").value = ""  # back to the demo corpus
            await type_into(pilot, "extra", "train.epochs=0")
            await wait_for(pilot, lambda: "train.epochs" in str(form.query_one("#start-reason").render()), 10,
                           "the validation message")
            assert form.query_one("#start").disabled
            await pilot.press("ctrl+s")  # refused: nothing is started
            await pilot.pause(0.2)
            assert isinstance(app.screen, LaunchScreen)
            assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())

            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen), 5, "the runs screen")
            titles = {c.title for c in app.get_system_commands(app.screen)}
            assert {"Mark", "Compare", "Evaluate", "Stop run", "Refresh"} <= titles

    asyncio.run(scenario())


def test_hidden_runs_list_stops_polling_while_a_run_screen_covers_it(canned_root, monkeypatch):
    """A console left open on a run must not spend the training's CPU on screens nobody sees."""
    from clinitui.tui.listing import RunLister
    from clinitui.tui.screens import runs as runs_module

    calls: list[float] = []
    original = RunLister.list
    monkeypatch.setattr(RunLister, "list", lambda self: calls.append(time.monotonic()) or original(self))
    monkeypatch.setattr(runs_module, "REFRESH_S", 0.2)  # the list refreshes every 0.2 s while shown

    async def scenario() -> None:
        app = ClinituiApp(canned_root, mode="runs", planner=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: len(calls) >= 3, 10, "the runs list to refresh while shown")
            await pilot.app.push_screen(RunScreen(canned_root / "20231114-221320-scratch-transformer-grn"))
            await pilot.pause(0.3)
            covered = len(calls)
            await pilot.pause(1.0)  # five refresh periods
            assert len(calls) == covered, "the covered runs list kept polling"
            await pilot.press("escape")
            await wait_for(pilot, lambda: len(calls) > covered, 5, "the runs list to refresh when shown again")

    asyncio.run(scenario())


def test_charts_of_a_live_run_redraw_at_most_every_few_seconds(canned_root, monkeypatch):
    """Step events arriving faster than the chart period are drawn together, not one by one."""
    import json

    from clinitui.tui.screens import run as run_module

    monkeypatch.setattr(run_module, "REDRAW_EVERY_S", 0.1)  # text panels follow every event
    monkeypatch.setattr(run_module, "CHART_EVERY_S", 1.5)
    draws: list[float] = []
    original = LossChart.show
    monkeypatch.setattr(LossChart, "show", lambda self, state: draws.append(time.monotonic()) or original(self, state))
    live = canned_root / "20231114-221325-camembert-bio-grn"

    async def scenario() -> None:
        app = ClinituiApp(canned_root, open_run=live, planner=False)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = pilot.app.screen
            await wait_for(pilot, lambda: screen.events_applied > 0 and draws, 10, "the history to be drawn")
            steps_before = len(screen.state.loss)
            with open(live / "events.jsonl", "a", encoding="utf-8") as fh:
                for i in range(8):  # a step event every 0.25 s for 2 s
                    fh.write(json.dumps({"type": "step", "t": time.time(), "epoch": 2, "step": 30 + i,
                                         "total_steps": 60, "loss": 0.5, "lr": 1e-3}) + "\n")
                    fh.flush()
                    await pilot.pause(0.25)
            last_write = time.monotonic()
            await wait_for(pilot, lambda: len(screen.state.loss) == steps_before + 8, 5, "the steps to arrive")
            await wait_for(pilot, lambda: draws[-1] > last_write, 5, "the last steps to be drawn")
            live_draws = draws[1:]  # after the history
            gaps = [b - a for a, b in zip(live_draws, live_draws[1:])]
            assert 1 <= len(live_draws) < 8, draws  # 8 step events: drawn together, not one by one
            assert all(g >= 1.4 for g in gaps), gaps  # never twice within the chart period

    asyncio.run(scenario())
