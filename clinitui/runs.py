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

from clinitui.describe import Description, describe_run
from clinitui.errors import RunDirectoryError
from clinitui.events import FINAL_TYPES, read_events
from clinitui.kinds import SEEDS_FILE, RunKind, data_label, is_seed_group, kind_of, seed_members
from clinitui.rundir import lock_holder, pid_alive, read_pid
from clinitui.timebudget.layout import is_search_dir

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
    members: int | None = None  # a seeds group: how many seed runs; a time-budget search: candidates tried
    # what the run's checkpoint predicts and the figures of each predictor (clinitui/describe.py); once it
    # is known, best_f1 and test_f1 are the shipped predictor's, under its task's headline metric
    description: Description | None = None

    def __post_init__(self) -> None:
        self.kind = RunKind(self.kind)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def predicts(self) -> str:
        """The runs tables' ``predicts`` cell (``network``, ``blend 0.30``, ``tfidf``, …); ``-`` before a checkpoint."""
        return "-" if self.description is None or not self.kind.classifier else self.description.cell()

    def as_dict(self) -> dict:
        d = self.__dict__.copy()
        d["path"] = str(self.path)
        d["description"] = None if self.description is None else self.description.as_json()
        return d


def _with_description(summary: RunSummary) -> RunSummary:
    """Attach what the run's checkpoint predicts; a finished run's val and test F1 become the shipped
    predictor's (a blend's validation figure is the blend's, not the network's best epoch)."""
    if not summary.kind.classifier:
        return summary
    summary.description = describe_run(summary.path)
    shipped = summary.description.shipped if summary.description else None
    if shipped is not None and shipped.test is not None:
        summary.best_f1, summary.test_f1 = shipped.val, shipped.test
    return summary


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
    return _with_description(RunSummary(run_dir, status, model.get("backbone", "?"), model.get("adapter", "?"),
                      cfg.get("budget", {}).get("name", "?"), best, t0,
                      (last_t - t0) if (t0 and last_t) else None, peak, error,
                      data=data_label(started or {}), epoch=epoch,
                      epochs=cfg.get("train", {}).get("epochs"), test_f1=test_f1, kind=kind_of(run_dir, cfg),
                      mlm_loss=(mlm or {}).get("mlm_loss"), perplexity=(mlm or {}).get("perplexity")))


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
    runs += [summarize_search(p) for p in sorted(root.iterdir()) if p.is_dir() and is_search_dir(p)]
    return sorted(runs, key=lambda r: r.started or 0, reverse=True)


def summarize_search(search: Path) -> RunSummary:
    """One row for a ``train --time-budget`` search: the run it keeps so far (its model, figures and what it
    predicts), the search's own status, start and time spent, and how many candidates it has tried.

    Running while the search process holds the folder's lock; otherwise the status its table last
    recorded, and a search whose process died mid-way is ``stopped`` (``train --resume`` continues it)."""
    from clinitui.timebudget import layout as L

    search = Path(search)
    table = L.read_table(search) or {}
    kept = L.best_run(search)
    row = summarize(kept) if kept is not None and (kept / "run.toml").is_file() else None
    error = None
    if lock_holder(search) is not None:
        status = "running"
    elif table.get("status") in ("finished", "stopped"):
        status = table["status"]
    else:
        status, error = "stopped", f"interrupted; continue it with `clinitui train --resume {search}`"
    tried = [p for p in (search / L.TRIALS_DIR).iterdir() if p.is_dir()] if (search / L.TRIALS_DIR).is_dir() else []
    try:
        started = (search / L.SPEC_FILE).stat().st_mtime  # written when the search was created
    except OSError:
        started = None
    out = RunSummary(search, status, row.backbone if row else "?", row.adapter if row else "?",
                     row.budget if row else "?", row.best_f1 if row else None, started, L.spent(search) or None,
                     row.peak_memory_bytes if row else None, error or (row.error if row else None),
                     data=row.data if row else None, test_f1=row.test_f1 if row else None, kind=RunKind.SEARCH,
                     members=len(tried))
    out.description = row.description if row else None
    return out


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

    return _with_description(RunSummary(
        group, status, first.backbone, first.adapter, first.budget,
        score("val_metrics") if payload else (sum(vals) / len(vals) if vals else None),
        min(starts) if starts else None, (max(ends) - min(starts)) if starts and ends else None,
        max(peaks) if peaks else None, next((r.error for r in runs if r.error), None), data=first.data,
        test_f1=score("metrics"), kind=RunKind.SEEDS, members=len(runs)))

def is_run_dir(path: Path) -> bool:
    """A run directory (``run.toml``) or a ``train --seeds`` group of them (clinitui/kinds.py)."""
    return (Path(path) / "run.toml").is_file() or is_seed_group(path)


def run_dirs(root: Path) -> list[Path]:
    try:
        return [p for p in Path(root).iterdir() if p.is_dir() and is_run_dir(p)]
    except OSError:
        return []
