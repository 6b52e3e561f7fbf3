"""Small commands: ``demo-data``, ``models``, ``runs``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from clinitui.cli.common import boundary, print_json

Opt = typer.Option
Arg = typer.Argument

models_app = typer.Typer(help="Backbones and adapters you can choose.", no_args_is_help=False, invoke_without_command=True)
runs_app = typer.Typer(help="Runs under the runs root: list, show, stop, resume.", no_args_is_help=True)


def demo_data(
    out: Annotated[Path, Arg(help="CSV file to write (columns: text,label).")],
    n: Annotated[int, Opt(help="Number of notes.")] = 5400,
    seed: Annotated[int, Opt(help="Generator seed.")] = 0,
) -> None:
    """Write the built-in synthetic French PICU demo corpus to a CSV, to see the expected format."""
    with boundary():
        from clinitui.data.demo import write_demo_csv
        from clinitui.errors import ConfigError, RunDirectoryError

        if n < 10:
            raise ConfigError("--n must be at least 10")
        try:
            write_demo_csv(out, n=n, seed=seed)
        except OSError as exc:
            raise RunDirectoryError(f"{out}: cannot write ({exc.strerror}); choose another path") from None
        sys.stderr.write(f"wrote {n} synthetic notes to {out}\n")


@models_app.callback()
def models(ctx: typer.Context, json_out: Annotated[bool, Opt("--json", help="JSON output.")] = False) -> None:
    """List registered backbones and adapters with their descriptions."""
    if ctx.invoked_subcommand is not None:
        return
    from clinitui.models.registry import registry_names

    listing = {kind + "s": registry_names(kind) for kind in ("backbone", "adapter")}
    if json_out:
        print_json(listing)
        return
    for kind, entries in listing.items():
        typer.echo(f"{kind}:")
        for name, description in entries.items():
            typer.echo(f"  {name:<22} {description}")
    typer.echo("\nA Hugging Face model id or a local folder also works as a backbone.")


@runs_app.command("list")
def runs_list(
    runs_root: Annotated[Optional[Path], Opt(help="Runs root [default: $CLINITUI_RUNS_ROOT or ~/.local/share/clinitui/runs].")] = None,
    json_out: Annotated[bool, Opt("--json", help="JSON output.")] = False,
) -> None:
    """Every run with its status (running / finished / failed / stopped / crashed)."""
    with boundary():
        from clinitui.runs import default_runs_root, list_runs

        runs = list_runs(runs_root or default_runs_root())
        if json_out:
            print_json({"runs": [r.as_dict() for r in runs]})
            return
        if not runs:
            typer.echo("no runs yet; start one with `clinitui train`", err=True)
            return
        for r in runs:
            f1 = f"{r.best_f1:.4f}" if r.best_f1 is not None else "-"
            typer.echo(f"{r.status:<9} {f1:>7}  {r.backbone} + {r.adapter}  {r.path}")


@runs_app.command("show")
def runs_show(
    run: Annotated[Path, Arg(help="Run directory.")],
    json_out: Annotated[bool, Opt("--json", help="JSON output.")] = False,
) -> None:
    """Status, best F1 and final metrics of one run."""
    with boundary():
        from clinitui.runs import read_metrics, summarize

        summary = summarize(_run_dir(run)).as_dict()
        summary["metrics"] = (read_metrics(run) or {}).get("metrics")
        if json_out:
            print_json(summary)
            return
        for key in ("path", "status", "backbone", "adapter", "budget", "best_f1", "duration_s", "error"):
            typer.echo(f"{key:<11} {summary[key]}")
        if summary["metrics"]:
            from clinitui.cli.report import print_metrics

            print_metrics(summary["metrics"], list(summary["metrics"]["per_class"]), title="test metrics")


def _run_dir(run: Path) -> Path:
    from clinitui.errors import ConfigError

    if not (run / "run.toml").exists():
        raise ConfigError(f"{run}: not a clinitui run directory (no run.toml)")
    return run


@runs_app.command("stop")
def runs_stop(
    run: Annotated[Path, Arg(help="Run directory.")],
    force: Annotated[bool, Opt("--force", help="SIGKILL instead of a graceful stop (state saved at the last save point).")] = False,
) -> None:
    """Ask a running worker to stop: it finishes the current step, saves its state and exits."""
    with boundary():
        from clinitui.errors import ConfigError
        from clinitui.launcher import stop_worker

        if not stop_worker(_run_dir(run), force=force):
            raise ConfigError(f"{run}: no live worker to stop")
        typer.echo(f"{'killed' if force else 'asked to stop'}: {run}", err=True)


@runs_app.command("resume")
def runs_resume(
    run: Annotated[Path, Arg(help="Run directory of a stopped, killed or crashed run.")],
    json_out: Annotated[bool, Opt("--json", help="JSON output.")] = False,
) -> None:
    """Continue a run from its last saved state in a background worker (as `train --resume --detach`)."""
    with boundary():
        from clinitui.cli.train import _resume

        _resume(_run_dir(run), detach=True, json_out=json_out, quiet=True)
