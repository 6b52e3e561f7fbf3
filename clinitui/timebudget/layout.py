"""The time-budget search directory: its files, read and written here only (torch-free).

``clinitui train --time-budget 30m`` makes a directory shaped like a sweep's
(docs/time-budget.md)::

    <search>/base.toml      the run config every candidate starts from (run.toml's format)
    <search>/search.json    the budget in seconds, the unlabeled files, the pretraining text file
    <search>/search.jsonl   append-only journal: candidates started, finished, stopped, skipped
    <search>/clock.json     seconds the search has run so far (over every session; resume adds to it)
    <search>/best.json      the candidate kept so far and why (rewritten atomically after each candidate)
    <search>/budget.json    the one table: every candidate's validation score, interval, time, status
    <search>/trials/<name>/ the candidates: ordinary run directories

``runs.resolve_run`` reads ``best.json`` so ``eval``, ``predict``, ``report`` and ``export`` take the
search directory itself and use the model it keeps.
"""

from __future__ import annotations

import json
from pathlib import Path

from clinitui.errors import ConfigError
from clinitui.rundir import new_private_dir

SPEC_FILE = "search.json"
BASE_FILE = "base.toml"
JOURNAL_FILE = "search.jsonl"
CLOCK_FILE = "clock.json"
BEST_FILE = "best.json"
TABLE_FILE = "budget.json"
LOG_FILE = "search.log"
TRIALS_DIR = "trials"


def is_search_dir(path: Path) -> bool:
    return (Path(path) / SPEC_FILE).is_file() and (Path(path) / BASE_FILE).is_file()


def new_search_dir(root: Path, explicit: Path | None = None) -> Path:
    """A fresh private (0700) directory: ``explicit`` (new or empty) or ``<root>/<stamp>-time-budget``."""
    return new_private_dir(root, explicit, "time-budget", inner=TRIALS_DIR,
                           taken=("choose a new --run-dir, or continue the search in it with "
                                  f"`clinitui train --resume {explicit}`"),
                           unwritable="choose a writable --runs-root")


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_json(path: Path, doc: dict) -> None:
    from clinitui.rundir import write_private

    write_private(path, json.dumps(doc, indent=2) + "\n")


def write_spec(path: Path, base_toml: str, spec: dict) -> None:
    from clinitui.rundir import write_private

    write_private(Path(path) / BASE_FILE, base_toml)
    _write_json(Path(path) / SPEC_FILE, spec)


def read_spec(path: Path) -> dict:
    """``search.json`` of a search directory; ConfigError (exit 2) if ``path`` is not one."""
    spec = _read_json(Path(path) / SPEC_FILE) if is_search_dir(path) else None
    if spec is None:
        raise ConfigError(f"{path}: not a clinitui time-budget search (no {SPEC_FILE}); pass the folder "
                          "`clinitui train --time-budget` made")
    return spec


def update_budget(path: Path, budget_s: float) -> None:
    """A resumed search given ``--time-budget`` again: the new total replaces the old one."""
    spec = read_spec(path)
    spec["budget_s"] = float(budget_s)
    _write_json(Path(path) / SPEC_FILE, spec)


def read_base_toml(path: Path) -> str:
    return (Path(path) / BASE_FILE).read_text(encoding="utf-8")


def spent(path: Path) -> float:
    """Seconds the search has run in earlier sessions (its clock, saved every few seconds)."""
    return float((_read_json(Path(path) / CLOCK_FILE) or {}).get("spent_s", 0.0))


def save_clock(path: Path, spent_s: float) -> None:
    _write_json(Path(path) / CLOCK_FILE, {"spent_s": round(spent_s, 2)})


def read_best(path: Path) -> dict | None:
    """What ``best.json`` says: ``name``, ``run_dir`` (relative to the search), score and reason; or None."""
    return _read_json(Path(path) / BEST_FILE)


def write_best(path: Path, doc: dict) -> None:
    _write_json(Path(path) / BEST_FILE, doc)


def best_run(path: Path) -> Path | None:
    """The run directory the search keeps so far (None before its first candidate finished)."""
    best = read_best(path)
    if not best or not best.get("run_dir"):
        return None
    return Path(path) / best["run_dir"]


def write_table(path: Path, doc: dict) -> None:
    _write_json(Path(path) / TABLE_FILE, doc)


def read_table(path: Path) -> dict | None:
    return _read_json(Path(path) / TABLE_FILE)
