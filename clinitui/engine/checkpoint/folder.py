"""Checkpoints: ``model.safetensors`` + ``config.json`` + tokenizer files, written atomically.

A checkpoint is written to ``checkpoint.new/``, fsynced, then swapped in by renames, so a kill
at any moment leaves either the previous or the new checkpoint complete. Loading never
unpickles: weights come from safetensors only, and their SHA-256 is checked against config.json.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from clinitui import __version__
from clinitui.config.schema import ModelConfig
from clinitui.digest import sha256_file  # noqa: F401  (re-exported: callers import it from here)
from clinitui.errors import CheckpointError, RunDirectoryError

FORMAT = "clinitui-checkpoint"
FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
CONFIG = "config.json"


@dataclass
class CheckpointInfo:
    path: Path
    model: ModelConfig
    label_names: list[str]
    positive_index: int | None
    max_length: int
    freeze: str
    raw: dict


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(directory: Path, model, tokenizer, *, model_cfg: ModelConfig, freeze: str,
                    label_names: list[str], positive_index: int | None, max_length: int, extra: dict | None = None) -> Path:
    from safetensors.torch import save_model

    directory = Path(directory)
    tmp = directory.with_name(directory.name + ".new")
    old = directory.with_name(directory.name + ".old")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(mode=0o700)
        save_model(model, str(tmp / WEIGHTS), metadata={"format": "pt"})
        tokenizer.save(tmp)
        model.backbone.save_extra(tmp)
        config = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "clinitui_version": __version__,
            "model": model_cfg.model_dump(),
            "freeze": freeze,
            "label_names": label_names,
            "positive_index": positive_index,
            "max_length": max_length,
            "weights_sha256": sha256_file(tmp / WEIGHTS),
            **(extra or {}),
        }
        (tmp / CONFIG).write_text(json.dumps(config, indent=2), encoding="utf-8")
        for f in tmp.iterdir():
            os.chmod(f, 0o600)
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        _fsync_dir(tmp)
        if directory.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(directory, old)
        os.replace(tmp, directory)
        _fsync_dir(directory.parent)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if not directory.exists() and old.exists():
            os.replace(old, directory)  # keep the previous good checkpoint
        raise RunDirectoryError(
            f"could not write checkpoint in {directory.parent} ({exc.strerror or exc}); "
            "free disk space or fix permissions; the previous checkpoint is kept"
        ) from None
    return directory


def read_checkpoint_info(path: Path) -> CheckpointInfo:
    """Validate a checkpoint folder's config.json (torch-free)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint folder; pass a run's checkpoint/ folder (or the run folder)")
    if path.is_dir() and (path / "checkpoint").is_dir() and not (path / CONFIG).exists():
        path = path / "checkpoint"  # a run directory was given
    if not path.is_dir():
        raise CheckpointError(f"{path}: not a folder; pass a run's checkpoint/ folder")
    cfg_path = path / CONFIG
    if not cfg_path.is_file():
        raise CheckpointError(f"{path}: no {CONFIG}; this is not a clinitui checkpoint (or it is incomplete)")
    try:
        raw = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CheckpointError(f"{cfg_path}: not valid JSON; the checkpoint is damaged, train again or restore it") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise CheckpointError(f"{path}: {CONFIG} is not a clinitui checkpoint config (no format '{FORMAT}')")
    if raw.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {raw.get('format_version')} is not supported "
                              f"(this clinitui reads {FORMAT_VERSION}); use the clinitui version that wrote it")
    try:
        model_cfg = ModelConfig(**raw["model"])
        labels = [str(x) for x in raw["label_names"]]
        max_length = int(raw["max_length"])
        pos = raw.get("positive_index")
        if len(labels) < 2 or (pos is not None and not 0 <= int(pos) < len(labels)):
            raise ValueError("labels")
    except Exception:
        raise CheckpointError(f"{cfg_path}: fields are missing or invalid; the checkpoint was altered or damaged") from None
    weights = path / WEIGHTS
    if not weights.is_file() and not raw.get("members"):  # a seed group's checkpoint lists members instead
        raise CheckpointError(f"{path}: no {WEIGHTS}; the checkpoint is incomplete (was the run interrupted?)")
    return CheckpointInfo(path, model_cfg, labels, pos, max_length, str(raw.get("freeze", "none")), raw)


def load_checkpoint(path: Path, device: str = "cpu"):
    """(model, tokenizer, info) from a checkpoint folder, weights verified and loaded from safetensors."""
    from safetensors.torch import load_model

    from clinitui.models.classifier import build_classifier, load_tokenizer

    info = read_checkpoint_info(path)
    weights = info.path / WEIGHTS
    expected = info.raw.get("weights_sha256")
    if expected and sha256_file(weights) != expected:
        raise CheckpointError(f"{weights}: checksum mismatch; the weights are truncated or were modified")
    tokenizer = load_tokenizer(info.model, info.path)
    model, _ = build_classifier(info.model, len(info.label_names), tokenizer, checkpoint_dir=info.path)
    try:
        load_model(model, str(weights), strict=True, device=device)
    except Exception as exc:
        raise CheckpointError(f"{weights}: cannot be loaded into the model in {CONFIG} ({type(exc).__name__}); "
                              "the checkpoint is damaged or its config.json was changed") from None
    model.multilabel = info.raw.get("task") == "multilabel"  # one sigmoid per label (engine/evaluate/multilabel.py)
    model.to(device).eval()
    return model, tokenizer, info
