"""Runs by name, the runs table, show, rm and prune (a live worker is never deleted)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.events import read_events
from clinitui.runs import summarize
from clinitui.names import resolve_checkpoint, resolve_run
from tests.conftest import TINY, make_rows, write_csv

runner = CliRunner()


def fake_run(root: Path, name: str, final: dict | None, *, started: bool = True, age_s: float = 0.0,
             pid: int | None = None) -> Path:
    """A run folder as a worker leaves it (run.toml, events.jsonl) ending with ``final``."""
    run = root / name
    run.mkdir(parents=True)
    (run / "run.toml").write_text("")
    t = time.time() - age_s
    events = []
    if started:
        events.append({"v": 1, "t": t - 66.2, "type": "run_started", "data_source": "notes.csv",
                       "config": {"model": {"backbone": "scratch-transformer", "adapter": "grn"},
                                  "train": {"epochs": 4}, "budget": {"name": "cpu"}}})
        events.append({"v": 1, "t": t - 30, "type": "eval", "split": "val", "epoch": 2, "f1_macro": 0.81234})
    if final:
        events.append({"v": 1, "t": t, **final})
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    if pid is not None:
        (run / "worker.pid").write_text(f"{pid}\n")
    return run


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "runs"
    fake_run(root, "20261129-160620-scratch-transformer-grn", {"type": "run_finished"})
    fake_run(root, "20261129-170000-scratch-transformer-lora", {"type": "run_failed", "message": "boom"})
    fake_run(root, "20261128-090000-hf-linear", {"type": "stopped", "message": "stopped"}, age_s=9 * 86400)
    fake_run(root, "20261127-090000-hf-linear", None, pid=999999, age_s=100)  # crashed
    fake_run(root, "20261126-090000-created", None, started=False)
    return root


def test_resolve_exact_prefix_last_path(root):
    assert resolve_run("20261129-160620-scratch-transformer-grn", root).name == "20261129-160620-scratch-transformer-grn"
    assert resolve_run("20261129-16", root).name == "20261129-160620-scratch-transformer-grn"
    assert resolve_run(str(root / "20261128-090000-hf-linear"), root).name == "20261128-090000-hf-linear"
    os.utime(root / "20261127-090000-hf-linear" / "run.toml", (time.time() + 5, time.time() + 5))
    assert resolve_run("last", root).name == "20261127-090000-hf-linear"


def test_ambiguous_and_missing_names_are_one_line_exit_2(root):
    result = runner.invoke(app, ["runs", "show", "20261129", "--runs-root", str(root)])
    assert result.exit_code == 2
    assert "matches 2 runs" in result.stderr and "20261129-170000-scratch-transformer-lora" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    for arg in ("nope", str(root / "nope")):
        result = runner.invoke(app, ["runs", "show", arg, "--runs-root", str(root)])
        assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
        assert "clinitui runs list" in result.stderr
    result = runner.invoke(app, ["runs", "show", "last", "--runs-root", str(root / "empty")])
    assert result.exit_code == 2 and "no runs" in result.stderr


def test_runs_list_table_and_json_every_status(root):
    result = runner.invoke(app, ["runs", "list", "--runs-root", str(root)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:6] == ["name", "status", "kind", "model", "predicts", "data"]
    assert "started" in lines[0] and "duration" in lines[0]
    body = "\n".join(lines[1:])
    for status in ("finished", "failed", "stopped", "crashed", "created"):
        assert status in body
    row = next(line for line in lines if line.startswith("20261129-160620"))
    assert "scratch-transformer + grn" in row and "notes.csv" in row and "2/4" in row and "0.8123" in row
    assert "1m06s" in row

    items = json.loads(runner.invoke(app, ["runs", "list", "--runs-root", str(root), "--json"]).stdout)
    assert isinstance(items, list) and len(items) == 5
    for key in ("name", "status", "run_dir", "backbone", "adapter", "data", "best_val_f1", "test_f1", "started",
                "duration_s"):
        assert key in items[0]
    assert {i["status"] for i in items} == {"finished", "failed", "stopped", "crashed", "created"}

    only = json.loads(runner.invoke(app, ["runs", "list", "--runs-root", str(root), "--json", "--status",
                                          "failed,stopped", "--sort", "name", "--limit", "1"]).stdout)
    assert [i["name"] for i in only] == ["20261128-090000-hf-linear"]
    bad = runner.invoke(app, ["runs", "list", "--runs-root", str(root), "--status", "done"])
    assert bad.exit_code == 2 and "running, finished" in bad.stderr


def test_runs_show_for_people_and_scripts(root):
    result = runner.invoke(app, ["runs", "show", "20261129-16", "--runs-root", str(root)])
    assert result.exit_code == 0, result.output
    assert "1m06s" in result.stdout and "0.8123" in result.stdout and "None" not in result.stdout
    assert "test F1      -" in result.stdout
    shown = json.loads(runner.invoke(app, ["runs", "show", "20261129-16", "--runs-root", str(root), "--json"]).stdout)
    assert shown["name"] == "20261129-160620-scratch-transformer-grn" and shown["best_val_f1"] == 0.81234


def test_rm_and_prune_ask_first_and_filter(root):
    result = runner.invoke(app, ["runs", "rm", "20261129-17", "--runs-root", str(root)])
    assert result.exit_code == 2 and "--yes" in result.stderr  # no terminal to ask: refuse
    assert (root / "20261129-170000-scratch-transformer-lora").exists()
    assert runner.invoke(app, ["runs", "rm", "20261129-17", "--runs-root", str(root), "--yes"]).exit_code == 0
    assert not (root / "20261129-170000-scratch-transformer-lora").exists()

    result = runner.invoke(app, ["runs", "prune", "--status", "failed,stopped", "--older-than", "7d",
                                 "--runs-root", str(root), "--yes"])
    assert result.exit_code == 0, result.output
    left = sorted(p.name for p in root.iterdir())
    assert "20261128-090000-hf-linear" not in left  # stopped 9 days ago
    assert "20261127-090000-hf-linear" in left  # crashed: not asked for
    bad = runner.invoke(app, ["runs", "prune", "--older-than", "soon", "--runs-root", str(root), "--yes"])
    assert bad.exit_code == 2 and "7d" in bad.stderr
    assert runner.invoke(app, ["runs", "prune", "--status", "running", "--runs-root", str(root)]).exit_code == 2


def test_real_runs_by_name_prune_spares_a_live_worker(tmp_path):
    root = tmp_path / "runs"
    data = write_csv(tmp_path / "notes.csv", make_rows(600, seed=3))
    done = runner.invoke(app, ["train", "--data", str(data), "--runs-root", str(root), "--json", "--quiet", *TINY,
                               "--epochs", "1", "--set", "train.max_steps=3", "--set", "train.baseline=false"])
    assert done.exit_code == 0, done.output
    finished = Path(json.loads(done.stdout)["run_dir"])
    # a checkpoint argument may be the run's name
    assert resolve_checkpoint(finished.name[:18], root) == finished / "checkpoint"
    evaluated = runner.invoke(app, ["eval", "last", "--data", str(data), "--json"], env={"CLINITUI_RUNS_ROOT": str(root)})
    assert evaluated.exit_code == 0, evaluated.output
    predicted = runner.invoke(app, ["predict", finished.name, "--data", str(data)], env={"CLINITUI_RUNS_ROOT": str(root)})
    assert predicted.exit_code == 0 and len(predicted.stdout.splitlines()) == 600

    live = runner.invoke(app, ["train", "--data", str(data), "--runs-root", str(root), "--detach", "--json", *TINY,
                               "--epochs", "50", "--set", "train.baseline=false", "--set", "train.early_stopping=false"])
    assert live.exit_code == 0, live.output
    live_dir, pid = Path(json.loads(live.stdout)["run_dir"]), json.loads(live.stdout)["pid"]
    try:
        deadline = time.time() + 120
        while not any(e["type"] == "step" for e in read_events(live_dir)) and time.time() < deadline:
            time.sleep(0.1)
        assert summarize(live_dir).status == "running"
        refused = runner.invoke(app, ["runs", "rm", live_dir.name, "--runs-root", str(root), "--yes"])
        assert refused.exit_code == 6 and "still running" in refused.stderr
        busy = runner.invoke(app, ["train", "--resume", live_dir.name, "--runs-root", str(root)])
        assert busy.exit_code == 6 and str(live_dir) in busy.stderr  # found by its name, then refused
        unknown = runner.invoke(app, ["train", "--resume", "nope", "--runs-root", str(root)])
        assert unknown.exit_code == 2 and "no run named 'nope'" in unknown.stderr
        pruned = runner.invoke(app, ["runs", "prune", "--status", "finished,failed,stopped,crashed,created",
                                     "--runs-root", str(root), "--yes"])
        assert pruned.exit_code == 0, pruned.output
        assert live_dir.exists() and not finished.exists()
        stopped = runner.invoke(app, ["runs", "stop", live_dir.name[:20], "--runs-root", str(root)])
        assert stopped.exit_code == 0, stopped.output
    finally:
        deadline = time.time() + 30
        while time.time() < deadline and os.waitpid(pid, os.WNOHANG)[0] == 0:
            time.sleep(0.1)


def _events(run: Path, events: list[dict]) -> None:
    (run / "events.jsonl").write_text("".join(json.dumps({"v": 1, **e}) + "\n" for e in events))


def test_runs_list_shows_each_kind_and_pretraining_by_its_mlm_loss(tmp_path):
    root = tmp_path / "runs"
    t = time.time() - 100
    pre = root / "20261129-100000-scratch-transformer-pretrain"
    pre.mkdir(parents=True)
    (pre / "run.toml").write_text("[pretrain]\nwindow = 64\n")
    _events(pre, [
        {"t": t, "type": "run_started", "kind": "pretrain", "data_files": [{"file": "a.csv"}, {"file": "b.csv"}],
         "config": {"model": {"backbone": "scratch-transformer", "adapter": "grn"}, "pretrain": {"window": 64},
                    "train": {"epochs": 3}, "budget": {"name": "cpu"}}},
        {"t": t + 5, "type": "eval", "split": "val", "step": 10, "mlm_loss": 5.5, "perplexity": 244.7},
        {"t": t + 9, "type": "eval", "split": "val", "step": 20, "mlm_loss": 4.25, "perplexity": 70.1},
        {"t": t + 10, "type": "run_finished", "kind": "pretrain"}])
    tfidf = fake_run(root, "20261129-110000-tfidf-grn", {"type": "run_finished"})
    started = json.loads((tfidf / "events.jsonl").read_text().splitlines()[0])
    started["config"]["model"]["backbone"] = "tfidf"
    _events(tfidf, [started, {"t": t + 20, "type": "run_finished"}])
    group = root / "20261129-120000-scratch-transformer-grn-2seeds"
    for seed, f1 in ((42, 0.70), (43, 0.80)):
        fake_run(group, f"seed-{seed}", {"type": "run_finished"})
        lines = (group / f"seed-{seed}" / "events.jsonl").read_text().replace("0.81234", str(f1))
        (group / f"seed-{seed}" / "events.jsonl").write_text(lines)
    (group / "checkpoint").mkdir()
    (group / "seeds.json").write_text(json.dumps({"metrics": {"f1_macro": 0.77}, "val_metrics": {"f1_macro": 0.79}}))
    failed_early = root / "20261129-130000-pretrain-bad"
    failed_early.mkdir()
    (failed_early / "run.toml").write_text("[pretrain]\nwindow = 64\n")
    _events(failed_early, [{"t": t, "type": "run_failed", "message": "no text column", "stage": "prepare"}])

    result = runner.invoke(app, ["runs", "list", "--runs-root", str(root)])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert set(rows) == {pre.name, tfidf.name, group.name, failed_early.name}  # the group is one row, not three
    assert "pretrain" in rows[pre.name].split()[2] and "+ grn" not in rows[pre.name]
    assert "MLM 4.250" in rows[pre.name] and "0.8123" not in rows[pre.name] and "a.csv +1" in rows[pre.name]
    assert rows[tfidf.name].split()[2:4] == ["tfidf", "tfidf"]
    assert "2 seeds" in rows[group.name] and "scratch-transformer + grn" in rows[group.name]
    assert "0.7900" in rows[group.name] and "0.7700" in rows[group.name]  # the averaged checkpoint's scores
    assert rows[failed_early.name].split()[1:3] == ["failed", "pretrain"]  # kind from run.toml

    items = {i["name"]: i for i in json.loads(runner.invoke(app, ["runs", "list", "--runs-root", str(root),
                                                                   "--json"]).stdout)}
    assert [items[n]["kind"] for n in (pre.name, tfidf.name, group.name)] == ["pretrain", "tfidf", "seeds"]
    assert (items[pre.name]["val_mlm_loss"], items[pre.name]["perplexity"]) == (4.25, 70.1)
    assert items[group.name]["members"] == 2 and items[group.name]["status"] == "finished"

    shown = runner.invoke(app, ["runs", "show", pre.name, "--runs-root", str(root)])
    assert shown.exit_code == 0 and "val MLM loss 4.2500" in shown.stdout and "perplexity   70.10" in shown.stdout
    assert "best val F1" not in shown.stdout
    member = runner.invoke(app, ["runs", "show", str(group / "seed-42"), "--runs-root", str(root), "--json"])
    assert json.loads(member.stdout)["kind"] == "seed"
    shown = runner.invoke(app, ["runs", "show", group.name[:18], "--runs-root", str(root), "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["metrics"] == {"f1_macro": 0.77}  # from seeds.json

    (group / "seeds.json").unlink()
    from clinitui.rundir import RunLock

    lock = RunLock(group)  # what `train --seeds` holds between its seed runs
    assert summarize(group).status == "running"
    lock.release()
    assert summarize(group).status == "crashed"  # interrupted between its seed runs


def test_a_sweep_trial_is_listed_as_a_trial(tmp_path):
    sweep = tmp_path / "sweep"
    (sweep / "trials").mkdir(parents=True)
    (sweep / "sweep.toml").write_text("")
    fake_run(sweep / "trials", "t0001", {"type": "run_finished"})
    assert summarize(sweep / "trials" / "t0001").kind == "trial"
    listed = json.loads(runner.invoke(app, ["runs", "list", "--runs-root", str(sweep / "trials"), "--json"]).stdout)
    assert [i["kind"] for i in listed] == ["trial"]
