"""``clinitui pretrain``: masked-language-model pretraining on unlabeled notes → a backbone folder.

The result (``checkpoint/`` of the run, printed as ``checkpoint`` by ``--json``) is what
``clinitui train --backbone DIR`` takes. docs/pretraining.md explains when it pays.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from clinitui.cli.common import announce, boundary, print_json
from clinitui.cli.progress import PlainProgress
from clinitui.fmt import fmt_params
from clinitui.kinds import RunKind
from clinitui.signals import StopFlag
from clinitui.tracking import LOG_TO_HELP, TRACKING_URI_HELP, resolve, with_options
from clinitui.tracking import listeners as tracking_listeners

Opt = typer.Option


class PretrainProgress(PlainProgress):
    """Plain lines for a pretraining run's events (steps throttled, every evaluation)."""

    def format(self, event: dict) -> str | None:
        kind = event["type"]
        if kind == "run_started":
            return (f"run {event['run_dir']}\n  pretraining text: {event['data_summary']}\n"
                    f"  {event['n_windows']} windows of up to {event['window']} tokens, {event['total_steps']} steps, "
                    f"{fmt_params(event['params']['total'])} parameters, device {event['device']}")
        if kind == "eval":
            return (f"step {event['step']}: held-out MLM loss {event['mlm_loss']:.4f} (token frequencies alone: "
                    f"{event['unigram_loss']:.4f}), perplexity {event['perplexity']:.1f}")
        if kind == "checkpoint":
            return None
        if kind == "step":
            event = {**event, "epoch": event.get("epoch", 1)}
        return super().format(event)


def build_config(*, data: list[Path], text_col, label_col, split_col, backbone, budget, steps, epochs, window,
                 stride, include_test: bool, seed, allow_download: bool, sets: list[str]):
    from clinitui.config.presets import compose

    flags = {
        "data.path": str(data[0]) if data else None, "data.text_col": text_col, "data.label_col": label_col,
        "data.split_col": split_col, "train.epochs": epochs, "train.seed": seed,
        "model.backbone_options.allow_download": True if allow_download else None,
        "pretrain.extra_data": [str(p) for p in data[1:]], "pretrain.steps": steps, "pretrain.window": window,
        "pretrain.stride": stride, "pretrain.include_test": True if include_test else None,
    }
    return compose(backbone=backbone, budget=budget, flags=flags, sets=sets)


def pretrain(
    data: Annotated[Optional[list[Path]], Opt("--data", "-d", help="File with a text column (labels ignored); repeat to add unlabeled notes.")] = None,
    text_col: Annotated[Optional[str], Opt(help="Column with the text [default: text].")] = None,
    label_col: Annotated[Optional[str], Opt(help="Label column, used only to find the test split as `train` would [default: label].")] = None,
    split_col: Annotated[Optional[str], Opt(help="Column with train/dev/test per row: test rows are left out.")] = None,
    backbone: Annotated[Optional[str], Opt("--backbone", "-b", help="scratch-transformer, scratch-moe, a Hugging Face encoder folder, or a `clinitui pretrain` folder to continue.")] = None,
    budget: Annotated[Optional[str], Opt("--budget", help="Hardware budget preset (cpu, gpu-8gb ...).")] = None,
    steps: Annotated[Optional[int], Opt(help="Optimizer steps [default: 12 passes over the windows from scratch; --epochs passes if given, or for a pre-trained encoder].")] = None,
    epochs: Annotated[Optional[int], Opt(help="Passes over the windows when --steps is not given.")] = None,
    window: Annotated[Optional[int], Opt(help="Tokens per window cut from each whole document [default: 128].")] = None,
    stride: Annotated[Optional[int], Opt(help="Tokens between window starts [default: the window, no overlap].")] = None,
    include_test: Annotated[bool, Opt("--include-test", help="Also learn from test rows (default: test text is never seen).")] = False,
    seed: Annotated[Optional[int], Opt(help="Random seed.")] = None,
    allow_download: Annotated[bool, Opt("--allow-download", help="Let a Hugging Face encoder download missing files.")] = False,
    sets: Annotated[Optional[list[str]], Opt("--set", "-s", help="Override any setting: --set pretrain.mask_prob=0.2 (repeatable).")] = None,
    run_dir: Annotated[Optional[Path], Opt(help="Exact run directory to create (must be new or empty).")] = None,
    runs_root: Annotated[Optional[Path], Opt(help="Where run directories go [default: $CLINITUI_RUNS_ROOT or ~/.local/share/clinitui/runs].")] = None,
    resume: Annotated[Optional[str], Opt("--resume", help="Continue a stopped or killed pretraining run (name, unique prefix, `last` = the newest stopped, crashed or failed run, or folder).")] = None,
    detach: Annotated[bool, Opt("--detach", help="Start a background worker and return at once.")] = False,
    json_out: Annotated[bool, Opt("--json", help="Print one JSON document (run_dir, checkpoint = the backbone folder).")] = False,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No progress output.")] = False,
    log_to: Annotated[Optional[list[str]], Opt("--log-to", help=LOG_TO_HELP)] = None,
    tracking_uri: Annotated[Optional[str], Opt("--tracking-uri", help=TRACKING_URI_HELP)] = None,
) -> None:
    """Pretrain a backbone on unlabeled notes (masked language model); `train --backbone DIR` fine-tunes it."""
    with boundary():
        from clinitui.engine.recipes.pretrain import prepare
        from clinitui.runs import default_runs_root, new_run_dir

        if resume is not None:
            from clinitui.names import resolve_run

            path = announce(resolve_run(resume, runs_root, last="resumable"), quiet)
            _resume(path, detach=detach, json_out=json_out, quiet=quiet)
            return
        if not data:
            from clinitui.errors import ConfigError

            raise ConfigError("pretraining needs text: pass --data FILE (repeatable), or --resume RUN_DIR")
        config = build_config(data=data, text_col=text_col, label_col=label_col, split_col=split_col,
                              backbone=backbone, budget=budget, steps=steps, epochs=epochs, window=window,
                              stride=stride, include_test=include_test, seed=seed, allow_download=allow_download,
                              sets=with_options(sets or [], log_to, tracking_uri))
        root = runs_root or default_runs_root()
        prepared = prepare(resolve(config, root))  # bad input fails here, before any run directory exists
        if detach:
            from clinitui.launcher import start_worker

            path, pid = start_worker(prepared.config, root, run_dir)
            if json_out:
                print_json({"run_dir": str(path), "pid": pid, "checkpoint": str(path / "checkpoint")})
            else:
                sys.stderr.write(f"started worker {pid}: {path}\nfollow it with `clinitui runs show {path}` or the TUI\n")
            return
        path = new_run_dir(root, RunKind.PRETRAIN, _slug(prepared.config.model.backbone), run_dir)
        _run_here(prepared, path, resume=False, json_out=json_out, quiet=quiet)


