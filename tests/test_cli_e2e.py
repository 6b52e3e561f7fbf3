"""End to end through the CLI: train a tiny model, then eval and predict its checkpoint."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.events import read_events
from tests.conftest import TINY, make_rows, write_csv

runner = CliRunner()


def train_json(*args: str) -> dict:
    result = runner.invoke(app, ["train", *args, "--json", "--quiet", *TINY])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    data = write_csv(root / "notes.csv", make_rows(240))
    payload = train_json("--data", str(data), "--epochs", "3", "--run-dir", str(root / "run"))
    return data, payload


def test_train_writes_complete_private_run_directory(trained):
    _, payload = trained
    run = Path(payload["run_dir"])
    assert stat.S_IMODE(run.stat().st_mode) == 0o700
    for name in ("run.toml", "events.jsonl", "metrics.json", "checkpoint/model.safetensors",
                 "checkpoint/config.json", "checkpoint/tokenizer.json"):
        assert (run / name).is_file(), name
        assert stat.S_IMODE((run / name).stat().st_mode) & 0o077 == 0, f"{name} readable by others"
    types = [e["type"] for e in read_events(run)]
    assert types[0] == "run_started" and types[-1] == "run_finished"
    for kind in ("step", "eval", "checkpoint", "memory", "heartbeat", "baseline"):
        assert kind in types, kind
    assert all(e["v"] == 1 and isinstance(e["t"], float) for e in read_events(run))
    started = read_events(run)[0]
    assert started["n_train"] + started["n_val"] + started["n_test"] == 240
    assert started["params"]["trainable"] == started["params"]["total"] > 0
    for key in ("accuracy", "precision_macro", "recall_macro", "f1_macro", "f1_weighted", "f1_positive", "roc_auc"):
        assert 0.0 <= payload["metrics"][key] <= 1.0, key
    assert payload["metrics"]["f1_macro"] > 0.7  # the keywords are learnable in 3 epochs
    assert 0.0 <= payload["baseline"]["f1_macro"] <= 1.0 and payload["baseline"]["n"] == payload["metrics"]["n"]
    assert json.loads((run / "metrics.json").read_text()) == payload


def test_losses_go_down(trained):
    _, payload = trained
    losses = [e["loss"] for e in read_events(Path(payload["run_dir"])) if e["type"] == "step"]
    assert len(losses) >= 4
    assert np.mean(losses[-2:]) < np.mean(losses[:2])


def test_eval_matches_training_metrics_and_predict_matches_in_process(trained, tmp_path):
    data, payload = trained
    ckpt = payload["checkpoint"]
    result = runner.invoke(app, ["eval", ckpt, "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["n"] == 240 and len(metrics["confusion_matrix"]) == 2

    out = tmp_path / "pred.csv"
    result = runner.invoke(app, ["predict", ckpt, "--data", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    import csv

    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert len(rows) == 240 and set(rows[0]) == {"row", "predicted", "p_0", "p_1", "threshold"}
    assert "text" not in rows[0]

    from clinitui.engine.inference.apply import probabilities

    texts = [r["text"] for r in make_rows(240)]
    probs, info = probabilities(Path(ckpt), texts)
    in_process = [info.label_names[i] for i in probs.argmax(1)]
    assert [r["predicted"] for r in rows] == in_process
    np.testing.assert_allclose([float(r["p_1"]) for r in rows], probs[:, 1], atol=1e-5)
    # the eval metrics agree with predictions made in-process
    acc = np.mean([p == r["label"] for p, r in zip(in_process, make_rows(240))])
    assert metrics["accuracy"] == pytest.approx(acc)


def test_predict_jsonl_to_stdout(trained):
    data, payload = trained
    result = runner.invoke(app, ["predict", payload["checkpoint"], "--data", str(data)])
    assert result.exit_code == 0
    lines = [json.loads(l) for l in result.stdout.splitlines()]
    assert len(lines) == 240 and lines[0]["row"] == 0


def test_same_command_twice_gives_same_metrics(small_csv, tmp_path):
    a = train_json("--data", str(small_csv), "--epochs", "1", "--run-dir", str(tmp_path / "a"))
    b = train_json("--data", str(small_csv), "--epochs", "1", "--run-dir", str(tmp_path / "b"))
    assert a["metrics"] == b["metrics"]
    assert a["val_metrics"] == b["val_metrics"]


def test_multiclass_with_split_column(tmp_path):
    rows = make_rows(180, n_classes=3)
    for i, row in enumerate(rows):
        row["split"] = ["train", "train", "train", "dev", "test"][i % 5]
    data = write_csv(tmp_path / "three.tsv", rows, delimiter="\t")
    payload = train_json("--data", str(data), "--split-col", "split", "--epochs", "2")
    assert payload["labels"] == ["0", "1", "2"]
    assert "f1_positive" not in payload["metrics"]
    assert len(payload["metrics"]["confusion_matrix"]) == 3
    assert payload["counts"]["test"] == {"0": 12, "1": 12, "2": 12}


def test_plain_progress_lines_when_not_a_terminal(small_csv):
    result = runner.invoke(app, ["train", "--data", str(small_csv), "--epochs", "1", *TINY])
    assert result.exit_code == 0, result.output
    err = result.stderr
    assert "classes train:" in err and "checkpoint saved" in err
    assert "F1 (macro)" in result.stdout
