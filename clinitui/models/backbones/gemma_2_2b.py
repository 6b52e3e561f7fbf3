"""Gemma 2 2B (2.6 B parameters, 26 layers, 256 k vocabulary; gated licence)."""

from __future__ import annotations

from clinitui.models.backbones.decoder import DecoderBackbone
from clinitui.models.registry import register_backbone


@register_backbone("gemma-2-2b")
class Gemma2TwoB(DecoderBackbone):
    """Gemma 2 2B (2.6 B parameters, 26 layers, 256 k vocabulary; gated licence)."""

    default_source = "google/gemma-2-2b"
    architecture = {  # its config.json numbers: the planner's figures before the weights are here
        "model_type": "gemma2",
        "hidden_size": 2304,
        "intermediate_size": 9216,
        "num_hidden_layers": 26,
        "num_attention_heads": 8,
        "num_key_value_heads": 4,
        "head_dim": 256,
        "vocab_size": 256000,
    }
