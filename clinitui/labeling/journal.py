"""``labels.jsonl``: the label journal, appended one fsynced line per label, never rewritten.

Line 1 is the header: the format, the digest of the pool's ids (pool.py), the label set and whether
a note takes several labels. Each further line is one act of an annotator:

* ``{"kind": "label", "id", "row", "label", "annotator", "time", "score"}`` — ``label`` a string, or a
  list for multi-label; ``score`` what the query strategy gave the note (null when none); plus
  ``"held_out": true`` when the note was drawn at random rather than by the strategy (session.py):
  such notes are an unbiased sample of the pool, and the export makes them its dev and test rows;
* ``{"kind": "skip", "id", "row", "annotator", "time"}``;
* ``{"kind": "undo", "annotator", "time"}`` — cancels that annotator's latest label or skip.

Undo is itself a line, so nothing written is ever changed: a killed terminal loses at most the line
being written (a torn last line is skipped on reading and closed with a newline before the next
append). Never note text: ids and row numbers only (docs/privacy.md).

One session writes a journal at a time: an ``flock`` on ``labels.jsonl.lock`` (dropped by the kernel
when the holder dies, even by SIGKILL); a second session is refused with exit 6.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from clinitui.errors import ConfigError, DataError, RunBusyError

FORMAT = "clinitui-labels"
KINDS = ("label", "skip", "undo", "model")  # "model": a retrain's validation F1 at a number of labels
VERSION = 1


@dataclass
class State:
    """The journal replayed: per annotator, the labels standing (id → label) and the ids skipped."""

    labels: dict[str, dict[str, object]] = field(default_factory=dict)
    skipped: dict[str, set[str]] = field(default_factory=dict)
    order: list[tuple[str, str]] = field(default_factory=list)  # (annotator, id) of each standing label, in time
    held_out: set[str] = field(default_factory=set)  # ids whose standing label came from a random draw

    def handled(self, annotator: str) -> set[str]:
        return set(self.labels.get(annotator, {})) | self.skipped.get(annotator, set())

    def count(self) -> int:
        return sum(len(v) for v in self.labels.values())


def read_journal(path: Path) -> tuple[dict, list[dict]]:
    """(header, records) of ``path``; a torn line (a write killed half way) is skipped, not fatal."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except OSError as exc:
        raise DataError(f"{path}: cannot read the label journal ({exc.strerror or type(exc).__name__})") from None
    try:
        header = json.loads(lines[0])
    except (json.JSONDecodeError, IndexError):
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise DataError(f"{path}: not a clinitui label journal (no '{FORMAT}' header); give --labels a new "
                        "file name or the journal `clinitui label` wrote")
    records = []
    for line in lines[1:]:
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # empty, or torn by a kill
        if isinstance(rec, dict) and rec.get("kind") in KINDS:
            records.append(rec)
    return header, records


def replay(records: list[dict]) -> State:
    """What the records leave standing: each undo cancels its annotator's latest label or skip."""
    stacks: dict[str, list[dict]] = {}
    for rec in records:
        if rec["kind"] == "model":
            continue
        stack = stacks.setdefault(rec.get("annotator", ""), [])
        if rec["kind"] == "undo":
            if stack:
                stack.pop()
        else:
            stack.append(rec)
    state = State()
    timed = []
    for annotator, stack in stacks.items():
        labels, skipped = state.labels.setdefault(annotator, {}), state.skipped.setdefault(annotator, set())
        for rec in stack:
            if rec["kind"] == "label":
                labels[rec["id"]] = rec["label"]
                skipped.discard(rec["id"])
                if rec.get("held_out"):
                    state.held_out.add(rec["id"])
                timed.append((rec.get("time", 0), annotator, rec["id"]))
            else:
                skipped.add(rec["id"])
    seen = set()
    for _, annotator, rid in sorted(timed, reverse=True):  # a relabel counts where it was last given
        if (annotator, rid) not in seen:
            seen.add((annotator, rid))
            state.order.append((annotator, rid))
    state.order.reverse()
    return state


def check_pool(path: Path, header: dict, pool) -> None:
    """DataError when the journal was written for another pool (its ids' digest differs)."""
    if header.get("pool_digest") != pool.digest:
        raise DataError(f"{path}: this journal belongs to another pool (its ids differ from {pool.path.name}'s); "
                        "open it with the pool it was written for, or start a new journal")


