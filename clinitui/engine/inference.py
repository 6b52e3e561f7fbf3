"""``clinitui eval`` and ``clinitui predict``: a saved checkpoint applied to a data file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clinitui.data.readers import read_table
from clinitui.engine.checkpoint import load_checkpoint, read_checkpoint_info
from clinitui.errors import DataError


def _device(device: str | None) -> str:
    import torch

    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def _rows_for_split(table, split: str | None, path: Path):
    if split in (None, "all") or table.splits is None:
        return list(range(len(table.texts)))
    want = {"dev": "val", "validation": "val"}.get(split, split)
    rows = [i for i, s in enumerate(table.splits) if s == want]
    if not rows:
        raise DataError(f"{path}: no rows with split '{split}'; use --split all or another split")
    return rows


def probabilities(checkpoint: Path, texts: list[str], batch_size: int = 64, device: str | None = None):
    """(probs (N, C), checkpoint info) for ``texts``."""
    import torch

    from clinitui.engine.loop import EncodedSplit, predict_probs

    dev = _device(device)
    model, tokenizer, info = load_checkpoint(checkpoint, dev)
    ids = tokenizer.encode(texts, info.max_length)
    probs = predict_probs(model, EncodedSplit(ids, []), tokenizer.pad_id, batch_size, torch.device(dev))
    return probs, info


def evaluate(checkpoint: Path, data: Path, *, text_col: str = "text", label_col: str = "label",
             split_col: str | None = None, split: str | None = "test", device: str | None = None,
             delimiter: str | None = None, encoding: str | None = None) -> dict:
    from clinitui.engine.metrics import classification_metrics

    info = read_checkpoint_info(checkpoint)  # cheap checks before reading a large file
    table = read_table(data, text_col, label_col, split_col, delimiter=delimiter, encoding=encoding)
    rows = _rows_for_split(table, split if split_col else None, Path(data))
    unknown = sorted({table.labels[i] for i in rows} - set(info.label_names))
    if unknown:
        shown = ", ".join(repr(u[:30]) for u in unknown[:5])
        raise DataError(f"{data}: label(s) {shown} unknown to the checkpoint, which knows "
                        f"{', '.join(info.label_names)}; relabel the file or use a matching checkpoint")
    index = {name: i for i, name in enumerate(info.label_names)}
    probs, info = probabilities(info.path, [table.texts[i] for i in rows], device=device)
    y = [index[table.labels[i]] for i in rows]
    metrics = classification_metrics(y, probs, info.label_names, info.positive_index)
    metrics["labels"] = info.label_names
    metrics["checkpoint"] = str(info.path)
    metrics["data"] = str(data)
    metrics["split"] = split if split_col else "all"
    return metrics


def predict(checkpoint: Path, data: Path, *, text_col: str = "text", device: str | None = None,
            delimiter: str | None = None, encoding: str | None = None) -> tuple[list[str], list[dict]]:
    """(label names, one row per note: ``row``, ``predicted``, ``p_<label>`` ...) in file order."""
    info = read_checkpoint_info(checkpoint)
    table = read_table(data, text_col, require_labels=False, delimiter=delimiter, encoding=encoding)
    probs, info = probabilities(info.path, table.texts, device=device)
    names = info.label_names
    rows = []
    for i, p in enumerate(probs):
        row = {"row": i, "predicted": names[int(np.argmax(p))]}
        row.update({f"p_{name}": round(float(v), 6) for name, v in zip(names, p)})
        rows.append(row)
    return names, rows
