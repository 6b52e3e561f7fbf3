"""The seed-averaged checkpoint of ``train --seeds N`` is post-processed like a single run's.

Its temperature and operating threshold are fitted on the *group's* validation predictions (the
mean of its members' probabilities), locked in its config.json, and applied by ``eval``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.engine.evaluate.calibration import apply_temperature, fit_temperature
from clinitui.engine.evaluate.operating_point import choose_threshold
from tests.conftest import TINY, make_rows, write_csv

runner = CliRunner()


def test_binary_seed_group_gets_its_own_temperature_and_threshold_and_eval_applies_them(tmp_path):
    data = write_csv(tmp_path / "notes.csv", make_rows(200, seed=5))
    result = runner.invoke(app, ["train", "--data", str(data), "--seeds", "2", "--epochs", "1", "--quiet", "--json",
                                 "--run-dir", str(tmp_path / "group"), *TINY, "--set", "train.baseline=false",
                                 "--set", "model.ensemble=none", "--set", "train.bootstrap=50"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    group, ckpt = Path(payload["run_dir"]), Path(payload["checkpoint"])
    cfg = json.loads((ckpt / "config.json").read_text())

    # the group's own validation predictions: the mean of its members' (written by each run)
    members = [json.loads((Path(r) / "predictions.json").read_text()) for r in payload["runs"]]
    record = json.loads((group / "predictions.json").read_text())
    y_val = np.array(record["val"]["y"])
    averaged = np.mean([m["val"]["probs"] for m in members], axis=0)
    np.testing.assert_allclose(record["val"]["probs"], averaged, atol=1e-5)
    assert all(m["val"]["y"] == record["val"]["y"] for m in members)

    rule = cfg["operating_point"]["rule"]
    assert cfg["temperature"] == pytest.approx(fit_temperature(y_val, averaged), abs=1e-3)
    pos = cfg["positive_index"]
    expected = choose_threshold(y_val, apply_temperature(averaged, cfg["temperature"])[:, pos], pos, rule)
    assert cfg["operating_point"] == {"rule": rule, "threshold": pytest.approx(expected, abs=1e-3),
                                      "chosen_on": "validation"}
    assert payload["operating_point"]["threshold"] == cfg["operating_point"]["threshold"]
    assert "f1_macro_ci" in payload["metrics"] and "calibration" in payload
    assert json.loads((group / "seeds.json").read_text()) == payload

    result = runner.invoke(app, ["eval", str(ckpt), "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    scored = json.loads(result.stdout)
    assert scored["temperature"] == cfg["temperature"]
    assert scored["operating_point"]["threshold"] == cfg["operating_point"]["threshold"]
    # and its decisions are the threshold's on the group's tempered probabilities, not argmax's
    import csv

    from clinitui.engine.evaluate.operating_point import predict_with_threshold
    from clinitui.engine.inference.predictor import checkpoint_probabilities

    rows = list(csv.DictReader(open(data, encoding="utf-8")))
    y = np.array([cfg["label_names"].index(r["label"]) for r in rows])
    probs, _ = checkpoint_probabilities(ckpt, [r["text"] for r in rows], device="cpu")
    pred = predict_with_threshold(apply_temperature(probs, cfg["temperature"]), pos, cfg["operating_point"]["threshold"])
    assert scored["operating_point"]["tp"] == int(((pred == pos) & (y == pos)).sum())
    assert scored["operating_point"]["fp"] == int(((pred == pos) & (y != pos)).sum())
