"""``clinitui sweep``: run a grid or an Optuna search of trials; ``sweep show``, ``sweep stop``.

``clinitui sweep SPEC.toml`` / ``--preset NAME`` / shorthand flags start a sweep (``run`` is the
default subcommand, so ``clinitui sweep run ...`` is the same). Everything here is a thin layer
over ``clinitui.sweep``; Ray is imported only by ``--backend ray``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from clinitui.cli.common import FullHelpGroup, boundary, print_json
from clinitui.tracking import LOG_TO_HELP, TRACKING_URI_HELP

Opt = typer.Option
Arg = typer.Argument


class _RunByDefault(FullHelpGroup):
    """``clinitui sweep SPEC.toml --slots 2`` means ``clinitui sweep run SPEC.toml --slots 2``."""

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["run", *args]
        return super().parse_args(ctx, args)


sweep_app = typer.Typer(cls=_RunByDefault, no_args_is_help=False,
                        help="Run many trials (a grid or an Optuna search) and compare them in one table.")


def _split(text: Optional[str]) -> list[str]:
    return [x.strip() for x in (text or "").split(",") if x.strip()]


@sweep_app.command("run")
def run_command(
    spec_file: Annotated[Optional[Path], Arg(metavar="[SPEC.toml]", help="Sweep spec (see docs/sweeps.md).")] = None,
    preset: Annotated[Optional[str], Opt("--preset", "-p", help="A shipped sweep: paper (the study's grid), demo-cpu ... (`clinitui presets list`).")] = None,
    data: Annotated[Optional[Path], Opt("--data", "-d", help="Notes file; default: the built-in demo corpus.")] = None,
    backbones: Annotated[Optional[str], Opt(help="Comma-separated backbones to cross (presets or registry names).")] = None,
    adapters: Annotated[Optional[str], Opt(help="Comma-separated adapters to cross.")] = None,
    budget: Annotated[Optional[str], Opt(help="Budget preset every trial uses.")] = None,
    experiment: Annotated[Optional[str], Opt("--experiment", help="Experiment preset every trial starts from.")] = None,
    seeds: Annotated[Optional[int], Opt(help="Seeds per configuration (42, 43, ...).")] = None,
    sets: Annotated[Optional[list[str]], Opt("--set", "-s", help="A setting for every trial: --set train.epochs=2 (repeatable).")] = None,
    grids: Annotated[Optional[list[str]], Opt("--grid", help="Another axis: --grid train.lr=1e-3,3e-4 (repeatable).")] = None,
    slots: Annotated[Optional[int], Opt(help="CPU slots: trials at once, splitting the cores between them.")] = None,
    gpus: Annotated[Optional[str], Opt(help="GPUs to use, e.g. 0,1 (one trial per GPU by default).")] = None,
    per_gpu: Annotated[Optional[int], Opt(help="Trials packed on each GPU.")] = None,
    backend: Annotated[Optional[str], Opt(help="local (default) or ray.")] = None,
    address: Annotated[Optional[str], Opt(help="Ray cluster HOST:PORT (default: start a local Ray).")] = None,
    sweep_dir: Annotated[Optional[Path], Opt(help="Exact sweep directory to create (new or empty).")] = None,
    sweeps_root: Annotated[Optional[Path], Opt(help="Where sweep directories go [default: beside the runs root].")] = None,
    resume: Annotated[Optional[str], Opt("--resume", help="Continue a stopped or killed sweep (folder, name, unique prefix or `last`); finished trials are kept.")] = None,
    detach: Annotated[bool, Opt("--detach", help="Run the scheduler in the background (survives logout).")] = False,
    json_out: Annotated[bool, Opt("--json", help="Print the sweep's JSON (with --detach: sweep_dir and pid).")] = False,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No progress lines.")] = False,
    log_to: Annotated[Optional[list[str]], Opt("--log-to", help=LOG_TO_HELP + " Each trial is a run, nested under the sweep's.")] = None,
    tracking_uri: Annotated[Optional[str], Opt("--tracking-uri", help=TRACKING_URI_HELP)] = None,
) -> None:
    """Start (or --resume) a sweep: SPEC.toml, --preset NAME, or --backbones/--adapters/--grid/--seeds."""
    with boundary():
        from clinitui.sweep import journal as J

        overrides = {"slots": slots, "gpus": gpus, "per_gpu": per_gpu, "backend": backend, "address": address}
        if resume is not None:
            path = J.resolve_sweep(resume, sweeps_root)
            _announce(path, quiet)
            _check_not_running(path)
        else:
            spec = _load_spec(spec_file, preset, data=data, backbones=backbones, adapters=adapters, budget=budget,
                              experiment=experiment, seeds=seeds, sets=sets or [], grids=grids or [])
            doc = spec.as_dict()
            doc["resources"].update({k: v for k, v in overrides.items() if v is not None})
            if log_to:  # every trial records itself where a run would (resolved now: run.toml holds the place)
                # next to the sweeps root (the runs' places), or next to an explicit --sweep-dir
                root = Path(sweep_dir).expanduser().resolve() if sweep_dir else sweeps_root or J.default_sweeps_root()
                doc["base"].setdefault("set", {}).update(_tracking_sets(log_to, tracking_uri, root))
            from clinitui.sweep.spec import parse

            spec = parse(doc, "options")  # the command-line resources checked like the file's
            _check_backend(spec.resources, spec.mode == "search")
            path = J.new_sweep_dir(sweeps_root or J.default_sweeps_root(), sweep_dir)
            J.write_spec(path, spec.as_dict())
        if detach:
            from clinitui.sweep.scheduler import start_detached

            pid = start_detached(path)
            if json_out:
                print_json({"sweep_dir": str(path), "pid": pid})
            else:
                sys.stderr.write(f"started sweep scheduler {pid}: {path}\nfollow it with `clinitui sweep show {path}` "
                                 f"or the TUI; stop it with `clinitui sweep stop {path}`\n")
            return
        if resume is None and not quiet:
            sys.stderr.write(f"sweep: {path}\n")
        status = _run_here(path, quiet=quiet)
        from clinitui.sweep.table import collect, render

        payload = collect(path)
        if json_out:
            print_json(payload)
        else:
            sys.stdout.write(render(payload))
        if status == "stopped":
            from clinitui.errors import EXIT_INTERRUPTED

            raise typer.Exit(EXIT_INTERRUPTED)


def _tracking_sets(log_to: list[str], uri: Optional[str], root: Path) -> dict:
    """``--log-to`` / ``--tracking-uri`` as every trial's settings (default places next to the sweeps root)."""
    from clinitui.config.schema import TrackingConfig
    from clinitui.tracking import resolve_tracking

    t = resolve_tracking(TrackingConfig(log_to=log_to, uri=uri), root)
    return {f"tracking.{k}": (",".join(v) if k == "log_to" else v)
            for k, v in t.model_dump(include={"log_to", "uri", "tensorboard_dir"}).items() if v}


