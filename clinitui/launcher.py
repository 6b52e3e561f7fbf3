"""Start training as a detached worker process (torch-free; used by the TUI and `train --detach`).

The worker runs in its own session (``start_new_session=True``) with stdin from /dev/null and
stdout/stderr appended to ``<run>/worker.log`` — never a pipe nobody reads — so closing the
terminal or losing the SSH connection does not stop it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from clinitui.config.overrides import to_toml
from clinitui.config.schema import RunConfig
from clinitui.runs import lock_holder, new_run_dir, pid_alive, read_pid, write_private


def start_worker(config: RunConfig, runs_root: Path, run_dir: Path | None = None,
                 env: dict[str, str] | None = None) -> tuple[Path, int]:
    """Create the run directory, write ``run.toml`` and start the worker; returns (path, pid).

    ``env`` adds variables for this worker only (a sweep slot's ``CUDA_VISIBLE_DEVICES``)."""
    parts = ("pretrain", config.model.backbone) if config.pretrain else (config.model.backbone, config.model.adapter)
    path = new_run_dir(runs_root, *parts, run_dir)
    write_private(path / "run.toml", to_toml(config))
    return path, _spawn(path, env=env)


def resume_worker(path: Path, env: dict[str, str] | None = None) -> int:
    """Start a worker that continues the run in ``path`` from its last saved state; returns its pid."""
    return _spawn(Path(path), "--resume", env=env)


def _spawn(path: Path, *extra: str, env: dict[str, str] | None = None) -> int:
    log_fd = os.open(path / "worker.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    env = {**os.environ, **(env or {})}
    env.setdefault("PYTHONUNBUFFERED", "1")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "clinitui.worker", str(path), *extra],
            stdin=subprocess.DEVNULL, stdout=log_fd, stderr=log_fd,
            start_new_session=True, close_fds=True, env=env, cwd=os.getcwd(),
        )
    finally:
        os.close(log_fd)
    write_private(path / "worker.pid", f"{proc.pid}\n")
    return proc.pid


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
