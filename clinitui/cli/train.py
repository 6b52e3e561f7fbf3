"""``clinitui train``: build the run config from options, then train in this process."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from clinitui.cli.common import boundary, print_json
from clinitui.signals import StopFlag

Opt = typer.Option


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
    detach: Annotated[bool, Opt("--detach", help="Start a background worker (survives logout) and return at once.")] = False,
    json_out: Annotated[bool, Opt("--json", help="Print one JSON document (run_dir, checkpoint, metrics) on stdout.")] = False,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Train a classifier and report its test metrics."""
    with boundary():
        from clinitui.cli.progress import make_progress
        from clinitui.engine.run import execute, prepare
        from clinitui.runs import default_runs_root, new_run_dir

        config = build_config(data=data, text_col=text_col, label_col=label_col, split_col=split_col,
                              backbone=backbone, adapter=adapter, epochs=epochs, max_length=max_length,
                              seed=seed, sets=sets or [])
        prepared = prepare(config)  # bad input fails here, before any run directory exists
        root = runs_root or default_runs_root()
        if detach:
            from clinitui.launcher import start_worker

            path, pid = start_worker(config, root, run_dir)
            if json_out:
                print_json({"run_dir": str(path), "pid": pid, "checkpoint": str(path / "checkpoint")})
            else:
                sys.stderr.write(f"started worker {pid}: {path}\nfollow it with `clinitui runs show {path}` or the TUI\n")
            return
        progress = make_progress(quiet)
        stop = StopFlag()
        stop.install()
        try:
            path = new_run_dir(root, config.model.backbone, config.model.adapter, run_dir)
            payload = execute(prepared, path, listeners=[progress] if progress else [], should_stop=stop)
        finally:
            if progress:
                progress.close()
        if json_out:
            print_json(payload)
        elif not quiet:
            from clinitui.cli.report import print_metrics

            print_metrics(payload["metrics"], payload["labels"], title="test metrics (best checkpoint)")
            sys.stderr.write(f"run: {payload['run_dir']}\ncheckpoint: {payload['checkpoint']}\n")
