"""``clinitui runs export --to mlflow|tensorboard [RUN...]``: bring runs already made into MLflow / TensorBoard."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer
from typing_extensions import Annotated

from clinitui.cli.common import boundary, print_json
from clinitui.tracking import TRACKING_URI_HELP

Opt = typer.Option
Arg = typer.Argument


def runs_export(
    runs: Annotated[Optional[List[str]], Arg(help="Runs (name, unique prefix, `last` or folder); default: every run under the runs root.")] = None,
    to: Annotated[List[str], Opt("--to", help="mlflow or tensorboard (repeatable).")] = ...,
    tracking_uri: Annotated[Optional[str], Opt("--tracking-uri", help=TRACKING_URI_HELP)] = None,
    experiment: Annotated[str, Opt("--experiment", help="MLflow experiment.")] = "clinitui",
    tensorboard_dir: Annotated[Optional[Path], Opt("--tensorboard-dir", help="TensorBoard log folder [default: tensorboard/ next to the runs root].")] = None,
    runs_root: Annotated[Optional[Path], Opt("--runs-root", help="Runs root [default: $CLINITUI_RUNS_ROOT or ~/.local/share/clinitui/runs].")] = None,
    json_out: Annotated[bool, Opt("--json", help="Print what was exported as JSON.")] = False,
) -> None:
    """Send runs already made (their events.jsonl and metrics.json) to MLflow or TensorBoard."""
    with boundary():
        from clinitui.config.overrides import validate
        from clinitui.kinds import is_seed_group, seed_members
        from clinitui.names import resolve_run
        from clinitui.runs import default_runs_root, run_dirs
        from clinitui.tracking import resolve_tracking
        from clinitui.tracking.export import export_run

        root = runs_root or default_runs_root()
        tracking = validate({"tracking": {"log_to": to, "uri": tracking_uri, "experiment": experiment,
                                          "tensorboard_dir": str(tensorboard_dir) if tensorboard_dir else None}},
                            "options").tracking
        tracking = resolve_tracking(tracking, root)
        dirs = [resolve_run(r, root) for r in runs] if runs else sorted(run_dirs(root))
        dirs = [m for d in dirs for m in (seed_members(d) if is_seed_group(d) else [d])]
        done = []
        for path in dirs:
            result = export_run(path, tracking)
            done.append({"run_dir": str(path), "sent": result.sent, "skipped": result.skipped})
            if not json_out:
                line = f"skipped: {result.skipped}" if result.skipped else "sent to " + " and ".join(result.sent)
                sys.stderr.write(f"{path.name}: {line}\n")
        if json_out:
            print_json({"runs": done, "mlflow": tracking.uri, "tensorboard": tracking.tensorboard_dir})
        elif not dirs:
            sys.stderr.write(f"no runs under {root}\n")