class JournalLock:
    """An exclusive ``flock`` on ``<journal>.lock`` for the life of the session."""

    def __init__(self, journal: Path) -> None:
        import fcntl

        self.path = Path(str(journal) + ".lock")
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(self._fd, 32).decode(errors="replace").strip() or "?"
            os.close(self._fd)
            self._fd = None
            raise RunBusyError(f"{journal}: another labelling session (process {holder}) has this journal open; "
                               "close it, or label with another --annotator into a journal of your own") from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode())

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Journal:
    """A journal open for writing by one annotator (the lock held until :meth:`close`)."""

    def __init__(self, path: str | Path, pool, annotator: str, label_names: list[str] | None = None,
                 multilabel: bool = False) -> None:
        self.path, self.pool, self.annotator = Path(path), pool, annotator or "anonymous"
        self._rows = pool.row_of()
        self._lock = JournalLock(self.path)
        try:
            self._open(label_names, multilabel)
        except BaseException:
            self._lock.release()
            raise

    def _open(self, label_names: list[str] | None, multilabel: bool) -> None:
        if self.path.exists() and self.path.stat().st_size > 0:
            self.header, self.records = read_journal(self.path)
            check_pool(self.path, self.header, self.pool)
            if label_names and list(label_names) != list(self.header["labels"]):
                raise ConfigError(f"{self.path}: the journal's labels are {', '.join(self.header['labels'])}, not "
                                  f"{', '.join(label_names)}; keep the journal's label set or start a new journal")
        else:
            if not label_names:
                raise ConfigError("a new journal needs its label set: give --run (the run's labels) or --classes")
            self.header = {"format": FORMAT, "version": VERSION, "pool": self.pool.path.name,
                           "pool_digest": self.pool.digest, "n_pool": len(self.pool.ids),
                           "labels": list(label_names), "multilabel": bool(multilabel), "created": time.time()}
            self.records = []
            self._append(self.header)
        self.state = replay(self.records)

    @property
    def label_names(self) -> list[str]:
        return list(self.header["labels"])

    @property
    def multilabel(self) -> bool:
        return bool(self.header.get("multilabel"))

    def _append(self, record: dict) -> None:
        """One line, written and fsynced; a torn last line left by a kill is first closed with a newline."""
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
            size = os.fstat(fd).st_size
            if size:
                with open(self.path, "rb") as fh:
                    fh.seek(size - 1)
                    if fh.read(1) != b"\n":
                        data = b"\n" + data
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _check(self, note_id: str, label) -> int:
        if note_id not in self._rows:
            raise DataError(f"id {note_id[:40]!r} is not in the pool {self.pool.path.name}; label notes of this pool")
        names = set(self.header["labels"])
        given = list(label) if self.multilabel else [label]
        if not self.multilabel and not isinstance(label, str):
            raise DataError("this journal takes one label per note; give a single label")
        unknown = [x for x in given if x not in names]
        if unknown:
            raise DataError(f"label {str(unknown[0])[:30]!r} is not in the label set ({', '.join(self.header['labels'])}); "
                            "use one of those")
        return self._rows[note_id]

    def label(self, note_id: str, label, score: float | None = None, held_out: bool = False) -> dict:
        """Record ``label`` (a list for multi-label) for ``note_id``; on disk before this returns."""
        row = self._check(note_id, label)
        value = sorted(set(label), key=self.header["labels"].index) if self.multilabel else label
        return self._record({"kind": "label", "id": note_id, "row": row, "label": value,
                             "score": None if score is None else round(float(score), 6),
                             **({"held_out": True} if held_out else {})})

    def skip(self, note_id: str) -> dict:
        if note_id not in self._rows:
            raise DataError(f"id {note_id[:40]!r} is not in the pool {self.pool.path.name}")
        return self._record({"kind": "skip", "id": note_id, "row": self._rows[note_id]})

    def undo(self) -> dict | None:
        """Cancel this annotator's latest label or skip (an undo line); the cancelled record, or None."""
        stack: list[dict] = []
        for rec in self.records:
            if rec.get("annotator") != self.annotator or rec["kind"] == "model":
                continue
            if rec["kind"] != "undo":
                stack.append(rec)
            elif stack:
                stack.pop()
        if not stack:
            return None
        self._record({"kind": "undo"})
        return stack[-1]

    def model_point(self, labels: int, val_f1: float | None) -> dict:
        """Record a retrain: the validation F1 of the fast model at ``labels`` labels (the screen's curve)."""
        return self._record({"kind": "model", "labels": int(labels),
                             "val_f1": None if val_f1 is None else round(float(val_f1), 4)})

    def curve(self) -> list[tuple[int, float]]:
        return [(r["labels"], r["val_f1"]) for r in self.records if r["kind"] == "model" and r.get("val_f1") is not None]

    def _record(self, record: dict) -> dict:
        record = {**record, "annotator": self.annotator, "time": round(time.time(), 3)}
        self._append(record)
        self.records.append(record)
        self.state = replay(self.records)
        return record

    def close(self) -> None:
        self._lock.release()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
