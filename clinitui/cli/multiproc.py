"""``clinitui train --nproc N`` in a terminal: start the torchrun worker group and follow it.

A multi-process run cannot train inside the CLI's own process, so the CLI starts the same
detached worker the TUI starts (launcher.py, under torchrun) and follows its ``events.jsonl``
until the group exits, printing the progress and result an in-process run prints. Ctrl-C asks
the run to stop (state saved), as ``clinitui runs stop`` does. Torch-free.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from clinitui.errors import ClinituiError, StopRequested, TrainingFailedError
from clinitui.events import FILENAME, FINAL_TYPES, EventTail
from clinitui.signals import StopFlag


class WorkerError(ClinituiError):
    """The worker group's own error, carried over with its exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def follow(path: Path, pid: int, *, quiet: bool, interval: float = 0.3) -> dict:
    """Follow the worker group ``pid`` (our child) to its end; the ``metrics.json`` payload, or its error."""
    from clinitui.cli.progress import make_progress
    from clinitui.launcher import stop_worker
    from clinitui.describe import read_metrics

    progress = make_progress(quiet)
    stop = StopFlag()
    stop.install()
    tail = EventTail(Path(path) / FILENAME)
    final, asked, status = None, False, 0
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            for event in tail.poll():
                if progress:
                    progress(event)
                if event["type"] in FINAL_TYPES:
                    final = event
            if done:
                break
            if stop() and not asked:
                asked = stop_worker(path)  # rank 0 stops every rank at the next step
            time.sleep(interval)
    finally:
        if progress:
            progress.close()
    if final is not None and final["type"] == "run_finished":
        payload = read_metrics(path)
        if payload is not None:
            return payload
    if final is not None and final["type"] == "stopped":
        raise StopRequested(final.get("message", "stopped"))
    if final is not None and final["type"] == "run_failed":
        raise WorkerError(final.get("message", "the run failed"), int(final.get("exit_code") or 1))
    code = os.waitstatus_to_exitcode(status)
    raise TrainingFailedError(f"the training processes exited (code {code}) without finishing the run; "
                              f"see {Path(path) / 'worker.log'}")
