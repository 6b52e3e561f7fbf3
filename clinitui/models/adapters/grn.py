"""Gated Residual Network adapter (Lim et al., Temporal Fusion Transformer)."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn
from torch.nn import functional as F

from clinitui.models.base import Adapter, Options
from clinitui.models.registry import register_adapter


class GRNOptions(Options):
    hidden: int = Field(128, ge=1, description="Width of the GRN's inner layers (η₂, η₁).")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="Dropout applied to η₁ before the gate.")


@register_adapter("grn")
class GRN(Adapter):
    """Gated Residual Network: ELU, gated linear unit, residual add and LayerNorm (the study's best)."""

    Options = GRNOptions
    level = "pooled"

    def __init__(self, dim: int, options: GRNOptions) -> None:
        super().__init__(dim, options)
        h = options.hidden
        self.w2 = nn.Linear(dim, h)  # η₂ = ELU(W₂a + b₂)
        self.w1 = nn.Linear(h, h)  # η₁ = W₁η₂ + b₁
        self.dropout = nn.Dropout(options.dropout)
        self.gate = nn.Linear(h, dim)  # σ(W₄η₁ + b₄)
        self.value = nn.Linear(h, dim)  # W₅η₁ + b₅
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        eta2 = F.elu(self.w2(x))
        eta1 = self.dropout(self.w1(eta2))
        glu = torch.sigmoid(self.gate(eta1)) * self.value(eta1)
        return self.norm(x + glu)  # skip is the identity: the GRN keeps width d
