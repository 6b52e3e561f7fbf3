"""Frozen-backbone feature cache: run the backbone once, train the adapter and head for many epochs.

When the backbone is frozen and the adapter sits after it (``freeze = "backbone"``, the study's
setting), every epoch would feed the same notes through the same fixed backbone. The cache runs
it once over the training and validation splits and keeps what the adapter reads:

* **pooled adapters** (``level = "pooled"``: linear, grn, adapter, lightweight): the pooled
  vector, one (d,) row per note — a few MB even for the full demo corpus;
* **token adapters** (``level = "token"``: TinyAttention): the token states of each note, kept
  unpadded in one flat (Σ lengths, d) tensor with offsets, padded per batch when used.

The cache lives in host memory and is bounded: fp32 if it fits the limit, fp16 (half the bytes,
≈ 1e-3 relative error) if only that fits, otherwise the run keeps the uncached path and says so
with a ``warning`` event. The cached backbone ran in **eval mode** (no dropout); the training
loop also puts a frozen backbone in eval mode on the uncached path, so both give the same model.
A mixture-of-experts backbone's load-balancing loss is a constant when the backbone is frozen
(no gradient), so the cached path leaves it out of the reported loss.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import torch

from clinitui.engine.encode.batching import batch_order, collate
from clinitui.engine.runtime.precision import autocast
from clinitui.errors import StopRequested

HOST_SHARE = 0.5  # at most this share of the host's available memory goes to the cache


@dataclass
class CachedBatch:
    """A batch of cached backbone outputs; duck-types ``batching.Batch`` where the loop needs it."""

    states: torch.Tensor  # (B, d) pooled vectors, or (B, T, d) token states padded with zeros
    attention_mask: torch.Tensor | None  # (B, T) for token states, None for pooled vectors
    labels: torch.Tensor  # (B,)
    indices: list[int]
    real_tokens: int
    owners: torch.Tensor | None = None  # chunked notes: the note (batch row) of each window row of ``states``

    def to(self, device: torch.device) -> "CachedBatch":
        nb = device.type == "cuda"
        mask = None if self.attention_mask is None else self.attention_mask.to(device, non_blocking=nb)
        owners = None if self.owners is None else self.owners.to(device, non_blocking=nb)
        return CachedBatch(self.states.to(device, non_blocking=nb).float(), mask,
                           self.labels.to(device, non_blocking=nb), self.indices, self.real_tokens, owners)


class CachedSplit:
    """One split's cached outputs: pooled (N, d) or flat token states with per-row offsets."""

    def __init__(self, data: torch.Tensor, offsets: list[int] | None, lengths: list[int], labels: list[int],
                 note_windows: list[range] | None = None) -> None:
        self.data, self.offsets, self.lengths = data, offsets, lengths
        self.labels = torch.tensor(labels or [0] * len(lengths), dtype=torch.long)
        self.note_windows = note_windows  # chunked notes: each note's window rows (rows here are windows)

    def collate(self, indices: list[int]) -> CachedBatch:
        if self.note_windows is None:
            return self._collate_rows(indices)
        rows = [w for i in indices for w in self.note_windows[i]]
        windows = self._collate_rows(rows)
        owners = torch.tensor([k for k, i in enumerate(indices) for _ in self.note_windows[i]], dtype=torch.long)
        return CachedBatch(windows.states, windows.attention_mask, self.labels[indices], indices,
                           windows.real_tokens, owners)

    def _collate_rows(self, indices: list[int]) -> CachedBatch:
        real = sum(self.lengths[i] for i in indices)
        labels = self.labels[indices] if self.note_windows is None else self.labels[:0]  # windows: set by collate
        if self.offsets is None:
            return CachedBatch(self.data[indices], None, labels, indices, real)
        longest = max(self.lengths[i] for i in indices)
        states = self.data.new_zeros((len(indices), longest, self.data.shape[1]))
        mask = torch.zeros((len(indices), longest), dtype=torch.long)
        for row, i in enumerate(indices):
            n = self.lengths[i]
            states[row, :n] = self.data[self.offsets[i] : self.offsets[i] + n]
            mask[row, :n] = 1
        return CachedBatch(states, mask, labels, indices, real)


