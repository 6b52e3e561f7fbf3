"""Guard rails of a single-label run (``data.task = auto``, the default).

Given a column of joined label sets (``cardiology|surgery``), a single-label run would make every
combination a class: hundreds of classes with one or two notes each, a macro-F1 near zero, and no
warning. This module stops such a run before training, with one line that says what it saw and
the two ways out (``--task multilabel --label-sep SEP``, or ``--task multiclass`` to keep the
combinations as classes). Ordinary labels — even ones holding a comma — pass: a column looks
joined only when several classes hold the same separator *and* their parts recur (as classes of
their own or in other combinations), which is what label sets do and descriptive labels do not.
"""

from __future__ import annotations

from collections import Counter

from clinitui.data.readers import Table
from clinitui.errors import DataError

SEPARATORS = ("|", ";", ",", "+", "/")
MANY_CLASSES = 20  # below this, rare classes are the user's business (the split says so itself)
RARE = 2  # a class with at most this many notes cannot be in train, validation and test at once


def joined_separator(counts: Counter, preferred: str = "|") -> tuple[str, int] | None:
    """(separator, classes holding it) when the classes look like joined label sets, else None."""
    for sep in dict.fromkeys((preferred, *SEPARATORS)):
        joined = [c for c in counts if sep in c]
        if len(joined) < 2 or len(joined) < 0.2 * len(counts):
            continue
        part_use = Counter(p.strip() for c in joined for p in set(c.split(sep)))
        parts = [p for p in part_use if p]
        reused = [p for p in parts if part_use[p] >= 2 or p in counts]
        if parts and len(reused) >= len(parts) / 2:
            return sep, len(joined)
    return None


def summarize_counts(counts: dict[str, int], top: int = 8) -> str:
    """``a=40, b=31, … 228 more``: the largest classes first, the rest counted, never a wall of text."""
    items = list(counts.items())
    if len(items) > top:  # few classes keep their order; many: the largest first
        items.sort(key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{label[:40]}={n}" for label, n in items[:top])
    return shown + (f", … {len(items) - top} more" if len(items) > top else "")


def check_single_label(table: Table, label_sep: str = "|", label_col: str = "label") -> None:
    """DataError (exit 2) when a single-label run would train on joined label sets or untrainable classes."""
    counts = Counter(table.labels)
    rare = sum(1 for n in counts.values() if n <= RARE)
    found = joined_separator(counts, label_sep)
    if found is not None:
        sep, joined = found
        raise DataError(f"{table.source}: column '{label_col}' looks like joined label sets: {joined} of "
                        f"{len(counts)} classes contain '{sep}' and {rare} classes have at most {RARE} notes; "
                        f"train a set of labels per note with --task multilabel --label-sep '{sep}', or keep each "
                        "combination as a class with --task multiclass")
    if len(counts) >= MANY_CLASSES and rare >= len(counts) / 2:
        raise DataError(f"{table.source}: column '{label_col}' has {len(counts)} classes and {rare} of them have at "
                        f"most {RARE} notes, more than the splits can hold ({summarize_counts(counts, 5)}); if a "
                        "note carries several labels use --task multilabel --label-sep SEP, or keep every class "
                        "with --task multiclass")


def guard_warnings(table: Table, label_sep: str = "|", label_col: str = "label") -> list[str]:
    """What :func:`check_single_label` would stop a default run with, as a warning (the TUI's preview)."""
    try:
        check_single_label(table, label_sep, label_col)
    except DataError as exc:
        return [str(exc).split(": ", 1)[-1]]  # without the path: the preview names the file already
    return []
