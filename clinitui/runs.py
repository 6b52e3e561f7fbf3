"""Run directories: create them privately, find them, and tell their status (torch-free).

The run directory is the contract between the worker and the front ends (docs/run-directory.md).
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from clinitui.errors import RunDirectoryError
from clinitui.events import FINAL_TYPES, read_events
from clinitui.kinds import SEEDS_FILE, RunKind, data_label, is_seed_group, kind_of, seed_members
from clinitui.rundir import lock_holder, pid_alive, read_pid
from clinitui.timebudget.layout import best_run, is_search_dir

HEARTBEAT_STALE_S = 30.0


def default_runs_root() -> Path:
    """``$CLINITUI_RUNS_ROOT``, else ``$XDG_DATA_HOME/clinitui/runs`` (``~/.local/share/clinitui/runs``)."""
    env = os.environ.get("CLINITUI_RUNS_ROOT")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "clinitui" / "runs"


def _slug(text: str) -> str:
    name = Path(text).name if ("/" in text or os.sep in text) else text
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")[:40] or "model"


def new_run_dir(runs_root: Path, backbone: str, adapter: str, explicit: Path | None = None) -> Path:
    """Create a fresh, private (0700) run directory and return it.

    ``explicit`` (``--run-dir``) must not exist yet or be empty; otherwise the name is
    ``<YYYYmmdd-HHMMSS>-<backbone>-<adapter>`` under ``runs_root``, suffixed if taken.
    """
    try:
        if explicit is not None:
            path = Path(explicit)
            if path.exists() and any(path.iterdir()):
                holder = lock_holder(path)
                if holder is not None:
                    from clinitui.errors import RunBusyError

                    raise RunBusyError(f"{path}: in use by process {holder}; wait for it or choose another --run-dir")
                raise RunDirectoryError(f"{path}: already exists and is not empty; choose a new --run-dir, "
                                        f"or continue it with `clinitui train --resume {path}`")
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(path, 0o700)
            return path
        runs_root = Path(runs_root)
        runs_root.mkdir(parents=True, exist_ok=True, mode=0o700)
        stem = f"{datetime.now():%Y%m%d-%H%M%S}-{_slug(backbone)}-{_slug(adapter)}"
        for n in range(1000):
            path = runs_root / (stem if n == 0 else f"{stem}-{n}")
            try:
                path.mkdir(mode=0o700)  # atomic: two runs never share a directory
            except FileExistsError:
                continue
            os.chmod(path, 0o700)  # regardless of umask
            return path
    except PermissionError:
        raise RunDirectoryError(f"{runs_root}: permission denied; choose a writable --runs-root") from None
    except OSError as exc:
        raise RunDirectoryError(f"cannot create a run directory under {runs_root} ({exc.strerror})") from None
    raise RunDirectoryError(f"{runs_root}: too many runs started this second; try again")


@dataclass
class RunSummary:
    path: Path
    status: str  # running | finished | failed | stopped | crashed | created
    backbone: str
    adapter: str
    budget: str
    best_f1: float | None
    started: float | None
    duration_s: float | None
    peak_memory_bytes: int | None
    error: str | None
    data: str | None = None  # the data file's name ("demo" for the built-in corpus)
    epoch: int | None = None  # the last epoch reached (1-based)
    epochs: int | None = None  # epochs planned (train.epochs)
    test_f1: float | None = None  # macro-F1 of the best checkpoint on the test split
    kind: RunKind = RunKind.TRAIN  # train | pretrain | tfidf | seeds | trial | seed (clinitui/kinds.py)
    mlm_loss: float | None = None  # pretraining: the latest held-out MLM loss (its figure instead of F1)
    perplexity: float | None = None  # pretraining: exp(mlm_loss)
    members: int | None = None  # a seeds group: how many seed runs

    def __post_init__(self) -> None:
        self.kind = RunKind(self.kind)

    @property
    def name(self) -> str:
        return self.path.name

    def as_dict(self) -> dict:
        d = self.__dict__.copy()
        d["path"] = str(self.path)
        return d


def summarize(run_dir: Path, events: list[dict] | None = None) -> RunSummary:
    run_dir = Path(run_dir)
    if events is None and is_seed_group(run_dir):  # `train --seeds N`: one row for the group
        return summarize_seed_group(run_dir)
    events = read_events(run_dir) if events is None else events
    started = next((e for e in events if e["type"] == "run_started"), None)
    # a resumed run starts again: only a final event after the latest start counts
    last_start = max((i for i, e in enumerate(events) if e["type"] == "run_started"), default=-1)
    final = next((e for e in reversed(events[last_start + 1:]) if e["type"] in FINAL_TYPES), None)
    if last_start == -1:  # failed before it started (bad input found by a detached worker)
        final = next((e for e in reversed(events) if e["type"] in FINAL_TYPES), None)
    cfg = (started or {}).get("config", {})
    model = cfg.get("model", {})
    best = test_f1 = epoch = None
    peak = mlm = None
    for e in events:
        if e["type"] == "eval" and e.get("mlm_loss") is not None:
            mlm = e  # pretraining: its latest held-out MLM loss is what the backbone folder holds
        if e["type"] in ("step", "eval", "heartbeat") and isinstance(e.get("epoch"), int):
            epoch = max(epoch or 0, e["epoch"])
        if e["type"] == "eval" and e.get("split") == "test" and e.get("f1_macro") is not None:
            test_f1 = e["f1_macro"]
        if e["type"] == "eval" and e.get("split") == "val" and e.get("f1_macro") is not None:
            best = max(best or 0.0, e["f1_macro"])
        if e["type"] == "memory":
            value = e.get("nvml_process_bytes") or e.get("torch_peak_bytes") or e.get("host_rss_bytes")
            if value:
                peak = max(peak or 0, value)
    t0 = started["t"] if started else None
    last_t = events[-1]["t"] if events else None
    error = None
    if lock_holder(run_dir) is not None:
        status = "running"
    elif final is not None:
        status = {"run_finished": "finished", "run_failed": "failed", "stopped": "stopped"}[final["type"]]
        error = final.get("message") if final["type"] == "run_failed" else None
    else:
        pid = read_pid(run_dir)
        fresh = last_t is not None and time.time() - last_t < HEARTBEAT_STALE_S
        if pid is not None and pid_alive(pid) and (fresh or not events):
            status = "running"
        elif started is None and pid is None:
            status = "created"
        else:
            status = "crashed"
            error = log_tail(run_dir)
    return RunSummary(run_dir, status, model.get("backbone", "?"), model.get("adapter", "?"),
                      cfg.get("budget", {}).get("name", "?"), best, t0,
                      (last_t - t0) if (t0 and last_t) else None, peak, error,
                      data=data_label(started or {}), epoch=epoch,
                      epochs=cfg.get("train", {}).get("epochs"), test_f1=test_f1, kind=kind_of(run_dir, cfg),
                      mlm_loss=(mlm or {}).get("mlm_loss"), perplexity=(mlm or {}).get("perplexity"))


def log_tail(run_dir: Path, lines: int = 5) -> str | None:
    try:
        text = (Path(run_dir) / "worker.log").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    tail = [l for l in text.splitlines() if l.strip()][-lines:]
    return "\n".join(tail) or None


def list_runs(runs_root: Path) -> list[RunSummary]:
    root = Path(runs_root)
    if not root.is_dir():
        return []
    runs = [summarize(p) for p in sorted(root.iterdir()) if p.is_dir() and is_run_dir(p)]
    return sorted(runs, key=lambda r: r.started or 0, reverse=True)


def summarize_seed_group(group: Path) -> RunSummary:
    """One row for a seeds group: its members' status, the seed-averaged checkpoint's scores.

    Running while ``train --seeds`` holds the group's lock or a member runs; finished once
    ``seeds.json`` is written; otherwise the first
    member that did not finish says why (a group whose members all finished but has no
    ``seeds.json`` was interrupted between runs: crashed).
    """
    group = Path(group)
    runs = [summarize(m) for m in seed_members(group)]
    try:
        payload = json.loads((group / SEEDS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        payload = None
    from clinitui.rundir import lock_holder

    if lock_holder(group) is not None or any(r.status == "running" for r in runs):
        status = "running"  # `train --seeds` holds the group's lock from its first seed to seeds.json
    elif payload is not None:
        status = "finished"
    else:
        status = next((r.status for r in runs if r.status != "finished"), "crashed")
    first = runs[0]
    starts = [r.started for r in runs if r.started]
    ends = [r.started + r.duration_s for r in runs if r.started and r.duration_s]
    peaks = [r.peak_memory_bytes for r in runs if r.peak_memory_bytes]
    vals = [r.best_f1 for r in runs if r.best_f1 is not None]

    def score(key: str) -> float | None:
        return ((payload or {}).get(key) or {}).get("f1_macro")

    return RunSummary(
        group, status, first.backbone, first.adapter, first.budget,
        score("val_metrics") if payload else (sum(vals) / len(vals) if vals else None),
        min(starts) if starts else None, (max(ends) - min(starts)) if starts and ends else None,
        max(peaks) if peaks else None, next((r.error for r in runs if r.error), None), data=first.data,
        test_f1=score("metrics"), kind=RunKind.SEEDS, members=len(runs))


def read_metrics(run_dir: Path) -> dict | None:
    """``metrics.json`` of a run; for a ``train --seeds`` group, its ``seeds.json`` (same ``metrics`` key)."""
    for name in ("metrics.json", "seeds.json"):
        try:
            return json.loads((Path(run_dir) / name).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
    return None


# ---- runs by name ---------------------------------------------------------------------------------
def is_run_dir(path: Path) -> bool:
    """A run directory (``run.toml``) or a ``train --seeds`` group of them (clinitui/kinds.py)."""
    return (Path(path) / "run.toml").is_file() or is_seed_group(path)


def run_dirs(root: Path) -> list[Path]:
    try:
        return [p for p in Path(root).iterdir() if p.is_dir() and is_run_dir(p)]
    except OSError:
        return []


def newest_run(dirs: list[Path]) -> Path:
    """The run started last: by ``run.toml``'s time (written before training), then by name."""
    def key(p: Path) -> tuple[float, str]:
        try:
            return (p.joinpath("run.toml").stat().st_mtime, p.name)
        except OSError:
            return (0.0, p.name)

    return max(dirs, key=key)


