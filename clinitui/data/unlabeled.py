"""The text a pretraining run learns from: every ``--data`` file's text column, test text left out.

``train`` and ``pretrain`` given the same file and options must agree on which rows are test,
so a file that ``train`` could split (it has labels) is split by the same function with the
same seed and fractions (``data/splits.make_dataset``), and its test notes are dropped. A file
without usable labels is split by its split column when it has one, else used whole. Any text
equal to a test note of *any* file is dropped too (two files may share documents), and
duplicate documents are kept once. Nothing here quotes note text.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from clinitui.data.readers import read_table
from clinitui.data.dataset import data_digest
from clinitui.data.splits import make_dataset
from clinitui.errors import DataError


@dataclass
class FileUse:
    """How one ``--data`` file was used (for the summary and the ``run_started`` event)."""

    file: str
    rows: int
    test_rows: int
    rule: str  # how the test rows were found


@dataclass
class Corpus:
    train: list[str]
    val: list[str]  # documents held out for the validation MLM loss
    files: list[FileUse] = field(default_factory=list)
    dropped_as_test: int = 0  # rows left out because their text is a test note
    duplicates: int = 0
    digest: str = ""

    def summary(self, include_test: bool) -> str:
        parts = [f"{u.file}: {u.rows} rows, {u.test_rows} test ({u.rule})" for u in self.files]
        held = ("test rows included (include_test)" if include_test
                else f"{self.dropped_as_test} rows left out as test text")
        return (f"{len(self.train) + len(self.val)} documents ({len(self.val)} held out for validation); "
                f"{held}; {self.duplicates} duplicates dropped; " + "; ".join(parts))


def _test_texts(path: Path, *, text_col: str, label_col: str, split_col: str | None, val_fraction: float,
                test_fraction: float, split_seed: int) -> tuple[list[str], set[str], int, str]:
    """(texts, test texts, number of test rows, rule) of one file, split as ``train`` would split it."""
    table = read_table(path, text_col, label_col, None, require_labels=False)  # bad input raises here
    has_split = False
    if split_col:
        try:
            table = read_table(path, text_col, label_col, split_col, require_labels=False)
            has_split = True
        except DataError as exc:
            if f"no column '{split_col}'" not in str(exc):
                raise
    try:  # the split `train` would make of this file
        labelled = read_table(path, text_col, label_col, split_col if has_split else None, require_labels=True)
        dataset = make_dataset(labelled, val_fraction=val_fraction, test_fraction=test_fraction, seed=split_seed)
        test = set(dataset.test.texts)
        rule = "split column" if has_split else f"stratified split, seed {split_seed}, as train"
        return table.texts, test, len(dataset.test.texts), rule
    except DataError:
        pass  # no usable labels: no stratified split exists; the split column (if any) decides
    if has_split:
        test_rows = [t for t, s in zip(table.texts, table.splits) if s == "test"]
        return table.texts, set(test_rows), len(test_rows), "split column"
    return table.texts, set(), 0, "no labels and no split column: all rows used"


def load_corpus(paths: list[str], *, text_col: str, label_col: str, split_col: str | None, val_fraction: float,
                test_fraction: float, split_seed: int, include_test: bool, holdout_fraction: float,
                seed: int) -> Corpus:
    """Read every file, drop test text (unless ``include_test``), dedupe, hold out validation documents."""
    if not paths:
        raise DataError("pretraining needs text: pass --data FILE (repeatable)")
    per_file, tests, uses = [], set(), []
    for p in paths:
        texts, test, n_test, rule = _test_texts(Path(p), text_col=text_col, label_col=label_col, split_col=split_col,
                                                val_fraction=val_fraction, test_fraction=test_fraction,
                                                split_seed=split_seed)
        per_file.append(texts)
        tests |= test
        uses.append(FileUse(Path(p).name, len(texts), n_test, rule))
    kept, seen, dropped, dups = [], set(), 0, 0
    for texts in per_file:
        for t in texts:
            if not include_test and t in tests:
                dropped += 1
            elif t in seen:
                dups += 1
            else:
                seen.add(t)
                kept.append(t)
    if len(kept) < 2:
        raise DataError(f"only {len(kept)} document(s) left to pretrain on after leaving out test text; "
                        "add unlabeled notes with another --data FILE")
    order = list(range(len(kept)))
    random.Random(seed).shuffle(order)
    n_val = max(1, round(len(kept) * holdout_fraction))
    val_idx = set(order[:n_val])
    train = [t for i, t in enumerate(kept) if i not in val_idx]
    val = [t for i, t in enumerate(kept) if i in val_idx]
    return Corpus(train, val, uses, dropped, dups, data_digest(kept, [""] * len(kept)))
