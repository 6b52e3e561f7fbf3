"""Which rows of a labelled file ``eval`` scores, which dev rows re-choose an operating point, and
the rows ``predict`` writes (torch-free: the ONNX path, export/onnx_predict.py, writes them too)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from clinitui.errors import ConfigError, DataError
from clinitui.kinds import Task

CHUNK_ROWS = 4096  # notes ``predict`` reads, predicts and writes at a time (--chunk-rows)


def rows_for_split(table, split: str | None, path: Path):
    """The rows of ``split`` (``dev``/``validation`` mean ``val``); every row without a split column."""
    if split in (None, "all") or table.splits is None:
        return list(range(len(table.texts)))
    want = {"dev": "val", "validation": "val"}.get(split, split)
    rows = [i for i, s in enumerate(table.splits) if s == want]
    if not rows:
        raise DataError(f"{path}: no rows with split '{split}'; use --split all or another split")
    return rows


def file_dev_rows(table, what: str) -> list[int]:
    """The file's dev rows, on which ``--threshold-rule`` chooses ``what`` again; ConfigError without any."""
    if table.splits is None or "val" not in table.splits:
        stored = "the stored ones" if what.endswith("s") else "the stored one"
        raise ConfigError(f"--threshold-rule on eval chooses {what} on the file's dev rows: give a "
                          f"--split-col with dev/val rows (or drop --threshold-rule to use {stored})")
    return [i for i, s in enumerate(table.splits) if s == "val"]


def decision_rule(names: list[str], task: Task, positive_index: int | None, *, threshold: float | None = None,
                  label_thresholds: list[float] | None = None, rule: str | None = None,
                  chosen_on: str | None = None) -> tuple[dict, str]:
    """(the threshold column(s) every ``predict`` row carries, the sentence that says how labels were chosen).

    Binary with a locked operating point: ``threshold`` (the positive class when p(positive) >= it, so a
    row may read label 1 with p(1) < 0.5); otherwise ``threshold`` is empty (null): the most probable
    class. Multi-label: ``threshold_<label>``, each label's own. docs/report.md documents the columns."""
    how = ", ".join(x for x in (f"rule {rule}" if rule else "", f"chosen on {chosen_on}" if chosen_on else "") if x)
    how = f" ({how})" if how else ""
    if task is Task.MULTILABEL:
        values = [round(float(t), 6) for t in (label_thresholds or [0.5] * len(names))]
        shown = ", ".join(f"{n} {t:.3f}" for n, t in zip(names, values))
        return ({f"threshold_{n}": t for n, t in zip(names, values)},
                f"predicted each label when p(label) reaches its own threshold: {shown}{how}")
    if positive_index is not None and threshold is not None:
        t = round(float(threshold), 6)
        return ({"threshold": t}, f"predicted {names[positive_index]} when p({names[positive_index]}) >= {t:.3f}, "
                                  f"the locked threshold{how}; otherwise {names[1 - positive_index]}")
    return {"threshold": None}, "predicted the most probable class (no threshold locked in the checkpoint)"


def prediction_rows(names: list[str], probs, decided, task: Task, sep: str, decision: dict | None = None,
                    start: int = 0) -> list[dict]:
    """One row per note: ``row`` (counted from ``start``, the chunk's first row in the file), ``predicted`` (the class; multi-label: the predicted set joined by
    ``sep``, possibly empty), ``p_<label>`` rounded to 6 digits, from the decided rows of ``probs``,
    then the columns of ``decision`` (:func:`decision_rule`: the threshold(s) applied)."""
    rows = []
    for i, (p, chosen) in enumerate(zip(probs, decided)):
        if task is Task.MULTILABEL:
            predicted = sep.join(n for n, on in zip(names, chosen) if on)
        else:
            predicted = names[int(chosen)]
        rows.append({"row": start + i, "predicted": predicted, **{f"p_{name}": round(float(v), 6) for name, v in zip(names, p)},
                     **(decision or {})})
    return rows


@dataclass
class Predictions:
    """What ``predict`` streams: label names, the decision sentence, then the rows chunk by chunk.

    ``chunks`` is a generator: a chunk of notes is read, predicted and turned into rows only when
    the writer asks for it, so memory holds one chunk (data/stream.py), never the file. ``source``
    is the :class:`~clinitui.data.stream.TextStream` (bytes read, for a progress bar); ``notes``
    are further lines for stderr (an int8 export's agreement with its float model)."""

    labels: list[str]
    said: str
    chunks: Iterator[list[dict]]
    source: object
    notes: list[str] = field(default_factory=list)


def stream_rows(texts, predict_chunk: Callable, names: list[str], task: Task, sep: str,
                decision: dict) -> Iterator[list[dict]]:
    """The rows of each chunk of ``texts``; ``predict_chunk(texts) -> (probs, decided)``; the heap trimmed
    after each chunk, so resident memory stays at one chunk's (engine/runtime/heap.py)."""
    from clinitui.engine.runtime.heap import trim

    start = 0
    for chunk in texts:
        probs, decided = predict_chunk(chunk)
        yield prediction_rows(names, probs, decided, task, sep, decision, start=start)
        start += len(chunk)
        trim()
