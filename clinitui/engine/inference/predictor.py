"""What a checkpoint predicts: its class probabilities for a list of texts, whatever its kind.

One function for ``eval``, ``predict`` and the TUI's evaluate (through engine/inference/apply.py),
acting on what :func:`clinitui.kinds.checkpoint_predicts` says the checkpoint computes:

* ``NETWORK``: the classifier's softmax (one sigmoid per label, multi-label);
* ``BLEND`` (an ``ensemble`` key): the network blended with its TF-IDF model (engine/tfidf/blend.py);
* ``TFIDF`` (the ``tfidf`` backbone): the TF-IDF model alone (engine/tfidf/model.py, ovr.py);
* ``SEED_AVERAGE`` (``members`` in config.json): the mean of a seed group's members' probabilities.

Temperature and operating threshold, when a checkpoint has them, apply to what this returns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clinitui.engine.checkpoint.folder import read_checkpoint_info
from clinitui.errors import CheckpointError
from clinitui.kinds import Predicts, checkpoint_predicts


def _device(device: str | None) -> str:
    import torch

    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def member_paths(info) -> list[Path]:
    """The member checkpoints of a seed group's checkpoint, each inside the group's folder."""
    members = info.raw.get("members")
    if not isinstance(members, list) or not members:
        raise CheckpointError(f"{info.path}: config.json lists no member checkpoints; the seed group is damaged")
    group = info.path.parent.resolve()
    out = []
    for rel in members:
        path = (info.path / str(rel)).resolve()
        if group not in path.parents:
            raise CheckpointError(f"{info.path}: member '{rel}' lies outside the seed group's folder; refused")
        out.append(path)
    return out


def network_probabilities(info, texts: list[str], batch_size: int, device: str | None) -> np.ndarray:
    import torch

    from clinitui.engine.encode import long_notes
    from clinitui.engine.checkpoint.folder import load_checkpoint
    from clinitui.engine.train.loop import predict_probs

    dev = _device(device)
    model, tokenizer, info = load_checkpoint(info.path, dev)
    # read as trained: truncate, head-tail or chunk (config.json `long_notes`; absent = truncate)
    split, _ = long_notes.encode(tokenizer, texts, [], info.raw.get("long_notes"), info.max_length,
                                   with_stats=False)
    return predict_probs(model, split, tokenizer.pad_id, batch_size, torch.device(dev))


def checkpoint_probabilities(checkpoint: Path, texts: list[str], batch_size: int = 64, device: str | None = None,
                             *, _depth: int = 0):
    """(probs (N, C), checkpoint info) for ``texts``: exactly what the checkpoint predicts."""
    info = read_checkpoint_info(checkpoint)
    texts = list(texts)
    predicts = checkpoint_predicts(info.raw)  # decided here, once (clinitui/kinds.py)
    if predicts is Predicts.SEED_AVERAGE:
        if _depth:
            raise CheckpointError(f"{info.path}: a seed group inside a seed group is not supported")
        parts = []
        for member in member_paths(info):
            probs, member_info = checkpoint_probabilities(member, texts, batch_size, device, _depth=1)
            if member_info.label_names != info.label_names:
                raise CheckpointError(f"{member}: its labels differ from the seed group's; the group is damaged")
            parts.append(probs)
        return np.mean(parts, axis=0), info
    if predicts is Predicts.TFIDF:
        from clinitui.engine.tfidf.load import load_tfidf

        sha = (info.raw.get("tfidf") or {}).get("sha256")
        return load_tfidf(info.path, sha).predict_proba(texts), info
    if predicts is Predicts.NETWORK:
        return network_probabilities(info, texts, batch_size, device), info
    from clinitui.engine.tfidf.blend import blend, load_part

    tfidf, weight = load_part(info)  # checked before the network runs: a tampered file fails fast
    return blend(network_probabilities(info, texts, batch_size, device), tfidf.predict_proba(texts), weight), info
