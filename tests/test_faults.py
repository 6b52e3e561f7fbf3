"""Runs that survive: kill -9 and resume, graceful stop, failed writes, crash detection, locks."""

from __future__ import annotations

import json
import os
import signal
import stat
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.events import read_events
from clinitui.rundir import RunLock
from clinitui.runs import summarize
from tests.conftest import TINY, make_rows, write_csv

runner = CliRunner()
# ~60 optimizer steps per epoch, state saved after every step, one thread: reproducible to the bit
SETTINGS = [*TINY, "--epochs", "3", "--set", "train.state_every_s=0", "--set", "train.early_stopping=false",
            "--set", "train.baseline=false"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_csv(tmp_path_factory.mktemp("faults") / "notes.csv", make_rows(1200, seed=5))


@pytest.fixture(scope="module")
def uninterrupted(data, tmp_path_factory):
    run = tmp_path_factory.mktemp("ref") / "run"
    result = runner.invoke(app, ["train", "--data", str(data), "--run-dir", str(run), "--json", "--quiet", *SETTINGS])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def start_detached(data: Path, run: Path) -> int:
    result = runner.invoke(app, ["train", "--data", str(data), "--run-dir", str(run), "--detach", "--json", *SETTINGS])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["pid"]


def wait_for_step(run: Path, step: int, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        steps = [e["step"] for e in read_events(run) if e["type"] == "step"]
        if steps and steps[-1] >= step:
            return
        time.sleep(0.05)
    raise AssertionError(f"no step {step} within {timeout}s; log: {(run / 'worker.log').read_text()[-500:]}")


def wait_exit(pid: int, timeout: float = 30.0) -> int:
    deadline = time.time() + timeout
    while time.time() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    raise AssertionError(f"worker {pid} still alive after {timeout}s")


def resume_here(run: Path) -> dict:
    result = runner.invoke(app, ["train", "--resume", str(run), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.slow  # kill -9 and resume (the SIGTERM stop and resume below stays in the default run)
def test_kill_9_mid_epoch_then_resume_gives_the_uninterrupted_metrics(data, uninterrupted, tmp_path):
    run = tmp_path / "killed"
    pid = start_detached(data, run)
    wait_for_step(run, 75)  # in epoch 2
    os.kill(pid, signal.SIGKILL)
    assert wait_exit(pid) == -signal.SIGKILL
    assert summarize(run).status == "crashed"
    last_step = [e["step"] for e in read_events(run) if e["type"] == "step"][-1]
    assert 60 < last_step < 180
    resumed = resume_here(run)
    assert resumed["metrics"] == uninterrupted["metrics"]
    assert resumed["val_metrics"] == uninterrupted["val_metrics"]
    assert resumed["steps"] == uninterrupted["steps"]
    assert summarize(run).status == "finished"
    started = [e for e in read_events(run) if e["type"] == "run_started"]
    assert len(started) == 2 and started[1]["resumed_from_step"] >= 60


def test_sigterm_stops_gracefully_and_resume_finishes_identically(data, uninterrupted, tmp_path):
    run = tmp_path / "stopped"
    pid = start_detached(data, run)
    wait_for_step(run, 30)
    t0 = time.time()
    result = runner.invoke(app, ["runs", "stop", str(run)])
    assert result.exit_code == 0, result.output
    assert wait_exit(pid) == 130
    assert time.time() - t0 < 10
    events = read_events(run)
    assert events[-1]["type"] == "stopped" and "resume" in events[-1]["message"]
    assert summarize(run).status == "stopped"
    assert resume_here(run)["metrics"] == uninterrupted["metrics"]


def test_second_run_on_a_held_directory_is_refused_and_stale_locks_do_not_block(data, tmp_path):
    run = tmp_path / "held"
    run.mkdir()
    (run / "run.toml").write_text("")
    lock = RunLock(run)
    result = runner.invoke(app, ["train", "--data", str(data), "--run-dir", str(run), *TINY])
    assert result.exit_code == 6 and f"in use by process {os.getpid()}" in result.stderr
    lock.release()  # as if the holder had died: the kernel drops the flock
    result = runner.invoke(app, ["train", "--data", str(data), "--run-dir", str(run), *TINY])
    assert result.exit_code == 5 and "--resume" in result.stderr  # not locked, but not a new directory either


def test_failed_checkpoint_write_keeps_the_previous_one(data, tmp_path, monkeypatch):
    import safetensors.torch

    real_save = safetensors.torch.save_model
    calls = {"n": 0}

    def flaky_save(model, filename, metadata=None):
        calls["n"] += 1
        if calls["n"] >= 2:  # the disk fills up after the first checkpoint
            raise OSError(28, "No space left on device")
        return real_save(model, filename, metadata=metadata)

    monkeypatch.setattr(safetensors.torch, "save_model", flaky_save)
    run = tmp_path / "full"
    result = runner.invoke(app, ["train", "--data", str(data), "--run-dir", str(run), *TINY, "--epochs", "3",
                                 "--set", "train.early_stopping=false", "--set", "train.lr=3e-4"])
    if calls["n"] < 2:
        pytest.skip("validation F1 never improved after epoch 1, so no second checkpoint was written")
    assert result.exit_code == 5, result.output
    assert "No space left on device" in result.stderr and "previous checkpoint is kept" in result.stderr
    assert not (run / "checkpoint.new").exists()
    cfg = json.loads((run / "checkpoint" / "config.json").read_text())
    assert cfg["epoch"] == 1
    events = read_events(run)
    assert events[-1]["type"] == "run_failed" and events[-1]["exit_code"] == 5
    result = runner.invoke(app, ["eval", str(run / "checkpoint"), "--data", str(data)])
    assert result.exit_code == 0  # the kept checkpoint is complete


def test_crashed_run_shows_log_tail(tmp_path):
    run = tmp_path / "crash"
    run.mkdir()
    (run / "run.toml").write_text("")
    (run / "events.jsonl").write_text(json.dumps({"v": 1, "t": time.time() - 100, "type": "run_started",
                                                  "config": {"model": {"backbone": "b", "adapter": "a"}}}) + "\n{half")
    (run / "worker.pid").write_text("999999\n")
    (run / "worker.log").write_text("line 1\nKilled by the OOM killer\n")
    s = summarize(run)
    assert s.status == "crashed" and "OOM killer" in s.error
    result = runner.invoke(app, ["runs", "list", "--runs-root", str(tmp_path), "--json"])
    assert json.loads(result.stdout)[0]["status"] == "crashed"


def test_run_directory_is_private_whatever_the_umask(data, tmp_path):
    old = os.umask(0)
    try:
        result = runner.invoke(app, ["train", "--data", str(data), "--run-dir", str(tmp_path / "r"), *TINY,
                                     "--epochs", "1", "--set", "train.max_steps=3"])
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    for path in [tmp_path / "r", *(tmp_path / "r").rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} has mode {oct(mode)}"
