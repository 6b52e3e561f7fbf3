"""Mistral 7B v0.3 (7.2 B parameters, 32 layers): QLoRA on a 24 GB card, tight on 8 GB."""

from __future__ import annotations

from clinitui.models.backbones.decoder import DecoderBackbone
from clinitui.models.registry import register_backbone


@register_backbone("mistral-7b")
class Mistral7B(DecoderBackbone):
    """Mistral 7B v0.3 (7.2 B parameters, 32 layers): QLoRA on a 24 GB card, tight on 8 GB."""

    default_source = "mistralai/Mistral-7B-v0.3"
    architecture = {  # its config.json numbers: the planner's figures before the weights are here
        "model_type": "mistral",
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "vocab_size": 32768,
    }
