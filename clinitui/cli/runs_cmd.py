"""``clinitui runs``: list, show, stop, resume, rm and prune the runs under the runs root.

Every command takes a run by name, unique prefix, ``last`` or folder (``clinitui.names.resolve_run``)
and says on stderr which run that was. ``last`` is the newest run for ``show`` and ``rm``, the
newest running one for ``stop`` and the newest stopped, crashed or failed one for ``resume``.
Deleting never touches a live run: its lock is taken first, so a worker that starts in the
meantime makes the deletion fail instead of losing its folder.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from typing import List, Optional

import typer
from typing_extensions import Annotated

from clinitui.cli.common import FullHelpGroup, announce, boundary, print_json

Opt = typer.Option
Arg = typer.Argument

runs_app = typer.Typer(cls=FullHelpGroup, help="Runs under the runs root: list, show, stop, resume, rm, prune.",
                       no_args_is_help=True)

RootOpt = Annotated[Optional[Path], Opt("--runs-root", help="Runs root [default: $CLINITUI_RUNS_ROOT or "
                                                            "~/.local/share/clinitui/runs].")]
RunArg = Annotated[str, Arg(help="The run: its name, a unique prefix of it, `last` (the newest), or its folder.")]


def _root(runs_root: Optional[Path]) -> Path:
    from clinitui.runs import default_runs_root

    return runs_root or default_runs_root()


def _statuses(text: str) -> set[str]:
    from clinitui.cli.runs_table import STATUSES
    from clinitui.errors import ConfigError

    wanted = {s.strip() for s in text.split(",") if s.strip()}
    unknown = wanted - set(STATUSES)
    if unknown:
        raise ConfigError(f"--status {','.join(sorted(unknown))}: unknown; choose from {', '.join(STATUSES)}")
    return wanted


def _fit(rows: list[list[str]], width: int) -> tuple[list[str], list[list[str]]]:
    """Columns and cells that fit ``width``: wrap the model after its backbone, drop the start time
    (a default run name begins with it), then break names after that stamp, before anything is cut."""
    from clinitui.cli.runs_table import COLUMNS

    columns, rows = list(COLUMNS), [list(r) for r in rows]

    def natural() -> int:
        return sum(max(len(c), *(max(len(x) for x in r[i].split("\n")) for r in rows))
                   for i, c in enumerate(columns)) + 2 * (len(columns) - 1)

    if natural() > width:
        m = columns.index("model")
        for r in rows:
            r[m] = r[m].replace(" + ", "\n+ ")
    if natural() > width:
        i = columns.index("started")
        columns.pop(i)
        for r in rows:
            r.pop(i)
    if natural() > width:  # then break default names after their time stamp (a prefix selects the run)
        for r in rows:
            if re.match(r"\d{8}-\d{6}-.", r[0]):
                r[0] = r[0][:16] + "\n" + r[0][16:]
    return columns, rows


def _print_table(rows: list[list[str]]) -> None:
    """At a terminal the columns are fitted to its width first; off it every cell is printed whole."""
    from clinitui.cli.runs_table import COLUMNS
    from clinitui.cli.tables import on_terminal, print_table, terminal_width

    columns = list(COLUMNS)
    if on_terminal():
        columns, rows = _fit(rows, terminal_width())
    print_table(columns, rows, right=("epoch", "val F1", "test F1", "duration"), boxed=False,
                no_wrap=[c for c in columns if c not in ("name", "model", "data")])


@runs_app.command("list")
def runs_list(
    runs_root: RootOpt = None,
    status: Annotated[Optional[str], Opt(help="Only these statuses, comma-separated (e.g. failed,stopped).")] = None,
    limit: Annotated[Optional[int], Opt(help="At most this many runs (after sorting).", min=1)] = None,
    sort: Annotated[str, Opt(help="started (newest first), name, status, val_f1, test_f1 or duration.")] = "started",
    json_out: Annotated[bool, Opt("--json", help="A JSON list of runs (keys in docs/runs.md).")] = False,
) -> None:
    """Every run as a table: name, status, model, data, epoch, best validation F1, test F1, start, duration."""
    with boundary():
        from clinitui.cli.runs_table import SORTS, as_json, cells
        from clinitui.errors import ConfigError
        from clinitui.runs import list_runs

        if sort not in SORTS:
            raise ConfigError(f"--sort {sort}: unknown; choose from {', '.join(SORTS)}")
        runs = list_runs(_root(runs_root))
        if status:
            wanted = _statuses(status)
            runs = [r for r in runs if r.status in wanted]
        # newest, best and longest first; names and statuses alphabetically
        runs.sort(key=SORTS[sort], reverse=sort not in ("name", "status"))
        runs = runs[:limit] if limit else runs
        if json_out:
            print_json([as_json(r) for r in runs])
            return
        if not runs:
            typer.echo("no runs match; start one with `clinitui train`" if status else
                       "no runs yet; start one with `clinitui train`", err=True)
            return
        _print_table([cells(r) for r in runs])


@runs_app.command("show")
def runs_show(
    run: RunArg,
    runs_root: RootOpt = None,
    json_out: Annotated[bool, Opt("--json", help="JSON output (the `runs list --json` keys plus `metrics`).")] = False,
) -> None:
    """Status, model, data, scores and test metrics of one run."""
    with boundary():
        from clinitui.cli.runs_table import as_json, detail_lines, figures_lines
        from clinitui.describe import read_metrics
        from clinitui.runs import summarize
        from clinitui.names import resolve_run

        path = announce(resolve_run(run, _root(runs_root)))
        summary = summarize(path)
        metrics = (read_metrics(path) or {}).get("metrics")
        from clinitui.tracking import where

        tracked = where(path)  # MLflow / TensorBoard, from the run's tracking.json (docs/tracking.md)
        if json_out:
            print_json({**as_json(summary), "metrics": metrics, "tracking": tracked})
            return
        for label, value in detail_lines(summary):
            typer.echo(f"{label:<12} {value}")
        if tracked:
            typer.echo(f"{'tracked':<12} {tracked}")
        if summary.description is not None and summary.kind.classifier:
            for line in figures_lines(summary.description):
                typer.echo(f"  {line}")
        if metrics:
            from clinitui.cli.report import print_metrics

            # a multi-label run has per_label rows, no per_class: the labels come from the file itself
            print_metrics(metrics, metrics.get("labels") or list(metrics.get("per_class") or {}), title="test metrics")


@runs_app.command("stop")
def runs_stop(
    run: Annotated[str, Arg(help="The run: its name, a unique prefix of it, `last` (the newest running run), or its folder.")],
    runs_root: RootOpt = None,
    force: Annotated[bool, Opt("--force", help="SIGKILL instead of a graceful stop (state saved at the last save point).")] = False,
) -> None:
    """Ask a running worker to stop: it finishes the current step, saves its state and exits."""
    with boundary():
        from clinitui.errors import ConfigError
        from clinitui.launcher import stop_worker
        from clinitui.names import resolve_run

        path = announce(resolve_run(run, _root(runs_root), last="running"))
        if not stop_worker(path, force=force):
            raise ConfigError(f"{path.name}: no live worker to stop")
        typer.echo(f"{'killed' if force else 'asked to stop'}: {path}", err=True)


@runs_app.command("resume")
def runs_resume(
    run: Annotated[str, Arg(help="A stopped, killed, crashed or failed run: name, unique prefix, `last` (the newest of "
                                 "those) or folder.")],
    runs_root: RootOpt = None,
    json_out: Annotated[bool, Opt("--json", help="JSON output.")] = False,
) -> None:
    """Continue a run from its last saved state in a background worker (as `train --resume --detach`)."""
    with boundary():
        from clinitui.cli.train import _resume
        from clinitui.names import resolve_run

        _resume(announce(resolve_run(run, _root(runs_root), last="resumable")), detach=True, json_out=json_out,
                quiet=True)


def _delete(paths: list[Path], yes: bool, what: str) -> None:
    """Confirm (unless ``yes``), then delete each run under its own lock: a live run is refused."""
    from clinitui.errors import ConfigError, RunBusyError
    from clinitui.rundir import RunLock
    from clinitui.runs import summarize

    live = [p for p in paths if summarize(p).status == "running"]
    if live:
        raise RunBusyError(f"{live[0].name}: still running; stop it first with `clinitui runs stop {live[0].name}`")
    if not yes:
        if not sys.stdin.isatty():
            raise ConfigError(f"would delete {len(paths)} {what}; pass --yes to delete without a question")
        for p in paths:
            typer.echo(f"  {p}", err=True)
        if not typer.confirm(f"Delete {len(paths)} {what}?", default=False, err=True):
            typer.echo("nothing deleted", err=True)
            return
    for p in paths:
        lock = RunLock(p)  # raises RunBusyError if a worker took the folder since the check
        try:
            shutil.rmtree(p)
        except OSError as exc:
            raise ConfigError(f"{p}: cannot delete ({exc.strerror}); check its permissions") from None
        finally:
            lock.release()
        typer.echo(f"deleted {p.name}", err=True)


@runs_app.command("rm")
def runs_rm(
    runs: Annotated[List[str], Arg(help="Runs to delete: names, unique prefixes, `last` or folders.")],
    runs_root: RootOpt = None,
    yes: Annotated[bool, Opt("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete runs (their folder: checkpoint, events, logs); a running run is refused."""
    with boundary():
        from clinitui.names import resolve_run

        root = _root(runs_root)
        paths = list(dict.fromkeys(announce(resolve_run(r, root)) for r in runs))
        _delete(paths, yes, "run" if len(paths) == 1 else "runs")


