"""Checkpoints: ``model.safetensors`` + ``config.json`` + tokenizer files (or the TF-IDF model), written atomically.

A checkpoint is built in ``checkpoint.new/``, fsynced, then swapped in by renames
(engine/checkpoint/swap.py), so a kill at any moment leaves either the previous or the new
checkpoint complete; a reader given a folder that a crash left as ``checkpoint.old/`` reads that.
Loading never unpickles: weights come from safetensors only, and their SHA-256 is checked against
config.json (its keys: engine/checkpoint/format.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clinitui.config.schema import ModelConfig
from clinitui.digest import sha256_file
from clinitui.engine.checkpoint import swap
from clinitui.engine.checkpoint.format import CONFIG, WEIGHTS, new_config, read_config, write_config
from clinitui.errors import CheckpointError, RunDirectoryError
from clinitui.kinds import Predicts, Task, checkpoint_predicts


@dataclass
class CheckpointInfo:
    path: Path
    model: ModelConfig
    label_names: list[str]
    positive_index: int | None
    max_length: int
    freeze: str
    raw: dict


def save_checkpoint(directory: Path, model, tokenizer, *, model_cfg: ModelConfig, freeze: str,
                    label_names: list[str], positive_index: int | None, max_length: int, extra: dict | None = None) -> Path:
    """The network checkpoint: weights, tokenizer, backbone extras and config.json, swapped in atomically.

    A decoder with LoRA saves only its LoRA, adapter and head weights (Classifier.checkpoint_state);
    its backbone extras name the base model's folder.
    """
    from safetensors.torch import save_file, save_model

    def fill(tmp: Path) -> None:
        if model.backbone.stores_base:
            save_model(model, str(tmp / WEIGHTS), metadata={"format": "pt"})
        else:
            state = {k: v.detach().cpu().contiguous() for k, v in model.checkpoint_state().items()}
            save_file(state, str(tmp / WEIGHTS), metadata={"format": "pt"})
        tokenizer.save(tmp)
        model.backbone.save_extra(tmp)
        write_config(tmp, new_config(model_cfg.model_dump(), freeze=freeze, label_names=label_names,
                                     positive_index=positive_index, max_length=max_length,
                                     weights_sha256=sha256_file(tmp / WEIGHTS), **(extra or {})))

    directory = Path(directory)
    try:
        swap.write_folder(directory, fill)
    except OSError as exc:
        raise RunDirectoryError(
            f"could not write checkpoint in {directory.parent} ({exc.strerror or exc}); "
            "free disk space or fix permissions; the previous checkpoint is kept"
        ) from None
    return directory


def save_tfidf_checkpoint(directory: Path, model, *, model_cfg: ModelConfig, max_length: int,
                          positive_index: int | None, extra: dict | None = None) -> Path:
    """The ``tfidf`` backbone's checkpoint: the model's files (engine/tfidf/model.py) + config.json, swapped in."""

    def fill(tmp: Path) -> None:
        sha = model.save(tmp)
        write_config(tmp, new_config(model_cfg.model_dump(), freeze="none", label_names=model.label_names,
                                     positive_index=positive_index, max_length=max_length,
                                     weights_sha256=sha[WEIGHTS], tfidf={"sha256": sha}, **(extra or {})))

    directory = Path(directory)
    swap.write_folder(directory, fill)
    return directory


def read_checkpoint_info(path: Path) -> CheckpointInfo:
    """Validate a checkpoint folder's config.json (torch-free)."""
    path = Path(path)
    if not swap.current(path).exists():
        raise CheckpointError(f"{path}: no such checkpoint folder; pass a run's checkpoint/ folder (or the run folder)")
    path = swap.current(path)
    if path.is_dir() and swap.current(path / "checkpoint").is_dir() and not (path / CONFIG).exists():
        path = swap.current(path / "checkpoint")  # a run directory was given
    if not path.is_dir():
        raise CheckpointError(f"{path}: not a folder; pass a run's checkpoint/ folder")
    raw = read_config(path)
    cfg_path = path / CONFIG
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
    # a seed group's checkpoint has no weights of its own: it lists its members' checkpoints
    if not weights.is_file() and checkpoint_predicts(raw) is not Predicts.SEED_AVERAGE:
        raise CheckpointError(f"{path}: no {WEIGHTS}; the checkpoint is incomplete (was the run interrupted?)")
    return CheckpointInfo(path, model_cfg, labels, pos, max_length, str(raw.get("freeze", "none")), raw)


def load_checkpoint(path: Path, device: str = "cpu"):
    """(model, tokenizer, info) from a checkpoint folder, weights verified and loaded from safetensors."""
    from safetensors.torch import load_file, load_model

    from clinitui.models.classifier import build_classifier, load_tokenizer

    info = read_checkpoint_info(path)
    weights = info.path / WEIGHTS
    expected = info.raw.get("weights_sha256")
    if expected and sha256_file(weights) != expected:
        raise CheckpointError(f"{weights}: checksum mismatch; the weights are truncated or were modified")
    tokenizer = load_tokenizer(info.model, info.path)
    model, _ = build_classifier(info.model, len(info.label_names), tokenizer, checkpoint_dir=info.path)
    try:
        if model.backbone.stores_base:
            load_model(model, str(weights), strict=True, device=device)
        else:  # LoRA + head: the frozen base was loaded from its own folder
            model.load_checkpoint_state(load_file(str(weights), device=str(model.head.weight.device)))
    except Exception as exc:
        raise CheckpointError(f"{weights}: cannot be loaded into the model in {CONFIG} ({type(exc).__name__}); "
                              "the checkpoint is damaged or its config.json was changed") from None
    model.multilabel = Task.of(info.raw) is Task.MULTILABEL  # one sigmoid per label (engine/evaluate/multilabel.py)
    model.to(device).eval()
    return model, tokenizer, info
