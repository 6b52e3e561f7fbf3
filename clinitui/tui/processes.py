"""Worker processes this TUI started: launch them, and reap them when they exit.

A worker is our child until the TUI quits (then init adopts it). A child that exited but was not
reaped is a zombie, and ``kill(pid, 0)`` still succeeds on a zombie, so without reaping a crashed
worker would look alive. Nothing here waits: ``reap`` uses ``WNOHANG``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clinitui.config.schema import RunConfig

_children: set[int] = set()
_lock = threading.Lock()


def launch(config: RunConfig, runs_root: Path) -> tuple[Path, int]:
    """Start a detached worker with the same launcher as ``clinitui train --detach``."""
    from clinitui.launcher import start_worker

    path, pid = start_worker(config, runs_root)
    with _lock:
        _children.add(pid)
    return path, pid


def launch_search(config: RunConfig, budget: str, runs_root: Path) -> tuple[Path, int]:
    """Create a time-budget search (the same checks as ``clinitui train --time-budget``) and run it detached."""
    from clinitui.timebudget.create import create_search
    from clinitui.timebudget.run import start_detached

    path = create_search(config, budget, unlabeled=[], root=runs_root)
    pid = start_detached(path)
    with _lock:
        _children.add(pid)
    return path, pid


def reap() -> None:
    """Collect exit statuses of our finished workers (so dead ones stop looking alive)."""
    with _lock:
        pids = list(_children)
    for pid in pids:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not ours, or already reaped (e.g. by subprocess' own cleanup)
            done = pid
        if done:
            with _lock:
                _children.discard(pid)
