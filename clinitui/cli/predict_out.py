"""``clinitui predict``'s output: rows written as they are predicted, progress, and peak memory.

The rows come chunk by chunk (engine/inference/rows.py ``Predictions``); each chunk is written
before the next is read, so memory holds one chunk whatever the file's size. ``--out FILE``: the
CSV is written to ``.FILE.part`` beside it and renamed to ``FILE`` only when every row is written,
so a run that fails (bad row, full disk, Ctrl-C) leaves no half-written ``FILE`` — and an older
``FILE`` stays as it was. Without ``--out`` the rows go to stdout as JSON lines as they come (a
pipe reader sees them at once; a failed run has written the rows before the failure).

Progress on stderr: a Rich bar (bytes of the input read) when stderr is a terminal, else a plain
line every ``EVERY_S`` seconds (``predicted 120,000 notes, 2,300 notes/s``); at the end one line
with the count, the rate and the process's peak resident memory (``resource.getrusage``).
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from pathlib import Path

EVERY_S = 10.0


def peak_rss_mb() -> float:
    """This process's peak resident memory, MiB (Linux reports KiB, macOS bytes)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class Meter:
    """Counts rows; draws a bar on a terminal, prints rate lines otherwise."""

    def __init__(self, source, every: float = EVERY_S) -> None:
        self.source, self.every, self.n = source, every, 0
        self.start = self._last = time.monotonic()
        self.bar = None
        if sys.stderr.isatty():
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("predicting"), BarColumn(), TextColumn("{task.fields[notes]:,} notes"),
                                TextColumn("{task.fields[rate]:,.0f} notes/s"), TimeRemainingColumn(),
                                transient=True)
            self.task = self.bar.add_task("predict", total=max(1, getattr(source, "total_bytes", 0)), notes=0,
                                          rate=0.0)
            self.bar.start()

    def rate(self) -> float:
        return self.n / max(1e-9, time.monotonic() - self.start)

    def add(self, rows: int) -> None:
        self.n += rows
        if self.bar is not None:
            self.bar.update(self.task, completed=getattr(self.source, "bytes_read", 0), notes=self.n, rate=self.rate())
        elif time.monotonic() - self._last >= self.every:
            self._last = time.monotonic()
            sys.stderr.write(f"predicted {self.n:,} notes, {self.rate():,.0f} notes/s\n")
            sys.stderr.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    def summary(self) -> str:
        return (f"predicted {self.n:,} notes in {time.monotonic() - self.start:.1f} s ({self.rate():,.0f} notes/s), "
                f"peak memory {peak_rss_mb():,.0f} MiB")


def write_predictions(predictions, out: Path | None) -> int:
    """Write every chunk of ``predictions`` (JSON lines on stdout, or a CSV at ``out``); the row count."""
    meter = Meter(predictions.source)
    try:
        if out is None:
            for rows in predictions.chunks:
                sys.stdout.write("".join(json.dumps(row) + "\n" for row in rows))
                sys.stdout.flush()
                meter.add(len(rows))
        else:
            _write_csv(predictions, Path(out), meter)
    finally:
        meter.close()
    sys.stderr.write(meter.summary() + "\n")
    return meter.n


def _write_csv(predictions, out: Path, meter: Meter) -> None:
    from clinitui.errors import RunDirectoryError

    part = out.with_name(f".{out.name}.part")
    try:
        with open(part, "w", newline="", encoding="utf-8") as fh:
            writer = None
            for rows in predictions.chunks:
                if writer is None and rows:
                    writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
                    writer.writeheader()
                writer.writerows(rows)
                meter.add(len(rows))
        os.replace(part, out)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise RunDirectoryError(f"{out}: cannot write predictions ({exc.strerror}); choose another --out") from None
    except BaseException:  # a bad row further down, Ctrl-C: no half-written file is left
        part.unlink(missing_ok=True)
        raise
