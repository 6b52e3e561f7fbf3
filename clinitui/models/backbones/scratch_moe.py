"""The from-scratch Transformer with a Switch-Transformer mixture-of-experts feed-forward.

Fedus, Zoph, Shazeer, "Switch Transformers" (2021), as used on the same French PICU notes by
Le et al. (IEEE JTEHM 2025): each token goes to one expert (top-1 router); an expert takes at
most ``capacity = capacity_factor × tokens / experts`` tokens per batch; tokens over capacity are
*dropped*: the feed-forward returns zero for them and the layer's residual connection carries
them on unchanged. A load-balancing loss ``E · Σ_e f_e · P_e`` (f_e: share of tokens routed to
expert e, P_e: mean router probability of e) keeps the experts evenly used; the training loop
adds ``auxiliary_loss()`` to the classification loss and logs it as ``aux_loss``.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from pydantic import Field
from torch import nn
from torch.nn import functional as F

from clinitui.models.backbones.scratch_transformer import FeedForward, ScratchOptions, ScratchTransformer
from clinitui.models.registry import register_backbone


class MoEOptions(ScratchOptions):
    experts: int = Field(4, ge=1, le=64, description="Number of expert feed-forwards per layer (each the size of the dense one).")
    capacity_factor: float = Field(
        1.25, gt=0.0, description="Tokens an expert may take per batch, as a multiple of an even share; "
        "tokens over capacity skip the feed-forward (residual only)."
    )
    aux_loss_coef: float = Field(0.01, ge=0.0, description="Weight of the load-balancing loss (summed over layers).")
    eval_capacity_factor: Optional[float] = Field(
        None, gt=0.0, description="Capacity factor at evaluation; empty = no limit, so a note's prediction never "
        "depends on the other notes in its batch."
    )


class SwitchFeedForward(nn.Module):
    """Top-1 routed experts with a capacity limit; records its load-balancing loss."""

    def __init__(self, dim: int, hidden: int, options: MoEOptions) -> None:
        super().__init__()
        self.options = options
        self.router = nn.Linear(dim, options.experts, bias=False)
        self.experts = nn.ModuleList(FeedForward(dim, hidden, options.dropout) for _ in range(options.experts))
        self.token_mask: torch.Tensor | None = None  # (B, T), set by the backbone before each forward
        self.aux_loss: torch.Tensor | None = None
        self.dropped_fraction: torch.Tensor | None = None

    def capacity(self, n_tokens: int) -> int:
        factor = self.options.capacity_factor if self.training else self.options.eval_capacity_factor
        if factor is None:
            return n_tokens
        return max(1, math.ceil(factor * n_tokens / self.options.experts))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        flat = x.reshape(b * t, d)
        # Only real tokens are routed: padding must neither use capacity nor weigh in the balance loss.
        mask = self.token_mask.reshape(-1).bool() if self.token_mask is not None else torch.ones(b * t, dtype=torch.bool, device=x.device)
        real = mask.nonzero().squeeze(1)
        tokens = flat[real]
        probs = torch.softmax(self.router(tokens).float(), dim=-1)  # router in fp32 for stability
        gate, expert = probs.max(dim=-1)
        one_hot = F.one_hot(expert, self.options.experts)
        # position of each token in its expert's queue (batch order); over capacity → dropped
        position = (one_hot.cumsum(0) * one_hot).sum(-1)
        kept = position <= self.capacity(len(real))
        out = torch.zeros_like(tokens)
        for e, ffn in enumerate(self.experts):
            rows = ((expert == e) & kept).nonzero().squeeze(1)
            if rows.numel():
                # scaling by the gate probability is what lets the router learn
                out[rows] = (ffn(tokens[rows]) * gate[rows, None]).to(out.dtype)
        share = one_hot.float().mean(0)  # f_e (before capacity, as in Switch)
        self.aux_loss = self.options.experts * (share * probs.mean(0)).sum()
        self.dropped_fraction = (~kept).float().mean().detach()  # a tensor: no device sync per step
        result = torch.zeros_like(flat)
        result[real] = out
        return result.reshape(b, t, d)


@register_backbone("scratch-moe")
class ScratchMoE(ScratchTransformer):
    """Switch-Transformer MoE encoder trained from scratch: top-1 router, capacity factor, balance loss."""

    Options = MoEOptions

    def make_ffn(self, dim: int, hidden: int, options: MoEOptions) -> nn.Module:
        return SwitchFeedForward(dim, hidden, options)

    def moe_layers(self) -> list[SwitchFeedForward]:
        return [m for m in self.modules() if isinstance(m, SwitchFeedForward)]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        # The feed-forwards route only real tokens; the mask stays set until the next forward
        # because activation checkpointing re-runs them during backward.
        for layer in self.moe_layers():
            layer.token_mask = attention_mask
        return super().forward(input_ids, attention_mask)

    def auxiliary_loss(self) -> torch.Tensor | None:
        losses = [m.aux_loss for m in self.moe_layers() if m.aux_loss is not None]
        if not losses or self.options.aux_loss_coef == 0.0:
            return None
        return self.options.aux_loss_coef * torch.stack(losses).sum()

    def describe(self) -> dict:
        return {**super().describe(), "experts": self.options.experts,
                "capacity_factor": self.options.capacity_factor, "aux_loss_coef": self.options.aux_loss_coef}
