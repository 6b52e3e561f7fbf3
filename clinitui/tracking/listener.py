"""The tracking listener: one run's events, as they are written, forwarded to MLflow and TensorBoard.

It is an ordinary event listener (clinitui/events.py), attached by whoever starts the recipe (the
CLI, the detached worker): the engine knows nothing about tracking. It must never fail the run:
every sink call is guarded, and the first failure of a sink (server down, disk full, library
missing) turns it off for the rest of the run with one ``warning`` event saying why.

The training never waits on a store: the listener only queues each event; a thread of its own
imports the libraries, opens the runs and sends the metrics in batches (at each validation, and
every few seconds). Only the run's last event waits, up to FINISH_WAIT_S, for the queue to drain,
so the final metrics and artifacts are recorded before the process ends. Where the run went is
written to ``<run>/tracking.json``, so a resumed run goes on in the same MLflow run and the TUI's
run screen can say where it is tracked.
"""

from __future__ import annotations

import json
import queue
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from clinitui.rundir import write_private
from clinitui.tracking import record

FLUSH_S = 10.0
FINISH_WAIT_S = 120.0  # how long the run's last event waits for the store (each MLflow request times out sooner)
STATUS = {"run_finished": "FINISHED", "run_failed": "FAILED", "stopped": "KILLED"}


class Guarded:
    """The sinks of one run, each dropped with a warning at its first failure."""

    def __init__(self, sinks: list, warn) -> None:
        self.sinks, self.warn = list(sinks), warn

    def each(self, what: str, call) -> dict:
        """``call(sink)`` for every live sink; returns {sink name: result} of those that succeeded."""
        done = {}
        for sink in list(self.sinks):
            try:
                done[sink.name] = call(sink)
            except Exception as exc:  # noqa: BLE001 -- any failure of a tracking store: warn, never fail the run
                self.sinks.remove(sink)
                message = " ".join(str(exc).split())[:240]
                self.warn(f"{sink.name} tracking off ({what} failed: {type(exc).__name__}: {message}); "
                          "the run goes on and is kept in its run directory (`clinitui runs export` can send it later)")
                try:
                    sink.close()
                except Exception:  # noqa: BLE001
                    pass
        return done


