"""What the search reads from a candidate's run directory (an ordinary run: clinitui/sweep/trial.py starts it)."""

from __future__ import annotations

from pathlib import Path


def worker_pid(path: Path) -> int | None:
    from clinitui.rundir import lock_holder, read_pid

    holder = lock_holder(path)
    return holder if holder and holder > 0 else read_pid(path)


def last_event_t(path: Path, default: float) -> float:
    from clinitui.events import read_events

    events = read_events(path)
    return max([default] + [e["t"] for e in events[-3:]])


def run_config(path: Path):
    """The config a candidate's run directory was started with (its run.toml), or None."""
    from clinitui.config.overrides import from_toml

    toml = Path(path) / "run.toml"
    return from_toml(toml.read_text(encoding="utf-8"), str(toml)) if toml.is_file() else None


def metrics(path: Path) -> dict | None:
    from clinitui.describe import read_metrics

    return read_metrics(path)


def backbone_folder(path: Path) -> str | None:
    """The pretraining run's backbone folder once it has saved one (its first held-out evaluation)."""
    from clinitui.engine.checkpoint.swap import current
    from clinitui.models.pretrained import read_marker

    folder = current(Path(path) / "checkpoint")
    return str(folder.resolve()) if read_marker(folder) is not None else None
