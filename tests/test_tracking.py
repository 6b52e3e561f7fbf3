"""Runs recorded in MLflow and TensorBoard (``--log-to``, ``runs export --to``), read back with their own readers.

One tiny run is trained with both sinks on notes that all carry a canary word; MLflow's client and
TensorBoard's EventAccumulator then read what was written, and no file under either folder may
hold the canary (note text never leaves the run directory).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.events import read_events
from tests.conftest import TINY, make_rows, write_csv

pytest.importorskip("mlflow")
pytest.importorskip("tensorboardX")
pytest.importorskip("tensorboard")

runner = CliRunner()
CANARY = "zorglubcanary"
ROOT = Path(__file__).resolve().parents[1]


def _canary_rows(n: int) -> list[dict]:
    return [{"text": f"{row['text']} {CANARY}", "label": row["label"]} for row in make_rows(n)]


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    base = tmp_path_factory.mktemp("tracked")
    data = write_csv(base / "notes.csv", _canary_rows(240))
    result = runner.invoke(app, ["train", "--data", str(data), "--epochs", "2", "--run-dir", str(base / "runs" / "run"),
                                 "--log-to", "mlflow", "--log-to", "tensorboard", "--tracking-uri", str(base / "mlruns"),
                                 "--set", f"tracking.tensorboard_dir={base / 'tb'}", "--json", "--quiet", *TINY])
    assert result.exit_code == 0, result.output
    return base, json.loads(result.stdout)


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _mlflow_run(base: Path):
    state = json.loads((base / "runs" / "run" / "tracking.json").read_text())
    client = _client(str(base / "mlruns"))
    return client, client.get_run(state["mlflow"]["run_id"])


def _count(events: list[dict], type_: str, **match) -> int:
    return sum(1 for e in events if e["type"] == type_ and all(e.get(k) == v for k, v in match.items()))


def test_mlflow_holds_params_step_histories_final_metrics_and_tags(tracked):
    base, payload = tracked
    client, run = _mlflow_run(base)
    events = read_events(base / "runs" / "run")
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    params = run.data.params
    assert params["train.epochs"] == "2" and params["model.backbone"] == "scratch-transformer"
    assert params["data.path"] == str(base / "notes.csv")  # the file's path, never its content
    assert not any(k.startswith("tracking.") for k in params)  # a URI may hold a password
    history = {k: client.get_metric_history(run.info.run_id, k) for k in ("train/loss", "val/f1_macro",
                                                                           "memory/host_rss_bytes")}
    assert len(history["train/loss"]) == _count(events, "step") > 0
    assert len(history["val/f1_macro"]) == _count(events, "eval", split="val") == 2
    assert len(history["memory/host_rss_bytes"]) == _count(events, "memory") > 0
    assert [m.step for m in history["train/loss"]] == [e["step"] for e in events if e["type"] == "step"]
    m = run.data.metrics
    assert m["test/f1_macro"] == pytest.approx(payload["metrics"]["f1_macro"])
    assert m["test/f1_macro_ci_low"] == pytest.approx(payload["metrics"]["f1_macro_ci"][0])
    assert m["operating_point/threshold"] == pytest.approx(payload["operating_point"]["threshold"])
    assert m["vs_baseline/delta_f1_macro"] == pytest.approx(payload["vs_baseline"]["delta_f1_macro"])
    started = next(e for e in events if e["type"] == "run_started")
    tags = run.data.tags
    assert tags["clinitui.kind"] == "train" and tags["clinitui.version"] == started["clinitui_version"]
    assert tags["clinitui.dataset_digest"] == started["dataset_digest"]
    assert tags["clinitui.data_source"] == "notes.csv"


def test_mlflow_artifacts_are_config_metrics_and_report_without_note_text(tracked):
    base, _ = tracked
    client, run = _mlflow_run(base)
    listed = {a.path for a in client.list_artifacts(run.info.run_id)}
    listed |= {a.path for folder in ("checkpoint", "report") for a in client.list_artifacts(run.info.run_id, folder)}
    assert {"metrics.json", "checkpoint/config.json"} <= listed
    if _has("jinja2") and _has("matplotlib"):  # the report extra: the HTML report is attached too
        assert "report/report.html" in listed
    files = [p for folder in (base / "mlruns", base / "tb") for p in folder.rglob("*") if p.is_file()]
    assert any(b"run" in p.read_bytes() for p in files)  # the walk reads real records
    leaked = [p for p in files if CANARY.encode() in p.read_bytes()]
    assert not leaked, f"note text in {leaked}"


def _has(module: str) -> bool:
    from importlib.util import find_spec

    return find_spec(module) is not None


def test_tensorboard_scalars_and_hparams_read_back(tracked):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    base, payload = tracked
    events = read_events(base / "runs" / "run")
    acc = EventAccumulator(str(base / "tb" / "run"), size_guidance={"scalars": 0})
    acc.Reload()
    assert len(acc.Scalars("train/loss")) == _count(events, "step")
    assert len(acc.Scalars("val/f1_macro")) == 2
    assert acc.Scalars("test/f1_macro")[-1].value == pytest.approx(payload["metrics"]["f1_macro"], abs=1e-6)
    assert "_hparams_/session_start_info" in acc.PluginTagToContent("hparams")


def test_run_says_where_it_is_tracked(tracked):
    from clinitui.tracking import where

    base, _ = tracked
    line = where(base / "runs" / "run")
    assert "MLflow" in line and str(base / "mlruns") in line and str(base / "tb" / "run") in line


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def untracked_by_a_dead_server(tmp_path_factory):
    """A run told to log to a server that refuses connections: it must finish anyway."""
    base = tmp_path_factory.mktemp("dead")
    data = write_csv(base / "notes.csv", make_rows(200))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
           "MLFLOW_HTTP_REQUEST_TIMEOUT": "3"}
    proc = subprocess.run([sys.executable, "-m", "clinitui", "train", "--data", str(data), "--epochs", "1",
                           "--run-dir", str(base / "runs" / "run"), "--log-to", "mlflow",
                           "--tracking-uri", f"http://127.0.0.1:{_closed_port()}", "--json", "--quiet", *TINY],
                          capture_output=True, text=True, env=env, timeout=300)
    return base, proc


def test_a_tracking_server_that_refuses_connections_does_not_fail_the_run(untracked_by_a_dead_server):
    base, proc = untracked_by_a_dead_server
    assert proc.returncode == 0, proc.stderr
    run = base / "runs" / "run"
    assert (run / "metrics.json").is_file() and json.loads(proc.stdout)["metrics"]["f1_macro"] > 0
    warnings = [e for e in read_events(run) if e["type"] == "warning" and e.get("source") == "tracking"]
    assert len(warnings) == 1 and "mlflow tracking off" in warnings[0]["message"]
    assert read_events(run)[-1]["type"] == "run_finished"
    assert not (run / "tracking.json").exists()


def test_runs_export_replays_a_finished_run_into_the_default_sqlite_store_once(untracked_by_a_dead_server):
    base, _ = untracked_by_a_dead_server
    run = base / "runs" / "run"
    args = ["runs", "export", "run", "--to", "mlflow", "--to", "tensorboard", "--runs-root", str(base / "runs"),
            "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["runs"][0]["sent"] == ["mlflow", "tensorboard"]
    assert doc["mlflow"] == f"sqlite:///{base / 'mlflow' / 'mlflow.db'}"  # next to the runs root
    client = _client(doc["mlflow"])
    mlrun = client.get_run(json.loads((run / "tracking.json").read_text())["mlflow"]["run_id"])
    events = read_events(run)
    assert mlrun.info.status == "FINISHED"
    assert len(client.get_metric_history(mlrun.info.run_id, "train/loss")) == _count(events, "step")
    assert mlrun.data.metrics["test/f1_macro"] == pytest.approx(json.loads((run / "metrics.json").read_text())
                                                                ["metrics"]["f1_macro"])
    assert (base / "tensorboard" / "run").is_dir()
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and json.loads(again.stdout)["runs"][0]["sent"] == []  # no duplicate
    assert len(client.search_runs([mlrun.info.experiment_id])) == 1


SWEEP = """seeds = [1]
[base]
backbone = "scratch-tiny"
budget = "cpu"
data = "notes.csv"
[base.set]
"train.epochs" = 1
"train.max_length" = 32
"train.batch_size" = 16
"train.threads" = 1
"model.backbone_options.vocab_size" = 300
"model.backbone_options.min_frequency" = 2
"model.ensemble" = "none"
[grid]
adapter = ["grn", "linear"]
[resources]
slots = 2
"""


@pytest.mark.slow
def test_a_sweep_is_a_parent_run_and_each_trial_a_nested_run(tmp_path):
    write_csv(tmp_path / "notes.csv", make_rows(200, seed=3))
    (tmp_path / "spec.toml").write_text(SWEEP, encoding="utf-8")
    result = runner.invoke(app, ["sweep", str(tmp_path / "spec.toml"), "--sweep-dir", str(tmp_path / "sweep"),
                                 "--log-to", "mlflow", "--log-to", "tensorboard", "--tracking-uri",
                                 str(tmp_path / "mlruns"), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    client = _client(str(tmp_path / "mlruns"))
    parent = client.get_run(json.loads((tmp_path / "sweep" / "tracking.json").read_text())["mlflow"]["run_id"])
    assert parent.info.status == "FINISHED" and parent.data.tags["clinitui.kind"] == "sweep"
    runs = client.search_runs([parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert sorted(r.data.tags["clinitui.kind"] for r in runs) == ["trial", "trial"]
    assert all(r.info.status == "FINISHED" and "test/f1_macro" in r.data.metrics for r in runs)
    trials = sorted(p.name for p in (tmp_path / "sweep" / "trials").iterdir())
    tb = tmp_path / "tensorboard" / "sweep"  # trials side by side under the sweep's name
    assert sorted(p.name for p in tb.iterdir()) == trials


def test_runs_show_says_where_the_run_is_tracked(tracked):
    base, _ = tracked
    shown = runner.invoke(app, ["runs", "show", str(base / "runs" / "run")])
    assert shown.exit_code == 0, shown.output
    line = next(l for l in shown.stdout.splitlines() if l.startswith("tracked"))
    assert "MLflow" in line and str(base / "mlruns") in line and "TensorBoard" in line
    as_json = json.loads(runner.invoke(app, ["runs", "show", str(base / "runs" / "run"), "--json"]).stdout)
    assert as_json["tracking"] == line.split(None, 1)[1]
