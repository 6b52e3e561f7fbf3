"""Token-id batches with dynamic padding, optionally grouped by length (less padding)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch


@dataclass
class EncodedSplit:
    """One split as token ids and label indices (``labels`` empty when unlabelled)."""

    ids: list[list[int]]
    labels: list[int]

    @property
    def lengths(self) -> list[int]:
        return [len(x) for x in self.ids]


@dataclass
class Batch:
    input_ids: torch.Tensor  # (B, T) padded to the longest sequence of this batch
    attention_mask: torch.Tensor  # (B, T) 1 for real tokens
    labels: torch.Tensor  # (B,)
    indices: list[int]  # rows of the split, to put predictions back in order
    real_tokens: int

    def to(self, device: torch.device) -> "Batch":
        if device.type == "cpu":
            return self
        nb = device.type == "cuda"
        return Batch(self.input_ids.to(device, non_blocking=nb), self.attention_mask.to(device, non_blocking=nb),
                     self.labels.to(device, non_blocking=nb), self.indices, self.real_tokens)


def collate(ids: list[list[int]], labels: list[int], indices: list[int], pad_id: int) -> Batch:
    longest = max(len(ids[i]) for i in indices)
    input_ids = torch.full((len(indices), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(indices), longest), dtype=torch.long)
    for row, i in enumerate(indices):
        seq = ids[i]
        input_ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    real = sum(len(ids[i]) for i in indices)
    return Batch(input_ids, mask, torch.tensor([labels[i] for i in indices], dtype=torch.long), indices, real)


def batch_order(lengths: list[int], batch_size: int, rng: random.Random | None, bucket: bool) -> list[list[int]]:
    """Row indices grouped into batches.

    Training (``rng`` given): shuffled; with ``bucket``, rows are shuffled, cut into pools of
    50 batches, sorted by length inside each pool, batched, and the batches shuffled — so a
    batch holds notes of similar length while the order stays random between epochs.
    Evaluation (``rng`` None): sorted by length (bucket) or in file order; order does not matter.
    """
    order = list(range(len(lengths)))
    if rng is None:
        if bucket:
            order.sort(key=lambda i: lengths[i])
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(order)
    if not bucket:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    pool = batch_size * 50
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def padding_fraction(lengths: list[int], batches: list[list[int]]) -> float:
    """Share of padded positions in ``batches`` (what bucketing reduces)."""
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    real = sum(lengths[i] for b in batches for i in b)
    return 1.0 - real / padded if padded else 0.0
