"""What a run puts in MLflow and TensorBoard: one mapping from clinitui's records, for both sinks (torch-free).

Live logging (listener.py) and ``runs export`` (export.py) feed the same functions, so a run
exported afterwards looks like one tracked while it ran. Everything here is numbers, names,
digests and paths read from ``events.jsonl``, ``metrics.json`` and the resolved config: never a
note, never a prediction (``predictions.json`` is not read).

* parameters: the resolved config flattened to dotted keys (``train.lr``), its ``tracking``
  section left out (a URI may carry a password);
* per-step metrics: ``train/*`` from ``step`` events (loss, lr, throughput), ``val/*`` from the
  validation ``eval`` events, ``memory/*`` from ``memory`` samples (at the last step seen);
* final metrics from ``metrics.json``: ``test/*`` with ``*_ci_low``/``*_ci_high`` intervals,
  ``operating_point/*``, ``vs_baseline/*``, ``baseline/*``, ``calibration/*``, ``val_best/*``,
  and the run's own numbers under ``run/*``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from clinitui import __version__

# metrics.json sections logged as final metrics, and the prefix they get
FINAL_SECTIONS = {"metrics": "test", "val_metrics": "val_best", "baseline": "baseline",
                  "operating_point": "operating_point", "vs_baseline": "vs_baseline", "calibration": "calibration",
                  "network": "network_test"}
ARTIFACTS = ("checkpoint/config.json", "metrics.json")  # relative to the run directory; numbers and names only
_NAME = re.compile(r"[^A-Za-z0-9_\-. /]")


@dataclass
class Point:
    """One metric value: MLflow's (key, value, step, timestamp) and TensorBoard's (tag, value, step, walltime)."""

    key: str
    value: float
    step: int
    t: float


@dataclass
class Stream:
    """Turns events into :class:`Point` s; remembers the last step (memory samples carry none)."""

    step: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def points(self, event: dict) -> list[Point]:
        kind, t = event.get("type"), float(event.get("t") or 0.0)
        if kind == "step":
            self.step = int(event.get("step") or self.step)
            prefix, skip = "train", ("epoch", "step", "total_steps")
        elif kind == "eval" and event.get("split", "val") == "val":
            self.step = int(event.get("step") or self.step)
            prefix, skip = "val", ("epoch", "step", "n", "split")
        elif kind == "memory":
            prefix, skip = "memory", ()
        else:
            return []
        out = [Point(f"{prefix}/{_clean(k)}", float(v), self.step, t) for k, v in event.items()
               if k not in skip and k not in ("v", "t", "type") and _number(v)]
        for p in out:
            self.counts[p.key] = self.counts.get(p.key, 0) + 1
        return out


def params(config: dict) -> dict[str, Any]:
    """The resolved config as flat ``section.key`` → a number, a flag or text (the ``tracking`` section left out)."""
    out: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict) and node:
            for k, v in node.items():
                walk(v, f"{prefix}.{k}" if prefix else str(k))
        else:
            out[prefix] = node if isinstance(node, (str, int, float, bool)) else json.dumps(node)

    walk({k: v for k, v in (config or {}).items() if k != "tracking"}, "")
    return {k: v[:500] if isinstance(v, str) else v for k, v in out.items()}


def tags(run_dir: Path, started: dict) -> dict[str, str]:
    """Version, kind, digests and the data file's *name* (never a file's content) of the run."""
    from clinitui.kinds import kind_of

    config = started.get("config") or {}
    out = {"clinitui.version": started.get("clinitui_version") or __version__,
           "clinitui.kind": str(kind_of(Path(run_dir), config).value),
           "clinitui.run_name": Path(run_dir).name, "clinitui.run_dir": str(run_dir)}
    for key in ("dataset_digest", "config_digest", "data_source", "split"):
        if started.get(key):
            out[f"clinitui.{key}"] = str(started[key])
    model = config.get("model") or {}
    if model.get("backbone"):
        out["clinitui.model"] = " + ".join(x for x in (model.get("backbone"), model.get("adapter")) if x)
    return out


def final_metrics(payload: dict) -> dict[str, float]:
    """``metrics.json`` as flat numbers: test metrics with their intervals, operating point, vs_baseline ..."""
    out: dict[str, float] = {}
    for section, prefix in FINAL_SECTIONS.items():
        values = payload.get(section)
        if isinstance(values, dict):
            _flat_numbers(values, prefix, out)
    for key, value in payload.items():
        if _number(value):
            out[f"run/{_clean(key)}"] = float(value)
    return out


def final_tags(payload: dict) -> dict[str, str]:
    """The words of ``metrics.json`` worth a tag: the operating rule and the baseline verdict."""
    out = {}
    op, vs = payload.get("operating_point") or {}, payload.get("vs_baseline") or {}
    if isinstance(op, dict) and op.get("rule"):
        out["clinitui.operating_rule"] = str(op["rule"])
    if isinstance(vs, dict) and vs.get("verdict"):
        out["clinitui.vs_baseline"] = str(vs["verdict"])[:500]
    return out


def artifacts(run_dir: Path) -> list[Path]:
    """The run's files attached as artifacts (those that exist)."""
    return [Path(run_dir) / rel for rel in ARTIFACTS if (Path(run_dir) / rel).is_file()]


def _flat_numbers(values: dict, prefix: str, out: dict[str, float]) -> None:
    for key, value in values.items():
        if key in ("per_class", "confusion_matrix", "reliability_before", "reliability_after", "before", "after"):
            continue
        name = f"{prefix}/{_clean(key)}"
        if _number(value):
            out[name] = float(value)
        elif key.endswith("_ci") and isinstance(value, (list, tuple)) and len(value) == 2 and all(map(_number, value)):
            out[f"{prefix}/{_clean(key[:-3])}_ci_low"], out[f"{prefix}/{_clean(key[:-3])}_ci_high"] = map(float, value)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value and abs(value) != float("inf")


def _clean(name: str) -> str:
    """A metric name both MLflow and TensorBoard accept."""
    return _NAME.sub("_", str(name))


def count_points(events: Iterable[dict]) -> dict[str, int]:
    """How many values each metric key gets from ``events`` (what a tracked run's history must hold)."""
    stream = Stream()
    for event in events:
        stream.points(event)
    return stream.counts
