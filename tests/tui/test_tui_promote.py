"""The console's part of issue 27: the run screen says where a run is tracked, and the runs table
promotes the selected run (``p``) after a confirmation, with the same checks as ``clinitui promote``."""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from typer.testing import CliRunner

from clinitui.cli.app import app as cli
from clinitui.promote import folder_sha256
from clinitui.tui.app import ClinituiApp
from clinitui.tui.screens.promote import PromoteScreen
from clinitui.tui.screens.run import RunScreen
from clinitui.tui.screens.runs import RunsScreen
from clinitui.tui.widgets.runs_table import RunsTable
from clinitui.tui.widgets.stats_bar import StatsBar
from tests.tui.test_tui_pilot import type_into, wait_for

pytest.importorskip("tensorboardX")


@pytest.fixture
def tracked_run(tmp_path, small_csv):
    result = CliRunner().invoke(cli, ["train", "--data", str(small_csv), "--backbone", "tfidf", "--runs-root",
                                      str(tmp_path / "runs"), "--run-dir", str(tmp_path / "runs" / "tfidf-run"),
                                      "--log-to", "tensorboard", "--quiet", "--json"])
    assert result.exit_code == 0, result.output
    return tmp_path / "runs" / "tfidf-run"


def test_run_screen_says_where_the_run_is_tracked_and_runs_table_promotes_it(tracked_run, tmp_path):
    deploy = tmp_path / "models" / "current"

    async def scenario() -> None:
        app = ClinituiApp(tracked_run.parent, mode="runs", planner=False)
        async with app.run_test(size=(100, 30)) as pilot:
            screen = app.screen
            assert isinstance(screen, RunsScreen)
            await wait_for(pilot, lambda: screen.query_one(RunsTable).current is not None, 10, "the run listed")
            await pilot.press("p")
            await wait_for(pilot, lambda: isinstance(app.screen, PromoteScreen), 5, "the promote dialog")
            await type_into(pilot, "promote-deploy", str(deploy))
            await pilot.click("#yes")
            await wait_for(pilot, lambda: deploy.is_symlink() and not isinstance(app.screen, PromoteScreen), 30,
                           "the promotion")
            assert folder_sha256(deploy) == folder_sha256(tracked_run / "checkpoint")
            await pilot.app.push_screen(RunScreen(tracked_run))
            run_screen = app.screen
            await wait_for(pilot, lambda: run_screen.events_applied > 0, 10, "the run's events")
            shown = str(run_screen.query_one(StatsBar).render())
            assert "tracked in TensorBoard" in shown and "tfidf-run" in shown

    asyncio.run(scenario())
    state = json.loads((tracked_run / "tracking.json").read_text())
    assert os.path.isdir(state["tensorboard"]["logdir"])
