"""The classifier: backbone → [token adapter] → pooling → [pooled adapter] → dropout → linear head."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from pydantic import ValidationError
from torch import nn

from clinitui.config.schema import ModelConfig
from clinitui.errors import ConfigError
from clinitui.models import registry
from clinitui.data.text_encoder import TextEncoder
from clinitui.models.base import Adapter, Backbone
from clinitui.models.window_pool import WindowPool

PRETRAINED_ENTRY = "hf"  # the registry entry that loads any Hugging Face encoder by id or folder
DECODER_ENTRY = "decoder"  # the one that loads a decoder LLM (models/backbones/decoder.py)


def resolve_backbone(name: str, checkpoint_dir: Path | None = None) -> tuple[type[Backbone], str | None]:
    """Registry class and source (HF id or folder) for ``model.backbone``.

    A registered name wins; a path to a folder, or a name with a '/', goes to the generic
    Hugging Face entry (if installed) with the name as its source: the decoder entry when the
    folder's config.json is a causal LM's (Llama, Qwen ...), the encoder entry otherwise. A
    checkpoint that names its base model (``checkpoint_dir``) is a decoder's, whether or not
    the base folder is still there (the decoder entry then says that it is missing).
    """
    from clinitui.models.decoder_family import BASE_FILE, is_decoder_config, read_config

    known = registry.registry_names("backbone")
    if name in known:
        entry = registry.get("backbone", name)
        return entry.cls, getattr(entry.cls, "default_source", None)
    folder = Path(name).expanduser()
    decoder = (checkpoint_dir is not None and (Path(checkpoint_dir) / BASE_FILE).is_file()) or (
        folder.is_dir() and is_decoder_config(read_config(folder)))
    if decoder and DECODER_ENTRY in known:
        return registry.get("backbone", DECODER_ENTRY).cls, name
    if (folder.is_dir() or "/" in name) and PRETRAINED_ENTRY in known:
        return registry.get("backbone", PRETRAINED_ENTRY).cls, name
    registry.get("backbone", name)  # raises the "did you mean" error
    raise AssertionError("unreachable")


def parse_options(cls: type, options: dict, what: str):
    try:
        return cls.Options(**options)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        valid = ", ".join(cls.Options.model_fields)
        raise ConfigError(f"{what} option '{loc}': {err['msg']} (valid options: {valid or 'none'})") from None


def effective_freeze(cfg: ModelConfig, backbone_cls: type[Backbone]) -> str:
    """What trains: the LoRA adapter forces ``lora``; a decoder (``attach_lora``) defaults to it."""
    if cfg.adapter == "lora":
        return "lora"
    if cfg.freeze is not None:
        if cfg.freeze == "lora" and not hasattr(backbone_cls, "attach_lora"):
            raise ConfigError("model.freeze = 'lora' needs --adapter lora")
        return cfg.freeze
    default = getattr(backbone_cls, "default_freeze", None)
    return default or ("backbone" if backbone_cls.pretrained else "none")


class Classifier(nn.Module):
    def __init__(self, backbone: Backbone, adapter: Adapter, n_labels: int, pooling: str, dropout: float,
                 chunk_pooling: str = "mean") -> None:
        super().__init__()
        self.backbone = backbone
        self.adapter = adapter
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(backbone.hidden_size, n_labels)
        self.window_pool = WindowPool(backbone.hidden_size, chunk_pooling)  # chunked notes' windows → one vector

    def pool(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.pooling == "cls":
            return states[:, 0]
        if self.pooling == "last":  # the last real token, under right or left padding alike
            positions = torch.arange(mask.shape[1], device=mask.device)
            last = (mask.long() * positions).argmax(1)
            return states[torch.arange(states.shape[0], device=states.device), last]
        m = mask.unsqueeze(-1).to(states.dtype)
        return (states * m).sum(1) / m.sum(1).clamp(min=1.0)

    def features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Pooled, adapted representation (B, d) fed to the head."""
        states = self.backbone(input_ids, attention_mask)
        if self.adapter.level == "token":
            states = self.adapter(states, attention_mask)
            return self.pool(states, attention_mask)
        return self.adapter(self.pool(states, attention_mask))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                owners: torch.Tensor | None = None) -> torch.Tensor:
        """Logits per row; with ``owners`` the rows are windows, pooled per note first (one row per note)."""
        features = self.features(input_ids, attention_mask)
        if owners is not None:
            features = self.window_pool(features, owners)
        return self.head(self.dropout(features))

    # -- what a checkpoint and a resumable state hold -----------------------------------------
    def checkpoint_state(self) -> dict[str, torch.Tensor]:
        """The weights to save: all of them, or, for a backbone whose frozen base stays in its own
        folder (a decoder with LoRA: ``stores_base`` False), all but that base."""
        state = self.state_dict()
        if getattr(self.backbone, "stores_base", True):
            return state
        return {k: v for k, v in state.items() if not k.startswith("backbone.") or "lora_" in k}

    def load_checkpoint_state(self, state: dict[str, torch.Tensor]) -> None:
        """Load :meth:`checkpoint_state`'s output; anything missing but the frozen base is an error."""
        if getattr(self.backbone, "stores_base", True):
            self.load_state_dict(state)
            return
        missing, unexpected = self.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("backbone.") or "lora_" in k]
        if missing or unexpected:
            raise RuntimeError(f"state does not match the model: missing {missing[:3]}, unexpected {unexpected[:3]}")


