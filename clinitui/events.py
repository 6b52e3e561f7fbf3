"""The event stream: one JSON object per line in ``<run>/events.jsonl`` (torch-free).

Every event has ``v`` (schema version), ``t`` (unix time) and ``type``. The writer appends and
flushes each line; readers tolerate a half-written last line and unknown types. Events carry
numbers, names and paths only — never note text.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

SCHEMA_VERSION = 1
FILENAME = "events.jsonl"

# The types the engine emits (front ends must ignore types they do not know).
TYPES = (
    "run_started", "step", "memory", "eval", "checkpoint", "oom_backoff", "heartbeat",
    "run_finished", "run_failed", "stopped", "warning", "baseline", "feature_cache",
)
FINAL_TYPES = ("run_finished", "run_failed", "stopped")


class EventWriter:
    """Thread-safe appender to ``events.jsonl``; also forwards each event to in-process listeners.

    A listener with an ``attach(writer)`` method is handed the writer first, so it can add events
    of its own (the tracking listener's ``warning`` when MLflow cannot be reached: clinitui/tracking/);
    one with a ``settle(type)`` method is called before the run's last event (``FINAL_TYPES``) is
    written, so whatever it still has to add comes before that event, which stays the last.
    """

    def __init__(self, path: Path, listeners: list[Callable[[dict], None]] | None = None) -> None:
        self.path = Path(path)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._fh = os.fdopen(fd, "a", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()
        self.listeners = list(listeners or [])
        for listener in self.listeners:
            if hasattr(listener, "attach"):
                listener.attach(self)

    def emit(self, type: str, **fields: Any) -> dict:
        if type in FINAL_TYPES:
            for listener in self.listeners:
                if hasattr(listener, "settle"):
                    listener.settle(type)
        event = {"v": SCHEMA_VERSION, "t": round(time.time(), 3), "type": type, **fields}
        line = json.dumps(event, separators=(",", ":"), allow_nan=False, default=_jsonable)
        with self._lock:
            self._fh.write(line + "\n")
            self._fh.flush()
        for listener in self.listeners:
            listener(event)
        return event

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.flush()
                os.fsync(self._fh.fileno())
                self._fh.close()


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def parse_lines(text: str) -> list[dict]:
    """Events in ``text``; a truncated or corrupt line (e.g. the last one of a killed run) is skipped."""
    events = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and "type" in event:
            events.append(event)
    return events


def read_events(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / FILENAME
    if not path.exists():
        return []
    return parse_lines(path.read_text(encoding="utf-8", errors="replace"))


class EventTail:
    """Incremental reader: ``poll()`` returns the complete lines appended since the last call."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._offset = 0
        self._partial = b""

    def poll(self) -> list[dict]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        complete, _, self._partial = data.rpartition(b"\n")
        return parse_lines(complete.decode("utf-8", errors="replace"))

    def follow(self, interval: float = 0.5, stop: Callable[[], bool] = lambda: False) -> Iterator[dict]:
        while True:
            events = self.poll()
            yield from events
            if any(e["type"] in FINAL_TYPES for e in events) or stop():
                return
            time.sleep(interval)
