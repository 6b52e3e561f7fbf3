"""``clinitui promote RUN --to DEPLOY_DIR [--if-better --data FILE]`` and ``promote --rollback DEPLOY_DIR``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from clinitui.cli.common import boundary, print_json

Opt = typer.Option
Arg = typer.Argument


def promote_command(
    run: Annotated[Optional[str], Arg(help="The run to promote (name, unique prefix, `last` or folder) or a checkpoint/ folder.")] = None,
    to: Annotated[Optional[Path], Opt("--to", help="DEPLOY_DIR: the path a pipeline loads (kept as a link switched atomically).")] = None,
    fmt: Annotated[str, Opt("--format", help="checkpoint (the checkpoint folder) or onnx (an ONNX export, `clinitui export`).")] = "checkpoint",
    if_better: Annotated[bool, Opt("--if-better", help="Promote only if not worse than the deployed model on --data (paired comparison, as `eval --compare`); else exit 7.")] = False,
    data: Annotated[Optional[Path], Opt("--data", "-d", help="Labelled notes both models are scored on (with --if-better).")] = None,
    text_col: Annotated[str, Opt(help="Column with the note text.")] = "text",
    label_col: Annotated[str, Opt(help="Column with the label.")] = "label",
    split_col: Annotated[Optional[str], Opt(help="Column with the split; default: score every row.")] = None,
    split: Annotated[str, Opt(help="With --split-col: which rows to score.")] = "test",
    bootstrap: Annotated[int, Opt("--bootstrap", min=0, help="Paired-bootstrap resamples of the comparison (0 = point estimate only).")] = 1000,
    rollback: Annotated[Optional[Path], Opt("--rollback", help="Put DEPLOY_DIR.previous back as DEPLOY_DIR (and keep the replaced model as .previous).")] = None,
    runs_root: Annotated[Optional[Path], Opt(help="Runs root [default: $CLINITUI_RUNS_ROOT or ~/.local/share/clinitui/runs].")] = None,
    json_out: Annotated[bool, Opt("--json", help="Print the promotion record (promotion.json) as JSON.")] = False,
) -> None:
    """Deploy a run's model atomically (the previous kept for --rollback); --if-better: only if not worse (exit 7)."""
    with boundary():
        from clinitui import promote as P
        from clinitui.errors import ConfigError

        if rollback is not None:
            if run is not None or to is not None:
                raise ConfigError("--rollback DEPLOY_DIR takes no RUN and no --to")
            record = P.rollback(rollback)
            _done(record, json_out, f"rolled back {rollback}: now {record.get('run') or record.get('version')}")
            return
        if run is None or to is None:
            raise ConfigError("promote needs a RUN and --to DEPLOY_DIR (or --rollback DEPLOY_DIR)")
        from clinitui.names import resolve_checkpoint

        checkpoint = resolve_checkpoint(run, runs_root)
        read = {"text_col": text_col, "label_col": label_col, "split_col": split_col, "split": split}
        record = P.promote(checkpoint, to, fmt=fmt.lower(), if_better=if_better, data=data, read=read,
                           n_boot=bootstrap)
        cmp = record.get("comparison")
        _done(record, json_out, f"promoted {record.get('run') or checkpoint} to {to}"
              + (f" ({cmp['verdict']})" if cmp else "") + (f"; previous kept as {P.previous_link(Path(to)).name}"
                                                           if record.get("replaced") else ""))


def _done(record: dict, json_out: bool, line: str) -> None:
    if json_out:
        print_json(record)
    else:
        sys.stderr.write(line + "\n")
