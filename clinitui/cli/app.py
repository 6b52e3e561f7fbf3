"""``clinitui``: the Typer application. Importing this module must not import torch."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from clinitui import __version__
from clinitui.cli import (bench, evaluate, export, label, misc, pretrain, promote, report_cmd, runs_cmd, serve, sweep,
                          tracking_cmd, train)
from clinitui.cli.common import FullHelpGroup
from clinitui.cli.presets import presets_app
from clinitui.labeling import HOLD_OUT_EVERY, ID_COL, RETRAIN_EVERY

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
app.command("suggest")(label.suggest_command)


@label.label_app.callback()
def label_screen(
    ctx: typer.Context,
    pool: Optional[Path] = typer.Option(None, "--pool", help="The notes to label (CSV, TSV, JSONL, Parquet) with an id column."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="The journal to append to (created if new), e.g. labels.jsonl."),
    annotator: str = typer.Option("", "--annotator", help="Your name in the journal [default: $USER]."),
    run: Optional[str] = typer.Option(None, "--run", help="A finished run: its probabilities beside each note, its labels."),
    classes: Optional[str] = typer.Option(None, "--classes", help="The label set of a new journal without --run, comma-separated."),
    multilabel: bool = typer.Option(False, "--multilabel", help="A new journal without --run: several labels per note."),
    guide: Optional[Path] = typer.Option(None, "--guide", help="The site's label guide (markdown), shown with `?`."),
    retrain_every: int = typer.Option(RETRAIN_EVERY, "--retrain-every", min=0, help="Refit the TF-IDF model after this many labels (0: only on `r`)."),
    strategy: Optional[str] = typer.Option(None, "--strategy", help="Queue order: breaking-ties, entropy, least-confidence, coreset, random."),
    hold_out_every: int = typer.Option(HOLD_OUT_EVERY, "--hold-out-every", min=0, help="Every Nth note is drawn at random, not by the strategy: the dev and test notes of the export (0: off)."),
    id_col: str = typer.Option(ID_COL, "--id-col", help="Column with each note's unique id."),
    text_col: str = typer.Option("text", "--text-col", help="Column with the note text."),
    runs_root: Optional[Path] = typer.Option(None, "--runs-root", help="Where run names are looked up and full runs go."),
) -> None:
    """Label notes one at a time in the console; each label is on disk at once (docs/labeling.md)."""
    if ctx.invoked_subcommand is not None:
        return
    import os

    from clinitui.cli.common import boundary

    with boundary():
        from clinitui.errors import ConfigError

        if pool is None or labels is None:
            raise ConfigError("`clinitui label` needs --pool notes.csv and --labels labels.jsonl (or a subcommand: "
                              "status, export)")
        session = label.open_session(pool, labels, annotator or os.environ.get("USER", "anonymous"), run, classes,
                                     multilabel, guide, retrain_every, strategy, id_col, text_col, runs_root,
                                     hold_out_every)
    from clinitui.tui import run_label

    try:
        run_label(session, runs_root)
    finally:
        session.close()


app.add_typer(label.label_app, name="label")


def main() -> None:
    # Hospitals are offline: never reach a model hub unless a command explicitly allows it.
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    app()
