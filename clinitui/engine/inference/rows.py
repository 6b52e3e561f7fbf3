"""Which rows of a labelled file ``eval`` scores, which dev rows re-choose an operating point, and
the rows ``predict`` writes (torch-free: the ONNX path, export/onnx_predict.py, writes them too)."""

from __future__ import annotations

from pathlib import Path

from clinitui.errors import ConfigError, DataError
from clinitui.kinds import Task


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


def prediction_rows(names: list[str], probs, decided, task: Task, sep: str) -> list[dict]:
    """One row per note: ``row``, ``predicted`` (the class; multi-label: the predicted set joined by
    ``sep``, possibly empty) and ``p_<label>`` rounded to 6 digits, from the decided rows of ``probs``."""
    rows = []
    for i, (p, chosen) in enumerate(zip(probs, decided)):
        if task is Task.MULTILABEL:
            predicted = sep.join(n for n, on in zip(names, chosen) if on)
        else:
            predicted = names[int(chosen)]
        rows.append({"row": i, "predicted": predicted, **{f"p_{name}": round(float(v), 6) for name, v in zip(names, p)}})
    return rows
