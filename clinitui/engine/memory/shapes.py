"""Architecture numbers of backbone + adapter + head, found without loading any weights.

The memory planner needs parameter counts (by trainable set) and the sizes that drive
activation memory (hidden, layers, heads, feed-forward width, vocabulary). They come from:

* a Hugging Face backbone's ``config.json`` in its local folder (or the local HF cache),
  turned into parameter counts by the BERT-family formula below;
* the architecture numbers of the study's three encoders (PAPER.md) when their weights are not
  on this machine, so ``clinitui train --dry-run`` can answer before anything is downloaded;
* for from-scratch backbones, the model itself built on torch's ``meta`` device (exact counts,
  no memory, no tokenizer training).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from clinitui.config.schema import ModelConfig
from clinitui.errors import ConfigError

# The study's encoders (PAPER.md): CamemBERT/RoBERTa-base architecture. Keyed by registry name
# and by Hugging Face id, so either spelling plans the same.
_BASE = {"model_type": "camembert", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
         "intermediate_size": 3072, "max_position_embeddings": 514, "type_vocab_size": 1}
KNOWN_ENCODERS: dict[str, tuple[str, dict[str, Any]]] = {
    "camembert-bio": ("almanach/camembert-bio-base", {**_BASE, "vocab_size": 32005}),
    "drbert": ("Dr-BERT/DrBERT-7GB", {**_BASE, "vocab_size": 32000}),
    "alibert": ("quinten-datalab/AliBERT-7GB", {**_BASE, "model_type": "roberta", "vocab_size": 40008}),
}
_BY_ID = {hf_id: (name, cfg) for name, (hf_id, cfg) in KNOWN_ENCODERS.items()}
# What an unknown, absent encoder is assumed to be (said so in the plan): BERT-base.
BERT_BASE = {"model_type": "bert", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
             "intermediate_size": 3072, "max_position_embeddings": 512, "type_vocab_size": 2, "vocab_size": 30522}
DEFAULT_LORA_RANK = 8
# LoRA's default targets (models/adapters/lora.py): every attention projection. Per layer, the
# sum of (in + out) widths in units of hidden: BERT family query, key, value, output dense
# (4 × 2h); scratch encoders' fused qkv (h + 3h) and output proj (2h).
LORA_DEFAULT_WIDTHS = {"pretrained": (4, 8), "scratch": (2, 6)}  # (targets, Σ(in+out)/h)


@dataclass
class ModelShape:
    """What the planner knows about one classifier."""

    backbone: str
    source: str  # where the numbers came from, shown in the plan
    pretrained: bool
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    backbone_params: int
    embedding_params: int
    adapter_params: int
    adapter_level: str  # "pooled" or "token"
    head_params: int
    lora_params: int = 0
    lora_targets: int = 0
    experts: int = 0  # mixture-of-experts feed-forwards per layer (0: dense)
    adapter_width: int = 0  # a token-level adapter's inner width (TinyAttention's a)
    checkpointing: bool = True  # whether the backbone can recompute activations
    fused_attention_cpu: bool = False  # no attention dropout: CPU training runs the fused SDPA kernel too
    decoder: dict | None = None  # a decoder LLM's numbers (engine/memory/decoder.py), None for encoders

    @property
    def total_params(self) -> int:
        return self.backbone_params + self.adapter_params + self.head_params + self.lora_params

    @property
    def matmul_params(self) -> int:
        """Backbone weights used in matrix products (what autocast casts to 16 bits)."""
        return self.backbone_params - self.embedding_params

    def trainable_params(self, freeze: str) -> int:
        own = self.adapter_params + self.head_params
        if freeze == "none":
            return self.backbone_params + own
        if freeze == "lora":
            return self.lora_params + own
        return own

    def as_dict(self) -> dict:
        return asdict(self)


def bert_family_params(cfg: dict[str, Any], pooler: bool = False) -> tuple[int, int]:
    """(total, embedding) parameter counts of a BERT/RoBERTa/CamemBERT encoder.

    clinitui builds HF encoders without the pooler (it pools itself): ``pooler`` adds it back.
    """
    h, ffn = cfg["hidden_size"], cfg["intermediate_size"]
    embedding = (cfg["vocab_size"] + cfg["max_position_embeddings"] + cfg.get("type_vocab_size", 0)) * h + 2 * h
    layer = 4 * (h * h + h) + (h * ffn + ffn) + (ffn * h + h) + 2 * (2 * h)  # attention, FFN, 2 LayerNorms
    return embedding + cfg["num_hidden_layers"] * layer + (h * h + h if pooler else 0), embedding


def _normalise_hf(cfg: dict[str, Any]) -> dict[str, Any]:
    """Map DistilBERT-style key names onto BERT's, so one formula serves both."""
    aliases = {"dim": "hidden_size", "n_layers": "num_hidden_layers", "n_heads": "num_attention_heads",
               "hidden_dim": "intermediate_size"}
    out = dict(cfg)
    for old, new in aliases.items():
        if old in cfg and new not in cfg:
            out[new] = cfg[old]
    missing = [k for k in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                           "vocab_size", "max_position_embeddings") if k not in out]
    if missing:
        raise ConfigError(f"config.json lacks {', '.join(missing)}; is it an encoder such as BERT or RoBERTa?")
    return out


