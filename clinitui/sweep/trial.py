"""One trial: the entry point both backends call (torch-free here; the worker imports torch).

A trial is started exactly like ``clinitui train --detach``: ``launcher.start_worker`` writes
``run.toml`` into ``<sweep>/trials/<name>/`` and starts the detached worker, or
``launcher.resume_worker`` continues it from ``state/``. So a trial is an ordinary run directory
that ``runs list``, ``eval``, ``report``, ``predict`` and the TUI's run screen read unchanged.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Callable

from clinitui.errors import ConfigError
from clinitui.sweep.journal import TRIALS_DIR



def trial_dir(sweep_dir: Path, name: str) -> Path:
    return Path(sweep_dir) / TRIALS_DIR / name


def refusal(config) -> str | None:
    """The memory planner's refusal of ``config`` (with its numbers), or None when it fits."""
    from clinitui.engine.memory.planner import plan_for_config

    try:
        plan_for_config(config)
    except ConfigError as exc:
        return str(exc)
    return None


def launch(sweep_dir: Path, name: str, config, env: dict[str, str] | None = None) -> tuple[Path, int, bool]:
    """Start or continue trial ``name``; returns (run dir, worker pid, resumed?).

    A trial with saved training state resumes from it; one that never got that far (killed while
    loading) starts again from an empty directory, which yields the same result.
    """
    from clinitui.launcher import resume_worker, start_worker

    path = trial_dir(sweep_dir, name)
    from clinitui.engine.checkpoint.state import state_file

    if state_file(path).is_file():
        return path, resume_worker(path, env=env), True
    if path.exists():
        shutil.rmtree(path)
    path, pid = start_worker(config, path.parent, path, env=env)
    return path, pid, False


def exited(pid: int | None, path: Path) -> bool:
    """True once the trial's worker is gone (our child reaped, or a stranger's pid and lock free)."""
    from clinitui.rundir import lock_holder, pid_alive

    if pid is not None:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == 0:
                return False
            return True
        except ChildProcessError:  # not our child (adopted after a scheduler restart)
            if pid_alive(pid) and not _zombie(pid):
                return False
    return lock_holder(path) is None


def _zombie(pid: int) -> bool:
    """A dead process nobody reaped yet (``kill(pid, 0)`` still succeeds on it; Linux only)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def outcome(path: Path) -> tuple[str, str | None]:
    """What a trial whose worker exited ended as: finished, failed (with the reason), or interrupted."""
    from clinitui.runs import summarize

    summary = summarize(path)
    if summary.status == "finished" and (path / "metrics.json").is_file():
        return "finished", None
    if summary.status == "failed":
        return "failed", summary.error or "failed (see worker.log)"
    return "interrupted", summary.error


def val_curve(path: Path) -> list[tuple[int, float]]:
    """(epoch, validation macro-F1) of the trial's run so far -- what the pruner is fed."""
    from clinitui.events import read_events

    return [(e["epoch"], e["f1_macro"]) for e in read_events(path)
            if e["type"] == "eval" and e.get("split") == "val" and e.get("f1_macro") is not None]


def run_blocking(sweep_dir: Path, name: str, config, on_epoch: Callable[[int, float], None] | None = None,
                 poll_s: float = 0.5) -> tuple[str, str | None]:
    """Launch the trial and wait for its worker (the Ray backend's trial body); returns its outcome."""
    path, pid, _ = launch(sweep_dir, name, config)
    seen = 0
    while True:
        done = exited(pid, path)
        curve = val_curve(path)
        for epoch, f1 in curve[seen:]:
            if on_epoch is not None:
                on_epoch(epoch, f1)
        seen = len(curve)
        if done:
            return outcome(path)
        time.sleep(poll_s)
