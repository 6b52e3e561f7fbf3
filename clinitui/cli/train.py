"""``clinitui train``: build the run config from options, then train in this process."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from clinitui.cli.common import announce, boundary, print_json
from clinitui.kinds import RunKind, Task, config_kind
from clinitui.signals import StopFlag
from clinitui.tracking import LOG_TO_HELP, TRACKING_URI_HELP, with_options

Opt = typer.Option


def build_config(*, data: Optional[Path], text_col: Optional[str], label_col: Optional[str],
                 split_col: Optional[str], backbone: Optional[str], adapter: Optional[str], epochs: Optional[int],
                 max_length: Optional[int], seed: Optional[int], sets: list[str], allow_download: bool = False,
                 preset: Optional[str] = None, budget: Optional[str] = None, ensemble: Optional[str] = None,
                 threshold_rule: Optional[str] = None, dedupe: bool = False, bootstrap: Optional[int] = None,
                 delimiter: Optional[str] = None, encoding: Optional[str] = None, dist: Optional[dict] = None,
                 task: Optional[str] = None, label_sep: Optional[str] = None, long_notes: Optional[str] = None):
    """Defaults ← experiment preset ← backbone/adapter/budget presets ← explicit options ← ``--set``.

    ``backbone`` / ``adapter`` name a preset when one exists (``clinitui presets list``), else a
    registry entry, Hugging Face id or folder; ``budget`` must name a budget preset.
    """
    from clinitui.config.presets import compose

    flags = {
        "data.path": str(data) if data else None, "data.text_col": text_col, "data.label_col": label_col,
        "data.split_col": split_col, "data.delimiter": delimiter, "data.encoding": encoding,
        "data.task": task, "data.label_sep": label_sep,
        "train.epochs": epochs, "train.max_length": max_length, "train.seed": seed,
        "model.backbone_options.allow_download": True if allow_download else None,
        "model.ensemble": ensemble,
        "train.threshold_rule": threshold_rule, "data.dedupe": True if dedupe else None, "train.bootstrap": bootstrap,
        **{f"dist.{k}": v for k, v in (dist or {}).items()},
        "data.long_notes": long_notes,
    }
    return compose(preset=preset, backbone=backbone, adapter=adapter, budget=budget, flags=flags, sets=sets)


def train(
    preset: Annotated[Optional[str], Opt("--preset", "-p", help="Experiment preset name or .toml file (see `clinitui presets list`).")] = None,
    data: Annotated[Optional[Path], Opt("--data", "-d", help="CSV, TSV, JSONL or Parquet file; default: the built-in French demo corpus.")] = None,
    text_col: Annotated[Optional[str], Opt(help="Column with the note text [default: text].")] = None,
    label_col: Annotated[Optional[str], Opt(help="Column with the label [default: label].")] = None,
    split_col: Annotated[Optional[str], Opt(help="Column with train/dev/test per row; default: a stratified split.")] = None,
    delimiter: Annotated[Optional[str], Opt(help="CSV separator: comma, semicolon, tab or pipe [default: from the header row].")] = None,
    encoding: Annotated[Optional[str], Opt(help="Text encoding of the data file, e.g. cp1252 [default: UTF-8, else Windows-1252].")] = None,
    task: Annotated[Optional[str], Opt("--task", help="multilabel: a set of labels per note (see --label-sep); multiclass: one label per note, combinations kept as classes; default auto: one label per note, stopped when the labels look like joined sets (docs/tasks.md).")] = None,
    label_sep: Annotated[Optional[str], Opt("--label-sep", help="With --task multilabel: the separator between a note's labels [default: |]; JSONL list labels need none.")] = None,
    backbone: Annotated[Optional[str], Opt("--backbone", "-b", help="Backbone preset, registry name, HF id or local folder (see `clinitui presets list`, `clinitui models`).")] = None,
    adapter: Annotated[Optional[str], Opt("--adapter", "-a", help="Adapter preset or registry name (see `clinitui presets list`, `clinitui models`).")] = None,
    budget: Annotated[Optional[str], Opt("--budget", help="Hardware budget preset: p620-2gb, cpu, gpu-8gb, gpu-24gb, gpu-80gb ...")] = None,
    dry_run: Annotated[bool, Opt("--dry-run", help="Print the memory plan and exit: 0 if it fits the budget, 2 if not.")] = False,
    epochs: Annotated[Optional[int], Opt(help="Maximum epochs.")] = None,
    max_length: Annotated[Optional[int], Opt(help="Tokens per note (longer notes are truncated).")] = None,
    seed: Annotated[Optional[int], Opt(help="Random seed.")] = None,
    long_notes: Annotated[Optional[str], Opt("--long-notes", help="Notes longer than --max-length: truncate (default), head-tail (beginning + end) or chunk (overlapping windows pooled per note; see docs/long-notes.md).")] = None,
    ensemble: Annotated[Optional[str], Opt("--ensemble", help="Blend the network with a second model, weight chosen on validation: tfidf (see docs/accuracy.md).")] = None,
    seeds: Annotated[int, Opt("--seeds", min=1, help="Train N runs differing only in seed (seed, seed+1, ...): mean ± sd and one seed-averaged checkpoint.")] = 1,
    allow_download: Annotated[bool, Opt("--allow-download", help="Let a Hugging Face backbone download missing weights (default: offline, local files only).")] = False,
    sets: Annotated[Optional[list[str]], Opt("--set", "-s", help="Override any setting: --set train.lr=3e-4 (repeatable).")] = None,
    run_dir: Annotated[Optional[Path], Opt(help="Exact run directory to create (must be new or empty).")] = None,
    runs_root: Annotated[Optional[Path], Opt(help="Where run directories go [default: $CLINITUI_RUNS_ROOT or ~/.local/share/clinitui/runs].")] = None,
    resume: Annotated[Optional[str], Opt("--resume", help="Continue a stopped, killed, crashed or failed run (name, unique prefix, `last` = the newest of those, or folder) from its last saved state.")] = None,
    detach: Annotated[bool, Opt("--detach", help="Start a background worker (survives logout) and return at once.")] = False,
    json_out: Annotated[bool, Opt("--json", help="Print one JSON document (run_dir, checkpoint, metrics) on stdout.")] = False,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No progress output.")] = False,
    threshold_rule: Annotated[Optional[str], Opt("--threshold-rule", help="Binary tasks (each label of a multi-label task): choose the operating threshold on validation by auto (default: the rule serving macro-F1; f1 per label for multi-label), argmax, macro-f1, f1 (positive class), youden, sensitivity:0.95, specificity:0.90 or a number.")] = None,
    dedupe: Annotated[bool, Opt("--dedupe", help="Drop validation/test notes that duplicate training notes (exactly or nearly) before training.")] = False,
    bootstrap: Annotated[Optional[int], Opt("--bootstrap", help="Bootstrap resamples for the test metrics' 95% intervals [default: 1000; 0 = none].")] = None,
    nproc: Annotated[Optional[int], Opt("--nproc", min=1, help="Training processes on this machine (one per GPU): data-parallel through torchrun [default: 1].")] = None,
    nnodes: Annotated[Optional[int], Opt("--nnodes", min=1, help="Machines in a multi-node run (same command on each; see docs/distributed.md).")] = None,
    node_rank: Annotated[Optional[int], Opt("--node-rank", min=0, help="This machine's rank (0 .. nnodes-1) in a multi-node run.")] = None,
    rdzv_endpoint: Annotated[Optional[str], Opt("--rdzv-endpoint", help="HOST:PORT where the nodes of a multi-node run meet (node 0).")] = None,
    time_budget: Annotated[Optional[str], Opt("--time-budget", help="Search for the best model in this wall time (90s, 15m, 1h30m, 2h): TF-IDF, this network, a backbone pretrained on the notes, variants; one table, chosen on validation (docs/time-budget.md).")] = None,
    unlabeled: Annotated[Optional[list[Path]], Opt("--unlabeled", help="With --time-budget: unlabeled notes added to the pretraining text (repeatable).")] = None,
    log_to: Annotated[Optional[list[str]], Opt("--log-to", help=LOG_TO_HELP)] = None,
    tracking_uri: Annotated[Optional[str], Opt("--tracking-uri", help=TRACKING_URI_HELP)] = None,
) -> None:
    """Train a classifier and report its test metrics."""
    started = time.monotonic()  # a --time-budget search counts its own start-up
    with boundary():
        if unlabeled and time_budget is None:
            from clinitui.errors import ConfigError

            raise ConfigError("--unlabeled adds pretraining text to a --time-budget search; add --time-budget "
                              "(or pretrain yourself: `clinitui pretrain --data FILE --data UNLABELED`)")
        if resume is not None:
            search = _search_dir(resume, runs_root)
            if search is not None:
                from clinitui.cli import time_budget as tb

                tb.resume(search, time_budget, detach=detach, json_out=json_out, quiet=quiet, started=started)
                return
            if time_budget is not None:
                from clinitui.errors import ConfigError

                raise ConfigError(f"{resume}: not a --time-budget search; --resume with --time-budget continues a "
                                  "search (its folder or name); resume a single run without --time-budget")
            from clinitui.names import resolve_run

            path = announce(resolve_run(resume, runs_root, last="resumable"), quiet)
            _resume(path, detach=detach, json_out=json_out, quiet=quiet, nproc=nproc,
                    nnodes=nnodes, node_rank=node_rank, rdzv_endpoint=rdzv_endpoint)
            return
        dist = {"nproc": nproc, "nnodes": nnodes, "node_rank": node_rank, "rdzv_endpoint": rdzv_endpoint}
        config = build_config(data=data, text_col=text_col, label_col=label_col, split_col=split_col,
                              backbone=backbone, adapter=adapter, epochs=epochs, max_length=max_length,
                              seed=seed, sets=with_options(sets or [], log_to, tracking_uri),
                              allow_download=allow_download, preset=preset,
                              budget=budget, ensemble=ensemble, threshold_rule=threshold_rule, dedupe=dedupe,
                              bootstrap=bootstrap, delimiter=delimiter, encoding=encoding,
                              dist={k: v for k, v in dist.items() if v is not None}, task=task, label_sep=label_sep,
                              long_notes=long_notes)
        if dry_run:
            _print_plan(config, json_out)
            return
        if time_budget is not None:
            from clinitui.cli import time_budget as tb

            if seeds > 1:
                from clinitui.errors import ConfigError

                raise ConfigError("--time-budget tries other seeds itself when time remains; drop --seeds")
            tb.start(config, time_budget, unlabeled=list(unlabeled or []), runs_root=runs_root, run_dir=run_dir,
                     detach=detach, json_out=json_out, quiet=quiet, started=started)
            return
        _start(config, runs_root=runs_root, run_dir=run_dir, seeds=seeds, detach=detach, json_out=json_out,
               quiet=quiet)


def _search_dir(arg: str, runs_root: Optional[Path]) -> Optional[Path]:
    """The time-budget search meant by ``--resume ARG`` (its folder, or its name under the runs root), or None."""
    from clinitui.runs import default_runs_root
    from clinitui.timebudget.layout import is_search_dir

    for path in (Path(arg).expanduser(), (runs_root or default_runs_root()) / arg):
        if is_search_dir(path):
            return path
    return None


def _start(config, *, runs_root: Optional[Path], run_dir: Optional[Path], seeds: int, detach: bool, json_out: bool,
           quiet: bool) -> None:
    """Read the data, then train: ``--seeds N`` runs, a worker group (detached, or several processes), or here."""
    from clinitui.engine.recipes.train import prepare
    from clinitui.runs import default_runs_root, new_run_dir

    from clinitui.tracking import resolve

    root = runs_root or default_runs_root()
    config = resolve(config, root)  # the MLflow / TensorBoard locations, written into run.toml
    prepared = prepare(config)  # bad input fails here, before any run directory exists
    if seeds > 1:
        if prepared.dataset.task is Task.MULTILABEL:
            from clinitui.errors import ConfigError

            raise ConfigError("--seeds N does not support multi-label runs (--task multilabel) yet; train the seeds as separate "
                              "runs with --seed (docs/tasks.md)")
        from clinitui.cli.seeds import run_seeds

        run_seeds(prepared, root, run_dir, seeds, detach=detach, json_out=json_out, quiet=quiet)
        return
    if detach or config.dist.world_size > 1:  # several processes: always the torchrun worker group
        from clinitui.launcher import start_worker

        path, pid = start_worker(config, root, run_dir)
        _worker_started(path, pid, detach=detach, json_out=json_out, quiet=quiet,
                        line=f"started worker {pid}: {path}\nfollow it with `clinitui runs show {path}` or the TUI\n")
        return
    path = new_run_dir(root, config.model.backbone, config.model.adapter, run_dir)
    _run_here(prepared, path, resume=False, json_out=json_out, quiet=quiet)


def _worker_started(path: Path, pid: int, *, detach: bool, json_out: bool, quiet: bool, line: str) -> None:
    """A worker group runs the training: follow it to its result, or (``--detach``) say where it runs."""
    if not detach:
        from clinitui.cli.multiproc import follow

        _print_result(follow(path, pid, quiet=quiet), json_out=json_out, quiet=quiet)
    elif json_out:
        print_json({"run_dir": str(path), "pid": pid, "checkpoint": str(path / "checkpoint")})
    else:
        sys.stderr.write(line)


def _resume(path: Path, *, detach: bool, json_out: bool, quiet: bool, nproc: Optional[int] = None,
            nnodes: Optional[int] = None, node_rank: Optional[int] = None, rdzv_endpoint: Optional[str] = None) -> None:
    """Continue the run in ``path``; ``node_rank`` / ``rdzv_endpoint``: where this node joins a
    multi-node run now (they belong to the allocation, not to the run, so they may change)."""
    from clinitui.config.overrides import from_toml
    from clinitui.errors import ConfigError
    from clinitui.engine.recipes.train import prepare
    from clinitui.rundir import lock_holder

    toml = path / "run.toml"
    if not toml.is_file():
        raise ConfigError(f"{path}: not a clinitui run directory (no run.toml); pass the folder of the run to resume")
    holder = lock_holder(path) if not node_rank else None  # node 0's rank 0 may hold it already
    if holder is not None:
        from clinitui.errors import RunBusyError

        raise RunBusyError(f"{path}: still running (process {holder}); nothing to resume")
    prepared = prepare(from_toml(toml.read_text(encoding="utf-8"), str(toml)))
    here = {k: v for k, v in {"node_rank": node_rank, "rdzv_endpoint": rdzv_endpoint}.items() if v is not None}
    d = prepared.config.dist.model_copy(update=here)  # the run's world size, this allocation's addresses
    if (nproc or d.nproc) * (nnodes or d.nnodes) != d.world_size:
        raise ConfigError(f"{path}: this run trains with {d.world_size} process(es) (dist.nproc × dist.nnodes in "
                          "run.toml); resume it with the same number (re-sharding is not supported)")
    if detach or d.world_size > 1:
        from clinitui.launcher import resume_worker

        pid = resume_worker(path, d)
        _worker_started(path, pid, detach=detach, json_out=json_out, quiet=quiet,
                        line=f"resumed in worker {pid}: {path}\n")
        return
    _run_here(prepared, path, resume=True, json_out=json_out, quiet=quiet)


def _run_here(prepared, path: Path, *, resume: bool, json_out: bool, quiet: bool) -> None:
    """Train in this process, with progress on stderr and the result on stdout."""
    from clinitui.cli.progress import make_progress
    from clinitui.engine.recipes.dispatch import recipe_for

    from clinitui.tracking import listeners

    progress = make_progress(quiet)
    stop = StopFlag()
    stop.install()
    try:
        payload = recipe_for(prepared.config).execute(prepared, path, should_stop=stop, resume=resume,
                                                      listeners=([progress] if progress else [])
                                                      + listeners(prepared.config, path))
    finally:
        if progress:
            progress.close()
    _print_result(payload, json_out=json_out, quiet=quiet)


def _print_result(payload: dict, *, json_out: bool, quiet: bool) -> None:
    if json_out:
        print_json(payload)
    elif not quiet:
        from clinitui.cli.report import print_assessment, print_metrics, run_summary_lines
        from clinitui.cli.runs_table import figures_lines
        from clinitui.describe import describe_run

        described = describe_run(Path(payload["run_dir"]))
        title = "test metrics of the shipped model" if described else "test metrics (best checkpoint)"
        if described is not None:
            sys.stdout.write(f"model: {described.sentence()}\n")
        print_metrics(payload["metrics"], payload["labels"], title=title)
        print_assessment(payload)
        for line in run_summary_lines(payload):
            sys.stderr.write(line + "\n")
        if payload.get("baseline") and not payload.get("vs_baseline"):
            b, m = payload["baseline"], payload["metrics"]
            sys.stderr.write(f"baseline TF-IDF + logistic regression on the same split: macro-F1 {b['f1_macro']:.4f} "
                             f"(model {m['f1_macro']:.4f}, {m['f1_macro'] - b['f1_macro']:+.4f})\n")
        if described is not None and len(described.parts) > 1:  # each predictor's val and test, one per row
            sys.stderr.write("\n".join(figures_lines(described)) + "\n")
        if payload.get("truncation"):
            from clinitui.data.windows import describe

            sys.stderr.write(describe(payload["truncation"]) + "\n")
        sys.stderr.write(f"run: {payload['run_dir']}\ncheckpoint: {payload['checkpoint']}\n")


def _print_plan(config, json_out: bool) -> None:
    """``--dry-run``: the memory plan, computed from architecture numbers alone, and the positive class of a
    binary task (read from the labels; a bad ``data.positive_label`` fails here, exit 2)."""
    from clinitui.data.load import positive_of
    from clinitui.engine.memory.planner import describe_plan, plan_for_config
    from clinitui.engine.train.auto_lr import describe_lr, line as lr_line

    positive = positive_of(config)
    extra = {"positive_label": positive} if positive else {}
    said = [f"positive class: {positive['label']} ({positive['why']})"] if positive else []
    if config_kind(config) is RunKind.TFIDF:  # no network: nothing to plan (engine/recipes/tfidf.py)
        note = "the tfidf model has no network: it fits in host memory, in seconds to minutes on CPU"
        if json_out:
            print_json({"fits": True, "plan": {"device": "cpu", "notes": [note]}, "config": config.model_dump(), **extra})
        else:
            sys.stdout.write("\n".join([note, *said]) + "\nfits: yes (dry run, nothing trained)\n")
        return
    plan = plan_for_config(config)  # raises ConfigError (exit 2) when nothing fits
    lr = describe_lr(config.train.lr, plan.freeze, plan.model.pretrained)  # the rate it would train at, and why
    if json_out:
        print_json({"fits": True, "plan": plan.as_dict(), "lr": lr, "config": config.model_dump(), **extra})
        return
    sys.stdout.write("\n".join(describe_plan(plan) + [lr_line(lr)] + said) + "\nfits: yes (dry run, nothing trained)\n")
