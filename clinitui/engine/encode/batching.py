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
    windows: list[list[list[int]]] | None = None  # --long-notes chunk: each note's windows (ids = the first)

    @property
    def lengths(self) -> list[int]:
        if self.windows is not None:  # a note costs all its windows' tokens
            return [sum(len(w) for w in ws) for ws in self.windows]
        return [len(x) for x in self.ids]

    @property
    def sizes(self) -> list[int] | None:
        """Sequences per note (windows) when notes are chunked, else None (one each)."""
        return None if self.windows is None else [len(ws) for ws in self.windows]


@dataclass
class Batch:
    input_ids: torch.Tensor  # (B, T) padded to the longest sequence of this batch
    attention_mask: torch.Tensor  # (B, T) 1 for real tokens
    labels: torch.Tensor  # (B,)
    indices: list[int]  # rows of the split, to put predictions back in order
    real_tokens: int
    owners: torch.Tensor | None = None  # (W,) chunked notes: the batch row (note) each window belongs to

    def to(self, device: torch.device) -> "Batch":
        if device.type == "cpu":
            return self
        nb = device.type == "cuda"
        return Batch(self.input_ids.to(device, non_blocking=nb), self.attention_mask.to(device, non_blocking=nb),
                     self.labels.to(device, non_blocking=nb), self.indices, self.real_tokens,
                     None if self.owners is None else self.owners.to(device, non_blocking=nb))


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


def collate_split(split: EncodedSplit, indices: list[int], pad_id: int, labels: list | None = None) -> Batch:
    """``collate`` for rows of ``split``; a chunked split's rows bring all their windows (``owners`` set)."""
    labels = split.labels if labels is None else labels
    if split.windows is None:
        return collate(split.ids, labels, indices, pad_id)
    flat = [w for i in indices for w in split.windows[i]]
    seqs = collate(flat, [0] * len(flat), list(range(len(flat))), pad_id)
    notes = collate([[pad_id]] * len(indices), [labels[i] for i in indices], list(range(len(indices))), pad_id)
    owners = torch.tensor([row for row, i in enumerate(indices) for _ in split.windows[i]], dtype=torch.long)
    return Batch(seqs.input_ids, seqs.attention_mask, notes.labels, indices, seqs.real_tokens, owners)


def forward(model, batch: Batch):
    """``model``'s logits for ``batch``: windows are passed with their ``owners`` only when chunked, so
    any module taking (input_ids, attention_mask) still fits the plain path."""
    if batch.owners is None:
        return model(batch.input_ids, batch.attention_mask)
    return model(batch.input_ids, batch.attention_mask, batch.owners)


def cut_by_size(order: list[int], batch_size: int, sizes: list[int]) -> list[list[int]]:
    """``order`` cut into batches of at most ``batch_size`` sequences (a row of more stands alone)."""
    batches: list[list[int]] = []
    current: list[int] = []
    used = 0
    for i in order:
        if current and used + sizes[i] > batch_size:
            batches.append(current)
            current, used = [], 0
        current.append(i)
        used += sizes[i]
    if current:
        batches.append(current)
    return batches


def batch_order(lengths: list[int], batch_size: int, rng: random.Random | None, bucket: bool,
                sizes: list[int] | None = None) -> list[list[int]]:
    """Row indices grouped into batches.

    Training (``rng`` given): shuffled; with ``bucket``, rows are shuffled, cut into pools of
    50 batches, sorted by length inside each pool, batched, and the batches shuffled — so a
    batch holds notes of similar length while the order stays random between epochs.
    Evaluation (``rng`` None): sorted by length (bucket) or in file order; order does not matter.
    ``sizes`` (chunked notes: windows per row): a batch holds at most ``batch_size`` windows.
    """
    def cut(rows: list[int]) -> list[list[int]]:
        if sizes is not None:
            return cut_by_size(rows, batch_size, sizes)
        return [rows[i : i + batch_size] for i in range(0, len(rows), batch_size)]

    order = list(range(len(lengths)))
    if rng is None:
        if bucket:
            order.sort(key=lambda i: lengths[i])
        return cut(order)
    rng.shuffle(order)
    if not bucket:
        return cut(order)
    pool = batch_size * 50
    batches = []
    for start in range(0, len(order), pool):
        batches += cut(sorted(order[start : start + pool], key=lambda i: lengths[i]))
    rng.shuffle(batches)
    return batches


def group_batches(batches: list[list[int]], accum: int, rows_per_step: int | None = None) -> list[list[list[int]]]:
    """Batches grouped into optimizer steps: ``accum`` each, or (chunked notes, whose batches hold
    fewer rows than sequences) as many as make ``rows_per_step`` notes, so the effective batch
    still counts notes."""
    if rows_per_step is None:
        return [batches[i : i + accum] for i in range(0, len(batches), accum)]
    groups: list[list[list[int]]] = []
    current: list[list[int]] = []
    rows = 0
    for b in batches:
        current.append(b)
        rows += len(b)
        if rows >= rows_per_step:
            groups.append(current)
            current, rows = [], 0
    if current:
        groups.append(current)
    return groups


def padding_fraction(lengths: list[int], batches: list[list[int]]) -> float:
    """Share of padded positions in ``batches`` (what bucketing reduces)."""
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    real = sum(lengths[i] for b in batches for i in b)
    return 1.0 - real / padded if padded else 0.0
