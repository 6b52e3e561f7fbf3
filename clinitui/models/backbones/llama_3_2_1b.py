"""Llama 3.2 1B (1.2 B parameters, 16 layers, gated licence: copy the folder yourself)."""

from __future__ import annotations

from clinitui.models.backbones.decoder import DecoderBackbone
from clinitui.models.registry import register_backbone


@register_backbone("llama-3.2-1b")
class Llama32OneB(DecoderBackbone):
    """Llama 3.2 1B (1.2 B parameters, 16 layers, gated licence: copy the folder yourself)."""

    default_source = "meta-llama/Llama-3.2-1B"
    architecture = {  # its config.json numbers: the planner's figures before the weights are here
        "model_type": "llama",
        "hidden_size": 2048,
        "intermediate_size": 8192,
        "num_hidden_layers": 16,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "vocab_size": 128256,
    }
