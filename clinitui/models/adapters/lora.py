"""LoRA (Hu et al., 2021) through PEFT: low-rank updates inside the backbone's attention projections.

The backbone's weights stay frozen (``freeze = "lora"``: only parameters named ``lora_*`` in the
backbone, plus the head, train); each target ``nn.Linear`` gets ``W x + (alpha / r) · B A x`` with
``B`` zero at init, so training starts from the pre-trained model exactly. The block after the
backbone is the identity (the adapter-free head). ``peft.inject_adapter_in_model`` wraps the
projections in place, so the classifier's state dict, and therefore the checkpoint, holds the
base and LoRA weights under stable names (``...query.base_layer.weight``,
``...query.lora_A.default.weight``), and loading a checkpoint attaches LoRA the same way first.
"""

from __future__ import annotations

from typing import Optional

import torch
from pydantic import Field
from torch import nn

from clinitui.errors import ConfigError
from clinitui.models.base import Adapter, Options
from clinitui.models.registry import register_adapter

# Attention projections by naming family, matched as module-name suffixes: BERT / RoBERTa /
# CamemBERT, Llama-style, DistilBERT, and clinitui's scratch encoders.
ATTENTION_PROJECTIONS = (
    ("query", "key", "value", "attention.output.dense"),
    ("q_proj", "k_proj", "v_proj", "o_proj"),
    ("q_lin", "k_lin", "v_lin", "out_lin"),
    ("attn.qkv", "attn.proj"),
)


class LoRAOptions(Options):
    r: int = Field(8, ge=1, description="Rank of the update B·A added to each target projection.")
    alpha: float = Field(16.0, gt=0.0, description="Scale numerator: the update is multiplied by alpha / r.")
    dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on the input of the LoRA branch.")
    target_modules: Optional[list[str]] = Field(
        None, description="Module-name suffixes to adapt; empty = the backbone's attention projections "
        "(query/key/value/attention.output.dense for BERT-family encoders, attn.qkv/attn.proj for scratch ones)."
    )


def attention_targets(backbone: nn.Module) -> list[str]:
    """The attention-projection suffixes present among the backbone's linear layers."""
    names = [n for n, m in backbone.named_modules() if isinstance(m, nn.Linear)]
    found = [t for family in ATTENTION_PROJECTIONS for t in family
             if any(n == t or n.endswith("." + t) for n in names)]
    if not found:
        raise ConfigError("adapter 'lora': no attention projections recognised in this backbone; "
                          "name them with --set model.adapter_options.target_modules='[\"q\", \"v\"]'")
    return found


@register_adapter("lora")
class LoRA(Adapter):
    """LoRA: low-rank updates in the backbone's attention projections (PEFT), plain linear head."""

    Options = LoRAOptions
    level = "pooled"

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return x  # the adaptation lives inside the backbone

    def attach(self, model: nn.Module) -> None:
        """Inject LoRA layers into ``model.backbone`` (called by ``build_classifier``)."""
        from peft import LoraConfig, inject_adapter_in_model

        o = self.options
        if hasattr(model.backbone, "attach_lora"):  # a decoder: its family's attention and MLP projections
            model.backbone.attach_lora(o.r, o.alpha, o.dropout, o.target_modules)
            return
        targets = o.target_modules or attention_targets(model.backbone)
        config = LoraConfig(r=o.r, lora_alpha=o.alpha, lora_dropout=o.dropout, target_modules=targets, bias="none")
        try:
            inject_adapter_in_model(config, model.backbone)
        except ValueError as exc:  # PEFT: target modules not found / not supported
            raise ConfigError(f"adapter 'lora': cannot adapt {targets} in this backbone ({str(exc).splitlines()[0][:160]}); "
                              "set model.adapter_options.target_modules to names of its nn.Linear layers") from None
