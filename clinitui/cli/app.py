"""``clinitui``: the Typer application. Importing this module must not import torch."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from clinitui import __version__
from clinitui.cli import (bench, evaluate, export, misc, pretrain, promote, report_cmd, runs_cmd, serve, sweep,
                          tracking_cmd, train)
from clinitui.cli.common import FullHelpGroup
from clinitui.cli.presets import presets_app

app = typer.Typer(
    name="clinitui",
    help="Train and compare clinical-note classifiers on little data and a small GPU.\n\n"
    "Run with no command in a terminal to open the operator's console (TUI).",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=FullHelpGroup,  # full command descriptions in --help, never cut with "..."
    rich_markup_mode=None,  # plain help: Rich's markup formatter costs 0.1–0.2 s of start-up
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"clinitui {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    if ctx.invoked_subcommand is None:
        if sys.stdin.isatty() and sys.stdout.isatty():  # a person at a terminal: open the console
            from clinitui.tui import run_tui

            run_tui()
        else:  # cron, pipes, CI: the help text, never a full-screen app
            typer.echo(ctx.get_help())


@app.command("tui")
def tui_command(
    runs_root: Optional[Path] = typer.Option(
        None, "--runs-root", help="Where run directories go [default: $CLINITUI_RUNS_ROOT or ~/.local/share/clinitui/runs]."
    ),
) -> None:
    """Open the operator's console: launch, follow, compare and evaluate runs (training keeps running when it closes)."""
    from clinitui.tui import run_tui  # Textual is imported here, never by the other commands

    run_tui(runs_root)


app.command("train")(train.train)
app.command("pretrain")(pretrain.pretrain)
app.command("eval")(evaluate.eval_command)
app.command("predict")(evaluate.predict_command)
app.command("report")(report_cmd.report_command)
app.command("export")(export.export_command)
app.command("serve")(serve.serve_command)
app.command("demo-data")(misc.demo_data)
app.command("bench")(bench.bench)
app.add_typer(misc.models_app, name="models")
app.command("promote")(promote.promote_command)
runs_cmd.runs_app.command("export")(tracking_cmd.runs_export)
app.add_typer(runs_cmd.runs_app, name="runs")
app.add_typer(presets_app, name="presets")
app.add_typer(sweep.sweep_app, name="sweep")


def main() -> None:
    # Hospitals are offline: never reach a model hub unless a command explicitly allows it.
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    app()
