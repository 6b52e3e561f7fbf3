"""The sweep directory and its append-only journal ``sweep.jsonl`` (torch-free).

The journal records the scheduler's decisions (a trial queued, started, refused by the planner,
pruned, failed, finished; the sweep started, stopped, finished). It is written with the run
directories' own event writer (one flushed JSON line per event, never rewritten), so a reader
tolerates a half-written last line, and several processes -- the local scheduler, or Ray trial
actors on a shared file system -- can append to it. What a trial *measured* is never copied into
the journal: it is read from the trial's run directory, the single source of truth.
"""

from __future__ import annotations

from pathlib import Path

from clinitui.errors import ConfigError
from clinitui.events import EventWriter, parse_lines
from clinitui.rundir import new_private_dir

SPEC_FILE = "sweep.toml"
JOURNAL_FILE = "sweep.jsonl"
TRIALS_DIR = "trials"
BASELINE_FILE = "baseline.json"
PID_FILE = "scheduler.pid"
LOG_FILE = "scheduler.log"
FINAL = ("trial_finished", "trial_failed", "trial_refused", "trial_pruned")
STATUS_OF = {"trial_finished": "finished", "trial_failed": "failed", "trial_refused": "refused",
             "trial_pruned": "pruned"}


def default_sweeps_root() -> Path:
    """Sweeps live beside runs: ``<runs root>/../sweeps`` unless ``--sweeps-root`` says otherwise."""
    from clinitui.runs import default_runs_root

    return default_runs_root().parent / "sweeps"


def new_sweep_dir(root: Path, explicit: Path | None = None) -> Path:
    """A fresh private (0700) sweep directory: ``explicit`` (must be new or empty) or a dated one under ``root``."""
    return new_private_dir(root, explicit, "sweep", inner=TRIALS_DIR,
                           taken=f"choose a new --sweep-dir, or continue it with `clinitui sweep --resume {explicit}`",
                           unwritable="choose a writable --sweep-dir")


def resolve_sweep(arg: str | Path, sweeps_root: Path | None = None) -> Path:
    """The sweep directory meant by ``arg``: its folder, its name under the sweeps root, a unique
    prefix of it, or ``last`` (the newest), matched as run names are (clinitui/runs.py)."""
    from clinitui.names import by_name, looks_like_path

    text = str(arg).strip()
    path = Path(text).expanduser()
    if not ((path / SPEC_FILE).is_file() or looks_like_path(text)):
        root = Path(sweeps_root) if sweeps_root is not None else default_sweeps_root()
        try:
            dirs = [p for p in root.iterdir() if (p / SPEC_FILE).is_file()]
        except OSError:
            dirs = []
        if text == "last" and not dirs:
            raise ConfigError(f"no sweeps under {root} yet, so no `last` sweep; start one with `clinitui sweep`")
        path = (max(dirs, key=lambda p: ((p / SPEC_FILE).stat().st_mtime, p.name)) if text == "last" else
                by_name(text, dirs, root, noun="sweep", listing=f"the folders under {root}"))
    read_spec(path)  # a folder that is not a sweep: one line saying so
    return path


def write_spec(path: Path, doc: dict) -> None:
    import tomli_w

    from clinitui.rundir import write_private

    header = "# The resolved sweep spec (written before the first trial; `clinitui sweep --resume` reads it).\n"
    write_private(path / SPEC_FILE, header + tomli_w.dumps(doc))


def read_spec(path: Path):
    """The spec stored in a sweep directory; ConfigError if ``path`` is not one."""
    from clinitui.sweep.spec import load_file

    if not (Path(path) / SPEC_FILE).is_file():
        raise ConfigError(f"{path}: not a clinitui sweep directory (no {SPEC_FILE}); pass the folder `clinitui sweep` made")
    return load_file(Path(path) / SPEC_FILE)


class Journal:
    """Appends decisions to ``sweep.jsonl``; each line is flushed before the call returns."""

    def __init__(self, path: Path) -> None:
        self._writer = EventWriter(Path(path) / JOURNAL_FILE)

    def record(self, type: str, **fields) -> dict:
        return self._writer.emit(type, **fields)

    def close(self) -> None:
        self._writer.close()


def read_journal(path: Path) -> list[dict]:
    file = Path(path) / JOURNAL_FILE
    if not file.exists():
        return []
    return parse_lines(file.read_text(encoding="utf-8", errors="replace"))


def trial_records(events: list[dict]) -> dict[str, dict]:
    """Per trial (in queue order): settings, seed, the latest decision, and its reason if any."""
    trials: dict[str, dict] = {}
    for e in events:
        name = e.get("name")
        if not e["type"].startswith("trial_") or not name:
            continue
        rec = trials.setdefault(name, {"name": name, "status": "queued", "settings": {}, "seed": None,
                                       "error": None, "number": None})
        if e["type"] == "trial_queued":
            rec.update(settings=e.get("settings", {}), seed=e.get("seed"), number=e.get("number"))
        elif e["type"] == "trial_started":
            rec.update(status="running", error=None)
        elif e["type"] in FINAL:
            rec.update(status=STATUS_OF[e["type"]], error=e.get("error"))
    return trials


def sweep_status(path: Path, events: list[dict] | None = None) -> str:
    """running (its scheduler holds the lock), finished, stopped, or interrupted (resume it)."""
    from clinitui.rundir import lock_holder

    events = read_journal(path) if events is None else events
    if lock_holder(Path(path)) is not None:
        return "running"
    last_start = max((i for i, e in enumerate(events) if e["type"] == "sweep_started"), default=-1)
    for e in reversed(events[last_start + 1:]):
        if e["type"] == "sweep_finished":
            return "finished"
        if e["type"] == "sweep_stopped":
            return "stopped"
    return "interrupted" if last_start >= 0 else "created"
