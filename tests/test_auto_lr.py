"""The learning rate follows what trains (engine/train/auto_lr.py); a run stuck on the majority class
says so once (engine/train/sanity.py)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.config.presets import compose
from clinitui.engine.train.auto_lr import RATES, Regime, describe_lr, resolve_lr
from clinitui.engine.train.sanity import MajorityWatch, likely_cause
from clinitui.events import read_events
from tests.conftest import TINY, make_rows, write_csv

runner = CliRunner()


@pytest.mark.parametrize("freeze, pretrained, regime, rate", [
    ("none", False, Regime.SCRATCH, 1e-3),   # from scratch (also a backbone pretrained by `clinitui pretrain`)
    ("none", True, Regime.FULL, 5e-5),       # a pre-trained encoder, every weight trains (docs/models.md)
    ("lora", True, Regime.LORA, 2e-4),       # decoders default to LoRA (models/backbones/decoder.py)
    ("backbone", True, Regime.FROZEN, 1e-3),  # only the adapter and head train
])
def test_auto_rate_per_regime(freeze, pretrained, regime, rate):
    note = describe_lr(None, freeze, pretrained)
    assert (Regime.of(freeze, pretrained), RATES[regime], note["value"], note["auto"]) == (regime, rate, rate, True)


def test_an_explicit_rate_always_wins():
    config = compose(backbone="camembert-bio", sets=["model.freeze=none", "train.lr=7e-4"])
    assert resolve_lr(config, "none", True) == (config, None)
    assert describe_lr(7e-4, "none", True)["auto"] is False
    auto = compose(backbone="camembert-bio", adapter="grn", sets=["model.freeze=none"])  # adapter presets set no lr
    assert auto.train.lr is None
    resolved, note = resolve_lr(auto, "none", True)
    assert resolved.train.lr == RATES[Regime.FULL] and note["regime"] == "full" and auto.train.lr is None


def test_dry_run_says_the_rate_and_why():
    result = runner.invoke(app, ["train", "--dry-run", "--json", "--backbone", "camembert-bio", "--set",
                                 "model.freeze=none", "--budget", "gpu-24gb"])
    assert result.exit_code == 0, result.output
    lr = json.loads(result.stdout)["lr"]
    assert lr == {"value": RATES[Regime.FULL], "auto": True, "regime": "full",
                  "why": "auto for a pre-trained encoder, fully fine-tuned"}
    text = runner.invoke(app, ["train", "--dry-run", "--backbone", "camembert-bio", "--budget", "gpu-24gb"])
    assert "learning rate 1e-3 (auto for a frozen backbone, only the adapter and head trained; --set train.lr=X" in text.stdout


def test_watch_counts_consecutive_single_class_epochs():
    watch = MajorityWatch(1e-3, Regime.FULL)
    one_class = {"confusion_matrix": [[0, 7], [0, 3]], "f1_macro": 0.4118}
    both = {"confusion_matrix": [[5, 2], [1, 2]], "f1_macro": 0.70}
    assert [watch.check(m) for m in (one_class, both, one_class)] == [None, None, None]
    message = watch.check(one_class)
    assert message.startswith("validation macro-F1 has stayed at the majority-class level (0.412) for 2 epochs")
    assert message.endswith("too high for a pre-trained encoder, fully fine-tuned; try --set train.lr=5e-5")
    assert watch.check(one_class) is None  # once per run
    assert "class_weights" in likely_cause(1e-3, Regime.SCRATCH)  # at its own regime's rate: not the rate


def _train(tmp_path: Path, rows: list[dict], *extra: str) -> tuple[list[dict], str]:
    data = write_csv(tmp_path / "notes.csv", rows)
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--data", str(data), "--run-dir", str(run), *TINY, "--epochs", "2",
                                 "--set", "train.baseline=false", "--set", "train.early_stopping=false", *extra])
    assert result.exit_code == 0, result.output
    return read_events(run), result.output


def test_a_run_that_cannot_leave_the_majority_class_warns_once(tmp_path):
    # every note has the same text: whatever the network learns, it predicts one class for all of them
    rows = [{"text": "patient admis pour surveillance bilan normal", "label": "rare" if i % 5 == 0 else "common"}
            for i in range(120)]
    events, output = _train(tmp_path, rows)
    warnings = [e["message"] for e in events if e["type"] == "warning" and "majority-class" in e["message"]]
    assert len(warnings) == 1 and "for 2 epochs" in warnings[0]
    assert output.count("majority-class level") == 1  # the CLI prints the warning event on stderr once


def test_a_run_that_learns_does_not_warn(tmp_path):
    events, output = _train(tmp_path, make_rows(160, seed=1), "--set", "train.lr=3e-3")
    started = next(e for e in events if e["type"] == "run_started")
    assert "lr_auto" not in started and started["config"]["train"]["lr"] == 3e-3  # explicit: no auto note
    assert not any("majority-class" in e.get("message", "") for e in events)
    assert "majority-class" not in output


def test_an_unset_rate_is_resolved_and_recorded(tmp_path):
    rows = make_rows(160, seed=2)
    data = write_csv(tmp_path / "notes.csv", rows)
    run = tmp_path / "run"
    sets = [part for flag, value in zip(TINY[::2], TINY[1::2]) if not value.startswith("train.lr=")
            for part in (flag, value)]  # the tiny settings, the rate left unset
    result = runner.invoke(app, ["train", "--data", str(data), "--run-dir", str(run), *sets,
                                 "--set", "train.max_steps=2", "--set", "train.baseline=false"])
    assert result.exit_code == 0, result.output
    started = next(e for e in read_events(run) if e["type"] == "run_started")
    assert started["lr_auto"]["regime"] == "scratch" and started["lr_auto"]["value"] == 1e-3
    recorded = tomllib.loads((run / "run.toml").read_text(encoding="utf-8"))["train"]["lr"]
    assert recorded == 1e-3  # a resume trains at the same rate
    assert "learning rate 1e-3 (auto for a network trained from scratch" in result.output
