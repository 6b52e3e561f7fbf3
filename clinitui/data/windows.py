"""Notes longer than the window: what is kept of each note's tokens, and how much is lost.

Pure Python on token ids (no torch, no tokenizer), so the engine, the ONNX predict path and the
tests share one definition. Every function takes a *whole* encoded note, ``[first] body [last]``
where ``first``/``last`` are the tokenizer's special tokens ([CLS] … [SEP], <s> … </s>), and a
window of ``window`` tokens including those two.

Modes (``data.long_notes``):

* ``truncate``  — the first ``window`` tokens (the study's setting; what the tokenizer's own
  truncation gives);
* ``head-tail`` — the first ``head_fraction`` of the body budget and the end of the note for the
  rest (Sun et al. 2019, "How to fine-tune BERT for text classification?", found head 128 + tail
  382 of a 512 window best; clinical notes put conclusions, diagnoses and plans at the end);
* ``chunk``     — overlapping windows, ``stride`` body tokens apart, the last one ending with the
  note, so every token is seen; at most ``max_chunks`` per note: the first ``max_chunks − 1``
  windows and the last one (the note's end is always read; the middle beyond the cap is dropped
  and counted).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

MODES = ("truncate", "head-tail", "chunk")


def body_budget(window: int) -> int:
    """Body tokens a window holds besides the two special tokens."""
    return max(1, window - 2)


def default_stride(window: int) -> int:
    """Default tokens between window starts: three quarters of the body, a quarter overlap."""
    return max(1, (body_budget(window) * 3) // 4)


def window_starts(n_body: int, window: int, stride: int, max_chunks: int | None = None) -> list[int]:
    """Body offsets where the windows of a note with ``n_body`` body tokens start.

    Starts are ``stride`` apart; the last window ends with the note (it may overlap its
    neighbour by more than the others). With ``max_chunks``: the first ``max_chunks − 1``
    windows and the last one.
    """
    span = body_budget(window)
    if n_body <= span:
        return [0]
    stride = max(1, min(stride, span))  # a stride past the body would leave gaps
    last = n_body - span
    starts = list(range(0, last, stride))
    if starts[-1] != last:
        starts.append(last)
    if max_chunks is not None and len(starts) > max_chunks:
        starts = starts[: max_chunks - 1] + [last] if max_chunks > 1 else starts[:1]
    return starts


def chunk(ids: Sequence[int], window: int, stride: int, max_chunks: int | None = None) -> list[list[int]]:
    """The note's windows, each ``[first] piece [last]`` of at most ``window`` tokens."""
    if len(ids) <= window:
        return [list(ids)]
    first, body, last = ids[0], ids[1:-1], ids[-1]
    span = body_budget(window)
    return [[first, *body[s : s + span], last] for s in window_starts(len(body), window, stride, max_chunks)]


def head_tail(ids: Sequence[int], window: int, head_fraction: float) -> list[int]:
    """The note's first ``head_fraction`` of the body budget and its end, in one window."""
    if len(ids) <= window:
        return list(ids)
    first, body, last = ids[0], ids[1:-1], ids[-1]
    span = body_budget(window)
    head = int(round(span * head_fraction))
    tail = span - head
    return [first, *body[:head], *(body[len(body) - tail :] if tail else []), last]


def truncate(ids: Sequence[int], window: int) -> list[int]:
    """The first ``window`` tokens, the note's last (special) token kept at the end."""
    if len(ids) <= window:
        return list(ids)
    return [*ids[: window - 1], ids[-1]]


def kept_body_tokens(n_body: int, window: int, mode: str, stride: int, max_chunks: int) -> int:
    """How many of a note's body tokens the model reads under ``mode``."""
    span = body_budget(window)
    if n_body <= span:
        return n_body
    if mode != "chunk":
        return span
    covered, end = 0, 0  # union of [start, start + span) over the (sorted) windows
    for s in window_starts(n_body, window, stride, max_chunks):
        covered += max(0, s + span - max(s, end))
        end = max(end, s + span)
    return covered


@dataclass
class TruncationStats:
    """How many notes exceed the window and what share of tokens the chosen mode drops (no text)."""

    mode: str
    notes: int
    notes_over_window: int
    tokens_dropped_share: float  # dropped body tokens / all body tokens of the notes
    window: int
    tokens: int = 0  # body tokens of all the notes
    tokens_dropped: int = 0
    windows: int = 0  # sequences the network reads (one per note, more under chunk)
    max_windows_per_note: int = 0
    notes_capped: int = 0  # chunk: notes with more windows than max_chunks (their middle is dropped)

    def as_dict(self) -> dict:
        return asdict(self)


def truncation_stats(lengths: Sequence[int], window: int, mode: str, stride: int, max_chunks: int) -> TruncationStats:
    """Statistics from whole-note token counts (special tokens included, as encoded)."""
    notes = over = total = dropped = windows = most = capped = 0
    for n in lengths:
        body = max(0, n - 2)
        kept = kept_body_tokens(body, window, mode, stride, max_chunks)
        notes += 1
        over += n > window
        total += body
        dropped += body - kept
        k = 1
        if mode == "chunk" and n > window:
            k = len(window_starts(body, window, stride, max_chunks))
            capped += len(window_starts(body, window, stride)) > k
        windows += k
        most = max(most, k)
    share = round(dropped / total, 6) if total else 0.0
    return TruncationStats(mode, notes, over, share, window, total, dropped, windows, most, capped)


def merge(parts: Sequence[TruncationStats]) -> TruncationStats:
    """One summary over several splits' statistics (same mode and window)."""
    first = parts[0]
    total = sum(p.tokens for p in parts)
    dropped = sum(p.tokens_dropped for p in parts)
    return TruncationStats(first.mode, sum(p.notes for p in parts), sum(p.notes_over_window for p in parts),
                           round(dropped / total, 6) if total else 0.0, first.window, total, dropped,
                           sum(p.windows for p in parts), max(p.max_windows_per_note for p in parts),
                           sum(p.notes_capped for p in parts))


def describe(stats: dict) -> str:
    """One line for run summaries: counts and shares, never text."""
    line = (f"long notes: {stats['notes_over_window']} of {stats['notes']} notes exceed the {stats['window']}-token "
            f"window; {stats['mode']} drops {100 * stats['tokens_dropped_share']:.1f}% of the notes' tokens")
    if stats["mode"] == "chunk":
        line += f" ({stats['windows']} windows, at most {stats['max_windows_per_note']} per note"
        line += f", {stats['notes_capped']} notes capped by max_chunks)" if stats.get("notes_capped") else ")"
    return line