def _run_here(path: Path, *, quiet: bool) -> str:
    from clinitui.signals import StopFlag
    from clinitui.sweep.scheduler import run_sweep

    stop = StopFlag()
    stop.install()

    def progress(event: dict) -> None:
        if quiet or not event["type"].startswith(("trial_", "baseline")) or event["type"] == "trial_queued":
            return
        what = event["type"].removeprefix("trial_")
        extra = ""
        if event.get("val_f1_macro") is not None:
            extra = f" val F1 {event['val_f1_macro']:.3f}"
        if event.get("error"):
            extra = f": {str(event['error']).splitlines()[0][:200]}"
        sys.stderr.write(f"  {what:<9} {event.get('name', '')}{extra}\n")

    status = run_sweep(path, should_stop=stop, on_event=progress)
    if status == "stopped":
        sys.stderr.write(f"sweep stopped; continue it with `clinitui sweep --resume {path}`\n")
    return status


def _load_spec(spec_file, preset, **short):
    from clinitui.errors import ConfigError
    from clinitui.sweep import spec as S

    given_short = any(short[k] for k in ("data", "backbones", "adapters", "budget", "experiment", "seeds", "sets", "grids"))
    if spec_file is not None and preset is not None:
        raise ConfigError("give a SPEC.toml or --preset NAME, not both")
    if spec_file is not None or preset is not None:
        if given_short:
            raise ConfigError("the shorthand options (--backbones, --adapters, --grid, --seeds, --set, --data ...) "
                              "build a sweep of their own; put them in the SPEC.toml instead")
        return S.load_file(spec_file) if spec_file is not None else S.load_preset(preset)
    return S.from_shorthand(data=short["data"], backbones=_split(short["backbones"]), adapters=_split(short["adapters"]),
                            budget=short["budget"], preset=short["experiment"], seeds=short["seeds"],
                            sets=short["sets"], grids=short["grids"])