def build_classifier(cfg: ModelConfig, n_labels: int, tokenizer: TextEncoder, *,
                     checkpoint_dir: Path | None = None) -> tuple[Classifier, str]:
    """A classifier for a new run (``checkpoint_dir`` None) or for loading a checkpoint.

    Returns the model and the effective freeze policy, already applied.
    """
    backbone_cls, source = resolve_backbone(cfg.backbone, checkpoint_dir)
    b_opts = parse_options(backbone_cls, cfg.backbone_options, f"backbone '{cfg.backbone}'")
    adapter_cls = registry.get("adapter", cfg.adapter).cls
    a_opts = parse_options(adapter_cls, cfg.adapter_options, f"adapter '{cfg.adapter}'")
    freeze = effective_freeze(cfg, backbone_cls)
    if cfg.pooling == "cls" and getattr(backbone_cls, "causal", False):
        raise ConfigError(f"pooling 'cls' reads the first token, which in decoder '{cfg.backbone}' has seen nothing "
                          "else; use --set model.pooling=last (or mean)")
    if checkpoint_dir is None:
        backbone = backbone_cls.create(b_opts, source, tokenizer)
        if hasattr(backbone, "load_pretrained"):  # a `clinitui pretrain` folder (models/pretrained.py)
            backbone.load_pretrained()
    else:
        backbone = backbone_cls.from_checkpoint(b_opts, checkpoint_dir, tokenizer)
    adapter = adapter_cls(backbone.hidden_size, a_opts)
    model = Classifier(backbone, adapter, n_labels, cfg.pooling, cfg.dropout, cfg.chunk_pooling)
    if hasattr(adapter, "attach"):  # e.g. LoRA wraps the backbone's projections
        adapter.attach(model)
    elif freeze == "lora" and hasattr(backbone, "attach_lora"):  # a decoder's own LoRA (its backbone options)
        o = b_opts
        backbone.attach_lora(o.lora_r, o.lora_alpha, o.lora_dropout)
    if freeze == "none":
        backbone.stores_base = True  # full fine-tuning: the checkpoint holds every weight
    apply_freeze(model, freeze)
    return model, freeze


def apply_freeze(model: Classifier, freeze: str) -> None:
    if freeze in ("backbone", "lora"):
        for name, p in model.backbone.named_parameters():
            p.requires_grad = freeze == "lora" and "lora_" in name


def make_tokenizer(cfg: ModelConfig, train_texts: Sequence[str]) -> TextEncoder:
    backbone_cls, source = resolve_backbone(cfg.backbone)
    b_opts = parse_options(backbone_cls, cfg.backbone_options, f"backbone '{cfg.backbone}'")
    return backbone_cls.make_tokenizer(b_opts, source, train_texts)


def load_tokenizer(cfg: ModelConfig, directory: Path) -> TextEncoder:
    backbone_cls, _ = resolve_backbone(cfg.backbone, directory)
    return backbone_cls.load_tokenizer(directory)


def count_parameters(model: nn.Module) -> dict[str, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"trainable": trainable, "total": total}
