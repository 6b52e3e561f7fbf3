"""The frozen backbone's features on disk, computed once and reused by later runs and sweep trials.

The cache pass (engine/train/feature_cache.py) is most of a frozen run's time. Its result
depends only on what the backbone reads and how it reads it, so it is kept on disk under a key
made of:

* the **data**: the token ids of every split the backbone sees (so the data file, the split, the
  tokenizer, ``train.max_length`` and the truncation or chunking of long notes are all in it),
  with each chunked note's window count;
* the **backbone**: its class, its ``describe()`` and a SHA-256 of every tensor of its state
  (weights and buffers) — a different checkpoint, a fine-tuned copy or another size is another key;
* the **reading**: pooling, the adapter's level (pooled vector or token states), the stored dtype,
  and the precision of the pass (bf16 autocast gives other features than fp32).

Labels are not part of the key (and not stored): they come from the run's own splits.

Where: ``<folder holding the run>/.cache/features/<key>/`` — the runs root for ``clinitui
train`` (so every run under it shares the cache), the sweep's ``trials/`` folder for sweep trials.
Folders are created 0700 and files 0600, as run directories are. A writer builds the entry in a
temporary folder beside it and renames it into place: readers see a whole entry or none, and
when two runs write the same key at once the first rename wins and the second discards its copy.
A damaged entry is reported in one ``warning`` event and recomputed. Nothing evicts entries:
``rm -r <runs root>/.cache`` frees the space (the size of each entry is in its ``meta.json``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import torch

VERSION = 1
STORE_DIR = Path(".cache") / "features"  # under the folder that holds the run directory
FILE = "features.pt"
META = "meta.json"


def cache_key(model, splits: Mapping[str, object], *, level: str, dtype: torch.dtype, precision: str) -> str:
    """The entry's name: SHA-256 (first 32 hex digits) of the data, backbone and reading."""
    h = hashlib.sha256()
    backbone = model.backbone
    describe = backbone.describe() if hasattr(backbone, "describe") else {}
    head = {"v": VERSION, "backbone": f"{type(backbone).__module__}.{type(backbone).__name__}",
            "describe": describe, "pooling": getattr(model, "pooling", None), "level": level,
            "dtype": str(dtype), "precision": precision}
    h.update(json.dumps(head, sort_keys=True, default=str).encode())
    for name in sorted(splits):
        split = splits[name]
        h.update(f"\0split:{name}:{len(split.ids)}\0".encode())
        for ids in split.ids:
            h.update(np.asarray(ids, dtype=np.int64).tobytes())
            h.update(b"\xff")
        windows = getattr(split, "note_windows", None)
        if windows is not None:
            h.update(np.asarray([len(r) for r in windows], dtype=np.int64).tobytes())
    h.update(weights_digest(backbone).encode())
    return h.hexdigest()[:32]


def weights_digest(module: torch.nn.Module) -> str:
    """SHA-256 over every tensor of ``module``'s state, names, dtypes and shapes included."""
    h = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def load(root: Path, key: str, lengths: Mapping[str, list[int]], emit: Callable[..., dict]) -> dict | None:
    """The stored splits (name → fields of a CachedSplit but the labels), or None when absent or unusable."""
    entry = Path(root) / key
    if not (entry / FILE).is_file():
        return None
    try:
        stored = torch.load(entry / FILE, map_location="cpu", weights_only=True)
        if {name: s["lengths"] for name, s in stored.items()} != {k: list(v) for k, v in lengths.items()}:
            raise ValueError("row lengths differ")
        return stored
    except Exception as exc:  # damaged or foreign: recompute (the new entry replaces it)
        emit("warning", message=f"feature cache entry {entry} unusable ({type(exc).__name__}); computing it again")
        shutil.rmtree(entry, ignore_errors=True)
        return None


def save(root: Path, key: str, splits: Mapping[str, object], meta: dict) -> Path | None:
    """Write the entry (atomically: temporary folder, then rename); its folder, or None when it could not."""
    root = Path(root)
    entry = root / key
    tmp = root / f".tmp-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    payload = {name: {"data": s.data, "offsets": s.offsets, "lengths": list(s.lengths),
                      "note_windows": None if s.note_windows is None else [[r.start, r.stop] for r in s.note_windows]}
               for name, s in splits.items()}
    try:
        _private_dir(root)
        tmp.mkdir(mode=0o700)
        fd = os.open(tmp / FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
        fd = os.open(tmp / META, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({**meta, "key": key, "bytes": os.path.getsize(tmp / FILE)}, fh, indent=2)
        try:
            os.rename(tmp, entry)
        except OSError:  # another run stored the same key first: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
        return entry
    except OSError:  # a read-only or full disk: the run goes on with its in-memory cache
        shutil.rmtree(tmp, ignore_errors=True)
        return None
