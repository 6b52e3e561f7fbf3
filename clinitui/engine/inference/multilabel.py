"""``clinitui eval`` of a multi-label checkpoint: the file's label sets against the locked thresholds.

The checkpoint's ``label_sep`` cuts the file's label cells (JSONL lists are read as they are); the
probabilities come from engine/inference/predictor.py (network, then the TF-IDF blend) and the prediction
from the thresholds stored at training (engine/evaluate/multilabel.py). ``--threshold-rule`` chooses them
again on the file's dev rows, as for binary checkpoints. Subgroups, error ids and ``--compare``
are single-label features for now: asked for, they stop with one line (exit 2).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clinitui.data.readers import read_table
from clinitui.engine.checkpoint.folder import read_checkpoint_info
from clinitui.engine.evaluate.multilabel import (choose_thresholds, multilabel_metrics, parse_label_set, thresholds_of)
from clinitui.engine.inference.rows import file_dev_rows, rows_for_split
from clinitui.errors import ConfigError, DataError


def label_matrix(table, rows: list[int], names: list[str], sep: str, data: Path) -> np.ndarray:
    """Multi-hot rows of ``table``'s labels; DataError for a label the checkpoint does not know."""
    index = {name: i for i, name in enumerate(names)}
    lists = table.label_lists or [None] * len(table.labels)
    y = np.zeros((len(rows), len(names)), dtype=int)
    unknown: set[str] = set()
    for r, i in enumerate(rows):
        labels = lists[i] if lists[i] is not None else parse_label_set(table.labels[i], sep)
        for name in labels:
            if name in index:
                y[r, index[name]] = 1
            else:
                unknown.add(name)
    if unknown:
        shown = ", ".join(repr(u[:30]) for u in sorted(unknown)[:5])
        raise DataError(f"{data}: label(s) {shown} unknown to the checkpoint, which knows {', '.join(names)}; "
                        f"check --label-col and the separator '{sep}', or use a matching checkpoint")
    return y


def evaluate_multilabel(checkpoint: Path, data: Path, *, text_col: str = "text", label_col: str = "label",
                        split_col: str | None = None, split: str | None = "test", device: str | None = None,
                        threshold_rule: str | None = None, compare=None, group_col=None, id_col=None,
                        delimiter: str | None = None, encoding: str | None = None) -> dict:
    from clinitui.engine.inference.predictor import checkpoint_probabilities

    unsupported = [flag for flag, v in (("--compare", compare), ("--group-col", group_col), ("--id-col", id_col)) if v]
    if unsupported:
        raise ConfigError(f"{', '.join(unsupported)} is not supported for multi-label checkpoints yet; "
                          "drop it (eval --json gives per-label metrics)")
    info = read_checkpoint_info(checkpoint)
    names, sep = info.label_names, info.raw.get("label_sep") or "|"
    table = read_table(data, text_col, label_col, split_col, delimiter=delimiter, encoding=encoding, multilabel=True)
    rows = rows_for_split(table, split if split_col else None, Path(data))
    dev_rows: list[int] = []
    if threshold_rule is not None:
        dev_rows = file_dev_rows(table, "the thresholds")
    y = label_matrix(table, rows, names, sep, Path(data))
    probs, info = checkpoint_probabilities(info.path, [table.texts[i] for i in rows + dev_rows], device=device)
    thresholds, rule = thresholds_of(info.raw, len(names)), (info.raw.get("label_thresholds") or {}).get("rule")
    if threshold_rule is not None:
        dev_y = label_matrix(table, dev_rows, names, sep, Path(data))
        thresholds = choose_thresholds(dev_y, probs[len(rows):], threshold_rule)
        rule = f"{threshold_rule} (chosen on the file's dev rows)"
    metrics = multilabel_metrics(y, probs[:len(rows)], names, thresholds=thresholds)
    return {**metrics, "labels": names, "label_thresholds": dict(zip(names, thresholds)), "threshold_rule": rule,
            "checkpoint": str(info.path), "data": str(data), "split": split if split_col else "all"}
