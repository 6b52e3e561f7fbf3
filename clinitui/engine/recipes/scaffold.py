"""What every run does around its recipe: one context manager for training, pretraining and the TF-IDF run.

Shared set-up is a context manager, not a base class: a recipe (engine/recipes/train.py,
pretrain.py, tfidf.py) writes ``with run_scaffold(...) as run:`` and its body does only its own
work, setting ``run.stage`` as it goes. On entry the scaffold, for the writing process (rank 0
under torchrun; every other rank gets no lock and a NullEvents):

* sets the private umask 0o077, so whatever else creates files in the run (tokenizers, torch,
  scikit-learn) makes them private;
* takes the RunLock (held until this process exits, even by kill -9);
* reads the resumable state when resuming (``load_snapshot``; a failure there leaves no event);
* writes ``run.toml`` (a new run) and ``worker.pid``, and opens ``events.jsonl``.

On an exception it writes the run's last event through engine/recipes/failure.py (``stopped`` or
``run_failed`` with ``run.stage`` and the recipe's OOM advice) and raises what that returns. On exit,
whatever happened: the recipe's deferred closers (the telemetry sampler), the event file, torchrun's
process group, the lock and ``worker.pid``, the umask.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from clinitui import __version__
from clinitui.config.overrides import config_digest, to_toml
from clinitui.engine.recipes.failure import record_failure
from clinitui.events import FILENAME as EVENTS_FILE
from clinitui.events import EventWriter
from clinitui.rundir import RunLock, write_private

PRIVATE_UMASK = 0o077


@dataclass
class Run:
    """The handle a recipe body gets: where it writes, its events, and the stage a failure is reported in."""

    path: Path
    events: Any  # EventWriter, or engine/runtime/distributed.NullEvents on a rank other than 0
    dist: Any = None  # engine/runtime/distributed.Dist under torchrun, else None
    snapshot: dict | None = None  # the resumable state read on entry (a resume), else None
    stage: str = "setup"
    closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def main(self) -> bool:
        """Whether this process writes in the run directory (rank 0, or the only process)."""
        return self.dist is None or self.dist.main

    def defer(self, close: Callable[[], None]) -> None:
        """Call ``close`` on exit, before the event file closes (last deferred, first called)."""
        self.closers.append(close)

    def close_deferred(self) -> None:
        """Call the deferred closers now, each once (last deferred, first called)."""
        while self.closers:
            self.closers.pop()()


@contextmanager
def run_scaffold(path: Path, config, *, oom_advice: str, listeners: list[Callable[[dict], None]] | None = None,
                 resume: bool = False, dist=None, load_snapshot: Callable[[], dict] | None = None) -> Iterator[Run]:
    """Set the run directory ``path`` up for ``config``, yield its :class:`Run`, and close it whatever happens."""
    main = dist is None or dist.main
    umask = os.umask(PRIVATE_UMASK)
    lock = None
    try:
        lock = RunLock(path) if main else None
        snapshot = load_snapshot() if resume and load_snapshot is not None else None
        if main:
            if not resume:
                write_private(path / "run.toml", to_toml(config))
            write_private(path / "worker.pid", f"{os.getpid()}\n")
            events = EventWriter(path / EVENTS_FILE, listeners)
        else:
            from clinitui.engine.runtime.distributed import NullEvents

            events = NullEvents()
    except BaseException:  # nothing was started: no event, and worker.pid stays the worker's
        if lock is not None:
            lock.release()
        os.umask(umask)
        raise
    run = Run(path, events, dist, snapshot)
    try:
        yield run
    except BaseException as exc:  # the last event: stopped or run_failed (engine/recipes/failure.py)
        run.close_deferred()  # the telemetry thread stops first, so no memory event follows the last one
        raise record_failure(events, exc, run.stage, log_dir=path if main else None, dist=dist,
                             oom_advice=oom_advice)
    finally:
        try:
            run.close_deferred()
            events.close()
            if dist is not None:
                from clinitui.engine.runtime import distributed

                distributed.teardown()
        finally:
            _release(path, lock)
            os.umask(umask)


def _release(path: Path, lock: RunLock | None) -> None:
    if lock is None:
        return
    lock.release()
    try:
        (path / "worker.pid").unlink()
    except OSError:
        pass


def labelled_run_started(path: Path, config, dataset) -> dict:
    """The ``run_started`` fields every run on a labelled dataset shares (network and TF-IDF alike), in event order."""
    return dict(clinitui_version=__version__, pid=os.getpid(), run_dir=str(path), config=config.model_dump(),
                config_digest=config_digest(config), dataset_digest=dataset.digest,
                data_source="demo" if dataset.source == "demo" else Path(dataset.source).name,
                split=dataset.split_kind, n_train=len(dataset.train.texts), n_val=len(dataset.val.texts),
                n_test=len(dataset.test.texts), labels=dataset.label_names, counts=dataset.counts())
