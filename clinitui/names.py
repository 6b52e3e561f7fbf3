"""Runs by name: a folder, a run's name, a unique prefix of it, or ``last`` (torch-free).

One resolver for every command that takes a run or a checkpoint (``eval``, ``predict``, ``export``,
``report``, ``runs show/stop/resume/rm``, ``train --resume``, ``sweep`` by name): what each form
means, what ``last`` means for each kind of command, and the one line on stderr that says which run
was taken (docs/operator.md, "Runs by name").
"""

from __future__ import annotations

import os
from pathlib import Path

from clinitui.errors import ConfigError
from clinitui.kinds import is_seed_group, seed_members
from clinitui.runs import RunSummary, default_runs_root, is_run_dir, run_dirs, summarize
from clinitui.timebudget.layout import best_run, is_search_dir

# What `last` means depends on what the command does with the run (docs/operator.md, "Runs by name"):
# showing or deleting takes the newest run whatever its state, stopping the newest live one,
# resuming the newest one that can be continued, and a checkpoint command (resolve_checkpoint)
# the newest that finished, so `eval last` never scores a failed run's leftover checkpoint.
LAST = {
    "started": (None, "run"),
    "running": (frozenset({"running"}), "running run"),
    "resumable": (frozenset({"stopped", "crashed", "failed"}), "stopped, crashed or failed run to resume"),
    "finished": (frozenset({"finished"}), "finished run with a checkpoint"),
}






def started_key(path: Path) -> tuple[float, str]:
    """When a run started: its ``run.toml``'s time (written before training; a seeds group: its
    newest member's), then its name."""
    tomls = [path / "run.toml"] if not is_seed_group(path) else [m / "run.toml" for m in seed_members(path)]
    times = []
    for toml in tomls:
        try:
            times.append(toml.stat().st_mtime)
        except OSError:
            continue
    return (max(times, default=0.0), path.name)


def newest_run(dirs: list[Path]) -> Path:
    """The run started last (:func:`started_key`)."""
    return max(dirs, key=started_key)


def looks_like_path(text: str) -> bool:
    return "/" in text or os.sep in text or text.startswith(("~", "."))


def by_name(text: str, dirs: list[Path], root: Path, noun: str = "run",
            listing: str = "`clinitui runs list`") -> Path:
    """The folder among ``dirs`` named ``text``, else the one whose name starts so; one line otherwise."""
    exact = [p for p in dirs if p.name == text]
    if exact:
        return exact[0]
    matches = sorted((p for p in dirs if p.name.startswith(text)), key=lambda p: p.name)
    if len(matches) == 1:
        return matches[0]
    if matches:
        shown = ", ".join(p.name for p in matches[:6]) + (f" and {len(matches) - 6} more" if len(matches) > 6 else "")
        raise ConfigError(f"'{text}' matches {len(matches)} {noun}s: {shown}; type more of the name")
    raise ConfigError(f"no {noun} named '{text}' under {root}; see {listing} (or pass the {noun}'s folder)")


def resolve_run(arg: str | Path, runs_root: Path | None = None, *, last: str = "started") -> Path:
    """The run directory meant by ``arg``: a path, a run's name, a unique prefix of it, or ``last``.

    A path (absolute, relative, or any argument naming an existing folder) wins over a name; a run's
    ``checkpoint/`` folder means its run. ``last`` is the newest run whose status fits ``last`` (a key
    of :data:`LAST`). An ambiguous prefix, an unknown name or a folder without ``run.toml`` raises
    ``ConfigError`` with one line saying what to type instead.
    """
    text = str(arg).strip()
    root = Path(runs_root) if runs_root is not None else default_runs_root()
    if not text:
        raise ConfigError("no run given; pass a run's name, a unique prefix of it, `last`, or its folder")
    path = Path(text).expanduser()
    if path.is_dir():
        if is_run_dir(path):
            return path
        if is_search_dir(path):
            return _kept_run(path)
        if path.name == "checkpoint" and is_run_dir(path.parent):
            return path.parent
        if looks_like_path(text) or not any(p.name.startswith(text) for p in run_dirs(root)):
            raise ConfigError(f"{path}: not a clinitui run directory (no run.toml); pass a run's folder or its name")
    elif looks_like_path(text):
        raise ConfigError(f"{text}: no such run folder; see `clinitui runs list` for the runs under {root}")
    if not looks_like_path(text) and is_search_dir(root / text):
        return _kept_run(root / text)
    dirs = run_dirs(root)
    if text == "last":
        return _last(dirs, root, last)
    return by_name(text, dirs, root)


