"""Bottleneck adapter (Houlsby / AdaptFormer style) on the pooled vector."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn
from torch.nn import functional as F

from clinitui.models.base import Adapter, Options
from clinitui.models.registry import register_adapter


class BottleneckOptions(Options):
    bottleneck: int = Field(64, ge=1, description="Width r of the bottleneck (d → r → d).")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="Dropout inside the bottleneck, after the ReLU.")


@register_adapter("adapter")
class Bottleneck(Adapter):
    """Bottleneck adapter: d→r, ReLU, r→d, residual add; starts as the identity."""

    Options = BottleneckOptions
    level = "pooled"

    def __init__(self, dim: int, options: BottleneckOptions) -> None:
        super().__init__(dim, options)
        self.down = nn.Linear(dim, options.bottleneck)
        self.dropout = nn.Dropout(options.dropout)
        self.up = nn.Linear(options.bottleneck, dim)
        # Zero up-projection: the block is exactly the identity at init, so adding it never
        # starts training from a worse place than the plain head.
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return x + self.up(self.dropout(F.relu(self.down(x))))