def resolve_run(arg: str | Path, runs_root: Path | None = None) -> Path:
    """The run directory meant by ``arg``: a path, a run's name, a unique prefix of it, or ``last``.

    A path (absolute, relative, or any argument naming an existing folder) wins over a name. An
    ambiguous prefix, an unknown name or a folder without ``run.toml`` raises ``ConfigError`` with
    one line saying what to type instead (the candidates, or ``clinitui runs list``).
    """
    from clinitui.errors import ConfigError

    text = str(arg).strip()
    root = Path(runs_root) if runs_root is not None else default_runs_root()
    if not text:
        raise ConfigError("no run given; pass a run's name, a unique prefix of it, `last`, or its folder")
    path = Path(text).expanduser()
    looks_like_path = "/" in text or os.sep in text or text.startswith(("~", "."))
    if path.is_dir():
        if is_run_dir(path):
            return path
        if is_search_dir(path):
            return _kept_run(path)
        if path.name == "checkpoint" and (path.parent / "run.toml").is_file():
            return path.parent
        if looks_like_path or not any(p.name.startswith(text) for p in run_dirs(root)):
            raise ConfigError(f"{path}: not a clinitui run directory (no run.toml); pass a run's folder or its name")
    elif looks_like_path:
        raise ConfigError(f"{text}: no such run folder; see `clinitui runs list` for the runs under {root}")
    if not looks_like_path and is_search_dir(root / text):
        return _kept_run(root / text)
    dirs = run_dirs(root)
    if text == "last":
        if not dirs:
            raise ConfigError(f"no runs under {root} yet, so no `last` run; start one with `clinitui train`")
        return newest_run(dirs)
    exact = [p for p in dirs if p.name == text]
    if exact:
        return exact[0]
    matches = sorted((p for p in dirs if p.name.startswith(text)), key=lambda p: p.name)
    if len(matches) == 1:
        return matches[0]
    if matches:
        shown = ", ".join(p.name for p in matches[:6]) + (f" and {len(matches) - 6} more" if len(matches) > 6 else "")
        raise ConfigError(f"'{text}' matches {len(matches)} runs: {shown}; type more of the name")
    raise ConfigError(f"no run named '{text}' under {root}; see `clinitui runs list` (or pass the run's folder)")


