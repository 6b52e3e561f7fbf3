"""The sweep screen: trial statuses from the journal and the run directories, the leaderboard,
enter opens a trial's run screen, ctrl+w reaches it; importing it loads no torch."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path

from tui_canned import write_run

from clinitui.events import EventWriter
from clinitui.tui.app import ClinituiApp


async def wait_for(pilot, predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.1)


def canned_sweep(root: Path) -> Path:
    """A sweep directory as the scheduler leaves it: spec, journal, two finished runs, a refused trial."""
    sweep = root / "sweeps" / "20231114-221320-sweep"
    (sweep / "trials").mkdir(parents=True)
    (sweep / "sweep.toml").write_text('seeds = [42]\n[base]\nbackbone = "scratch-tiny"\n'
                                      '[grid]\nadapter = ["grn", "linear", "lora"]\n', encoding="utf-8")
    journal = EventWriter(sweep / "sweep.jsonl")
    journal.emit("sweep_started", pid=1, backend="local", mode="grid", slots=2)
    for i, adapter in enumerate(["grn", "linear", "lora"]):
        journal.emit("trial_queued", name=f"00{i}-{adapter}-s42", settings={"adapter": adapter}, seed=42)
    for i, (kind, adapter) in enumerate([("finished", "grn"), ("cpu", "linear")]):
        name = f"00{i}-{adapter}-s42"
        run = write_run(sweep / "trials", name, kind)
        final = next(e for e in map(json.loads, (run / "events.jsonl").read_text().splitlines())
                     if e["type"] == "run_finished")
        (run / "metrics.json").write_text(json.dumps({"metrics": {"f1_macro": final["test_f1_macro"]},
                                                      "val_metrics": {"f1_macro": final["best_val_f1_macro"]},
                                                      "train_seconds": 12.0}))
        journal.emit("trial_started", name=name, run_dir=str(run), pid=1, slot=i)
        journal.emit("trial_finished", name=name, run_dir=str(run), val_f1_macro=final["best_val_f1_macro"])
    journal.emit("trial_refused", name="002-lora-s42", error="does not fit the budget")
    journal.emit("sweep_finished", seconds=30)
    journal.close()
    return sweep


def test_sweep_screen_lists_trials_ranks_them_and_opens_a_run(tmp_path):
    from clinitui.tui.screens.run import RunScreen
    from clinitui.tui.screens.sweep import SweepScreen

    sweep = canned_sweep(tmp_path)

    async def scenario() -> None:
        app = ClinituiApp(tmp_path / "runs", mode="runs", planner=False)
        async with app.run_test(size=(120, 30)) as pilot:
            screen = SweepScreen(sweep, sweeps_root=sweep.parent)
            await app.push_screen(screen)
            await wait_for(pilot, lambda: screen.reads >= 1, 10, "the sweep to be read")
            statuses = {r["name"]: r["status"] for r in screen.rows}
            assert statuses == {"000-grn-s42": "finished", "001-linear-s42": "finished", "002-lora-s42": "refused"}
            board = str(screen.query_one("#sweep-board").render())
            assert "Leaderboard" in board and "*1." in board
            await pilot.press("enter")  # the cursor is on the first trial
            await wait_for(pilot, lambda: isinstance(app.screen, RunScreen), 5, "the trial's run screen")
            assert app.screen.run_dir == sweep / "trials" / "000-grn-s42"

    asyncio.run(scenario())


def test_ctrl_w_opens_the_latest_sweep(tmp_path, monkeypatch):
    from clinitui.tui.screens.sweep import SweepScreen

    sweep = canned_sweep(tmp_path)
    monkeypatch.setenv("CLINITUI_RUNS_ROOT", str(tmp_path / "runs"))  # sweeps live beside the runs root

    async def scenario() -> None:
        app = ClinituiApp(tmp_path / "runs", mode="runs", planner=False)
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.press("ctrl+w")
            await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen) and app.screen.reads, 10, "the sweep")
            assert app.screen.sweep_dir == sweep

    asyncio.run(scenario())
    shutil.rmtree(sweep)


def test_the_sweep_screen_and_table_load_no_torch():
    import subprocess
    import sys

    code = ("import sys, clinitui.tui.screens.sweep, clinitui.tui.screens.sweep_launch, clinitui.sweep.table, "
            "clinitui.cli.sweep; print(' '.join(sorted(sys.modules)))")
    mods = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    assert not {"torch", "transformers", "sklearn", "optuna", "ray"} & mods
