"""``clinitui train``: build the run config from options, then train in this process."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from clinitui.cli.common import boundary, print_json

Opt = typer.Option


class StopFlag:
    """First SIGINT/SIGTERM asks the loop to stop after the current step; a second one exits at once."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def install(self) -> None:
        def handler(signum, frame):
            if self.requested:
                raise KeyboardInterrupt
            self.requested = True
            sys.stderr.write("clinitui: stopping after the current step (signal again to quit now)\n")

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)


def build_config(*, data: Optional[Path], text_col: Optional[str], label_col: Optional[str],
                 split_col: Optional[str], backbone: Optional[str], adapter: Optional[str], epochs: Optional[int],
                 max_length: Optional[int], seed: Optional[int], sets: list[str]):
    """Defaults ← explicit options ← ``--set`` (the last word wins)."""
    from clinitui.config.overrides import apply_overrides, set_path, validate

    data_cfg: dict = {}
    flags = {
        "data.path": str(data) if data else None, "data.text_col": text_col, "data.label_col": label_col,
        "data.split_col": split_col, "model.backbone": backbone, "model.adapter": adapter,
        "train.epochs": epochs, "train.max_length": max_length, "train.seed": seed,
    }
    for key, value in flags.items():
        if value is not None:
            set_path(data_cfg, key, value)
    apply_overrides(data_cfg, sets)
    return validate(data_cfg, "options")


def train(
    data: Annotated[Optional[Path], Opt("--data", "-d", help="CSV, TSV, JSONL or Parquet file; default: the built-in French demo corpus.")] = None,
    text_col: Annotated[Optional[str], Opt(help="Column with the note text [default: text].")] = None,
    label_col: Annotated[Optional[str], Opt(help="Column with the label [default: label].")] = None,
    split_col: Annotated[Optional[str], Opt(help="Column with train/dev/test per row; default: a stratified split.")] = None,
    backbone: Annotated[Optional[str], Opt("--backbone", "-b", help="Backbone name, HF id or local folder (see `clinitui models`).")] = None,
    adapter: Annotated[Optional[str], Opt("--adapter", "-a", help="Adapter before the classifier (see `clinitui models`).")] = None,
    epochs: Annotated[Optional[int], Opt(help="Maximum epochs.")] = None,
    max_length: Annotated[Optional[int], Opt(help="Tokens per note (longer notes are truncated).")] = None,
    seed: Annotated[Optional[int], Opt(help="Random seed.")] = None,
    sets: Annotated[Optional[list[str]], Opt("--set", "-s", help="Override any setting: --set train.lr=3e-4 (repeatable).")] = None,
    run_dir: Annotated[Optional[Path], Opt(help="Exact run directory to create (must be new or empty).")] = None,
    runs_root: Annotated[Optional[Path], Opt(help="Where run directories go [default: $CLINITUI_RUNS_ROOT or ~/.local/share/clinitui/runs].")] = None,
    json_out: Annotated[bool, Opt("--json", help="Print one JSON document (run_dir, checkpoint, metrics) on stdout.")] = False,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Train a classifier and report its test metrics."""
    with boundary():
        from clinitui.cli.progress import make_progress
        from clinitui.engine.run import execute, prepare
        from clinitui.runs import default_runs_root

        config = build_config(data=data, text_col=text_col, label_col=label_col, split_col=split_col,
                              backbone=backbone, adapter=adapter, epochs=epochs, max_length=max_length,
                              seed=seed, sets=sets or [])
        prepared = prepare(config)
        progress = make_progress(quiet)
        stop = StopFlag()
        stop.install()
        try:
            payload = execute(prepared, runs_root=runs_root or default_runs_root(), run_dir=run_dir,
                              listeners=[progress] if progress else [], should_stop=stop)
        finally:
            if progress:
                progress.close()
        if json_out:
            print_json(payload)
        elif not quiet:
            from clinitui.cli.report import print_metrics

            print_metrics(payload["metrics"], payload["labels"], title="test metrics (best checkpoint)")
            sys.stderr.write(f"run: {payload['run_dir']}\ncheckpoint: {payload['checkpoint']}\n")
