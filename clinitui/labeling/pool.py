"""The pool of notes to label: ids, texts, and the digest that ties a journal to it.

A journal records ids, never text, so the pool it refers to must be the same one each time it is
opened: the header of ``labels.jsonl`` keeps :func:`ids_digest` of the pool and a journal opened
against another pool is refused (one line, exit 2).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from clinitui.errors import DataError

from clinitui.labeling import ID_COL


@dataclass
class Pool:
    """Row-aligned ids and texts of a pool file (the first data row is row 0)."""

    path: Path
    ids: list[str]
    texts: list[str]
    gold: list[str] | None = None  # the file's own label column, when it has one (simulation, checks)

    @property
    def digest(self) -> str:
        return ids_digest(self.ids)

    def row_of(self) -> dict[str, int]:
        return {i: r for r, i in enumerate(self.ids)}


def ids_digest(ids: list[str]) -> str:
    """SHA-256 of the ids in file order, one per line: the same pool gives the same digest."""
    h = hashlib.sha256()
    for i in ids:
        h.update(i.encode("utf-8") + b"\n")
    return h.hexdigest()


def read_pool(path: str | Path, id_col: str = ID_COL, text_col: str = "text",
              label_col: str | None = None, delimiter: str | None = None, encoding: str | None = None) -> Pool:
    """Read ``path`` (CSV, TSV, JSONL, Parquet: data/readers.py) with its id column; ids must be unique.

    A missing id column or a repeated id raises DataError (one line naming the rows, never the text)."""
    from clinitui.data.readers import read_table

    path = Path(path)
    table = read_table(path, text_col, label_col or "label", require_labels=label_col is not None,
                       extra_cols=(id_col,), delimiter=delimiter, encoding=encoding)
    ids = table.extra[id_col]
    empty = [r + 2 for r, i in enumerate(ids) if not i]
    if empty:
        raise DataError(f"{path}: {len(empty)} row(s) without an id in '{id_col}' (rows "
                        f"{', '.join(map(str, empty[:5]))}); give every note an id")
    repeated = [i for i, n in Counter(ids).items() if n > 1]
    if repeated:
        shown = ", ".join(repr(i[:20]) for i in repeated[:5])
        raise DataError(f"{path}: {len(repeated)} id(s) repeat in '{id_col}' ({shown}); each note needs its own "
                        "id (the journal records ids, never text)")
    return Pool(path, ids, table.texts, table.labels if label_col else None)
