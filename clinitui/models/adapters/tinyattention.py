"""Tiny-Attention adapter (Zhao et al., 2022): one small attention head over the token states."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn
from torch.nn import functional as F

from clinitui.models.base import Adapter, Options
from clinitui.models.registry import register_adapter


class TinyAttentionOptions(Options):
    width: int = Field(64, ge=1, description="Width a of the single head's queries, keys and values.")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="Dropout on the attention weights.")


@register_adapter("tinyattention")
class TinyAttention(Adapter):
    """TinyAttention: LayerNorm, one attention head of width a with the padding mask, residual add."""

    Options = TinyAttentionOptions
    level = "token"  # needs the whole sequence and its padding mask, before pooling

    def __init__(self, dim: int, options: TinyAttentionOptions) -> None:
        super().__init__(dim, options)
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * options.width)
        self.proj = nn.Linear(options.width, dim)
        # Small output projection: the block starts close to the identity on the token states.
        nn.init.normal_(self.proj.weight, std=1e-3)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        q, k, v = self.qkv(self.norm(x)).unsqueeze(1).chunk(3, dim=-1)  # (B, 1, T, a) each
        # Keys at padding positions are masked out, so padding never changes a real token's output.
        key_mask = None if mask is None else mask.bool()[:, None, None, :]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask,
                                           dropout_p=self.options.dropout if self.training else 0.0)
        return x + self.proj(y.squeeze(1))
