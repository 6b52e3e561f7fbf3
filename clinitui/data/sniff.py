"""Files as hospitals export them: find a delimited file's delimiter and text encoding.

French Excel writes ``;``-separated CSV in Windows-1252. The delimiter is read from the header
row (the one line whose cells are column names, so no note text is guessed from); the encoding
is UTF-8 when the bytes are valid UTF-8, else Windows-1252 when they are valid there, with a
warning saying so. ``--delimiter`` / ``--encoding`` decide where this cannot.
"""

from __future__ import annotations

import codecs
import gzip
from pathlib import Path

from clinitui.errors import DataError

DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
NAMES = {"comma": ",", ",": ",", "semicolon": ";", ";": ";", "tab": "\t", "\\t": "\t", "\t": "\t", "|": "|",
         "pipe": "|"}
FALLBACK_ENCODING = "cp1252"  # what Excel on a French (or any western European) Windows writes


def delimiter_option(value: str | None) -> str | None:
    """``--delimiter`` as given (``;``, ``semicolon``, ``tab``, ``\\t`` ...) → the character, or None."""
    if value is None or value == "":
        return None
    try:
        return NAMES[value.lower() if len(value) > 1 else value]
    except KeyError:
        raise DataError(f"--delimiter {value!r}: not supported; use comma, semicolon, tab or pipe") from None


def encoding_option(value: str | None) -> str | None:
    """``--encoding`` checked against Python's codecs (``cp1252``, ``latin-1``, ``utf-8`` ...)."""
    if not value:
        return None
    try:
        return codecs.lookup(value).name
    except LookupError:
        raise DataError(f"--encoding {value!r}: unknown encoding; use e.g. utf-8, cp1252 or latin-1") from None


def _raw(path: Path) -> bytes:
    if path.name.lower().endswith(".gz"):
        with gzip.open(path, "rb") as fh:
            return fh.read()
    return path.read_bytes()


def decode(path: Path, encoding: str | None) -> tuple[str, str, list[str]]:
    """(text, encoding used, warnings). An explicit encoding is strict: invalid bytes are refused."""
    data = _raw(path)
    if encoding:
        try:
            return data.decode(encoding), encoding, []
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: not valid {encoding} (bad byte at offset {exc.start}); "
                            "pass the encoding the file was saved in with --encoding") from None
    try:
        return data.decode("utf-8-sig"), "utf-8", []
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    try:
        text = data.decode(FALLBACK_ENCODING)
    except UnicodeDecodeError:
        raise DataError(f"{path}: not valid UTF-8 (bad byte at offset {first_bad}) nor Windows-1252; "
                        "re-save it as UTF-8 or pass its encoding with --encoding") from None
    return text, FALLBACK_ENCODING, [f"{path.name} is not UTF-8: read as Windows-1252 (cp1252); "
                                     "pass --encoding if accents look wrong"]


def _count_outside_quotes(line: str, char: str) -> int:
    n, quoted = 0, False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == char and not quoted:
            n += 1
    return n


def sniff_delimiter(path: Path, text: str, default: str) -> str:
    """The delimiter of the header row: the one of comma, semicolon and tab that occurs most.

    A header with none of them is one column (``default``); two that tie are refused with a line
    asking for ``--delimiter``.
    """
    header = text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    counts = {d: _count_outside_quotes(header, d) for d in DELIMITERS}
    best = max(counts.values())
    if best == 0:
        return default
    winners = [d for d, n in counts.items() if n == best]
    if len(winners) > 1:
        names = " and ".join(DELIMITERS[d] for d in winners)
        raise DataError(f"{path}: the header has as many {names} separators; say which one with --delimiter")
    return winners[0]
