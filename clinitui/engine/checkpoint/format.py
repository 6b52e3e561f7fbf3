"""A checkpoint's ``config.json``: every key it may hold, its one writer, its one reader, its one updater.

Several steps of a run add to the file -- the network or TF-IDF checkpoint writes it
(engine/checkpoint/folder.py), the blend adds ``ensemble`` (engine/tfidf/blend.py), the finishing
path locks ``temperature`` + ``operating_point`` or ``label_thresholds`` (engine/recipes/finish.py),
a seed group writes its own from a member's (engine/recipes/seeds.py) -- and they all go through
here, so the keys are declared once (:class:`CheckpointConfig`). The format and the keys are
those of every checkpoint written so far: old checkpoints load unchanged. Writes are atomic and
private (rundir.write_private).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypedDict

from clinitui import __version__
from clinitui.errors import CheckpointError, RunDirectoryError
from clinitui.kinds import Task

FORMAT = "clinitui-checkpoint"
FORMAT_VERSION = 1
CONFIG = "config.json"
WEIGHTS = "model.safetensors"


class CheckpointConfig(TypedDict, total=False):
    """The keys of ``config.json`` (absent keys: the default said in the comment)."""

    # written with the weights (engine/checkpoint/folder.py)
    format: str  # FORMAT
    format_version: int  # FORMAT_VERSION
    clinitui_version: str
    model: dict  # ModelConfig.model_dump(): backbone, adapter, options...
    freeze: str  # "none", "backbone"...
    label_names: list[str]
    positive_index: int | None  # binary tasks only
    max_length: int  # tokens per note (per window with --long-notes chunk)
    weights_sha256: str  # of model.safetensors
    epoch: int  # the epoch of this best checkpoint
    val_f1_macro: float  # its validation macro-F1
    long_notes: dict  # how notes longer than max_length are read (absent: truncate)
    tfidf: dict  # the `tfidf` backbone: {"sha256": {file: digest}}
    task: str  # Task.MULTILABEL for a multi-label checkpoint (absent: single-label)
    label_sep: str  # multi-label: the separator of labels in a cell
    # added after the weights
    ensemble: dict  # {"name": "tfidf", "weight": w, "path": "tfidf", "sha256": {...}} (engine/tfidf/blend.py)
    temperature: float | None  # fitted on validation (single-label)
    operating_point: dict  # {"rule", "threshold", "chosen_on"} (binary)
    label_thresholds: dict  # {"rule", "thresholds", "chosen_on"} (multi-label)
    members: list[str]  # a seed group: relative paths of the member checkpoints (no weights of its own)


KEYS = frozenset(CheckpointConfig.__annotations__)
# what describes one member's weights and post-processing, not the seed group's average
MEMBER_ONLY = ("weights_sha256", "ensemble", "tfidf", "epoch", "val_f1_macro", "temperature", "operating_point")


def new_config(model: dict, *, freeze: str, label_names: list[str], positive_index: int | None, max_length: int,
               weights_sha256: str, **extra: Any) -> CheckpointConfig:
    """The config of a freshly written checkpoint (keys in the order every checkpoint has them)."""
    cfg: CheckpointConfig = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "clinitui_version": __version__,
        "model": model,
        "freeze": freeze,
        "label_names": label_names,
        "positive_index": positive_index,
        "max_length": max_length,
        "weights_sha256": weights_sha256,
    }
    cfg.update(extra)  # type: ignore[typeddict-item]
    return cfg


def task_keys(dataset) -> dict:
    """The keys that make a checkpoint multi-label (none for a single-label one)."""
    return _multilabel_keys(dataset.label_sep) if dataset.task is Task.MULTILABEL else {}


def _multilabel_keys(label_sep: str) -> dict:
    return {"task": str(Task.MULTILABEL), "label_sep": label_sep}


def operating_point_keys(temperature: float | None, rule: str, threshold: float | None) -> dict:
    """``temperature`` and, for a binary task, ``operating_point``: what validation chose."""
    keys: dict = {"temperature": temperature}
    if threshold is not None:
        keys["operating_point"] = {"rule": rule, "threshold": threshold, "chosen_on": "validation"}
    return keys


def thresholds_keys(thresholds: list[float], rule: str, label_sep: str) -> dict:
    """``task``, ``label_sep`` and ``label_thresholds`` of a multi-label checkpoint, chosen on validation."""
    return {**_multilabel_keys(label_sep),
            "label_thresholds": {"rule": rule, "thresholds": [float(t) for t in thresholds], "chosen_on": "validation"}}


def group_config(member: dict, members: list[str]) -> CheckpointConfig:
    """A seed group's config: the first member's, less what is member-only, plus ``members``."""
    cfg = {k: v for k, v in member.items() if k not in MEMBER_ONLY}
    cfg["members"] = members
    return cfg  # type: ignore[return-value]


def write_config(directory: Path, cfg: CheckpointConfig) -> None:
    """The one writer of ``config.json`` (atomic, 0600); every key must be one of :class:`CheckpointConfig`."""
    _check_keys(cfg)
    _write(directory, cfg)


def _check_keys(keys) -> None:
    unknown = set(keys) - KEYS
    if unknown:
        raise ValueError(f"not a checkpoint config key: {', '.join(sorted(unknown))}")


def _write(directory: Path, cfg: dict) -> None:
    from clinitui.rundir import write_private

    write_private(Path(directory) / CONFIG, json.dumps(cfg, indent=2))


def read_config(directory: Path) -> dict:
    """The one reader: ``config.json`` of ``directory`` parsed and its format checked (CheckpointError)."""
    path = Path(directory) / CONFIG
    if not path.is_file():
        raise CheckpointError(f"{directory}: no {CONFIG}; this is not a clinitui checkpoint (or it is incomplete)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CheckpointError(f"{path}: not valid JSON; the checkpoint is damaged, train again or restore it") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise CheckpointError(f"{directory}: {CONFIG} is not a clinitui checkpoint config (no format '{FORMAT}')")
    if raw.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{directory}: checkpoint format {raw.get('format_version')} is not supported "
                              f"(this clinitui reads {FORMAT_VERSION}); use the clinitui version that wrote it")
    return raw


def update_config(directory: Path, **keys: Any) -> None:
    """Add or replace keys of ``directory/config.json`` atomically; the weights (and their sha256) are untouched."""
    _check_keys(keys)
    path = Path(directory) / CONFIG
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
        cfg.update(keys)
        _write(directory, cfg)  # keys this version does not know, if any, are kept as they are
    except OSError as exc:  # write_private leaves no temp file behind
        raise RunDirectoryError(f"could not update {path} ({exc.strerror or exc}); free disk space") from None
