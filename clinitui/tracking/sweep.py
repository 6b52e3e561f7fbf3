"""A sweep in MLflow: one parent run for the sweep, its trials nested under it (``mlflow.parentRunId``).

The scheduler opens the parent when the sweep starts and closes it when the sweep ends; the trials,
ordinary runs in ``<sweep>/trials/<name>/``, find its id in the sweep's ``tracking.json``
(listener.sweep_parent). A failure here is one line on the scheduler's stderr: the trials are
still recorded, only without a parent.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from clinitui.tracking.listener import read_state, write_state


def _tracking(spec):
    """The TrackingConfig every trial of ``spec`` gets (its base ``--set tracking.*``)."""
    from clinitui.config.schema import TrackingConfig

    sets = {k.split(".", 1)[1]: v for k, v in (spec.base.get("set") or {}).items() if k.startswith("tracking.")}
    return TrackingConfig(**sets)


@contextmanager
def sweep_parent(sweep_dir: Path, spec) -> Iterator[None]:
    """Hold the sweep's parent MLflow run open while the body runs the sweep (nothing without mlflow)."""
    sweep_dir = Path(sweep_dir)
    t = _tracking(spec)
    sink = None
    if "mlflow" in t.log_to and t.uri:
        try:
            from clinitui.tracking.sinks import MlflowSink

            sink = MlflowSink(t.uri, t.experiment)
            params = {"sweep.mode": spec.mode, "sweep.seeds": str(spec.seeds),
                      **{f"grid.{k}": str(v) for k, v in spec.grid.items()}}
            state = read_state(sweep_dir)
            where = sink.start(sweep_dir.name, params, {"clinitui.kind": "sweep", "clinitui.sweep_dir": str(sweep_dir)},
                               state.get("mlflow") or {}, None)
            write_state(sweep_dir, {**state, "mlflow": where})
        except Exception as exc:  # noqa: BLE001 -- the sweep runs anyway; its trials are tracked without a parent
            sink = None
            sys.stderr.write(f"clinitui: warning: mlflow tracking of the sweep off ({type(exc).__name__}: "
                             f"{' '.join(str(exc).split())[:200]})\n")
    status = "FAILED"
    try:
        yield
        status = "FINISHED"
    finally:
        if sink is not None:
            try:
                sink.client.set_terminated(sink.run_id, status=status)
            except Exception:  # noqa: BLE001
                pass
