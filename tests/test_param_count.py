"""One parameter count: the plan's count of a from-scratch model is a stated ceiling the run stays under."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.events import read_events
from tests.conftest import TINY

runner = CliRunner()


def test_plan_count_is_a_ceiling_within_the_stated_margin(small_csv, tmp_path):
    from clinitui.tui.widgets.plan_panel import plan_text

    args = ["train", "--data", str(small_csv), *TINY, "--epochs", "1", "--set", "train.max_steps=1",
            "--set", "train.baseline=false"]
    planned = runner.invoke(app, [*args, "--dry-run", "--json"])
    assert planned.exit_code == 0, planned.output
    plan = json.loads(planned.stdout)["plan"]
    margin = plan["model"]["vocab"] * plan["model"]["hidden"]
    shown = plan_text({"plan": plan}).plain
    assert "≤" in shown and "before the vocabulary is learnt" in shown and "fewer" in shown

    ran = runner.invoke(app, [*args, "--run-dir", str(tmp_path / "run"), "--json", "--quiet"])
    assert ran.exit_code == 0, ran.output
    params = next(e for e in read_events(tmp_path / "run") if e["type"] == "run_started")["params"]
    assert plan["total_params"] - margin <= params["total"] <= plan["total_params"]
    assert plan["trainable_params"] - margin <= params["trainable"] <= plan["trainable_params"]
