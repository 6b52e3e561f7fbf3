"""``clinitui report``: one self-contained HTML evaluation report (+ report.json) for a run or checkpoint."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from clinitui.cli.common import boundary

Opt = typer.Option
Arg = typer.Argument


def report_command(
    target: Annotated[Path, Arg(help="A run folder, or a checkpoint/ folder (with --data).")],
    out: Annotated[Path, Opt("--out", "-o", help="HTML file to write; report.json is written beside it.")] = Path("report.html"),
    data: Annotated[Optional[Path], Opt("--data", "-d", help="Score this labelled file instead of the run's own test split.")] = None,
    split: Annotated[str, Opt(help="With --split-col: which rows to score (train, dev, test, all).")] = "test",
    text_col: Annotated[str, Opt(help="Column with the note text.")] = "text",
    label_col: Annotated[str, Opt(help="Column with the label.")] = "label",
    split_col: Annotated[Optional[str], Opt(help="Column with the split; default: score every row.")] = None,
    bootstrap: Annotated[Optional[int], Opt("--bootstrap", min=0, help="Bootstrap resamples [default: the run's, else 1000].")] = None,
    group_col: Annotated[Optional[str], Opt("--group-col", help="With --data: column with a subgroup (ward, site, age band).")] = None,
    id_col: Annotated[Optional[str], Opt("--id-col", help="With --data: column with ids; the report lists ids of the most confident errors.")] = None,
) -> None:
    """Write an offline HTML evaluation report: intervals, calibration, operating point, baseline comparison."""
    with boundary():
        import time

        from clinitui.report.html import make_report

        start = time.perf_counter()
        html, js = make_report(target, out, data=data, text_col=text_col, label_col=label_col, split_col=split_col,
                               split=split, n_boot=bootstrap, group_col=group_col, id_col=id_col)
        sys.stderr.write(f"wrote {html} and {js} in {time.perf_counter() - start:.1f} s\n")
        sys.stdout.write(f"{html}\n")