def _kept_run(search: Path) -> Path:
    """The run a time-budget search keeps so far (its ``best.json``, clinitui/timebudget/layout.py)."""
    run = best_run(search)
    if run is None or not is_run_dir(run):
        raise ConfigError(f"{search}: this time-budget search has kept no model yet (no candidate has finished); "
                          "wait for its first candidate, or pass one of its trials/ runs")
    return run


def _last(dirs: list[Path], root: Path, last: str) -> Path:
    statuses, what = LAST[last]
    if not dirs:
        raise ConfigError(f"no runs under {root} yet, so no `last` run; start one with `clinitui train`")
    for path in sorted(dirs, key=started_key, reverse=True):
        if statuses is None:
            return path
        if summarize(path).status in statuses and (last != "finished" or has_checkpoint(path)):
            return path
    raise ConfigError(f"`last`: no {what} under {root} (newest: {newest_run(dirs).name}, "
                      f"{summarize(newest_run(dirs)).status}); see `clinitui runs list`")


def has_checkpoint(run: Path) -> bool:
    """Whether the run saved a classifier checkpoint (a pretraining run's product is a backbone)."""
    from clinitui.engine.checkpoint.swap import current  # a crash between the swap's renames leaves <dir>.old

    return (current(Path(run) / "checkpoint") / "config.json").is_file()


def resolve_checkpoint(arg: str | Path, runs_root: Path | None = None) -> Path:
    """The checkpoint folder meant by ``arg``: a checkpoint folder given as a path, or the
    ``checkpoint/`` of a run that *finished* (``last``: the newest finished run with one).

    A checkpoint folder given directly (a run's ``checkpoint/``, or a copy outside any run) is taken
    as it is: loading checks it. A run named explicitly that did not finish (failed, crashed,
    stopped, running) is refused with one line (``ConfigError``, exit 2) saying what to do, and a
    finished run without a checkpoint with ``CheckpointError`` (exit 2).
    """
    from clinitui.engine.checkpoint.swap import current
    from clinitui.errors import CheckpointError

    text = str(arg).strip()
    path = Path(text).expanduser()
    if current(path).is_dir() and not is_run_dir(path) and not is_search_dir(path):
        return path  # a checkpoint folder (inside a run or copied elsewhere): loading checks it
    if not current(path).exists() and looks_like_path(text):
        raise CheckpointError(f"{text}: no such checkpoint folder or run; pass a run's name (see `clinitui runs "
                              f"list`), its folder or its checkpoint/ folder")
    run = resolve_run(arg, runs_root, last="finished")
    summary = summarize(run)
    if summary.status != "finished":
        raise ConfigError(unfinished_line(summary))
    if not has_checkpoint(run):
        raise CheckpointError(f"{run.name}: this run saved no classifier checkpoint (a {summary.kind} run); "
                              f"pick a run that trained a classifier (`clinitui runs list`)")
    return run / "checkpoint"


def unfinished_line(summary: RunSummary) -> str:
    """Why a run that did not finish is not taken for its checkpoint, and what to do instead (one line)."""
    name = summary.name
    anyway = f"or pass {summary.path / 'checkpoint'} to use its checkpoint anyway"
    resume = f"continue it with `clinitui runs resume {name}`, {anyway}"
    why = {
        "running": f"is still running, so its checkpoint is not final; wait for it (`clinitui runs show {name}`), "
                   f"{anyway}",
        "failed": f"failed, so its checkpoint is not a result; see why with `clinitui runs show {name}`, pick a "
                  f"finished run (`clinitui runs list --status finished`), {anyway}",
        "stopped": f"was stopped before it finished, so its checkpoint is not a result; {resume}",
        "crashed": f"crashed before it finished, so its checkpoint is not a result; {resume}",
    }.get(summary.status, "never started, so it has no checkpoint; pick a finished run (`clinitui runs list`)")
    return f"{name}: the run {why}"


def using_line(path: Path) -> str:
    """The line a command prints on stderr after resolving a run argument: the run and its status."""
    path = Path(path)
    run = path if is_run_dir(path) else path.parent if is_run_dir(path.parent) else None
    if run is None:
        return f"using checkpoint {path}"
    return f"using run {run.name} ({summarize(run).status})"
