"""Run directories and checkpoints written before the engine was reshaped still load, and predict the same.

``tests/fixtures/pre_reshape/`` was written by the code of commit dd857b1 (the last commit before the
reshape, issue 22): three tiny runs on generated notes (``runs/blend``: a network blended with its
TF-IDF model; ``runs/tfidf``: the TF-IDF model alone; ``runs/multi``: a multi-label network with
per-label thresholds), and what that code printed for them (``expected/``: ``eval --json``,
``predict`` and ``runs list --json``). The resumable optimizer state (``state/trainer.pt``) was left
out to keep the fixture small. ``@ROOT@`` stands for the folder the fixture was written in.

Deliberate changes since, each asserted here rather than hidden by rewriting ``expected/``:
issue 23 added keys to ``eval --json`` (:data:`EVAL_KEYS_ADDED`: what the checkpoint predicts, and
the comparison with a blend's own TF-IDF member) and made ``runs list``'s ``best_val_f1`` /
``test_f1`` the figures of the predictor the checkpoint ships, under its task's headline metric
(a blend's validation F1 is the blend's, a multi-label run's is micro-F1), with new keys beside them.
The ``predict`` files gained one column (issue 23): ``threshold``, the locked threshold the labels
were chosen with (0.5 for both runs); every other cell is the old code's.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinitui.cli.app import app

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "pre_reshape"
runner = CliRunner()
EVAL_KEYS_ADDED = {"model", "vs_baseline", "vs_baseline_note"}  # issue 23
RUNS_KEYS_ADDED = {"predicts", "blend_weight", "metric", "figures"}  # issue 23


@pytest.fixture
def root(tmp_path) -> Path:
    """A writable copy of the fixture (commands may write reports or locks next to a run)."""
    shutil.copytree(FIXTURE, tmp_path / "fx")
    return tmp_path / "fx"


def expected(name: str, root: Path) -> str:
    return (FIXTURE / "expected" / name).read_text(encoding="utf-8").replace("@ROOT@", str(root))


def run(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.stdout


def close(a, b) -> bool:
    """Equal, floats to 1e-9 relative, through nested dicts and lists."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
        return a == pytest.approx(b, rel=1e-9, abs=1e-12)
    return a == b


@pytest.mark.parametrize("name, data", [("blend", "notes.csv"), ("tfidf", "notes.csv"), ("multi", "multi.csv")])
def test_eval_of_an_old_checkpoint_gives_the_old_numbers(root, name, data):
    out = json.loads(run(["eval", str(root / "runs" / name / "checkpoint"), "--data", str(root / data), "--json"]))
    old = json.loads(expected(f"{name}.eval.json", root))
    # the same numbers; floats to 1e-9 relative (a fitted calibration intercept differs in its last digits
    # between BLAS/numpy builds)
    assert close({k: out[k] for k in old if k in out}, old)
    assert set(out) - set(old) <= EVAL_KEYS_ADDED and set(old) <= set(out)
    assert out["model"]["predicts"] == {"blend": "blend", "tfidf": "tfidf", "multi": "blend"}[name]


@pytest.mark.parametrize("name", ["blend", "tfidf"])
def test_predict_of_an_old_checkpoint_writes_the_old_file(root, tmp_path, name):
    out = tmp_path / f"{name}.csv"
    run(["predict", str(root / "runs" / name / "checkpoint"), "--data", str(root / "notes.csv"), "--out", str(out)])
    assert out.read_text(encoding="utf-8") == expected(f"{name}.pred.csv", root)


def test_old_run_directories_are_listed_as_before(root, monkeypatch):
    monkeypatch.setenv("CLINITUI_RUNS_ROOT", str(root / "runs"))
    rows = json.loads(run(["runs", "list", "--json"]))
    old = json.loads(expected("runs.json", root))
    assert [r["name"] for r in rows] == [r["name"] for r in old]
    for row, before in zip(rows, old):
        figures = json.loads((root / "runs" / row["name"] / "metrics.json").read_text())
        shipped = row["figures"]["shipped"]  # the shipped predictor's figures (issue 23)
        metric = row["metric"]
        assert (row["best_val_f1"], row["test_f1"]) == (shipped["val"], shipped["test"])
        assert (shipped["val"], shipped["test"]) == (figures["val_metrics"][metric], figures["metrics"][metric])
        unchanged = {k: v for k, v in before.items() if k not in ("run_dir", "best_val_f1", "test_f1")}
        assert {k: row[k] for k in unchanged} == unchanged, row["name"]
        assert set(row) - set(before) == RUNS_KEYS_ADDED
        assert Path(row["run_dir"]).name == Path(before["run_dir"]).name
