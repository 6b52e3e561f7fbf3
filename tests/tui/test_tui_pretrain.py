"""The console follows pretraining: launch it from the form, watch its MLM curves, train on its backbone.

A real detached worker pretrains a tiny from-scratch backbone for a few steps on a labelled file
plus an unlabeled one; the run screen shows masked-LM figures instead of accuracy / F1; "t" comes
back to the form with the backbone folder chosen, and a short training run fine-tunes it.
"""

from __future__ import annotations

import asyncio
import csv
import json

import pytest

from clinitui.events import read_events
from clinitui.tui.app import ClinituiApp
from clinitui.tui.screens.launch import LaunchScreen
from clinitui.tui.screens.run import RunScreen
from clinitui.tui.widgets.loss_chart import LossChart
from clinitui.tui.widgets.metrics_table import MetricsTable
from clinitui.tui.widgets.mlm_table import MlmTable
from clinitui.tui.widgets.stats_bar import StatsBar

PRETRAIN = "model.backbone_options.vocab_size=300 train.batch_size=16 train.threads=1 pretrain.eval_every=3"
FINETUNE = ("train.epochs=1 train.max_steps=3 train.batch_size=16 train.threads=1 train.max_length=32 "
            "train.baseline=false train.bootstrap=0 model.ensemble=none")


async def wait_for(pilot, predicate, timeout: float, what: str) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.1)


def test_pretrain_from_the_form_shows_mlm_curves_then_trains_on_the_backbone(tmp_path, small_csv):
    unlabeled = tmp_path / "more notes.csv"
    with open(unlabeled, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text"])
        for i in range(60):
            writer.writerow([f"patient seen in clinic {i} with cough and fever, chest clear, follow up {i % 7}"])

    async def scenario() -> None:
        app = ClinituiApp(tmp_path / "runs")  # with the planner: it must not plan pretraining as training
        async with app.run_test(size=(100, 40)) as pilot:
            form = app.screen
            await wait_for(pilot, lambda: form.catalog_loaded, 20, "the presets")
            assert not form.query_one("#more-data-row").display  # training: no pretraining rows
            form.query_one("#run-kind").value = "pretrain"
            await wait_for(pilot, lambda: form.query_one("#more-data-row").display, 5, "the pretraining rows")
            assert not form.query_one("#adapter-row").display  # masked-LM pretraining takes no adapter
            assert "pretraining" in str(form.query_one("#launch-title").render())
            form.query_one("#data-path").value = str(small_csv)
            form.query_one("#more-data").value = str(unlabeled)
            for widget_id, value in (("steps", "6"), ("window", "32"), ("size", "tiny"), ("extra", PRETRAIN)):
                form.query_one(f"#{widget_id}").value = value
            await wait_for(pilot, lambda: form.preview_ok, 20, "the dataset preview")
            await wait_for(pilot, lambda: not form.query_one("#start").disabled, 20, "Start to be enabled")
            await pilot.pause(0.5)
            assert "made by the worker" in str(form.query_one("#plan").render())
            assert not form.query_one("#start").disabled
            line = str(form.query_one("#cli-equivalent").render())
            assert line.startswith("clinitui pretrain --data") and "--steps 6" in line and "--window 32" in line

            # -- a detached pretraining worker; the run screen shows masked-LM figures
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(app.screen, RunScreen), 20, "the run screen")
            run = app.screen
            await wait_for(pilot, lambda: run.state.status in ("finished", "failed", "crashed"), 120, "pretraining")
            assert run.state.status == "finished", run.state.error
            assert run.state.is_pretrain and len(run.state.mlm_evals) >= 2
            started = next(e for e in read_events(run.run_dir) if e["type"] == "run_started")
            assert [f["file"] for f in started["data_files"]] == ["notes.csv", "more notes.csv"]
            assert started["test_rows_left_out"] > 0  # the labelled file's test rows are never seen
            await wait_for(pilot, lambda: "held-out MLM loss" in str(run.query_one(LossChart).render()), 10,
                           "the MLM chart")
            chart = str(run.query_one(LossChart).render())
            assert "train MLM loss" in chart and "val F1" not in chart
            stats = str(run.query_one(StatsBar).render())
            assert "pretraining (masked LM)" in stats and "held-out MLM loss" in stats and "+ grn" not in stats
            await pilot.press("3")
            await wait_for(pilot, lambda: run.query_one(MlmTable).row_count == len(run.state.mlm_evals), 10,
                           "the MLM table")
            assert not run.query_one(MetricsTable).display
            await pilot.press("e")  # no classifier to evaluate: a notice, no dialog
            await pilot.pause(0.2)
            assert app.screen is run

            # -- "t": back to the form, the backbone folder chosen for a training run
            folder = run.run_dir / "checkpoint"
            await pilot.press("t")
            await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen), 10, "the launch form")
            form = app.screen
            await wait_for(pilot, lambda: form.query_one("#backbone").value == str(folder), 10, "the backbone folder")
            assert form.query_one("#run-kind").value == "train" and form.query_one("#adapter-row").display
            assert f"--backbone {folder}" in str(form.query_one("#cli-equivalent").render())
            form.query_one("#more-data").value = ""
            form.query_one("#extra").value = FINETUNE
            await wait_for(pilot, lambda: form.preview_ok and not form.query_one("#start").disabled, 20,
                           "Start to be enabled for training")
            # the planner (`clinitui train --dry-run --backbone FOLDER`) plans the pretrained backbone
            await wait_for(pilot, lambda: "trainable" in str(form.query_one("#plan").render()), 60, "the memory plan")
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.run_dir != run.run_dir,
                           20, "the training run screen")
            train = app.screen
            await wait_for(pilot, lambda: train.state.status in ("finished", "failed", "crashed"), 120, "training")
            assert train.state.status == "finished", train.state.error
            assert not train.state.is_pretrain
            options = train.state.config["model"]["backbone_options"]
            assert options.get("init_from") == str(folder)  # fine-tunes the pretrained weights
            assert json.loads((train.run_dir / "metrics.json").read_text())["metrics"]["f1_macro"] >= 0.0

    asyncio.run(scenario())


