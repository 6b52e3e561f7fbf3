"""Data-parallel training under torchrun: 2 CPU processes on gloo, a tiny model, the demo corpus.

Each torchrun run takes ~10-40 s on 2 shared cores, so every test that starts one is in the marked
tier (`-m slow`, which .ci/run runs after the default suite): the comparison tests share one 2-process
and one 1-process run (module fixture); the stop/resume and restart tests start their own.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.config.schema import DistConfig
from clinitui.engine.runtime import distributed
from clinitui.engine.train.step import check_resume
from clinitui.errors import ConfigError
from clinitui.events import read_events
from clinitui.launcher import stop_worker, torchrun_argv
from tests.conftest import TINY

runner = CliRunner()
# One torchrun group at a time (each is several processes on the cores): one pytest-xdist worker runs them all.
pytestmark = pytest.mark.xdist_group("torchrun")

# No dropout anywhere (ranks draw their own masks), so one and two processes can agree exactly.
# 101 demo notes → 81 training notes: odd, and 81 = 10 × 8 + 1, so one batch of the 2-process run
# holds a single row (rank 1's share of it is empty). Batches of 8 rows, 2 per optimizer step:
# 11 batches → 6 steps per epoch.
COMMON = [*TINY, "--set", "data.demo_size=101", "--set", "model.adapter=linear", "--set", "model.dropout=0",
          "--set", "model.backbone_options.dropout=0", "--set", "train.baseline=false",
          "--set", "train.batch_size=16", "--set", "train.log_every=1", "--budget", "cpu"]
TWO = [*COMMON, "--nproc", "2", "--set", "train.micro_batch=4"]  # 4 × 2 processes × accumulation 2 = 16
ONE = [*COMMON, "--set", "train.micro_batch=8"]  # 8 × accumulation 2 = 16, the same batches in the same order
K = 6  # optimizer steps compared: one epoch (rounding differences — padding, summation order — grow with steps)


def train(*args: str) -> dict:
    result = runner.invoke(app, ["train", *args, "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "state" / "trainer.pt", weights_only=True)["model"]


def initial_weights(run: Path) -> dict[str, torch.Tensor]:
    """The weights the run started from: its model rebuilt from the same seed, as engine/recipes/train.py does."""
    from clinitui.config.overrides import from_toml
    from clinitui.models.classifier import build_classifier, load_tokenizer

    config = from_toml((run / "run.toml").read_text(encoding="utf-8"), "run.toml")
    torch.manual_seed(config.train.seed)
    model, _ = build_classifier(config.model, 2, load_tokenizer(config.model, run / "state"))
    return model.state_dict()


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """One epoch (K steps) with 2 processes and with 1 process, the same effective batch and data order."""
    root = tmp_path_factory.mktemp("ddp")
    epoch = ["--epochs", "1"]
    return train(*TWO, *epoch, "--run-dir", str(root / "two")), train(*ONE, *epoch, "--run-dir", str(root / "one"))


@pytest.mark.slow
def test_two_processes_match_one_process_with_the_same_effective_batch(pair):
    two, one = pair
    assert two["steps"] == one["steps"] == K
    a, b = weights(Path(two["run_dir"])), weights(Path(one["run_dir"]))
    start = initial_weights(Path(one["run_dir"]))
    assert a.keys() == b.keys() == start.keys()
    diff = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
    moved = max((a[k].float() - start[k].float()).abs().max().item() for k in a)
    print(f"\nafter {K} optimizer steps: max |w(2 processes) - w(1 process)| = {diff:.3g}; "
          f"max |w - w(step 0)| = {moved:.3g}")
    assert moved > 1e-3  # the weights did move
    assert diff <= 1e-5
    assert two["val_metrics"]["loss"] == pytest.approx(one["val_metrics"]["loss"], abs=1e-5)
    assert two["metrics"]["n"] == one["metrics"]["n"]  # test predictions gathered from both ranks, no duplicates


@pytest.mark.slow
def test_uneven_dataset_finishes_and_only_rank_0_writes(pair):
    two, one = pair
    run = Path(two["run_dir"])
    events = read_events(run)
    started = events[0]
    assert started["type"] == "run_started" and started["world_size"] == 2
    assert started["n_train"] % 2 == 1 and started["n_train"] % 8 == 1
    assert started["plan"]["effective_batch"] == 16 and started["plan"]["world_size"] == 2
    types = [e["type"] for e in events]
    assert types.count("run_started") == 1 and types.count("run_finished") == 1 and types[-1] == "run_finished"
    steps = [e["step"] for e in events if e["type"] == "step"]
    assert steps == list(range(1, K + 1))  # one writer: every step logged once
    assert [e["split"] for e in events if e["type"] == "eval"] == ["val", "test"]
    # the same files as a one-process run, plus the worker group's log (torchrun's and the ranks' stderr)
    assert {p.name for p in run.iterdir()} == {p.name for p in Path(one["run_dir"]).iterdir()} | {"worker.log"}
    assert sorted(p.name for p in (run / "state").iterdir()) == sorted(p.name for p in (Path(one["run_dir"]) / "state").iterdir())
    ranks = [e["ranks"] for e in events if e["type"] == "memory" and "ranks" in e]
    assert ranks and [r["rank"] for r in ranks[-1]] == [0, 1]
    assert all(r["host_rss_bytes"] > 0 for r in ranks[-1])
    assert json.loads((run / "metrics.json").read_text()) == two


@pytest.mark.slow
def test_stop_then_resume_matches_an_uninterrupted_run(tmp_path):
    args = [*TWO, "--epochs", "2"]
    whole = train(*args, "--run-dir", str(tmp_path / "whole"))
    run = tmp_path / "stopped"
    result = runner.invoke(app, ["train", *args, "--run-dir", str(run), "--detach", "--json"])
    assert result.exit_code == 0, result.output
    pid = json.loads(result.stdout)["pid"]
    deadline = time.monotonic() + 240
    while not any(e["type"] == "step" for e in read_events(run)):
        assert time.monotonic() < deadline, "no step event"
        time.sleep(0.1)
    assert stop_worker(run)  # SIGTERM to rank 0: every rank stops at the next step, rank 0 saves
    os.waitpid(pid, 0)  # the torchrun process (our child)
    events = read_events(run)
    assert events[-1]["type"] == "stopped", [e["type"] for e in events][-5:]
    assert max(e["step"] for e in events if e["type"] == "step") < whole["steps"]

    resumed = train("--resume", str(run))
    events = read_events(run)
    assert [e["type"] for e in events].count("run_started") == 2
    assert events[-1]["type"] == "run_finished"
    assert resumed["steps"] == whole["steps"] == 2 * K
    assert resumed["metrics"] == whole["metrics"]
    assert resumed["val_metrics"] == whole["val_metrics"]
    a, b = weights(run), weights(Path(whole["run_dir"]))
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_resume_with_another_world_size_is_refused(pair):
    result = runner.invoke(app, ["train", "--resume", pair[0]["run_dir"], "--nproc", "3"])
    assert result.exit_code == 2
    assert "same number" in result.output and "Traceback" not in result.output
    with pytest.raises(ConfigError, match="saved by 2"):
        check_resume({"progress": {"world_size": 2}}, None)


def test_torchrun_command_line():
    single = torchrun_argv(DistConfig(nproc=4, max_restarts=2), "run-x")
    assert single == ["-m", "torch.distributed.run", "--nproc-per-node", "4", "--max-restarts", "2",
                      "--standalone", "--nnodes", "1"]
    multi = torchrun_argv(DistConfig(nproc=8, nnodes=2, node_rank=1, rdzv_endpoint="node0:29500"), "run-x")
    assert multi[-10:] == ["--nnodes", "2", "--node-rank", "1", "--rdzv-backend", "c10d",
                           "--rdzv-endpoint", "node0:29500", "--rdzv-id", "run-x"]
    with pytest.raises(ConfigError, match="rdzv-endpoint"):
        torchrun_argv(DistConfig(nproc=1, nnodes=2), "run-x")


def test_dry_run_plan_counts_the_processes():
    result = runner.invoke(app, ["train", "--dry-run", *TINY, "--set", "train.batch_size=32", "--nproc", "2",
                                 "--budget", "cpu"])
    assert result.exit_code == 0, result.output
    assert "× 2 processes (effective batch 32)" in result.output


def test_share_covers_every_row_once():
    for world in (2, 3):
        for n in (0, 1, 7, 10):
            shares = [distributed.share(list(range(n)), distributed.Dist(r, world, r, world)) for r in range(world)]
            assert sorted(i for s in shares for i in s) == list(range(n))


@pytest.mark.slow
def test_a_rank_that_dies_ends_the_run_with_run_failed(tmp_path):
    import psutil

    run = tmp_path / "killed"
    result = runner.invoke(app, ["train", *TWO, "--epochs", "3", "--run-dir", str(run), "--detach", "--json"])
    assert result.exit_code == 0, result.output
    pid = json.loads(result.stdout)["pid"]
    deadline = time.monotonic() + 240
    while not any(e["type"] == "step" for e in read_events(run)):
        assert time.monotonic() < deadline, "no step event"
        time.sleep(0.1)
    rank0 = int((run / "worker.pid").read_text())
    others = [p for p in psutil.Process(pid).children() if p.pid != rank0]
    assert len(others) == 1
    others[0].kill()  # rank 1 dies mid-training (SIGKILL: no goodbye)
    start = time.monotonic()
    os.waitpid(pid, 0)
    assert time.monotonic() - start < 120  # ended, not hung until the collective timeout
    last = read_events(run)[-1]
    assert last["type"] == "run_failed" and last["error"] == "DistributedError", last
    assert "stopped answering" in last["message"]


@pytest.mark.slow
def test_max_restarts_resumes_from_the_last_saved_state(tmp_path):
    import psutil

    args = [*TWO, "--epochs", "2", "--set", "train.state_every_s=0"]  # state saved after every step
    run = tmp_path / "restarted"
    result = runner.invoke(app, ["train", *args, "--set", "dist.max_restarts=1", "--run-dir", str(run),
                                 "--detach", "--json"])
    assert result.exit_code == 0, result.output
    pid = json.loads(result.stdout)["pid"]
    deadline = time.monotonic() + 240
    while sum(e["type"] == "step" for e in read_events(run)) < 3:
        assert time.monotonic() < deadline, "no step events"
        time.sleep(0.1)
    rank0 = int((run / "worker.pid").read_text())
    [other] = [p for p in psutil.Process(pid).children() if p.pid != rank0]
    other.kill()
    os.waitpid(pid, 0)
    events = read_events(run)
    types = [e["type"] for e in events]
    assert types.count("run_started") == 2 and "resumed_from_step" in events[types.index("run_started", 1)]
    assert types[-1] == "run_finished"
    whole = train(*args, "--run-dir", str(tmp_path / "whole"))
    assert json.loads((run / "metrics.json").read_text())["metrics"] == whole["metrics"]
