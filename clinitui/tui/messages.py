"""Messages the background threads post to the screens (dataclasses; posted with ``post_message``).

``post_message`` is thread-safe, so worker threads never touch widgets directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.message import Message


@dataclass
class EventsPending(Message):
    """New events wait in the follower's buffer: drain them with ``follower.drain()``.

    The buffer, not the message, carries the events, so a burst of notifications collapses
    into one (``can_replace``) while no event is ever lost.
    """

    run_dir: Path

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EventsPending) and message.run_dir == self.run_dir


@dataclass
class WorkerGone(Message):
    """The run's worker process died without writing a final event."""

    run_dir: Path
    log_tail: str | None


@dataclass
class RunsListed(Message):
    """A fresh listing of the runs root (``clinitui.runs.RunSummary`` objects)."""

    runs: list[Any]


@dataclass
class PreviewReady(Message):
    """Columns and class/length statistics of the dataset the launch form points at."""

    key: tuple  # (path, text column, label column, split column, demo size) it answers
    columns: list[str] = field(default_factory=list)
    stats: Any = None
    error: str | None = None


@dataclass
class PlanReady(Message):
    """The memory plan for the launch form's current values (or why there is none)."""

    key: str
    plan: dict | None
    note: str | None = None
    blocking: bool = False  # the plan refuses the config (does not fit): Start stays disabled


@dataclass
class RunLaunched(Message):
    """``start_worker`` returned: the run directory exists and the worker process runs."""

    run_dir: Path
    pid: int


@dataclass
class SearchLaunched(Message):
    """A ``--time-budget`` search started detached (clinitui/timebudget/run.py)."""

    search_dir: Path
    pid: int


@dataclass
class LaunchFailed(Message):
    message: str


@dataclass
class CatalogReady(Message):
    """Backbones, adapters, budgets and experiment presets (``catalog.Catalog``), read in a thread."""

    catalog: Any
