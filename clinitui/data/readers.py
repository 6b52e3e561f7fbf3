"""Read a labelled table (CSV, TSV, JSONL, Parquet) into a :class:`Table`, with clear errors.

Error messages name the file, the problem and the fix, and never quote note text.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

from clinitui.errors import DataError

SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "dev": "val",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
}
MAX_NOTE_CHARS = 1_000_000  # a note longer than this is certainly a broken file, not a note


@dataclass
class Table:
    """Texts with string labels, and the split of each row when the file has one."""

    texts: list[str]
    labels: list[str]
    splits: list[str] | None = None
    source: str = "demo"
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, list[str]] = field(default_factory=dict)  # --id-col / --group-col values, row-aligned
    label_lists: list[list[str] | None] | None = None  # multi-label reads: a JSONL list label per row, else None


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for ext in (".csv", ".tsv", ".tab", ".jsonl", ".ndjson", ".parquet", ".pq", ".txt"):
        if name.endswith(ext) or name.endswith(ext + ".gz"):
            return ext
    return path.suffix.lower()


def _open_text(path: Path):
    if path.name.lower().endswith(".gz"):
        import gzip

        return gzip.open(path, "rt", encoding="utf-8-sig", newline="", errors="strict")
    return open(path, encoding="utf-8-sig", newline="", errors="strict")


def _read_delimited(path: Path, delimiter: str | None, encoding: str | None = None,
                    warnings: list[str] | None = None, default: str = ",") -> tuple[list[str], list[dict]]:
    """``delimiter`` / ``encoding`` None: found from the header row and the bytes (sniff.py)."""
    import io

    from clinitui.data.sniff import decode, sniff_delimiter

    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    text, used, notes = decode(path, encoding)
    if warnings is not None:
        warnings.extend(notes)
    delimiter = delimiter or sniff_delimiter(path, text, default)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = list(reader)
    columns = list(reader.fieldnames or [])
    return columns, rows


def json_row(path: Path, lineno: int, line: str) -> dict | None:
    """One JSONL line as a row; None for a blank line; DataError (one line) for anything but an object."""
    if not line.strip():
        return None
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        raise DataError(f"{path}: line {lineno} is not valid JSON; fix or remove that line") from None
    if not isinstance(row, dict):
        raise DataError(f"{path}: line {lineno} is not a JSON object; each line must be {{\"text\": ..., \"label\": ...}}")
    return row


def _read_jsonl(path: Path) -> tuple[list[str], list[dict]]:
    rows: list[dict] = []
    columns: dict[str, None] = {}
    with _open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            row = json_row(path, lineno, line)
            if row is not None:
                rows.append(row)
                columns.update(dict.fromkeys(row))
    return list(columns), rows


def _read_parquet(path: Path) -> tuple[list[str], list[dict]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow; install it with pip install 'clinitui[parquet]'") from None
    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise DataError(f"{path}: not a readable Parquet file ({type(exc).__name__}); check the file") from None
    return list(table.column_names), table.to_pylist()


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        isinstance(value, str) and value.strip().lower() in ("", "nan", "null", "none", "na", "n/a")
    )


def _label_str(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_table(path: str | Path, text_col: str = "text", label_col: str = "label", split_col: str | None = None,
               require_labels: bool = True, extra_cols: tuple[str, ...] = (), delimiter: str | None = None,
               encoding: str | None = None, multilabel: bool = False) -> Table:
    """Read ``path`` and check it is usable for training or evaluation.

    ``multilabel``: an empty label cell is an empty label set (valid), and a JSONL list label is
    kept as a list in ``Table.label_lists`` (data/multilabel.py splits the other cells).

    CSV/TSV: ``delimiter`` (``,`` ``;`` tab) and ``encoding`` default to what the file shows —
    the header row's separator, UTF-8 else Windows-1252 (with a warning). ``extra_cols`` are
    further columns to keep (ids, subgroups), read as strings.
    """
    from clinitui.data.sniff import delimiter_option, encoding_option

    path = Path(path)
    warnings: list[str] = []
    ext, columns, rows = _read_rows(path, delimiter_option(delimiter), encoding_option(encoding), warnings)
    if not columns:
        raise DataError(f"{path}: the file is empty; it needs a header row with '{text_col}' and '{label_col}' columns")
    if not rows:
        raise DataError(f"{path}: has a header but no rows; add labelled notes")
    wanted = [text_col] + ([label_col] if require_labels else []) + ([split_col] if split_col else []) + list(extra_cols)
    option = {**{c: "--id-col / --group-col" for c in extra_cols}, text_col: "--text-col", label_col: "--label-col",
              split_col: "--split-col"}
    _check_columns(path, ext, columns, wanted, option)
    texts: list[str] = []
    labels: list[str] = []
    splits: list[str] | None = [] if split_col else None
    label_lists: list[list[str] | None] | None = [] if multilabel else None
    empty_rows: list[int] = []
    extra: dict[str, list[str]] = {c: [] for c in extra_cols}
    for i, row in enumerate(rows, start=2):  # row 1 is the header
        text = row.get(text_col)
        if text is None or not isinstance(text, str) or not text.strip():
            empty_rows.append(i)
            continue
        _check_text(path, i, text)
        if require_labels:
            _add_label(path, i, row.get(label_col), label_col, labels, label_lists)
        texts.append(text)
        for c in extra_cols:
            extra[c].append("" if _is_missing(row.get(c)) else _label_str(row.get(c)))
        if splits is not None:
            splits.append(_split_of(path, i, row.get(split_col), split_col))
    if empty_rows:
        rows_txt = ", ".join(map(str, empty_rows[:5])) + (" ..." if len(empty_rows) > 5 else "")
        raise DataError(
            f"{path}: {len(empty_rows)} row(s) with an empty '{text_col}' (rows {rows_txt}); remove them or fill them in"
        )
    if require_labels and not multilabel:
        kinds = {_kind(v) for v in labels}
        if kinds == {"number", "text"}:
            raise DataError(
                f"{path}: column '{label_col}' mixes numbers and words as labels; use one naming for the classes"
            )
    return Table(texts, labels, splits, source=str(path), extra=extra, warnings=warnings, label_lists=label_lists)


def _read_rows(path: Path, delimiter: str | None, encoding: str | None,
               warnings: list[str]) -> tuple[str, list[str], list[dict]]:
    """(file type, columns, rows) of the file, by its type; every read failure as a one-line DataError."""
    if not path.exists():
        raise DataError(f"{path}: no such file; check the path given to --data")
    if path.is_dir():
        raise DataError(f"{path}: is a folder; give a CSV, TSV, JSONL or Parquet file to --data")
    ext = _suffix(path)
    try:
        if ext in (".csv", ".txt"):
            columns, rows = _read_delimited(path, delimiter, encoding, warnings)
        elif ext in (".tsv", ".tab"):
            columns, rows = _read_delimited(path, delimiter or "\t", encoding, warnings)
        elif ext in (".jsonl", ".ndjson"):
            columns, rows = _read_jsonl(path)
        elif ext in (".parquet", ".pq"):
            columns, rows = _read_parquet(path)
        else:
            raise DataError(f"{path}: unknown file type '{ext}'; use .csv, .tsv, .jsonl or .parquet")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not valid UTF-8 (bad byte at offset {exc.start}); re-save the file as UTF-8"
        ) from None
    except PermissionError:
        raise DataError(f"{path}: permission denied; make the file readable by this user") from None
    except csv.Error as exc:
        raise DataError(f"{path}: malformed {ext[1:].upper()} ({exc}); check quoting and delimiters") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    return ext, [c for c in columns if c is not None], rows


def _check_columns(path: Path, ext: str, columns: list[str], wanted: list[str], option: dict[str | None, str]) -> None:
    """Every ``wanted`` column is there; else a DataError naming the ``option`` to choose the first missing with."""
    missing = [c for c in wanted if c not in columns]
    if missing:
        hint = ""
        if len(columns) == 1 and ext in (".csv", ".txt", ".tsv", ".tab"):
            hint = " (one column only: if the file has another separator, give it with --delimiter)"
        raise DataError(
            f"{path}: no column {', '.join(repr(m) for m in missing)}; columns are: "
            f"{', '.join(columns[:20])}{hint}; choose with {option[missing[0]]}"
        )


def _check_text(path: Path, i: int, text: str) -> None:
    """A note that is certainly a broken file (NUL bytes, a megabyte of text) stops the read."""
    if "\x00" in text:
        raise DataError(f"{path}: row {i} contains NUL bytes; the file is likely binary or corrupted")
    if len(text) > MAX_NOTE_CHARS:
        raise DataError(
            f"{path}: row {i} holds a text of {len(text):,} characters (limit {MAX_NOTE_CHARS:,}); "
            "the file is probably mis-delimited or mis-quoted"
        )


def _add_label(path: Path, i: int, value, label_col: str, labels: list[str],
               label_lists: list[list[str] | None] | None) -> None:
    """Append row ``i``'s label (and, multi-label, its list label or None) to ``labels`` / ``label_lists``."""
    if label_lists is not None:  # multi-label: a list, a joined string, or nothing (no label applies)
        is_list = isinstance(value, (list, tuple))
        label_lists.append([_label_str(v) for v in value] if is_list else None)
        labels.append("" if is_list or _is_missing(value) else _label_str(value))
    elif isinstance(value, (list, tuple)):
        raise DataError(f"{path}: row {i} has a list of labels in '{label_col}'; train one label set per "
                        "note with --task multilabel")
    elif _is_missing(value):
        raise DataError(f"{path}: row {i} has no label in '{label_col}'; label it or remove the row "
                        "(or, if notes carry label sets and none applies here, use --task multilabel)")
    else:
        labels.append(_label_str(value))


def _split_of(path: Path, i: int, value, split_col: str) -> str:
    """Row ``i``'s split cell as train, val or test."""
    raw = _label_str(value).lower()
    if raw not in SPLIT_ALIASES:
        raise DataError(
            f"{path}: row {i} has split '{raw[:30]}' in '{split_col}'; use train, dev/val/validation or test"
        )
    return SPLIT_ALIASES[raw]


def _kind(label: str) -> str:
    try:
        float(label)
        return "number"
    except ValueError:
        return "text"
