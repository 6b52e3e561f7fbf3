"""Data-parallel training under torchrun: 2 CPU processes on gloo, a tiny model, the demo corpus.

Each torchrun run takes ~10-30 s on 2 shared cores; the 2-process run is shared by a module fixture.
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
from clinitui.engine import distributed
from clinitui.errors import ConfigError
from clinitui.events import read_events
from clinitui.launcher import stop_worker, torchrun_argv
from tests.conftest import TINY

runner = CliRunner()

# No dropout anywhere (ranks draw their own masks), so one and two processes can agree exactly.
# 301 demo notes → 241 training notes: odd, and 241 = 30 × 8 + 1, so one batch of the
# 2-process run has a single row (rank 1's share of it is empty).
COMMON = [*TINY, "--set", "data.demo_size=301", "--set", "model.adapter=linear", "--set", "model.dropout=0",
          "--set", "model.backbone_options.dropout=0", "--set", "train.baseline=false", "--epochs", "2",
          "--set", "train.batch_size=16", "--budget", "cpu"]
TWO = [*COMMON, "--nproc", "2", "--set", "train.micro_batch=4"]  # 4 × 2 processes × accumulation 2 = 16
ONE = [*COMMON, "--set", "train.micro_batch=8"]  # 8 × accumulation 2 = 16, the same batches in the same order


def train(*args: str) -> dict:
    result = runner.invoke(app, ["train", *args, "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "state" / "trainer.pt", weights_only=True)["model"]


@pytest.fixture(scope="module")
def two_proc(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    return train(*TWO, "--run-dir", str(root / "two"))


K = 6  # optimizer steps compared (rounding differences — padding, summation order — grow with Adam's steps)


def test_two_processes_match_one_process_with_the_same_effective_batch(tmp_path):
    k = ["--set", f"train.max_steps={K}"]
    two = train(*TWO, *k, "--run-dir", str(tmp_path / "two"))
    one = train(*ONE, *k, "--run-dir", str(tmp_path / "one"))
    assert two["steps"] == one["steps"] == K
    a, b = weights(Path(two["run_dir"])), weights(Path(one["run_dir"]))
    start = weights_at_step_0(tmp_path)
    assert a.keys() == b.keys() == start.keys()
    diff = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
    moved = max((a[k].float() - start[k].float()).abs().max().item() for k in a)
    print(f"\nafter {K} optimizer steps: max |w(2 processes) - w(1 process)| = {diff:.3g}; "
          f"max |w - w(step 0)| = {moved:.3g}")
    assert moved > 1e-3  # the weights did move
    assert diff <= 1e-5
    assert two["val_metrics"]["loss"] == pytest.approx(one["val_metrics"]["loss"], abs=1e-5)


def weights_at_step_0(tmp_path: Path) -> dict[str, torch.Tensor]:
    """The initial weights of the same config (one step at learning rate 0)."""
    run = train(*ONE, "--set", "train.max_steps=1", "--set", "train.lr=1e-12", "--run-dir", str(tmp_path / "zero"))
    return weights(Path(run["run_dir"]))


def test_uneven_dataset_finishes_and_only_rank_0_writes(two_proc):
    run = Path(two_proc["run_dir"])
    events = read_events(run)
    started = events[0]
    assert started["type"] == "run_started" and started["world_size"] == 2
    assert started["n_train"] % 2 == 1 and started["plan"]["effective_batch"] == 16
    types = [e["type"] for e in events]
    assert types.count("run_started") == 1 and types.count("run_finished") == 1 and types[-1] == "run_finished"
    steps = [e["step"] for e in events if e["type"] == "step"]
    assert steps == sorted(set(steps)) and steps[-1] == two_proc["steps"]  # one writer: no step logged twice
    assert [e["epoch"] for e in events if e["type"] == "eval" and e["split"] == "val"] == [1, 2]
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint", "events.jsonl", "lock", "metrics.json",
                                                     "run.toml", "state", "worker.log"]
    assert "trainer.pt" in {p.name for p in (run / "state").iterdir()}
    assert not [p for p in run.rglob("*") if p.name.endswith((".tmp", ".new", ".old"))]
    ranks = [e["ranks"] for e in events if e["type"] == "memory" and "ranks" in e]
    assert ranks and [r["rank"] for r in ranks[-1]] == [0, 1]
    assert all(r["host_rss_bytes"] > 0 for r in ranks[-1])
    n_test = started["n_test"]
    assert two_proc["metrics"]["n"] == n_test  # test predictions gathered from both ranks, no duplicates
    assert json.loads((run / "metrics.json").read_text()) == two_proc


def test_stop_then_resume_matches_an_uninterrupted_run(two_proc, tmp_path):
    run = tmp_path / "stopped"
    result = runner.invoke(app, ["train", *TWO, "--run-dir", str(run), "--detach", "--json"])
    assert result.exit_code == 0, result.output
    pid = json.loads(result.stdout)["pid"]
    deadline = time.monotonic() + 240
    while not any(e["type"] == "step" for e in read_events(run)):
        assert time.monotonic() < deadline, "no step event"
        time.sleep(0.2)
    assert stop_worker(run)  # SIGTERM to rank 0: every rank stops at the next step, rank 0 saves
    os.waitpid(pid, 0)  # the torchrun process (our child)
    events = read_events(run)
    assert events[-1]["type"] == "stopped", [e["type"] for e in events][-5:]
    stopped_at = max(e["step"] for e in events if e["type"] == "step")
    assert stopped_at < two_proc["steps"]

    resumed = train("--resume", str(run))
    events = read_events(run)
    assert [e["type"] for e in events].count("run_started") == 2
    assert events[-1]["type"] == "run_finished"
    assert resumed["steps"] == two_proc["steps"]
    assert resumed["metrics"] == two_proc["metrics"]
    assert resumed["val_metrics"] == two_proc["val_metrics"]
    diff = max((a - b).abs().max().item() for a, b in zip(weights(run).values(), weights(Path(two_proc["run_dir"])).values()))
    assert diff == 0.0


def test_resume_with_another_world_size_is_refused(two_proc):
    result = runner.invoke(app, ["train", "--resume", two_proc["run_dir"], "--nproc", "3"])
    assert result.exit_code == 2
    assert "same number" in result.output and "Traceback" not in result.output
    with pytest.raises(ConfigError, match="saved by 2"):
        distributed.check_resume({"progress": {"world_size": 2}}, None)


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
