"""``clinitui runs export --to mlflow|tensorboard``: runs already made, sent to a tracking store afterwards.

A run's ``events.jsonl`` is replayed through the same listener a live run uses (listener.py), so
an exported run has the same parameters, step histories, final metrics and artifacts as one tracked
while it trained. A run already recorded in that place (its ``tracking.json``) is skipped, so
exporting a whole runs root twice duplicates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clinitui.errors import ClinituiError, EXIT_IO, RunBusyError
from clinitui.events import FINAL_TYPES, read_events


class TrackingError(ClinituiError):
    """The tracking store could not be written (server down, disk full): ``runs export`` failed."""

    exit_code = EXIT_IO


@dataclass
class Exported:
    run_dir: Path
    sent: list[str]  # the sinks the run was sent to
    skipped: str | None = None  # why nothing was sent, when nothing was


def export_run(run_dir: Path, tracking) -> Exported:
    """Replay the run in ``run_dir`` into the places ``tracking`` (a TrackingConfig) names."""
    from clinitui.rundir import lock_holder
    from clinitui.tracking import make_sinks, tensorboard_logdir
    from clinitui.tracking.listener import Tracker, read_state
    from clinitui.tracking.sinks import redact

    run_dir = Path(run_dir)
    if lock_holder(run_dir) is not None:
        raise RunBusyError(f"{run_dir}: still running; export it once it has ended (or train it with --log-to)")
    events = read_events(run_dir)
    if not any(e["type"] == "run_started" for e in events):
        return Exported(run_dir, [], "it never started (no run_started event)")
    state = read_state(run_dir)
    todo = []
    for name in tracking.log_to:
        prior = state.get(name) or {}
        here = ({"uri": redact(tracking.uri), "experiment": tracking.experiment} if name == "mlflow"
                else {"logdir": str(tensorboard_logdir(tracking, run_dir))})
        if prior and all(prior.get(k) == v for k, v in here.items()):
            continue
        todo.append(name)
    if not todo:
        return Exported(run_dir, [], "already there (see its tracking.json)")
    t = tracking.model_copy(update={"log_to": todo})
    tracker = Tracker(run_dir, lambda where: make_sinks(t, where), report=t.report, background=False)
    tracker.fresh = True  # a new record in the store, even if the run was tracked elsewhere before
    for event in events:
        tracker(event)
    if not any(e["type"] in FINAL_TYPES for e in events) and tracker.guard is not None:
        tracker.finish("run_failed")  # killed without a last event: recorded as failed, like `runs list` shows it
    if tracker.warnings:
        raise TrackingError(f"{run_dir.name}: " + tracker.warnings[0])
    return Exported(run_dir, todo)
