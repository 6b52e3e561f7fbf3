"""``clinitui``: the Typer application. Importing this module must not import torch."""

from __future__ import annotations

import typer

from clinitui import __version__
from clinitui.cli import evaluate, misc, train

app = typer.Typer(
    name="clinitui",
    help="Train and compare clinical-note classifiers on little data and a small GPU.\n\n"
    "Run with no command in a terminal to open the operator's console (TUI).",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
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
        typer.echo(ctx.get_help())


app.command("train")(train.train)
app.command("eval")(evaluate.eval_command)
app.command("predict")(evaluate.predict_command)
app.command("demo-data")(misc.demo_data)
app.add_typer(misc.models_app, name="models")
app.add_typer(misc.runs_app, name="runs")


def main() -> None:
    # Hospitals are offline: never reach a model hub unless a command explicitly allows it.
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    app()
