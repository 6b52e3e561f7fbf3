"""Backbone folders written by ``clinitui pretrain``, and how ``train --backbone DIR`` reads them.

A from-scratch backbone has no Hugging Face ``config.json``, so its folder carries a marker,
``clinitui_backbone.json`` (the registry entry, its options, the weights' SHA-256 and what the
pretraining saw), beside ``backbone.safetensors`` and the tokenizer it was pretrained with.
``train --backbone DIR`` turns such a folder into the entry name plus its options and
``init_from = DIR`` (:func:`expand_backbone_folder`), so ``run.toml`` and the classifier
checkpoint record an ordinary registry backbone: the tokenizer is the folder's (never a newly
learned one), the encoder starts from the folder's weights, and a trained checkpoint no longer
needs the folder. A pretrained Hugging Face encoder is saved with ``save_pretrained`` and needs
none of this: the generic ``hf`` entry loads it like any other encoder folder.

Torch-free, except :func:`load_weights`.
"""

from __future__ import annotations

import json
from pathlib import Path

from clinitui.config.schema import RunConfig
from clinitui.digest import sha256_file
from clinitui.errors import CheckpointError, ConfigError

MARKER = "clinitui_backbone.json"
WEIGHTS = "backbone.safetensors"
HEAD_WEIGHTS = "mlm_head.safetensors"
FORMAT = "clinitui-backbone"
FORMAT_VERSION = 1
# options that change the architecture or the tokenizer: fixed by the folder
FREE_OPTIONS = {"dropout", "attention_dropout", "init_from"}


def read_marker(folder: Path) -> dict | None:
    """The marker of a ``clinitui pretrain`` backbone folder, None if ``folder`` is not one."""
    path = Path(folder).expanduser() / MARKER
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise CheckpointError(f"{path}: not valid JSON; the backbone folder is damaged, run `clinitui pretrain` again") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT or not isinstance(raw.get("options"), dict):
        raise CheckpointError(f"{path}: not a clinitui backbone marker (no format '{FORMAT}')")
    if raw.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: backbone format {raw.get('format_version')} is not supported "
                              f"(this clinitui reads {FORMAT_VERSION})")
    return raw


def expand_backbone_folder(config: RunConfig) -> RunConfig:
    """``model.backbone = DIR`` of a from-scratch pretrained backbone → its entry, options and ``init_from``."""
    folder = Path(config.model.backbone).expanduser()
    if not folder.is_dir():
        return config
    marker = read_marker(folder)
    if marker is None or marker.get("kind") == "hf":
        return config  # a Hugging Face folder: the hf entry reads it as it is
    options = {k: v for k, v in marker["options"].items() if v is not None}  # TOML has no null: None = default
    for key, value in config.model.backbone_options.items():
        if key not in FREE_OPTIONS and key in options and options[key] != value:
            raise ConfigError(f"backbone option '{key}' = {value!r} differs from the pretrained backbone in "
                              f"{folder} ({options[key]!r}); drop it (the folder fixes the architecture)")
        options[key] = value
    options["init_from"] = str(folder.resolve())
    out = config.model_copy(deep=True)
    out.model.backbone = str(marker["kind"])
    out.model.backbone_options = options
    return out


def load_weights(backbone, folder: str | Path) -> None:
    """Copy the pretrained encoder weights of ``folder`` into ``backbone`` (checksum verified)."""
    from safetensors.torch import load_model

    folder = Path(folder)
    marker = read_marker(folder)
    if marker is None:
        raise CheckpointError(f"{folder}: no {MARKER}; pass a folder written by `clinitui pretrain`")
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{folder}: no {WEIGHTS}; the backbone folder is incomplete")
    if marker.get("weights_sha256") and sha256_file(weights) != marker["weights_sha256"]:
        raise CheckpointError(f"{weights}: checksum mismatch; the weights are truncated or were modified")
    try:
        load_model(backbone, str(weights), strict=True)
    except Exception as exc:
        raise CheckpointError(f"{weights}: does not fit the backbone in {MARKER} ({type(exc).__name__}); "
                              "the folder is damaged or its marker was changed") from None
