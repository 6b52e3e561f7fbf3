"""``clinitui report``: one self-contained HTML evaluation report (+ report.json) for a run or checkpoint."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from clinitui.cli.common import announce, boundary

Opt = typer.Option
Arg = typer.Argument


def report_command(
    target: Annotated[str, Arg(help="A run (name, unique prefix, `last` or folder), a checkpoint/ folder (with "
                                    "--data), or a folder of runs (a sweep).")],
    out: Annotated[Path, Opt("--out", "-o", help="HTML file to write; report.json is written beside it.")] = Path("report.html"),
    data: Annotated[Optional[Path], Opt("--data", "-d", help="Score this labelled file instead of the run's own test split.")] = None,
    split: Annotated[str, Opt(help="With --split-col: which rows to score (train, dev, test, all).")] = "test",
    text_col: Annotated[str, Opt(help="Column with the note text.")] = "text",
    label_col: Annotated[str, Opt(help="Column with the label.")] = "label",
    split_col: Annotated[Optional[str], Opt(help="Column with the split; default: score every row.")] = None,
    bootstrap: Annotated[Optional[int], Opt("--bootstrap", min=0, help="Bootstrap resamples [default: the run's, else 1000].")] = None,
    group_col: Annotated[Optional[str], Opt("--group-col", help="With --data: column with a subgroup (ward, site, age band).")] = None,
    id_col: Annotated[Optional[str], Opt("--id-col", help="With --data: column with ids; the report lists ids of the most confident errors.")] = None,
    runs_root: Annotated[Optional[Path], Opt("--runs-root", help="Where run names are looked up [default: $CLINITUI_RUNS_ROOT or ~/.local/share/clinitui/runs].")] = None,
) -> None:
    """Write an offline HTML evaluation report: intervals, calibration, operating point, baseline comparison."""
    with boundary():
        import time

        from clinitui.report.html import make_report

        start = time.perf_counter()
        html, js = make_report(_report_target(target, runs_root), out, data=data, text_col=text_col, label_col=label_col, split_col=split_col,
                               split=split, n_boot=bootstrap, group_col=group_col, id_col=id_col)
        sys.stderr.write(f"wrote {html} and {js} in {time.perf_counter() - start:.1f} s\n")
        sys.stdout.write(f"{html}\n")


def _report_target(target: str, runs_root: Optional[Path]) -> Path:
    """A folder of runs (a sweep) given as a path is reported as it is; anything else names one
    run or checkpoint, resolved as by every other command (a run that did not finish is refused)."""
    from clinitui.runs import is_run_dir
    from clinitui.names import resolve_checkpoint

    path = Path(target).expanduser()
    if path.is_dir() and not is_run_dir(path) and path.name != "checkpoint" and not (path / "config.json").is_file():
        return path  # a sweep's folder: build_sweep_report picks its best finished run
    ckpt = announce(resolve_checkpoint(target, runs_root))
    return ckpt.parent if ckpt.name == "checkpoint" and is_run_dir(ckpt.parent) else ckpt
