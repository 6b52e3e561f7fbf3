"""Dataset preview for the launch form: columns, class counts and note-length statistics.

Numbers only: no note text leaves this module except through ``peek``, which the operator has
to ask for explicitly. Pure Python (reads through ``clinitui.data.readers``), run in a thread.
"""

from __future__ import annotations

import csv
import gzip
import json
import statistics
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from clinitui.data.readers import _suffix, read_table
from clinitui.errors import DataError
from clinitui.kinds import RunKind

DATA_SUFFIXES = (".csv", ".tsv", ".tab", ".jsonl", ".ndjson", ".parquet", ".pq", ".txt")


@dataclass
class PreviewStats:
    """Counts and lengths (in words) of a labelled table."""

    n: int
    counts: dict[str, int]
    words_min: int
    words_median: float
    words_mean: float
    words_p95: int
    words_max: int
    split_counts: dict[str, int] | None = None
    source: str = ""
    warnings: list[str] = field(default_factory=list)
    over_window: int = 0  # notes likely past the default 256-token window (from words; a run counts tokens)


WINDOW_TOKENS = 256  # train.max_length's default
TOKENS_PER_WORD = 1.3  # French notes under a WordPiece learnt on them (English vocabularies cut finer)


def is_data_file(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    return name.endswith(DATA_SUFFIXES)


def read_columns(path: str | Path) -> list[str]:
    """The header of a data file, read cheaply (first line or schema); raises DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; check the path")
    ext = _suffix(path)
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        if ext in (".csv", ".txt", ".tsv", ".tab"):
            with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
                header = next(csv.reader(fh, delimiter="\t" if ext in (".tsv", ".tab") else ","), [])
            return [c for c in header if c]
        if ext in (".jsonl", ".ndjson"):
            with opener(path, "rt", encoding="utf-8-sig") as fh:
                for line in fh:
                    if line.strip():
                        row = json.loads(line)
                        return list(row) if isinstance(row, dict) else []
            return []
        if ext in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
    except (UnicodeDecodeError, json.JSONDecodeError, csv.Error, OSError, ImportError) as exc:
        raise DataError(f"{path}: cannot read its header ({type(exc).__name__}); check the file") from None
    raise DataError(f"{path}: unknown file type '{ext}'; use .csv, .tsv, .jsonl or .parquet")


def guess_column(columns: list[str], wanted: str, fallbacks: tuple[str, ...]) -> str | None:
    lowered = {c.lower(): c for c in columns}
    for name in (wanted, *fallbacks):
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def _stats(texts: list[str], labels: list[str], splits: list[str] | None, source: str,
           warnings: list[str]) -> PreviewStats:
    words = sorted(len(t.split()) for t in texts)
    p95 = words[min(len(words) - 1, int(0.95 * len(words)))]
    counts = dict(sorted(Counter(labels).items(), key=lambda kv: (-kv[1], kv[0])))
    return PreviewStats(
        n=len(texts), counts=counts, words_min=words[0], words_median=statistics.median(words),
        words_mean=round(statistics.fmean(words), 1), words_p95=p95, words_max=words[-1],
        split_counts=dict(Counter(splits)) if splits else None, source=source, warnings=list(warnings),
        over_window=sum(1 for w in words if w * TOKENS_PER_WORD > WINDOW_TOKENS - 2),
    )


def table_stats(path: str | Path, text_col: str, label_col: str, split_col: str | None = None) -> PreviewStats:
    """Read the whole table the way training will (same checks, same errors) and count it."""
    from clinitui.data.guard import guard_warnings  # joined label sets: say so before a run is launched

    table = read_table(path, text_col, label_col, split_col)
    return _stats(table.texts, table.labels, table.splits, str(path), guard_warnings(table, label_col=label_col)
                  + table.warnings)


def unlabeled_stats(path: str | Path, text_col: str, split_col: str | None = None) -> PreviewStats:
    """The table as pretraining reads it: its text (labels, if any, are not needed)."""
    table = read_table(path, text_col, "label", split_col, require_labels=False)
    return _stats(table.texts, [], table.splits, str(path), table.warnings)


@lru_cache(maxsize=4)
def demo_stats(n: int) -> PreviewStats:
    """The built-in synthetic corpus of ``n`` notes (pure standard library, deterministic, cached)."""
    from clinitui.data.demo import generate_notes

    texts, labels = generate_notes(n, seed=0)
    return _stats(texts, [str(x) for x in labels], None, "demo", [])


def peek(path: str | Path | None, text_col: str, label_col: str, n: int = 5, demo_size: int = 100,
         width: int = 400) -> list[tuple[str, str]]:
    """The first ``n`` (label, note) pairs, cut to ``width`` characters — only on explicit request."""
    if path:
        table = read_table(path, text_col, label_col)
        pairs = list(zip(table.labels, table.texts))[:n]
    else:
        from clinitui.data.demo import generate_notes

        texts, labels = generate_notes(max(n, min(demo_size, 100)), seed=0)
        pairs = [(str(label), text) for label, text in zip(labels, texts)][:n]
    return [(label, text if len(text) <= width else text[:width] + " …") for label, text in pairs]


TEXT_NAMES = ("note", "notes", "texte", "sentence")
LABEL_NAMES = ("labels", "class", "target", "y")


def preview_for(key: tuple) -> tuple[tuple, list[str], PreviewStats | None, str | None]:
    """The launch form's preview: ``key`` is (path, text col, label col, split col, demo size).

    Returns (the key actually used — columns guessed from the header when the given ones are
    absent —, the file's columns, the statistics, or the reader's one-line error).
    """
    path, text_col, label_col, split_col, demo_size, *kind = key  # kind: (RunKind.PRETRAIN,) reads no labels
    unlabeled = kind == [RunKind.PRETRAIN]
    columns: list[str] = []
    try:
        if not path:
            n = int(demo_size) if demo_size.isdigit() else 5400
            return key, columns, demo_stats(max(100, min(n, 100_000))), None
        columns = read_columns(path)
        if text_col not in columns:
            text_col = guess_column(columns, "text", TEXT_NAMES) or text_col
        if label_col not in columns:
            label_col = guess_column(columns, "label", LABEL_NAMES) or label_col
        split_col = split_col if split_col in columns else ""
        key = (path, text_col, label_col, split_col, demo_size, *kind)
        if unlabeled:
            return key, columns, unlabeled_stats(path, text_col, split_col or None), None
        return key, columns, table_stats(path, text_col, label_col, split_col or None), None
    except DataError as exc:
        return key, columns, None, str(exc)
    except ValueError as exc:  # e.g. a CSV field larger than the csv module allows
        return key, columns, None, f"{path}: cannot read the dataset ({type(exc).__name__})"