def _check_backend(resources: dict, search: bool = False) -> None:
    import importlib.util

    from clinitui.errors import ConfigError

    if resources.get("backend") == "ray" and importlib.util.find_spec("ray") is None:
        raise ConfigError("--backend ray needs Ray, which is not installed; pip install 'clinitui[ray]' "
                          "(or use the local scheduler: --slots N / --gpus 0,1)")
    if search and importlib.util.find_spec("optuna") is None:
        raise ConfigError("a [search] sweep needs Optuna, which is not installed; pip install 'clinitui[search]'")
    if resources.get("address") and resources.get("backend") != "ray":
        raise ConfigError("--address is for the Ray backend; add --backend ray")


def _check_not_running(path: Path) -> None:
    from clinitui.errors import RunBusyError
    from clinitui.rundir import lock_holder

    holder = lock_holder(path)
    if holder is not None:
        raise RunBusyError(f"{path}: its scheduler (process {holder}) is still running; nothing to resume")


def _announce(path: Path, quiet: bool = False) -> None:
    """The one stderr line naming the sweep a name, prefix or ``last`` resolved to."""
    if not quiet:
        sys.stderr.write(f"using sweep {path.name}\n")


SweepArg = Annotated[str, Arg(help="The sweep: its folder, its name under the sweeps root, a unique prefix, or `last`.")]
SweepsRoot = Annotated[Optional[Path], Opt("--sweeps-root", help="Where sweep names are looked up [default: beside the runs root].")]


@sweep_app.command("show")
def show_command(
    sweep: SweepArg,
    json_out: Annotated[bool, Opt("--json", help="JSON: sweep_dir, status, baseline, trials.")] = False,
    csv_out: Annotated[bool, Opt("--csv", help="CSV, one line per trial.")] = False,
    sweeps_root: SweepsRoot = None,
) -> None:
    """The study's table: every trial ranked on validation macro-F1, the baseline row, each status."""
    with boundary():
        from clinitui.sweep.journal import resolve_sweep
        from clinitui.sweep.table import collect, render, to_csv

        path = resolve_sweep(sweep, sweeps_root)
        _announce(path)
        payload = collect(path)
        if json_out:
            print_json(payload)
        elif csv_out:
            sys.stdout.write(to_csv(payload))
        else:
            sys.stdout.write(render(payload))


@sweep_app.command("stop")
def stop_command(sweep: SweepArg, sweeps_root: SweepsRoot = None) -> None:
    """Stop a sweep gracefully: its trials save their state and stop; `sweep --resume` continues it."""
    with boundary():
        import os
        import signal

        from clinitui.rundir import lock_holder
        from clinitui.sweep.journal import resolve_sweep

        path = resolve_sweep(sweep, sweeps_root)
        _announce(path)
        pid = lock_holder(path)
        if pid is None or pid < 0:
            sys.stderr.write(f"{path}: no scheduler is running\n")
            return
        os.kill(pid, signal.SIGTERM)
        sys.stderr.write(f"asked scheduler {pid} to stop; its trials save their state first\n")
