"""Pooling a chunked note's windows into one vector (``--long-notes chunk``).

Each window goes through backbone → [adapter] → pooling as a note of its own would; the windows
of a note are then pooled into the one vector the head reads. ``owners`` (W,) says which batch
row (note) each window belongs to; a note's windows are contiguous. A note with one window
comes out unchanged under every mode, so a note shorter than the window is predicted exactly as
under ``truncate``.

* ``mean`` — the average of the windows (no parameters);
* ``max``  — the element-wise maximum (a finding stated once, anywhere, can dominate);
* ``attention`` — a learnt score per window (a d → 1 linear layer), softmax within the note,
  weighted sum: the head learns which windows matter. Its weights train with the head, so it
  works with a frozen backbone and the feature cache.
"""

from __future__ import annotations

import torch
from torch import nn


class WindowPool(nn.Module):
    """(W, d) window vectors + owners → (N, d) note vectors."""

    def __init__(self, dim: int, mode: str) -> None:
        super().__init__()
        self.mode = mode
        self.score = nn.Linear(dim, 1) if mode == "attention" else None

    def forward(self, x: torch.Tensor, owners: torch.Tensor) -> torch.Tensor:
        n = int(owners[-1]) + 1 if owners.numel() else 0  # owners are sorted: the last note's row + 1
        index = owners.unsqueeze(-1).expand_as(x)
        if self.mode == "max":
            out = x.new_full((n, x.shape[1]), float("-inf"))
            return out.scatter_reduce(0, index, x, reduce="amax", include_self=True)
        if self.mode == "attention":
            s = self.score(x).squeeze(-1).float()  # (W,)
            top = s.new_full((n,), float("-inf")).scatter_reduce(0, owners, s, reduce="amax", include_self=True)
            e = torch.exp(s - top[owners])
            weights = (e / e.new_zeros(n).index_add(0, owners, e)[owners]).to(x.dtype)
            return x.new_zeros((n, x.shape[1])).index_add(0, owners, x * weights.unsqueeze(-1))
        counts = x.new_zeros(n).index_add(0, owners, torch.ones_like(owners, dtype=x.dtype))
        return x.new_zeros((n, x.shape[1])).index_add(0, owners, x) / counts.unsqueeze(-1)