def _kept_run(search: Path) -> Path:
    """The run a time-budget search keeps so far (its ``best.json``, clinitui/timebudget/layout.py)."""
    from clinitui.errors import ConfigError

    run = best_run(search)
    if run is None or not is_run_dir(run):
        raise ConfigError(f"{search}: this time-budget search has kept no model yet (no candidate has finished); "
                          "wait for its first candidate, or pass one of its trials/ runs")
    return run


def resolve_checkpoint(arg: str | Path, runs_root: Path | None = None) -> Path:
    """The checkpoint folder meant by ``arg``: a checkpoint folder, or any run ``resolve_run`` accepts.

    A run gives its ``checkpoint/``; a run that never saved one is refused with one line.
    """
    from clinitui.engine.checkpoint.swap import current  # a crash between the swap's renames leaves <dir>.old
    from clinitui.errors import CheckpointError

    text = str(arg).strip()
    path = Path(text).expanduser()
    if current(path).exists() and not (path / "run.toml").is_file() and not is_search_dir(path):
        return path  # a checkpoint folder (inside a run or copied elsewhere): loading checks it
    if not current(path).exists() and ("/" in text or os.sep in text or text.startswith(("~", "."))):
        raise CheckpointError(f"{text}: no such checkpoint folder or run; pass a run's name (see `clinitui runs "
                              f"list`), its folder or its checkpoint/ folder")
    run = resolve_run(arg, runs_root)
    ckpt = run / "checkpoint"
    if not (current(ckpt) / "config.json").is_file():
        raise CheckpointError(f"{run.name}: this run has no saved checkpoint yet (it saves one at its first "
                              f"validation); pick a run that finished an epoch")
    return ckpt
