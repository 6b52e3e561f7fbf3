"""Lightweight adapter: two linear layers and a LayerNorm, no activation, with a residual."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from clinitui.models.base import Adapter, Options
from clinitui.models.registry import register_adapter


class LightweightOptions(Options):
    bottleneck: int = Field(64, ge=1, description="Width r of the low-rank pair (d → r → d).")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="Dropout between the two linear layers.")


@register_adapter("lightweight")
class Lightweight(Adapter):
    """Lightweight adapter: d→r, r→d (no activation), residual add, LayerNorm."""

    Options = LightweightOptions
    level = "pooled"

    def __init__(self, dim: int, options: LightweightOptions) -> None:
        super().__init__(dim, options)
        self.down = nn.Linear(dim, options.bottleneck)
        self.dropout = nn.Dropout(options.dropout)
        self.up = nn.Linear(options.bottleneck, dim)
        self.norm = nn.LayerNorm(dim)
        # The study has no residual; we add one (and a zero up-projection) so that the block
        # starts as LayerNorm(x), close to the identity, instead of a random rank-r squeeze.
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.norm(x + self.up(self.dropout(self.down(x))))
