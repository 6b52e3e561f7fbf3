"""A thread that follows one run's ``events.jsonl`` and tells a screen when new events arrived.

It never touches widgets: it fills a buffer and posts ``EventsPending`` (collapsible), and posts
``WorkerGone`` once when the worker died without a final event. Screens drain the buffer on the
event loop, so a finished run's whole file arrives as one batch (a replay) and a live run's
events arrive a few times a second however fast the worker writes.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

from clinitui.events import FILENAME, FINAL_TYPES, EventTail
from clinitui.rundir import lock_holder
from clinitui.runs import summarize
from clinitui.tui.processes import reap

POLL_S = 0.25
STATUS_EVERY_S = 2.0


class RunFollower(threading.Thread):
    """Tail ``run_dir/events.jsonl`` until a final event, the worker's death, or ``stop()``."""

    def __init__(self, run_dir: Path, post: Callable, poll_s: float = POLL_S) -> None:
        super().__init__(name=f"follow-{Path(run_dir).name}", daemon=True)
        from clinitui.tui.messages import EventsPending, WorkerGone

        self.run_dir = Path(run_dir)
        self._post = post
        self._pending_cls, self._gone_cls = EventsPending, WorkerGone
        self._tail = EventTail(self.run_dir / FILENAME)
        self._lock = threading.Lock()
        self._buffer: list[dict] = []
        self._seen: list[dict] = []  # every event so far, for the liveness check
        self._halt = threading.Event()
        self.poll_s = poll_s
        self.finished = False
        self.gone = False

    def drain(self) -> list[dict]:
        """The events that arrived since the last drain (called on the event loop)."""
        with self._lock:
            events, self._buffer = self._buffer, []
        return events

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        last_check = 0.0
        while not self._halt.is_set():
            if self._take(self._tail.poll()):
                return
            now = time.monotonic()
            if now - last_check >= STATUS_EVERY_S:
                last_check = now
                if self._worker_gone():
                    return
            self._halt.wait(self.poll_s)

    def _take(self, events: list[dict]) -> bool:
        """Buffer new events and tell the screen; True when one of them ends the run."""
        if not events:
            return False
        with self._lock:
            self._buffer.extend(events)
        self._seen.extend(events)
        self._post(self._pending_cls(self.run_dir))
        self.finished = any(e["type"] in FINAL_TYPES for e in events)
        return self.finished

    def _worker_gone(self) -> bool:
        # The same rule as `clinitui runs list`: dead pid or stale heartbeat, and no final event.
        reap()
        if lock_holder(self.run_dir) is not None:
            return False  # the worker holds its run lock: alive (one flock call, whatever the run's length)
        summary = summarize(self.run_dir, self._seen)
        if summary.status != "crashed":
            return False
        # one last read: the worker may have written its final event just before exiting
        if self._take(self._tail.poll()):
            return True
        self.gone = True
        self._post(self._gone_cls(self.run_dir, summary.error))
        return True
