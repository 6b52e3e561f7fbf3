"""Class counts and note lengths of the chosen dataset — numbers only, never note text."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from clinitui.fmt import ellipsize
from clinitui.tui.preview import WINDOW_TOKENS, PreviewStats

MAX_CLASSES_SHOWN = 6


def preview_text(stats: PreviewStats) -> Text:
    total = max(1, stats.n)
    classes = " · ".join(f"{ellipsize(label, 14)} {n} ({100 * n / total:.0f}%)"
                         for label, n in list(stats.counts.items())[:MAX_CLASSES_SHOWN])
    more = len(stats.counts) - MAX_CLASSES_SHOWN
    if more > 0:
        classes += f" · +{more} more"
    source = "demo corpus (synthetic)" if stats.source == "demo" else "file"
    text = Text.assemble((f"{stats.n} notes", "bold"), f" in the {source}, {len(stats.counts)} classes: ", classes)
    if not stats.counts:  # read for pretraining: labels are not used
        text = Text.assemble((f"{stats.n} notes", "bold"), f" in the {source} (labels not read: pretraining)")
    text.append(f"\nwords per note: min {stats.words_min} · median {stats.words_median:g} · "
                f"mean {stats.words_mean:g} · p95 {stats.words_p95} · max {stats.words_max}")
    if stats.over_window:  # --long-notes: the run itself reports exact token counts and what is dropped
        text.append(f"\nlong notes: ≈ {stats.over_window} ({100 * stats.over_window / total:.0f}%) past "
                    f"{WINDOW_TOKENS} tokens (from words; a run counts exactly)")
    if stats.split_counts:
        text.append("\nsplit column: " + " · ".join(f"{k} {v}" for k, v in sorted(stats.split_counts.items())))
    for warning in stats.warnings[:2]:
        text.append(f"\n{warning}", style="yellow")
    return text


class DatasetPreview(Static):
    """Shows a :class:`PreviewStats`, a 'reading…' line, or the reader's error."""

    def show_stats(self, stats: PreviewStats) -> None:
        self.update(preview_text(stats))

    def show_pending(self) -> None:
        self.update(Text("reading the dataset…", style="dim"))

    def show_error(self, message: str) -> None:
        self.update(Text(message, style="red"))
