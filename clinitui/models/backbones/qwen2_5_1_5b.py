"""Qwen2.5-1.5B (1.5 B parameters, 28 layers): QLoRA or bf16 LoRA on an 8 GB card."""

from __future__ import annotations

from clinitui.models.backbones.decoder import DecoderBackbone
from clinitui.models.registry import register_backbone


@register_backbone("qwen2.5-1.5b")
class Qwen25OneHalf(DecoderBackbone):
    """Qwen2.5-1.5B (1.5 B parameters, 28 layers): QLoRA or bf16 LoRA on an 8 GB card."""

    default_source = "Qwen/Qwen2.5-1.5B"
    architecture = {  # its config.json numbers: the planner's figures before the weights are here
        "model_type": "qwen2",
        "hidden_size": 1536,
        "intermediate_size": 8960,
        "num_hidden_layers": 28,
        "num_attention_heads": 12,
        "num_key_value_heads": 2,
        "vocab_size": 151936,
    }