def _pretrain_events() -> list[dict]:
    """A finished pretraining run's events, as engine/recipes/pretrain.py writes them (numbers only)."""
    t0 = 1_700_000_000.0
    config = {"model": {"backbone": "scratch-transformer", "adapter": "grn", "backbone_options": {"size": "tiny"}},
              "train": {"epochs": 4}, "budget": {"name": "cpu"}, "pretrain": {"window": 64, "steps": 40}}
    events = [{"v": 1, "t": t0, "type": "run_started", "kind": "pretrain", "config": config, "device": "cpu",
               "precision": "fp32", "params": {"trainable": 412_000, "total": 412_000}, "unigram_loss": 6.8,
               "plan": {"micro_batch": 16, "grad_accumulation": 1}, "total_steps": 40,
               "data_files": [{"file": "notes.csv"}, {"file": "unlabeled.csv"}], "n_train": 900, "n_val": 40}]
    for step in range(1, 41):
        events.append({"v": 1, "t": t0 + step, "type": "step", "epoch": 1 + step // 20, "step": step,
                       "total_steps": 40, "loss": round(7.5 - 2.5 * step / 40, 4), "lr": 5e-4 * (1 - step / 41),
                       "tokens_per_s": 3100.0})
        if step % 10 == 0:
            loss = round(7.0 - 2.2 * step / 40, 4)
            events.append({"v": 1, "t": t0 + step + 0.5, "type": "eval", "split": "val", "step": step,
                           "mlm_loss": loss, "perplexity": round(2.718281828 ** loss, 3), "unigram_loss": 6.8})
    events.append({"v": 1, "t": t0 + 42, "type": "run_finished", "kind": "pretrain", "val_mlm_loss": 4.8,
                   "perplexity": 121.5, "wall_seconds": 42.0})
    return events


@pytest.mark.parametrize("tab", ["1", "3"])
def test_pretrain_run_screen_snapshot(snap_compare, fixed_root, tab):
    run = fixed_root / "20231114-221400-pretrain-scratch-transformer"
    run.mkdir()
    (run / "run.toml").write_text("[pretrain]\nwindow = 64\n")
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in _pretrain_events()))
    app = ClinituiApp(fixed_root, open_run=run, planner=False)

    async def before(pilot) -> None:
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.events_applied > 0 and screen.state.final is not None
                       and screen._timer is None, 10, "the events")
        await pilot.press(tab)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(80, 24), run_before=before)
