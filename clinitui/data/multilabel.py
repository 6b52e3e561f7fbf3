"""Multi-label data (``--task multilabel``): label sets from a column, checks, and the split.

A note's labels come from a JSONL list, or from a string cut at ``data.label_sep`` (default
``|``); an empty cell or list means that no label applies, which is valid and common. Each
split's ``labels`` are multi-hot rows (one 0/1 per label, in ``label_names`` order), so the loss,
the metrics and the thresholds read them directly. Without a split column, the split is
iterative stratification (data/stratify.py), which keeps every label in every split.
"""

from __future__ import annotations

from clinitui.data.readers import Table
from clinitui.data.dataset import Dataset, Split, data_digest, given_parts, sort_labels
from clinitui.data.stratify import iterative_split
from clinitui.errors import DataError
from clinitui.kinds import Task

OTHER_SEPARATORS = ("|", ";", ",", "/", "+")


def label_sets(table: Table, sep: str, label_col: str = "label") -> list[list[str]]:
    """Each row's labels (deduplicated, in first-seen order); DataError for an empty label in a set."""
    src = table.source
    lists = table.label_lists or [None] * len(table.labels)
    out: list[list[str]] = []
    for row, (value, listed) in enumerate(zip(table.labels, lists)):
        parts = listed if listed is not None else ([] if value == "" else [p.strip() for p in value.split(sep)])
        if any(p == "" for p in parts):
            raise DataError(f"{src}: data row {row + 1} has an empty label in its set (two separators '{sep}' in a "
                            f"row, or one at an end) in '{label_col}'; remove the extra '{sep}'")
        out.append(list(dict.fromkeys(parts)))
    names = sort_labels({name for labels in out for name in labels})
    if len(names) < 2:
        only = f" ('{names[0][:30]}')" if names else ""
        raise DataError(f"{src}: --task multilabel needs two or more labels and column '{label_col}' holds "
                        f"{len(names)}{only}; add labels, or drop --task multilabel for a one-label-per-note task")
    if table.label_lists is None or all(x is None for x in table.label_lists):
        joined = [v for v in table.labels if v]
        if joined and not any(sep in v for v in joined):
            seen = next((s for s in OTHER_SEPARATORS if s != sep and sum(s in v for v in joined) >= len(joined) / 20),
                        None)
            hint = f"give the one the file uses (--label-sep '{seen}')" if seen else "give the one the file uses"
            raise DataError(f"{src}: --label-sep '{sep}' never occurs in column '{label_col}' (no note has two "
                            f"labels); {hint}, or train one label per note without --task multilabel")
    return out


def multi_hot(sets: list[list[str]], names: list[str]) -> list[list[int]]:
    index = {name: i for i, name in enumerate(names)}
    rows = []
    for labels in sets:
        row = [0] * len(names)
        for name in labels:
            row[index[name]] = 1
        rows.append(row)
    return rows


def make_multilabel_dataset(table: Table, *, sep: str = "|", val_fraction: float = 0.1, test_fraction: float = 0.1,
                            seed: int = 13, label_col: str = "label") -> Dataset:
    src = table.source
    sets = label_sets(table, sep, label_col)
    names = sort_labels({name for labels in sets for name in labels})
    index = {name: i for i, name in enumerate(names)}
    ids = [[index[name] for name in labels] for labels in sets]
    warnings = list(table.warnings)
    if table.splits is not None:
        parts = given_parts(table)
        if not parts["val"] or not parts["test"]:
            need = "val" if parts["test"] else "test"
            frac = val_fraction if need == "val" else test_fraction
            train_rows = parts["train"]
            inner = iterative_split([ids[i] for i in train_rows], len(names), (1 - frac, frac), seed)
            parts["train"] = sorted(train_rows[j] for j in inner[0])
            parts[need] = sorted(train_rows[j] for j in inner[1])
            warnings.append(f"no {need} rows in the split column: took {len(parts[need])} from train "
                            "(iterative stratification)")
        split_kind = "file"
    else:
        train, val, test = iterative_split(ids, len(names), (1 - val_fraction - test_fraction, val_fraction,
                                                             test_fraction), seed)
        parts = {"train": train, "val": val, "test": test}
        split_kind = f"iterative-stratified(seed={seed}, val={val_fraction}, test={test_fraction})"
    if not any(ids[i] for i in parts["train"]):
        raise DataError(f"{src}: no training note has a label; label some training notes")
    absent = [names[k] for k in range(len(names)) if not any(k in ids[i] for i in parts["train"])]
    if absent:
        warnings.append(f"{len(absent)} label(s) never occur in train and cannot be learned: "
                        + ", ".join(a[:30] for a in absent[:5]) + (" ..." if len(absent) > 5 else ""))
    hot = multi_hot(sets, names)

    def build(name: str) -> Split:
        return Split([table.texts[i] for i in parts[name]], [hot[i] for i in parts[name]])

    canonical = [sep.join(sorted(labels)) for labels in sets]
    return Dataset(train=build("train"), val=build("val"), test=build("test"), label_names=names, positive_index=None,
                   source=src, split_kind=split_kind, digest=data_digest(table.texts, canonical), warnings=warnings,
                   task=Task.MULTILABEL, label_sep=sep)
