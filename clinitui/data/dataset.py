"""A labelled dataset split three ways, and the small facts about labels every reader of it shares."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

from clinitui.data.readers import Table
from clinitui.errors import DataError
from clinitui.kinds import Task


POSITIVE_NAMES = ("1", "true", "yes", "positive", "pos", "oui")



@dataclass
class Split:
    texts: list[str]
    labels: list  # indices into Dataset.label_names; multi-label: one 0/1 row per note (data/multilabel.py)



@dataclass
class Dataset:
    train: Split
    val: Split
    test: Split
    label_names: list[str]
    positive_index: int | None  # binary tasks only
    source: str
    split_kind: str  # "file" (split column) or "stratified(seed=..)"
    digest: str  # identifies the data without revealing it
    warnings: list[str]
    task: Task = Task.MULTICLASS  # or MULTILABEL (data/multilabel.py); a str naming one is read as it
    label_sep: str = "|"
    positive_why: str | None = None  # binary tasks: why positive_index is positive (choose_positive)

    def __post_init__(self) -> None:
        self.task = Task(self.task)

    def counts(self) -> dict[str, dict[str, int]]:
        """``{split: {label: count}}``: what the CLI prints before training (multi-label: notes with each label)."""
        out = {}
        for name in ("train", "val", "test"):
            if self.task is Task.MULTILABEL:
                rows = getattr(self, name).labels
                out[name] = {label: sum(r[i] for r in rows) for i, label in enumerate(self.label_names)}
                continue
            c = Counter(getattr(self, name).labels)
            out[name] = {self.label_names[i]: c.get(i, 0) for i in range(len(self.label_names))}
        return out



def sort_labels(labels: set[str]) -> list[str]:
    """Numeric labels in numeric order, others alphabetically."""
    try:
        return sorted(labels, key=float)
    except ValueError:
        return sorted(labels)



# why a binary task's positive class is the one it is (metrics.json ``positive_label.why``)
WHY_SET, WHY_NAME, WHY_MINORITY, WHY_TIE = ("data.positive_label", "label says positive", "minority class",
                                            "classes tie: second label in sort order")


def choose_positive(label_names: list[str], positive_label: str | None,
                    counts: dict[str, int] | None = None) -> tuple[int, str] | None:
    """(index, why) of a binary task's positive class; None for other tasks.

    ``--set data.positive_label=X`` first, then a label that says so (1/true/yes/positive...), else
    the minority class (``counts``: notes per label): what a clinician screens for is the rarer
    outcome, and the positive class's F1, sensitivity and PPV are about it. A bad name is a DataError.
    """
    if len(label_names) != 2:
        return None
    if positive_label is not None:
        if positive_label not in label_names:
            raise DataError(f"--set data.positive_label={positive_label[:40]}: not a class of this task; the classes "
                            f"are {', '.join(label_names)}")
        return label_names.index(positive_label), WHY_SET
    for i, name in enumerate(label_names):
        if name.lower() in POSITIVE_NAMES:
            return i, WHY_NAME
    n = [(counts or {}).get(name, 0) for name in label_names]
    if n[0] == n[1]:
        return 1, WHY_TIE
    return (0 if n[0] < n[1] else 1), WHY_MINORITY


def positive_label_record(dataset: "Dataset") -> dict | None:
    """metrics.json's ``positive_label``: {"label", "index", "why"} of a binary task, else None."""
    if dataset.positive_index is None:
        return None
    return {"label": dataset.label_names[dataset.positive_index], "index": dataset.positive_index,
            "why": dataset.positive_why}


def data_digest(texts: list[str], labels: list[str]) -> str:
    h = hashlib.sha256()
    for t, l in zip(texts, labels):
        h.update(t.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
        h.update(l.encode())
        h.update(b"\x1e")
    return "sha256:" + h.hexdigest()[:16]



def given_parts(table: Table) -> dict[str, list[int]]:
    """Row indices of each split named by the split column; DataError when train or every held-out split is empty."""
    src = table.source
    parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for i, s in enumerate(table.splits):
        parts[s].append(i)
    if not parts["train"]:
        raise DataError(f"{src}: the split column has no 'train' rows; mark some rows as train")
    if not parts["val"] and not parts["test"]:
        raise DataError(f"{src}: the split column has no dev/val or test rows; mark some, or drop --split-col")
    return parts
