"""Runs also recorded in MLflow and TensorBoard (``--log-to``, ``runs export --to``): a service over the events.

The engine writes ``events.jsonl`` and ``metrics.json`` and knows nothing of this package; the CLI
and the detached worker hand :func:`listeners` to the recipe, and ``runs export`` replays a finished
run through the same mapping (record.py) and sinks (sinks.py). Neither library is imported until a
run asks for it. docs/tracking.md says what is logged and where.
"""

from __future__ import annotations

from pathlib import Path

MLFLOW_FOLDER = "mlflow"  # next to the runs root: mlflow.db and artifacts/
TENSORBOARD_FOLDER = "tensorboard"  # next to the runs root: one sub-folder per run
LOG_TO_HELP = ("Also record the run in mlflow or tensorboard (repeatable; needs the extra of that name); a logging "
               "failure is a warning, never a failed run (docs/tracking.md).")
TRACKING_URI_HELP = ("MLflow store: sqlite:///file.db, a folder, or http(s)://server [default: sqlite "
                     "mlflow/mlflow.db next to the runs root].")


def default_uri(runs_root: Path) -> str:
    """The MLflow store used when no ``--tracking-uri`` is given: a SQLite file next to the runs root."""
    return "sqlite:///" + str((Path(runs_root).expanduser().resolve().parent / MLFLOW_FOLDER / "mlflow.db"))


def default_tensorboard_dir(runs_root: Path) -> Path:
    return Path(runs_root).expanduser().resolve().parent / TENSORBOARD_FOLDER


def resolve(config, runs_root: Path):
    """``config`` with the tracking locations filled in (so run.toml, and a detached worker, hold them)."""
    t = resolve_tracking(config.tracking, runs_root)
    return config if t is config.tracking else config.model_copy(update={"tracking": t})


def resolve_tracking(t, runs_root: Path):
    """The TrackingConfig ``t`` with its default locations (next to ``runs_root``) made explicit."""
    if not t.log_to:
        return t
    update = {}
    if "mlflow" in t.log_to and not t.uri:
        update["uri"] = default_uri(runs_root)
    if "tensorboard" in t.log_to and not t.tensorboard_dir:
        update["tensorboard_dir"] = str(default_tensorboard_dir(runs_root))
    if t.uri and "://" not in t.uri:  # a folder: absolute, so a worker started elsewhere finds the same one
        update["uri"] = str(Path(t.uri).expanduser().resolve())
    return t.model_copy(update=update) if update else t


def with_options(sets: list[str], log_to: list[str] | None, uri: str | None) -> list[str]:
    """``--log-to`` / ``--tracking-uri`` as the ``--set tracking.*`` assignments they stand for."""
    out = list(sets)
    if log_to:
        out.append("tracking.log_to=" + ",".join(dict.fromkeys(log_to)))
    if uri:
        out.append(f"tracking.uri={uri}")
    return out


def listeners(config, run_dir: Path) -> list:
    """The event listeners that record the run in ``run_dir`` where ``config.tracking`` says (none: [])."""
    t = config.tracking
    if not t.log_to:
        return []
    from clinitui.tracking.listener import Tracker

    return [Tracker(run_dir, lambda where: make_sinks(t, where), report=t.report)]


def make_sinks(t, run_dir: Path) -> list:
    """The sinks ``t.log_to`` names (importing their library; ConfigError when it is missing)."""
    from clinitui.tracking.sinks import MlflowSink, TensorBoardSink

    run_dir = Path(run_dir)
    root = run_dir.parent
    sinks = []
    for name in t.log_to:
        if name == "mlflow":
            sinks.append(MlflowSink(t.uri or default_uri(root), t.experiment))
        else:
            sinks.append(TensorBoardSink(tensorboard_logdir(t, run_dir)))
    return sinks


def tensorboard_logdir(t, run_dir: Path) -> Path:
    """``<log dir>/<run name>``; a sweep trial's is ``<log dir>/<sweep>/<trial>`` (the sweep's runs side by side)."""
    from clinitui.kinds import is_seed_group
    from clinitui.sweep.journal import TRIALS_DIR

    run_dir = Path(run_dir)
    base = Path(t.tensorboard_dir) if t.tensorboard_dir else default_tensorboard_dir(run_dir.parent)
    if run_dir.parent.name == TRIALS_DIR:
        return base / run_dir.parent.parent.name / run_dir.name
    if is_seed_group(run_dir.parent):
        return base / run_dir.parent.name / run_dir.name
    return base / run_dir.name


def where(run_dir: Path) -> str | None:
    """One line saying where the run is tracked (from ``<run>/tracking.json``), or None."""
    from clinitui.tracking.listener import read_state

    state = read_state(run_dir)
    parts = []
    if state.get("mlflow"):
        m = state["mlflow"]
        parts.append(f"MLflow {m.get('uri')} (experiment {m.get('experiment')}, run {str(m.get('run_id'))[:12]})")
    if state.get("tensorboard"):
        parts.append(f"TensorBoard {state['tensorboard'].get('logdir')}")
    return "; ".join(parts) or None
