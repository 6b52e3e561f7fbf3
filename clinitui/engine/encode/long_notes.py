"""``--long-notes truncate|head-tail|chunk``: encode notes for the network, and say what was lost.

The run, ``eval``/``predict`` (through engine/inference/predictor.py) and the feature cache all encode notes
here, so a checkpoint is read the way it was trained: the settings travel in the checkpoint's
``config.json`` as ``long_notes`` (absent in older checkpoints = ``truncate``). The cutting itself
is data/windows.py (pure Python); this module adds the tokenizer and the ``EncodedSplit``.
The TF-IDF half of an ensemble reads the whole note whatever the mode.
"""

from __future__ import annotations

from typing import Sequence

from clinitui.data import windows as win
from clinitui.errors import ConfigError

TRUNCATE = {"mode": "truncate"}


def settings(config, max_length: int) -> dict:
    """The run's long-notes settings as stored in the checkpoint (``max_length`` = the window)."""
    d = config.data
    out = {"mode": d.long_notes, "window": max_length}
    if d.long_notes == "chunk":
        out.update(stride=d.chunk_stride or win.default_stride(max_length), max_chunks=d.max_chunks,
                   pooling=config.model.chunk_pooling)
    elif d.long_notes == "head-tail":
        out["head_fraction"] = d.head_fraction
    return out


def check(config):
    """The config to run: refuses (ConfigError), before any run directory exists, what the long-notes
    settings cannot do. Without chunking, attention pooling of windows has nothing to pool: the
    returned copy says ``mean`` (no unused weights in the model), as run.toml records."""
    d = config.data
    window = min(config.train.max_length, config.budget.max_length)
    if d.long_notes != "chunk":
        if config.model.chunk_pooling != "mean":
            config = config.model_copy(deep=True)
            config.model.chunk_pooling = "mean"
        return config
    span = win.body_budget(window)
    if d.chunk_stride is not None and d.chunk_stride > span:
        raise ConfigError(f"data.chunk_stride = {d.chunk_stride} is longer than a window's {span} text tokens "
                          f"(train.max_length {window} minus 2 special tokens): windows would skip text; "
                          f"use a stride of at most {span}")
    if config.dist.world_size > 1:
        raise ConfigError("--long-notes chunk is not supported with several training processes yet; "
                          "use --nproc 1 or --long-notes head-tail")
    return config


def window_of(tokenizer, max_length: int) -> int:
    """The window in tokens: ``max_length``, never past the encoder's position table."""
    limit = getattr(tokenizer, "limit", None)
    return min(max_length, limit) if limit else max_length


def encode(tokenizer, texts: Sequence[str], labels: list, spec: dict | None, max_length: int,
           with_stats: bool = True):
    """(EncodedSplit, TruncationStats) for ``texts`` under ``spec`` (the checkpoint's ``long_notes``).

    ``with_stats`` False: no statistics (None), and ``truncate`` skips encoding whole notes."""
    from clinitui.engine.encode.batching import EncodedSplit
    from clinitui.engine.encode.documents import encode_documents

    spec = spec or TRUNCATE
    mode = spec.get("mode", "truncate")
    if mode not in win.MODES:
        raise ConfigError(f"long_notes mode '{mode}' is not one of {', '.join(win.MODES)}; "
                          "the checkpoint was written by a newer clinitui")
    window = window_of(tokenizer, max_length)
    stride = int(spec.get("stride") or win.default_stride(window))
    max_chunks = int(spec.get("max_chunks") or 1)
    if mode == "truncate" and not with_stats:
        return EncodedSplit(tokenizer.encode(list(texts), max_length), labels), None
    full = encode_documents(tokenizer, list(texts))  # whole notes: what is kept is decided below
    stats = win.truncation_stats([len(x) for x in full], window, mode, stride, max_chunks)
    if mode == "chunk":
        windows = [win.chunk(x, window, stride, max_chunks) for x in full]
        return EncodedSplit([w[0] for w in windows], labels, windows), stats
    if mode == "head-tail":
        fraction = float(spec.get("head_fraction", 0.25))
        return EncodedSplit([win.head_tail(x, window, fraction) for x in full], labels), stats
    return EncodedSplit(tokenizer.encode(list(texts), max_length), labels), stats  # the tokenizer's own truncation


def summary(parts: dict) -> dict:
    """The ``truncation`` entry of ``run_started``, ``metrics.json`` and ``--json``: all splits together,
    and each split's counts under ``splits``."""
    merged = win.merge(list(parts.values())).as_dict()
    merged["splits"] = {name: {"notes": s.notes, "notes_over_window": s.notes_over_window,
                               "tokens_dropped_share": s.tokens_dropped_share} for name, s in parts.items()}
    return merged