def hf_config(name: str, source: str | None) -> tuple[dict[str, Any], str]:
    """The HF config numbers of a pre-trained backbone and where they came from."""
    where = source or name
    folder = Path(where).expanduser()
    if (folder / "config.json").is_file():
        return _normalise_hf(json.loads((folder / "config.json").read_text(encoding="utf-8"))), f"{folder}/config.json"
    hf_id = where if "/" in where else KNOWN_ENCODERS.get(name, (None, None))[0]
    if hf_id and "/" in hf_id and not hf_id.startswith(("/", ".", "~")):
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(hf_id, "config.json")
            if isinstance(cached, str):
                return _normalise_hf(json.loads(Path(cached).read_text(encoding="utf-8"))), "config.json in the HF cache"
        except Exception:  # a broken cache must not stop planning: fall back to known numbers
            pass
    for key in (name, where, hf_id):
        if key in KNOWN_ENCODERS:
            return dict(KNOWN_ENCODERS[key][1]), f"architecture of {KNOWN_ENCODERS[key][0]} (PAPER.md)"
        if key in _BY_ID:
            return dict(_BY_ID[key][1]), f"architecture of {key} (PAPER.md)"
    return dict(BERT_BASE), "assumed BERT-base (no config.json found)"


class _VocabOnly:
    """Just enough of a tokenizer to build a from-scratch backbone on the meta device."""

    def __init__(self, vocab_size: int) -> None:
        self.vocab_size = vocab_size
        self.pad_id = 0


def _scratch_shape(name: str, cls: type, options: Any) -> dict[str, Any]:
    import torch
    from torch import nn

    vocab = int(getattr(options, "vocab_size", 8000))
    try:
        with torch.device("meta"):  # exact parameter counts, no memory, no tokenizer
            backbone = cls.create(options, None, _VocabOnly(vocab))
    except Exception:  # an entry that cannot be built on the meta device: from-scratch models are small
        backbone = cls.create(options, None, _VocabOnly(vocab))
    info = backbone.describe()
    embedding = sum(p.numel() for m in backbone.modules() if isinstance(m, nn.Embedding) for p in m.parameters())
    hidden = int(backbone.hidden_size)
    layers = getattr(backbone, "layers", None)
    return dict(
        source=f"{name} size table", hidden=hidden, layers=int(info.get("layers", len(layers or []) or 1)),
        heads=int(info.get("heads", 1)), ffn=int(info.get("ffn", 4 * hidden)), vocab=vocab,
        backbone_params=sum(p.numel() for p in backbone.parameters()), embedding_params=embedding,
        experts=int(info.get("experts", 0)), checkpointing=isinstance(layers, nn.ModuleList) or hasattr(backbone, "set_gradient_checkpointing"),
        fused_attention_cpu=getattr(options, "attention_dropout", None) == 0.0,
    )