def _slug(backbone: str) -> str:
    return Path(backbone).name if "/" in backbone else backbone


def _resume(path: Path, *, detach: bool, json_out: bool, quiet: bool) -> None:
    from clinitui.config.overrides import from_toml
    from clinitui.engine.recipes.pretrain import prepare
    from clinitui.errors import ConfigError, RunBusyError
    from clinitui.rundir import lock_holder

    toml = path / "run.toml"
    if not toml.is_file():
        raise ConfigError(f"{path}: not a clinitui run directory (no run.toml); pass the folder of the run to resume")
    holder = lock_holder(path)
    if holder is not None:
        raise RunBusyError(f"{path}: still running (process {holder}); nothing to resume")
    prepared = prepare(from_toml(toml.read_text(encoding="utf-8"), str(toml)))
    if detach:
        from clinitui.launcher import resume_worker

        pid = resume_worker(path)
        if json_out:
            print_json({"run_dir": str(path), "pid": pid, "checkpoint": str(path / "checkpoint")})
        else:
            sys.stderr.write(f"resumed in worker {pid}: {path}\n")
        return
    _run_here(prepared, path, resume=True, json_out=json_out, quiet=quiet)


def _run_here(prepared, path: Path, *, resume: bool, json_out: bool, quiet: bool) -> None:
    from clinitui.engine.recipes.pretrain import execute

    stop = StopFlag()
    stop.install()
    listeners = ([] if quiet else [PretrainProgress()]) + tracking_listeners(prepared.config, path)
    payload = execute(prepared, path, listeners=listeners, should_stop=stop, resume=resume)
    if json_out:
        print_json(payload)
    elif not quiet:
        sys.stderr.write(f"held-out MLM loss {payload['val_mlm_loss']:.4f} (perplexity {payload['perplexity']:.1f}) "
                         f"after {payload['steps']} steps; {payload['test_rows_left_out']} test rows left out\n")
        if payload["val_mlm_loss"] > payload["unigram_loss"] - 0.5:
            sys.stderr.write(f"note: token frequencies alone score {payload['unigram_loss']:.4f}: the model has learnt "
                             "little context yet (on MORFITT such backbones fine-tuned worse than random ones; "
                             "train longer, see docs/pretraining.md)\n")
        sys.stderr.write(f"run: {payload['run_dir']}\nbackbone folder: {payload['checkpoint']}\n"
                         f"fine-tune it with `clinitui train --backbone {payload['checkpoint']} ...`\n")
