"""Read the note column of a large file chunk by chunk, in bounded memory (``clinitui predict``).

``read_table`` (data/readers.py) holds a whole file; ``predict`` on a million notes must not. A
:class:`TextStream` yields lists of at most ``chunk_rows`` texts in file order, and says how many
bytes of the file it has read (for a progress bar). It checks what ``read_table`` checks, with the
same one-line messages: a missing file or column, an empty file, a header without rows, NUL
bytes, a text too long, and rows with an empty text — those are all counted before the error is
raised (the rest of the file is scanned, nothing more is yielded), so the line names them as
``read_table``'s does. CSV/TSV: the delimiter from the header row and the encoding from the bytes
(UTF-8, else Windows-1252 with a warning), found by one pass over the file in 1 MiB blocks.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import sys
from pathlib import Path
from typing import Iterator

from clinitui.data.readers import _check_columns, _check_text, _suffix, json_row
from clinitui.data.sniff import FALLBACK_ENCODING, delimiter_option, encoding_option, sniff_delimiter
from clinitui.errors import DataError

BLOCK = 1 << 20


class _Counting(io.RawIOBase):
    """A binary file that counts the bytes read from it (the progress bar's position)."""

    def __init__(self, fh) -> None:
        self.fh, self.read_bytes = fh, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # Parquet reads its footer first
        return self.fh.seekable()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.fh.seek(offset, whence)

    def tell(self) -> int:
        return self.fh.tell()

    def readinto(self, buffer) -> int:
        n = self.fh.readinto(buffer)
        self.read_bytes += n or 0
        return n

    def close(self) -> None:
        self.fh.close()
        super().close()


def _binary(path: Path, counter: _Counting | None = None):
    raw = io.BufferedReader(counter) if counter else open(path, "rb")
    return gzip.GzipFile(fileobj=raw, mode="rb") if path.name.lower().endswith(".gz") else raw


def _bad_byte(path: Path, encoding: str) -> int | None:
    """The offset of the first byte ``encoding`` cannot decode, None when the whole file decodes
    (read in 1 MiB blocks, nothing kept)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    with _binary(path) as fh:
        while True:
            block = fh.read(BLOCK)
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                return offset + max(0, exc.start)
            offset += len(block)
            if not block:
                return None


def find_encoding(path: Path, encoding: str | None, warnings: list[str]) -> str:
    """The encoding to stream ``path`` with, as sniff.decode chooses it (same messages)."""
    if encoding:
        bad = _bad_byte(path, encoding)
        if bad is not None:
            raise DataError(f"{path}: not valid {encoding} (bad byte at offset {bad}); "
                            "pass the encoding the file was saved in with --encoding")
        return encoding
    first_bad = _bad_byte(path, "utf-8-sig")
    if first_bad is None:
        return "utf-8-sig"
    if _bad_byte(path, FALLBACK_ENCODING) is not None:
        raise DataError(f"{path}: not valid UTF-8 (bad byte at offset {first_bad}) nor Windows-1252; "
                        "re-save it as UTF-8 or pass its encoding with --encoding")
    warnings.append(f"{path.name} is not UTF-8: read as Windows-1252 (cp1252); pass --encoding if accents look wrong")
    return FALLBACK_ENCODING


class TextStream:
    """The texts of ``path``'s ``text_col``, in chunks of at most ``chunk_rows``, in file order."""

    def __init__(self, path: str | Path, text_col: str = "text", *, chunk_rows: int = 4096,
                 delimiter: str | None = None, encoding: str | None = None, label_col: str = "label") -> None:
        self.path, self.text_col, self.chunk_rows, self.label_col = Path(path), text_col, max(1, chunk_rows), label_col
        self.warnings: list[str] = []
        self.delimiter, self.encoding = delimiter_option(delimiter), encoding_option(encoding)
        if not self.path.exists():
            raise DataError(f"{self.path}: no such file; check the path given to --data")
        if self.path.is_dir():
            raise DataError(f"{self.path}: is a folder; give a CSV, TSV, JSONL or Parquet file to --data")
        self.ext = _suffix(self.path)
        if self.ext not in (".csv", ".txt", ".tsv", ".tab", ".jsonl", ".ndjson", ".parquet", ".pq"):
            raise DataError(f"{self.path}: unknown file type '{self.ext}'; use .csv, .tsv, .jsonl or .parquet")
        self.total_bytes = self.path.stat().st_size
        self._counter: _Counting | None = None
        self.rows_read = 0  # texts yielded so far
        self._chunks_left = self._guarded()
        self._head = next(self._chunks_left, None)  # the header and first chunk checked now, before a model loads

    @property
    def bytes_read(self) -> int:
        return self._counter.read_bytes if self._counter else 0

    def __iter__(self) -> Iterator[list[str]]:
        if self._head is not None:
            head, self._head = self._head, None
            yield head
        yield from self._chunks_left

    def _guarded(self) -> Iterator[list[str]]:
        try:
            yield from self._chunks()
        except UnicodeDecodeError as exc:
            raise DataError(f"{self.path}: not valid UTF-8 (bad byte at offset {exc.start}); "
                            "re-save the file as UTF-8") from None
        except PermissionError:
            raise DataError(f"{self.path}: permission denied; make the file readable by this user") from None
        except csv.Error as exc:
            raise DataError(f"{self.path}: malformed {self.ext[1:].upper()} ({exc}); check quoting and delimiters") from None
        except OSError as exc:
            raise DataError(f"{self.path}: cannot be read ({exc.strerror or type(exc).__name__})") from None

    def _chunks(self) -> Iterator[list[str]]:
        if self.ext in (".parquet", ".pq"):
            cells = self._parquet()
        elif self.ext in (".jsonl", ".ndjson"):
            cells = self._jsonl()
        else:
            cells = self._delimited("\t" if self.ext in (".tsv", ".tab") else ",")
        chunk: list[str] = []
        empty: list[int] = []
        for i, text in enumerate(cells, start=2):  # row 1 is the header, as read_table counts
            if text is None or not isinstance(text, str) or not text.strip():
                empty.append(i)
                continue
            _check_text(self.path, i, text)
            if not empty:
                chunk.append(text)
                if len(chunk) >= self.chunk_rows:
                    self.rows_read += len(chunk)
                    yield chunk
                    chunk = []
        if empty:  # counted to the end of the file, as read_table does, then refused
            rows_txt = ", ".join(map(str, empty[:5])) + (" ..." if len(empty) > 5 else "")
            raise DataError(f"{self.path}: {len(empty)} row(s) with an empty '{self.text_col}' (rows {rows_txt}); "
                            "remove them or fill them in")
        if chunk:
            self.rows_read += len(chunk)
            yield chunk

    def _no_rows(self, columns: list[str]) -> None:
        if not columns:
            raise DataError(f"{self.path}: the file is empty; it needs a header row with '{self.text_col}' and "
                            f"'{self.label_col}' columns")
        raise DataError(f"{self.path}: has a header but no rows; add labelled notes")

    def _columns(self, columns: list[str]) -> None:
        _check_columns(self.path, self.ext, columns, [self.text_col], {self.text_col: "--text-col"})

    def _delimited(self, default: str) -> Iterator[str | None]:
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        encoding = find_encoding(self.path, self.encoding, self.warnings)
        delimiter = self.delimiter
        if delimiter is None:
            with io.TextIOWrapper(_binary(self.path), encoding=encoding, errors="replace", newline="") as fh:
                delimiter = sniff_delimiter(self.path, fh.read(BLOCK).split("\n", 1)[0], default)
        self._counter = _Counting(open(self.path, "rb"))
        with io.TextIOWrapper(_binary(self.path, self._counter), encoding=encoding, newline="") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            header = next(reader, None)
            while header == []:  # csv.DictReader skips blank lines before the header too
                header = next(reader, None)
            columns = [c for c in header or []]
            self._columns(columns) if columns else self._no_rows(columns)
            at = len(columns) - 1 - columns[::-1].index(self.text_col)  # DictReader: the last duplicate wins
            seen = False
            for row in reader:
                if not row:  # a blank line is no row (csv.DictReader)
                    continue
                seen = True
                yield row[at] if at < len(row) else None
            if not seen:
                self._no_rows(columns)

    def _jsonl(self) -> Iterator[str | None]:
        self._counter = _Counting(open(self.path, "rb"))
        seen, checked = 0, False
        first: list[dict] = []
        with io.TextIOWrapper(_binary(self.path, self._counter), encoding="utf-8-sig", newline="") as fh:
            for lineno, line in enumerate(fh, 1):
                row = json_row(self.path, lineno, line)
                if row is None:
                    continue
                seen += 1
                if not checked:  # the columns of the first chunk's rows (read_table: of every row)
                    first.append(row)
                    if len(first) < self.chunk_rows:
                        continue
                    self._columns(list(dict.fromkeys(k for r in first for k in r)))
                    checked = True
                    yield from (r.get(self.text_col) for r in first)
                    first = []
                    continue
                yield row.get(self.text_col)
        if not checked:
            columns = list(dict.fromkeys(k for r in first for k in r))
            if not seen:
                self._no_rows(columns)
            self._columns(columns)
            yield from (r.get(self.text_col) for r in first)

    def _parquet(self) -> Iterator[str | None]:
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise DataError(f"{self.path}: reading Parquet needs pyarrow; install it with pip install "
                            "'clinitui[parquet]'") from None
        self._counter = _Counting(open(self.path, "rb"))
        try:
            pf = pq.ParquetFile(self._counter)
            columns = list(pf.schema_arrow.names)
        except Exception as exc:
            raise DataError(f"{self.path}: not a readable Parquet file ({type(exc).__name__}); check the file") from None
        if not columns:
            self._no_rows(columns)
        self._columns(columns)
        if not pf.metadata.num_rows:
            self._no_rows(columns)
        for batch in pf.iter_batches(batch_size=self.chunk_rows, columns=[self.text_col]):
            yield from batch.column(0).to_pylist()
