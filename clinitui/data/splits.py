"""Turn a :class:`Table` into train / val / test splits and a label map, with checks."""

from __future__ import annotations

import random
from collections import Counter

from clinitui.data.dataset import Dataset, Split, choose_positive, data_digest, given_parts, sort_labels
from clinitui.data.multilabel import make_multilabel_dataset
from clinitui.data.readers import Table
from clinitui.errors import DataError
from clinitui.kinds import Task


def _stratified(indices_by_label: dict[str, list[int]], val_fraction: float, test_fraction: float, seed: int):
    rng = random.Random(seed)
    parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for label in sorted(indices_by_label):
        idx = list(indices_by_label[label])
        rng.shuffle(idx)
        n = len(idx)
        n_test = max(1, round(n * test_fraction))
        n_val = max(1, round(n * val_fraction))
        parts["test"] += idx[:n_test]
        parts["val"] += idx[n_test : n_test + n_val]
        parts["train"] += idx[n_test + n_val :]
    for part in parts.values():
        part.sort()
    return parts


def make_dataset(table: Table, *, val_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 13,
                 positive_label: str | None = None, task: str = "multiclass", label_sep: str = "|",
                 label_col: str = "label") -> Dataset:
    """``task``: multiclass (one label per note), auto (the same, after the joined-labels guard rail of
    data/guard.py) or multilabel (data/multilabel.py)."""
    if task == Task.MULTILABEL:
        return make_multilabel_dataset(table, sep=label_sep, val_fraction=val_fraction, test_fraction=test_fraction,
                                       seed=seed, label_col=label_col)
    if task == "auto":
        from clinitui.data.guard import check_single_label

        check_single_label(table, label_sep, label_col)
    counts = Counter(table.labels)
    src = table.source
    if len(counts) < 2:
        only = next(iter(counts)) if counts else "none"
        raise DataError(f"{src}: only one class ('{only[:30]}') in the labels; a classifier needs two or more")
    warnings = list(table.warnings)
    if table.splits is not None:
        parts = given_parts(table)
        if not parts["val"] or not parts["test"]:
            # one held-out split given: carve the missing one out of train, stratified
            have, need = ("test", "val") if parts["test"] else ("val", "test")
            sub = _by_label({i: table.labels[i] for i in parts["train"]})
            frac = val_fraction if need == "val" else test_fraction
            inner = _stratified(_require_min(sub, src, 2), frac, 1e-9, seed)
            parts[need] = inner["val"]
            parts["train"] = sorted(inner["train"] + inner["test"])
            warnings.append(f"no {need} rows in the split column: took {len(parts[need])} stratified from train")
        split_kind = "file"
        train_texts = {table.texts[i] for i in parts["train"]}
        dup = sum(1 for s in ("val", "test") for i in parts[s] if table.texts[i] in train_texts)
        if dup:
            warnings.append(f"{dup} held-out note(s) also appear in train; scores will be optimistic")
    else:
        by_label = _require_min(_by_label(dict(enumerate(table.labels))), src, 3)
        parts = _stratified(by_label, val_fraction, test_fraction, seed)
        split_kind = f"stratified(seed={seed}, val={val_fraction}, test={test_fraction})"

    label_names = sort_labels(set(table.labels))
    if len({table.labels[i] for i in parts["train"]}) < 2:
        raise DataError(f"{src}: the train split holds a single class; put examples of every class in train")
    index = {name: i for i, name in enumerate(label_names)}

    def build(name: str) -> Split:
        ids = parts[name]
        return Split([table.texts[i] for i in ids], [index[table.labels[i]] for i in ids])

    positive = choose_positive(label_names, positive_label, counts)
    return Dataset(
        train=build("train"), val=build("val"), test=build("test"), label_names=label_names,
        positive_index=positive and positive[0], source=src, split_kind=split_kind,
        digest=data_digest(table.texts, table.labels), warnings=warnings, positive_why=positive and positive[1],
    )


def _by_label(labels: dict[int, str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, label in labels.items():
        out.setdefault(label, []).append(i)
    return out


def _require_min(by_label: dict[str, list[int]], src: str, minimum: int) -> dict[str, list[int]]:
    small = {k: len(v) for k, v in by_label.items() if len(v) < minimum}
    if small:
        items = sorted(small.items())
        listing = ", ".join(f"'{k[:30]}' ({n})" for k, n in items[:5]) + (f", … {len(items) - 5} more" if len(items) > 5 else "")
        raise DataError(
            f"{src}: too few examples to split for class {listing}; each class needs at least {minimum} "
            "(add examples, merge rare classes, or give a --split-col)"
        )
    return by_label
