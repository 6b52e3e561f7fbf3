"""Start training as a detached worker process (torch-free; used by the TUI and `train --detach`).

The worker runs in its own session (``start_new_session=True``) with stdin from /dev/null and
stdout/stderr appended to ``<run>/worker.log`` — never a pipe nobody reads — so closing the
terminal or losing the SSH connection does not stop it. A run with ``dist.nproc`` (or
``dist.nnodes``) above 1 starts the same worker under ``python -m torch.distributed.run``
(torchrun), one process per rank (engine/runtime/distributed.py, docs/distributed.md).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from clinitui.config.overrides import to_toml
from clinitui.config.schema import DistConfig, RunConfig
from clinitui.errors import ConfigError
from clinitui.kinds import RunKind, config_kind
from clinitui.rundir import lock_holder, pid_alive, read_pid, spawn_detached, write_private
from clinitui.runs import new_run_dir


def start_worker(config: RunConfig, runs_root: Path, run_dir: Path | None = None,
                 env: dict[str, str] | None = None) -> tuple[Path, int]:
    """Create the run directory, write ``run.toml`` and start the worker; returns (path, pid).

    ``env`` adds variables for this worker only (a sweep slot's ``CUDA_VISIBLE_DEVICES``). On a
    node other than 0 of a multi-node run, the run directory (on a shared file system) is node
    0's: it is not created or written here, only joined.
    """
    if config.dist.node_rank > 0:
        if run_dir is None:
            raise ConfigError("--node-rank above 0 joins node 0's run: pass the same --run-dir "
                              "(on a file system every node shares)")
        path = Path(run_dir)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path, _spawn(path, dist=config.dist, env=env)
    kind = config_kind(config)  # a pretraining run is named after what it makes: a backbone, no adapter
    parts = (kind.value, config.model.backbone) if kind == RunKind.PRETRAIN else (config.model.backbone, config.model.adapter)
    path = new_run_dir(runs_root, *parts, run_dir)
    write_private(path / "run.toml", to_toml(config))
    return path, _spawn(path, dist=config.dist, env=env)


def resume_worker(path: Path, dist: DistConfig | None = None, env: dict[str, str] | None = None) -> int:
    """Start a worker that continues the run in ``path`` from its last saved state; returns its pid.

    ``dist`` defaults to the run's own (its ``run.toml``), so a multi-process run resumes as one."""
    path = Path(path)
    if dist is None:
        dist = _run_dist(path)
    return _spawn(path, "--resume", dist=dist, env=env)


def _run_dist(path: Path) -> DistConfig | None:
    from clinitui.config.overrides import from_toml

    try:
        return from_toml((path / "run.toml").read_text(encoding="utf-8"), str(path / "run.toml")).dist
    except Exception:  # an unreadable run.toml is the worker's to report, with its own message
        return None


def torchrun_argv(dist: DistConfig, run_id: str) -> list[str]:
    """``python -m torch.distributed.run`` options for ``dist`` (the worker module follows them)."""
    argv = ["-m", "torch.distributed.run", "--nproc-per-node", str(dist.nproc), "--max-restarts", str(dist.max_restarts)]
    if dist.nnodes == 1:
        return argv + ["--standalone", "--nnodes", "1"]
    if not dist.rdzv_endpoint:
        raise ConfigError(f"dist.nnodes = {dist.nnodes} needs --rdzv-endpoint HOST:PORT (node 0's address, "
                          "the same on every node)")
    if dist.node_rank >= dist.nnodes:
        raise ConfigError(f"--node-rank {dist.node_rank} is out of range for --nnodes {dist.nnodes} (0 .. {dist.nnodes - 1})")
    return argv + ["--nnodes", str(dist.nnodes), "--node-rank", str(dist.node_rank), "--rdzv-backend", "c10d",
                   "--rdzv-endpoint", dist.rdzv_endpoint, "--rdzv-id", run_id]


def _spawn(path: Path, *extra: str, dist: DistConfig | None = None, env: dict[str, str] | None = None) -> int:
    multi = dist is not None and dist.world_size > 1
    log_name = "worker.log" if not multi or dist.node_rank == 0 else f"worker-node{dist.node_rank}.log"
    env = {**os.environ, **(env or {})}
    env.setdefault("PYTHONUNBUFFERED", "1")
    if multi:
        env.setdefault("OMP_NUM_THREADS", "1")  # torchrun's default too; the worker sets torch's threads itself
    launch = torchrun_argv(dist, path.name) if multi else []
    pid = spawn_detached([*launch, "-m", "clinitui.worker", str(path), *extra], path / log_name, env)
    if not multi or dist.node_rank == 0:
        write_private(path / "worker.pid", f"{pid}\n")  # rank 0's worker overwrites it with its own pid
    return pid


def stop_worker(run_dir: Path, force: bool = False) -> bool:
    """Ask the run's worker to stop (SIGTERM: finish the step, save, exit); True if one was signalled."""
    pid = lock_holder(run_dir)  # the process training right now; worker.pid may be stale
    if pid is None or pid < 0:
        pid = read_pid(Path(run_dir))
    if pid is None or not pid_alive(pid):
        return False
    try:
        os.kill(pid, signal.SIGKILL if force else signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True
