"""No adapter: the backbone's pooled output goes straight to the linear head."""

from __future__ import annotations

import torch

from clinitui.models.base import Adapter
from clinitui.models.registry import register_adapter


@register_adapter("linear")
class Identity(Adapter):
    """No adapter (identity): the control every comparison needs."""

    level = "pooled"

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return x
