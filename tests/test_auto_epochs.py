"""A small training split gets more epochs when they were left at their default (engine/train/auto_epochs.py)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.engine.train.auto_epochs import epochs_for
from clinitui.events import read_events
from tests.conftest import TINY, make_rows, write_csv

runner = CliRunner()


@pytest.mark.parametrize("notes, batch, expected", [
    (1065, 32, 9),   # MORFITT's training split: 34 steps an epoch, 9 epochs reach 300 steps
    (4320, 32, 4),   # the demo corpus: 540 steps in the default 4 epochs, unchanged
    (399, 32, 4),    # below 400 notes the validation split is too small to stop on: unchanged
    (400, 16, 12),   # 25 steps an epoch would need 12 epochs: exactly the 3x cap
    (400, 8, 6),     # 50 steps an epoch: 6 epochs
])
def test_epochs_for_reaches_min_steps_within_the_cap(notes, batch, expected):
    assert epochs_for(notes, batch, 4, 300) == expected
    assert epochs_for(notes, batch, 4, 0) == 4  # train.min_steps=0: off


def _train(tmp_path: Path, name: str, *extra: str):
    data = tmp_path / "notes.csv"
    if not data.exists():
        write_csv(data, make_rows(600, seed=3))  # 480 training notes: 30 steps an epoch at batch 16
    run = tmp_path / name
    result = runner.invoke(app, ["train", "--data", str(data), "--run-dir", str(run), "--json", *TINY,
                                 "--set", "train.max_steps=3", "--set", "train.baseline=false", *extra])
    assert result.exit_code == 0, result.output
    started = next(e for e in read_events(run) if e["type"] == "run_started")
    recorded = tomllib.loads((run / "run.toml").read_text())["train"]["epochs"]
    return result, started, recorded, json.loads(result.stdout)


def test_default_epochs_are_raised_on_a_small_split_and_recorded(tmp_path):
    result, started, recorded, payload = _train(tmp_path, "auto")
    assert started["epochs_raised"] == {"from": 4, "to": 10, "train_notes": 480, "min_steps": 300,
                                        "steps_per_epoch": 30}
    assert recorded == 10 and started["config"]["train"]["epochs"] == 10  # a resume trains the same epochs
    assert "epochs 4 → 10: 480 training notes give 30 optimizer steps an epoch" in result.stderr


@pytest.mark.parametrize("extra", [["--epochs", "4"], ["--set", "train.min_steps=0"]])
def test_chosen_epochs_or_min_steps_zero_are_left_alone(tmp_path, extra):
    result, started, recorded, _ = _train(tmp_path, "chosen", *extra)
    assert "epochs_raised" not in started and recorded == 4
    assert "optimizer steps an epoch" not in result.stderr