class Tracker:
    """Event listener: ``Tracker(run_dir, config.tracking, make_sinks)`` in a recipe's ``listeners``."""

    def __init__(self, run_dir: Path, make_sinks, report: bool = True, background: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.make_sinks = make_sinks  # run_dir -> list of sinks; called at run_started (imports the libraries)
        self.report = report  # attach the HTML report (tracking.report) when the report extra is installed
        self.writer = None
        self.guard: Guarded | None = None
        self.stream = record.Stream()
        self.pending: list[record.Point] = []
        self.last_flush = time.monotonic()
        self.last_t = 0.0
        self.warnings: list[str] = []
        self.fresh = False  # True: never continue the store's earlier record of the run (runs export)
        self.queue: queue.SimpleQueue | None = queue.SimpleQueue() if background else None  # None: in the caller
        self.thread: threading.Thread | None = None

    def attach(self, writer) -> None:
        """The event writer of the run (clinitui/events.py): where the tracker's warnings go."""
        self.writer = writer

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        if self.writer is not None:
            try:
                self.writer.emit("warning", message=message, source="tracking")
            except (OSError, ValueError):  # the event file is closed already (a store slower than FINISH_WAIT_S)
                pass

    def __call__(self, event: dict) -> None:
        """Queue ``event`` for the tracking thread (or, without one, record it now)."""
        if self.queue is None:
            self.safely(event)
            return
        if event.get("type") in STATUS:  # the run's end was recorded by settle(), before this event was written
            return
        self.start_thread()
        self.queue.put((event, None))

    def start_thread(self) -> None:
        if self.thread is None or not self.thread.is_alive():  # one per run: it ends once the run is settled
            self.thread = threading.Thread(target=self.drain, name="clinitui-tracking", daemon=True)
            self.thread.start()

    def settle(self, final: str) -> None:
        """Before the run's last event (``final``: its type) is written: record the end of the run, and wait.

        So the final metrics, the artifacts and any warning are in before ``run_finished``, which stays
        the last event; the run's own ``wall_seconds`` was measured before."""
        if self.queue is None or self.thread is None or not self.thread.is_alive():
            self.safely({"type": "settle", "final": final})
            return
        done = threading.Event()
        self.queue.put(({"type": "settle", "final": final}, done))
        if not done.wait(FINISH_WAIT_S):
            self.warn(f"tracking: the store did not answer within {FINISH_WAIT_S:.0f} s; its record of the run "
                      "may lack the final metrics (`clinitui runs export` can send them)")

    def drain(self) -> None:
        """The tracking thread: the run's queued events in order, to its end (a daemon: a hung store never
        holds the process)."""
        while True:
            event, done = self.queue.get()
            self.safely(event)
            if done is not None:
                done.set()
            if event["type"] == "settle":
                return

    def safely(self, event: dict) -> None:
        try:
            self.handle(event)
        except Exception as exc:  # noqa: BLE001 -- a bug here must not fail training either
            self.guard = None
            self.warn(f"tracking off ({type(exc).__name__} while handling a {event.get('type')} event)")

    def handle(self, event: dict) -> None:
        kind = event.get("type")
        if kind == "run_started":
            self.start(event)
            return
        if self.guard is None:
            return
        self.last_t = float(event.get("t") or self.last_t)
        self.pending.extend(self.stream.points(event))
        if kind == "settle" or kind in STATUS:  # live: settle, before the last event; a replay: the last event
            self.finish(event.get("final", kind))
        elif kind in ("eval", "checkpoint") or len(self.pending) >= 500 or time.monotonic() - self.last_flush > FLUSH_S:
            self.flush()

    def start(self, started: dict) -> None:
        if started.get("run_dir"):  # one tracker may see several runs in turn (the seeds of `train --seeds N`)
            self.run_dir = Path(started["run_dir"])
        self.stream, self.pending = record.Stream(), []
        state = read_state(self.run_dir)
        guard = Guarded([], self.warn)
        try:
            sinks = self.make_sinks(self.run_dir)
        except Exception as exc:  # noqa: BLE001 -- a missing extra, an unusable folder
            self.warn(f"tracking off: {' '.join(str(exc).split())[:300]}")
            return
        guard.sinks = sinks
        name = self.run_dir.name
        params, tags = record.params(started.get("config") or {}), record.tags(self.run_dir, started)
        parent = sweep_parent(self.run_dir)
        prior = {} if self.fresh else state  # a resumed run goes on in the record it started
        where = guard.each("start", lambda s: s.start(name, params, tags, prior.get(s.name) or {}, parent))
        self.guard = guard if guard.sinks else None
        if where:
            write_state(self.run_dir, {**state, **where})

    def flush(self) -> None:
        points, self.pending = self.pending, []
        self.last_flush = time.monotonic()
        if points and self.guard is not None:
            self.guard.each("logging metrics", lambda s: s.log(points))

    def finish(self, kind: str) -> None:
        self.flush()
        guard, self.guard = self.guard, None
        payload = read_json(self.run_dir / "metrics.json") if kind == "run_finished" else {}
        final, tags = record.final_metrics(payload or {}), record.final_tags(payload or {})
        files = [(p, "checkpoint" if p.parent.name == "checkpoint" else "") for p in record.artifacts(self.run_dir)]
        with tempfile.TemporaryDirectory(prefix="clinitui-report-") as tmp:
            if self.report and kind == "run_finished" and any(s.name == "mlflow" for s in guard.sinks):
                files += report_artifact(self.run_dir, Path(tmp), self.warn)
            guard.each("finishing", lambda s: s.finish(final, tags, files, STATUS[kind], self.stream.step,
                                                       self.last_t))
        for sink in guard.sinks:
            try:
                sink.close()
            except Exception:  # noqa: BLE001
                pass


def report_artifact(run_dir: Path, tmp: Path, warn) -> list[tuple[Path, str]]:
    """The run's HTML report, written in ``tmp``, when the ``report`` extra is installed (else nothing)."""
    from importlib.util import find_spec

    if find_spec("jinja2") is None or find_spec("matplotlib") is None:  # the report extra is not installed
        return []
    try:
        from clinitui.report.html import make_report

        html, _ = make_report(run_dir, tmp / "report.html")
        return [(Path(html), "report")]
    except Exception as exc:  # noqa: BLE001 -- the run and its other artifacts are recorded anyway
        warn(f"tracking: the HTML report was not attached ({type(exc).__name__})")
        return []


STATE_FILE = "tracking.json"


def read_state(run_dir: Path) -> dict:
    return read_json(Path(run_dir) / STATE_FILE) or {}


def write_state(run_dir: Path, state: dict) -> None:
    write_private(Path(run_dir) / STATE_FILE, json.dumps(state, indent=2) + "\n")


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def sweep_parent(run_dir: Path) -> str | None:
    """A sweep trial's parent MLflow run (the sweep's own ``tracking.json``), else None."""
    from clinitui.sweep.journal import TRIALS_DIR

    if run_dir.parent.name != TRIALS_DIR:
        return None
    return (read_state(run_dir.parent.parent).get("mlflow") or {}).get("run_id")
