"""Qwen2.5-0.5B (494 M parameters, 24 layers): the smallest first try; QLoRA fits the 2 GB card."""

from __future__ import annotations

from clinitui.models.backbones.decoder import DecoderBackbone
from clinitui.models.registry import register_backbone


@register_backbone("qwen2.5-0.5b")
class Qwen25Half(DecoderBackbone):
    """Qwen2.5-0.5B (494 M parameters, 24 layers): the smallest first try; QLoRA fits the 2 GB card."""

    default_source = "Qwen/Qwen2.5-0.5B"
    architecture = {  # its config.json numbers: the planner's figures before the weights are here
        "model_type": "qwen2",
        "hidden_size": 896,
        "intermediate_size": 4864,
        "num_hidden_layers": 24,
        "num_attention_heads": 14,
        "num_key_value_heads": 2,
        "vocab_size": 151936,
    }
