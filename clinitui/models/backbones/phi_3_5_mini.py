"""Phi-3.5-mini (3.8 B parameters, 32 layers, fused qkv/gate_up projections)."""

from __future__ import annotations

from clinitui.models.backbones.decoder import DecoderBackbone
from clinitui.models.registry import register_backbone


@register_backbone("phi-3.5-mini")
class Phi35Mini(DecoderBackbone):
    """Phi-3.5-mini (3.8 B parameters, 32 layers, fused qkv/gate_up projections)."""

    default_source = "microsoft/Phi-3.5-mini-instruct"
    architecture = {  # its config.json numbers: the planner's figures before the weights are here
        "model_type": "phi3",
        "hidden_size": 3072,
        "intermediate_size": 8192,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 32,
        "vocab_size": 32064,
    }