class FeatureCache:
    """Backbone outputs of the training and validation splits, and the forward pass after them."""

    def __init__(self, level: str, splits: dict[str, CachedSplit], dtype: torch.dtype, seconds: float) -> None:
        self.level, self.splits, self.dtype, self.seconds = level, splits, dtype, seconds

    @property
    def nbytes(self) -> int:
        return sum(s.data.numel() * s.data.element_size() for s in self.splits.values())

    def collate(self, split: str, indices: list[int]) -> CachedBatch:
        return self.splits[split].collate(indices)

    @staticmethod
    def forward(model, batch: CachedBatch) -> torch.Tensor:
        """Logits from cached outputs: ``Classifier.features`` after its backbone call, then the head."""
        if batch.attention_mask is not None:  # token-level adapter: adapt the states, then pool
            pooled = model.pool(model.adapter(batch.states, batch.attention_mask), batch.attention_mask)
        else:  # pooled-level adapter: the backbone's pooled vector was cached
            pooled = model.adapter(batch.states)
        if batch.owners is not None:  # chunked notes: the windows' vectors pooled per note (models/window_pool.py)
            pooled = model.window_pool(pooled, batch.owners)
        return model.head(model.dropout(pooled))


def ineligible(model) -> str | None:
    """Why the cache cannot be used for ``model`` (a reason), or None when it can."""
    if any(p.requires_grad for p in model.backbone.parameters()):
        return "the backbone trains"
    if hasattr(model.adapter, "attach"):  # e.g. LoRA lives inside the backbone
        return f"adapter '{type(model.adapter).__name__}' sits inside the backbone"
    if model.adapter.level not in ("pooled", "token"):
        return f"adapter level '{model.adapter.level}' is not known to the cache"
    return None


def cache_bytes(level: str, lengths: list[int], dim: int, element_size: int) -> int:
    rows = len(lengths) if level == "pooled" else sum(lengths)
    return rows * dim * element_size


def limit_bytes(device: torch.device, plan=None) -> int:
    """Memory the cache may take: half the host's available memory and, on CPU, the budget's headroom."""
    import psutil

    limit = int(psutil.virtual_memory().available * HOST_SHARE)
    if device.type == "cpu" and plan is not None:  # the cache shares host memory with training
        limit = min(limit, max(0, plan.available_bytes - plan.estimate.total))
    return limit


def build(model, splits: Mapping[str, object], *, pad_id: int, batch_size: int, device: torch.device,
          precision: str, limit: int, emit: Callable[..., dict],
          should_stop: Callable[[], bool] = lambda: False, store: Path | None = None) -> FeatureCache | None:
    """The cache for ``splits`` (name → ``EncodedSplit``), or None with a ``warning`` event.

    None means: train on the uncached path (the backbone is not frozen, or the cache would not
    fit ``limit`` bytes even in fp16). ``store``: a folder of cache entries on disk
    (engine/train/feature_store.py): an entry with the same key is read instead of running the
    backbone, and a computed cache is stored there; the ``feature_cache`` event says which
    (``reused``, ``store``).
    """
    reason = ineligible(model)
    level = getattr(model.adapter, "level", None)
    dim = model.backbone.hidden_size
    notes = {name: split.lengths for name, split in splits.items()}
    splits = {name: _flat_windows(split) for name, split in splits.items()}  # chunked notes: a row per window
    lengths = {name: split.lengths for name, split in splits.items()}
    if reason is None:
        need32 = sum(cache_bytes(level, n, dim, 4) for n in lengths.values())
        dtype = torch.float32 if need32 <= limit else torch.float16 if need32 // 2 <= limit else None
        if dtype is None:
            reason = (f"the {level}-level features need {need32 / 2**20:.0f} MiB in fp32 "
                      f"({need32 / 2**21:.0f} MiB in fp16), over the {limit / 2**20:.0f} MiB the cache may use")
    if reason is not None:
        emit("warning", message=f"feature cache off ({reason}): the backbone runs every epoch")
        return None

    start = time.perf_counter()
    key = stored = entry = None
    if store is not None:
        from clinitui.engine.train import feature_store

        key = feature_store.cache_key(model, splits, level=level, dtype=dtype, precision=precision)
        stored = feature_store.load(store, key, lengths, emit)
    cached: dict[str, CachedSplit] = {}
    if stored is not None:
        for name, split in splits.items():
            s = stored[name]
            windows = None if s["note_windows"] is None else [range(a, b) for a, b in s["note_windows"]]
            cached[name] = CachedSplit(s["data"], s["offsets"], s["lengths"], _labels(split), windows)
        entry = Path(store) / key
    else:
        cached = _encode_all(model, splits, level, dim, dtype, pad_id, batch_size, device, precision, should_stop)
        if store is not None:
            entry = feature_store.save(store, key, cached, {"level": level, "dtype": str(dtype), "precision": precision,
                                                            "rows": {k: len(v) for k, v in notes.items()}})
    cache = FeatureCache(level, cached, dtype, time.perf_counter() - start)
    emit("feature_cache", level=level, rows={k: len(v) for k, v in notes.items()}, bytes=cache.nbytes,
         dtype=str(dtype).removeprefix("torch."), seconds=round(cache.seconds, 3), reused=stored is not None,
         **({"store": str(entry)} if entry is not None else {}))
    return cache