def _pretrained_shape(name: str, source: str | None) -> dict[str, Any]:
    cfg, where = hf_config(name, source)
    total, embedding = bert_family_params(cfg)
    return dict(source=where, hidden=cfg["hidden_size"], layers=cfg["num_hidden_layers"],
                heads=cfg["num_attention_heads"], ffn=cfg["intermediate_size"], vocab=cfg["vocab_size"],
                backbone_params=total, embedding_params=embedding, checkpointing=True)


def _backbone_shape(cfg: ModelConfig) -> tuple[dict[str, Any], bool]:
    from clinitui.models.classifier import parse_options, resolve_backbone

    try:
        cls, source = resolve_backbone(cfg.backbone)
    except ConfigError:
        # a study encoder whose registry file is absent still plans (its numbers are known)
        if cfg.backbone in KNOWN_ENCODERS or cfg.backbone in _BY_ID:
            return _pretrained_shape(cfg.backbone, None), True
        raise
    options = parse_options(cls, cfg.backbone_options, f"backbone '{cfg.backbone}'")
    if hasattr(cls, "attach_lora"):  # a decoder LLM: its own formula
        from clinitui.engine.memory.decoder import decoder_numbers

        return decoder_numbers(cls, options, source), True
    if getattr(cls, "pretrained", False):
        return _pretrained_shape(cfg.backbone, getattr(options, "path", None) or source), True
    return _scratch_shape(cfg.backbone, cls, options), False


def _adapter_shape(cfg: ModelConfig, hidden: int) -> tuple[int, str, Any]:
    """(parameters, level, parsed options or None) of the adapter, built on the meta device."""
    from clinitui.models import registry
    from clinitui.models.classifier import parse_options

    try:
        cls = registry.get("adapter", cfg.adapter).cls
    except ConfigError:
        if cfg.adapter == "lora":  # planned from its options even before its registry file lands
            return 0, "pooled", None
        raise
    import torch

    options = parse_options(cls, cfg.adapter_options, f"adapter '{cfg.adapter}'")
    with torch.device("meta"):
        adapter = cls(hidden, options)
    return sum(p.numel() for p in adapter.parameters()), getattr(cls, "level", "pooled"), options


def _lora_numbers(cfg: ModelConfig, options: Any, pretrained: bool) -> tuple[int, int, int]:
    """(rank, target projections per layer, Σ(in + out) widths / hidden) from LoRA's options."""
    raw = dict(cfg.adapter_options)
    rank = getattr(options, "r", None) or raw.get("r") or DEFAULT_LORA_RANK
    targets = getattr(options, "target_modules", None) or raw.get("target_modules")
    if isinstance(targets, (list, tuple)) and targets:
        return int(rank), len(targets), 2 * len(targets)  # assume square projections
    n_targets, widths = LORA_DEFAULT_WIDTHS["pretrained" if pretrained else "scratch"]
    return int(rank), n_targets, widths


def model_shape(cfg: ModelConfig, n_labels: int = 2, freeze: str | None = None) -> ModelShape:
    """Everything the planner needs about ``cfg``'s classifier, without loading weights."""
    numbers, pretrained = _backbone_shape(cfg)
    adapter_params, level, options = _adapter_shape(cfg, numbers["hidden"])
    h = numbers["hidden"]
    shape = ModelShape(backbone=cfg.backbone, pretrained=pretrained, adapter_params=adapter_params,
                       adapter_level=level, head_params=h * n_labels + n_labels, **numbers)
    if level == "token":
        shape.adapter_width = int(getattr(options, "width", h))
    if shape.decoder is not None:
        if freeze == "lora" or cfg.adapter == "lora" or cfg.freeze in (None, "lora"):
            from clinitui.engine.memory.decoder import add_lora
            from clinitui.models.classifier import parse_options, resolve_backbone

            cls, _ = resolve_backbone(cfg.backbone)
            b_opts = parse_options(cls, cfg.backbone_options, f"backbone '{cfg.backbone}'")
            add_lora(shape, b_opts, options if cfg.adapter == "lora" else None)
        return shape
    if cfg.adapter == "lora" or freeze == "lora":
        rank, n_targets, widths = _lora_numbers(cfg, options, pretrained)
        shape.lora_targets = n_targets
        shape.lora_params = shape.layers * rank * widths * h  # A: in×r and B: r×out per target
    return shape