@runs_app.command("prune")
def runs_prune(
    status: Annotated[str, Opt(help="Delete runs with these statuses (comma-separated; never running).")] = "failed,crashed",
    older_than: Annotated[Optional[str], Opt("--older-than", help="Only runs idle for longer than this: 90s, 30m, 12h, 7d, 2w.")] = None,
    runs_root: RootOpt = None,
    yes: Annotated[bool, Opt("--yes", "-y", help="Do not ask for confirmation.")] = False,
    dry_run: Annotated[bool, Opt("--dry-run", help="List what would be deleted, delete nothing.")] = False,
) -> None:
    """Delete old runs by status (default: failed and crashed), e.g. `--status failed,stopped --older-than 7d`."""
    with boundary():
        from clinitui.cli.runs_table import age_s, parse_age
        from clinitui.errors import ConfigError
        from clinitui.runs import list_runs

        wanted = _statuses(status)
        if "running" in wanted:
            raise ConfigError("--status running: prune never deletes a live run; stop it first")
        try:
            min_age = parse_age(older_than) if older_than else 0.0
        except ValueError:
            raise ConfigError(f"--older-than {older_than}: not an age; write e.g. 90s, 30m, 12h, 7d or 2w") from None
        doomed = [r.path for r in list_runs(_root(runs_root)) if r.status in wanted and age_s(r) >= min_age]
        if not doomed:
            typer.echo("nothing to prune", err=True)
            return
        if dry_run:
            for p in doomed:
                typer.echo(str(p))
            return
        _delete(doomed, yes, "run" if len(doomed) == 1 else "runs")