def _encode_all(model, splits, level: str, dim: int, dtype: torch.dtype, pad_id: int, batch_size: int,
                device: torch.device, precision: str, should_stop: Callable[[], bool]) -> dict[str, CachedSplit]:
    """Run the backbone over every split, in eval mode (the cached features are dropout-free)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():  # not inference_mode: the cached tensors feed autograd later
            return {name: _encode(model, split, level, dim, dtype, pad_id, batch_size, device, precision, should_stop)
                    for name, split in splits.items()}
    finally:
        model.train(was_training)


def _labels(split) -> list:
    return split.note_labels if getattr(split, "note_windows", None) else split.labels


def _encode(model, split, level: str, dim: int, dtype: torch.dtype, pad_id: int, batch_size: int,
            device: torch.device, precision: str, should_stop: Callable[[], bool]) -> CachedSplit:
    lengths = split.lengths
    offsets = None
    if level == "pooled":
        data = torch.empty((len(lengths), dim), dtype=dtype)
    else:
        offsets = [0] * len(lengths)
        total = 0
        for i, n in enumerate(lengths):
            offsets[i], total = total, total + n
        data = torch.empty((total, dim), dtype=dtype)
    labels = split.labels or [0] * len(lengths)
    for indices in batch_order(lengths, batch_size, rng=None, bucket=True):
        if should_stop():
            raise StopRequested("stopped while caching the frozen backbone's features, before the first step; "
                                "start the run again")
        batch = collate(split.ids, labels, indices, pad_id).to(device)
        with autocast(device, precision):
            states = model.backbone(batch.input_ids, batch.attention_mask)
            if level == "pooled":
                data[indices] = model.pool(states, batch.attention_mask).to("cpu", dtype)
                continue
        states = states.to("cpu", dtype)
        for row, i in enumerate(indices):
            data[offsets[i] : offsets[i] + lengths[i]] = states[row, : lengths[i]]
    return CachedSplit(data, offsets, lengths, _labels(split), getattr(split, "note_windows", None))


def _flat_windows(split):
    """A chunked split as one row per window (``note_windows``: each note's rows); others unchanged."""
    if getattr(split, "windows", None) is None:
        return split
    from clinitui.engine.encode.batching import EncodedSplit

    flat = EncodedSplit([w for ws in split.windows for w in ws], [])  # encoded as unlabelled rows
    rows, start = [], 0
    for ws in split.windows:
        rows.append(range(start, start + len(ws)))
        start += len(ws)
    flat.note_windows, flat.note_labels = rows, split.labels
    return flat
