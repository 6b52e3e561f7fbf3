"""``clinitui label export``: the journal(s) merged with the pool into a training file.

Every standing label (journal.py ``replay``) is joined to its note's text by id. A note two
annotators labelled differently is a conflict: it is left out of the training file and listed
(id, and each annotator's label), never resolved silently; a note labelled alike by several is
written once. Multi-label sets are joined with the data section's ``label_sep`` default.

When the journal holds notes drawn at random (``held_out``, session.py), the file gains a ``split``
column: those notes alternate ``dev`` and ``test`` in the order they were labelled, every other note
is ``train`` — so a model trained on it (``--split-col split``, as the screen's full run does) is
chosen and scored on a random sample of the pool, not on the notes the strategy found hard.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from clinitui.config.schema import DataConfig
from clinitui.errors import DataError, RunDirectoryError
from clinitui.labeling.journal import check_pool, read_journal, replay

LABEL_SEP = DataConfig.model_fields["label_sep"].default
MIN_HELD_OUT = 20  # random draws before the export carves dev and test from them (10 each); fewer: no split column


def merged(journals: list[Path], pool) -> tuple[dict, dict[str, dict[str, object]], list[str]]:
    """(header of the first journal, id → {annotator: label}, ids drawn at random in labelling order)
    over every journal, each checked against the pool."""
    if not journals:
        raise DataError("no journal given; pass --labels labels.jsonl (repeat it to merge several annotators)")
    votes: dict[str, dict[str, object]] = {}
    held: list[str] = []
    first = None
    for path in journals:
        header, records = read_journal(Path(path))
        check_pool(Path(path), header, pool)
        if first is not None and header["labels"] != first["labels"]:
            raise DataError(f"{path}: its label set differs from {journals[0]}'s; merge journals of one label set")
        first = first or header
        state = replay(records)
        for annotator, labels in state.labels.items():
            for rid, label in labels.items():
                votes.setdefault(rid, {})[annotator] = label
        held += [rid for _, rid in state.order if rid in state.held_out and rid not in held]
    return first, votes, held


def _key(label) -> str:
    return LABEL_SEP.join(label) if isinstance(label, list) else str(label)


def export(journals: list[Path], pool, to: Path) -> dict:
    """Write ``to`` (CSV: id, text, label) in pool order; returns counts and the conflicts listed."""
    header, votes, held = merged(journals, pool)
    held = [r for r in held if r in votes and len({_key(v) for v in votes[r].values()}) == 1]
    split = {rid: ("dev", "test")[k % 2] for k, rid in enumerate(held)} if len(held) >= MIN_HELD_OUT else None
    conflicts, rows = [], []
    for rid, text in zip(pool.ids, pool.texts):
        if rid not in votes:
            continue
        given = {a: _key(v) for a, v in votes[rid].items()}
        if len(set(given.values())) > 1:
            conflicts.append({"id": rid, "labels": given})
        else:
            rows.append((rid, text, next(iter(given.values())))
                        + ((split.get(rid, "train"),) if split is not None else ()))
    to = Path(to)
    try:
        fd = os.open(to, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # note text: private like a run's files
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "text", "label"] + (["split"] if split is not None else []))
            w.writerows(rows)
    except OSError as exc:
        raise RunDirectoryError(f"{to}: cannot write the training file ({exc.strerror}); choose another --to") from None
    return {"to": str(to), "written": len(rows), "conflicts": conflicts, "labels": header["labels"],
            "multilabel": bool(header.get("multilabel")), "held_out": len(held),
            "split_col": "split" if split is not None else None}
