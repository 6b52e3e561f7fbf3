"""The rows of ``clinitui runs list`` / ``runs show``: stable JSON keys and the cells people read.

Torch-free and Rich-free: the table is drawn by ``clinitui.cli.runs`` (Rich at a terminal, plain
aligned text otherwise) from the cells made here, so both show the same numbers.
"""

from __future__ import annotations

import re
import time
from datetime import datetime

from clinitui.describe import Description
from clinitui.kinds import label as kind_label
from clinitui.runs import RunSummary
from clinitui.fmt import aligned, fmt_bytes, fmt_duration, fmt_metric

# `runs list --json` keys (documented in docs/runs.md; add keys, never rename them)
JSON_KEYS = ("name", "status", "run_dir", "backbone", "adapter", "budget", "data", "epoch", "epochs",
             "best_val_f1", "test_f1", "started", "duration_s", "peak_memory_bytes", "error",
             "kind", "val_mlm_loss", "perplexity", "members", "predicts", "blend_weight", "metric", "figures")
COLUMNS = ("name", "status", "kind", "model", "predicts", "data", "epoch", "val F1", "test F1", "started",
           "duration")
SORTS = {
    "started": lambda r: r.started or 0.0,
    "name": lambda r: r.name,
    "status": lambda r: r.status,
    "val_f1": lambda r: -1.0 if r.best_f1 is None else r.best_f1,
    "test_f1": lambda r: -1.0 if r.test_f1 is None else r.test_f1,
    "duration": lambda r: r.duration_s or 0.0,
}
STATUSES = ("running", "finished", "failed", "stopped", "crashed", "created")


def iso_time(t: float | None) -> str | None:
    """Local time with its UTC offset (``2026-11-29T16:06:20+01:00``): sortable and unambiguous."""
    return None if t is None else datetime.fromtimestamp(t).astimezone().isoformat(timespec="seconds")


def as_json(r: RunSummary) -> dict:
    return {
        "name": r.name, "status": r.status, "run_dir": str(r.path), "backbone": r.backbone,
        "adapter": r.adapter, "budget": r.budget, "data": r.data, "epoch": r.epoch, "epochs": r.epochs,
        "best_val_f1": r.best_f1, "test_f1": r.test_f1, "started": iso_time(r.started),
        "duration_s": None if r.duration_s is None else round(r.duration_s, 1),
        "peak_memory_bytes": r.peak_memory_bytes, "error": r.error,
        "kind": r.kind, "val_mlm_loss": r.mlm_loss, "perplexity": r.perplexity, "members": r.members,
        **description_json(r),
    }


def description_json(r: RunSummary) -> dict:
    """What the checkpoint predicts and each predictor's val/test figure (clinitui/describe.py)."""
    d = r.description if r.kind.classifier else None
    if d is None:
        return {"predicts": None, "blend_weight": None, "metric": None, "figures": None}
    return {"predicts": str(d.predicts), "blend_weight": d.weight, "metric": d.metric,
            "figures": {k: v.as_json() for k, v in d.parts.items()} or None}


def started_cell(t: float | None) -> str:
    """``11-29 16:06`` this year, ``2025-11-29`` before: local time, short enough for a column."""
    if t is None:
        return "-"
    when = datetime.fromtimestamp(t)
    return when.strftime("%m-%d %H:%M") if when.year == datetime.now().year else when.strftime("%Y-%m-%d")


def model_cell(r: RunSummary) -> str:
    """``backbone + adapter`` for what was trained with an adapter; the backbone alone for a
    pretraining run (its product is a backbone) and the TF-IDF model (no network)."""
    if r.adapter in ("", "?", None) or not r.kind.has_adapter:
        return r.backbone
    return f"{r.backbone} + {r.adapter}"


def val_cell(r: RunSummary) -> str:
    """Validation macro-F1, or for a pretraining run its held-out MLM loss (``MLM 4.123``)."""
    if not r.kind.classifier:
        return "-" if r.mlm_loss is None else f"MLM {r.mlm_loss:.3f}"
    return fmt_metric(r.best_f1, 4)


def cells(r: RunSummary) -> list[str]:
    epoch = "-" if r.epoch is None and r.epochs is None else f"{r.epoch or 0}/{r.epochs or '?'}"
    if not r.kind.has_epochs:
        epoch = "-"
    return [r.name, r.status, kind_label(r.kind, r.members), model_cell(r), r.predicts, r.data or "-", epoch, val_cell(r),
            fmt_metric(r.test_f1, 4), started_cell(r.started), fmt_duration(r.duration_s)]


def detail_lines(r: RunSummary) -> list[tuple[str, str]]:
    """``runs show`` for people: one (label, value) per line, ``-`` for what is not known."""
    epoch = "-" if r.epoch is None and r.epochs is None else f"{r.epoch or 0} of {r.epochs or '?'}"
    if not r.kind.has_epochs:
        epoch = "-"
    d = r.description
    scores = [("best val F1", fmt_metric(r.best_f1, 4)), ("test F1", fmt_metric(r.test_f1, 4))]
    if d is not None and d.shipped.test is not None:  # finished: both figures are the shipped predictor's
        scores = [("val F1", f"{fmt_metric(d.shipped.val, 4)} ({d.metric_label})"),
                  ("test F1", f"{fmt_metric(d.shipped.test, 4)} ({d.metric_label})")]
    if not r.kind.classifier:
        scores = [("val MLM loss", fmt_metric(r.mlm_loss, 4)), ("perplexity", fmt_metric(r.perplexity, 2))]
    lines = [("name", r.name), ("folder", str(r.path)), ("status", r.status), ("kind", kind_label(r.kind, r.members)),
             ("model", model_cell(r)), *([("predicts", d.sentence())] if d is not None and r.kind.classifier else []),
             ("budget", r.budget), ("data", r.data or "-"),
             ("epoch", epoch), *scores,
             ("started", "-" if r.started is None else datetime.fromtimestamp(r.started).strftime("%Y-%m-%d %H:%M:%S")),
             ("duration", fmt_duration(r.duration_s)), ("peak memory", fmt_bytes(r.peak_memory_bytes))]
    if r.error:
        lines.append(("error", r.error.splitlines()[-1] if r.error else "-"))
    return lines


def figures_lines(d: Description) -> list[str]:
    """The shipped predictor's validation and test figures, then each part's alone, aligned for reading:
    a blend's figures are never shown beside the network's without saying which is which."""
    if not d.parts:
        return []
    rows = []
    for label, f in d.rows():
        ci = f" [{f.test_ci[0]:.3f}, {f.test_ci[1]:.3f}]" if f.test_ci else ""
        rows.append([label, fmt_metric(f.val, 4), fmt_metric(f.test, 4) + ci])
    lines = aligned(["", f"val {d.metric_label}", f"test {d.metric_label}"], rows)
    return lines + ([f"note: {d.note}"] if d.note else [])


def parse_age(text: str) -> float:
    """``7d`` / ``12h`` / ``30m`` / ``90s`` / ``2w`` → seconds; ``ValueError`` otherwise."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text or "")
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)]


def age_s(r: RunSummary) -> float:
    """Seconds since the run last did something (its end, else its start, else its folder's time)."""
    last = (r.started + r.duration_s) if (r.started and r.duration_s) else r.started
    if last is None:
        try:
            last = (r.path / "run.toml").stat().st_mtime
        except OSError:
            last = time.time()
    return time.time() - last
