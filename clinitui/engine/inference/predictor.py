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


class Network:
    """A checkpoint's network, loaded on ``device``: its softmax (multi-label: sigmoids) for texts."""

    def __init__(self, info, batch_size: int, device: str | None) -> None:
        from clinitui.engine.checkpoint.folder import load_checkpoint

        self.batch_size, self.device = batch_size, _device(device)
        self.model, self.tokenizer, self.info = load_checkpoint(info.path, self.device)

    def probabilities(self, texts: list[str]) -> np.ndarray:
        import torch

        from clinitui.engine.encode import long_notes
        from clinitui.engine.train.loop import predict_probs

        # read as trained: truncate, head-tail or chunk (config.json `long_notes`; absent = truncate)
        split, _ = long_notes.encode(self.tokenizer, texts, [], self.info.raw.get("long_notes"), self.info.max_length,
                                       with_stats=False)
        return predict_probs(self.model, split, self.tokenizer.pad_id, self.batch_size, torch.device(self.device))


class Predictor:
    """A checkpoint loaded once: :meth:`probabilities` on any number of text lists (``predict``
    streams a large file through it chunk by chunk; the models stay loaded)."""

    def __init__(self, checkpoint: Path, batch_size: int = 64, device: str | None = None, *, _depth: int = 0) -> None:
        self.info = read_checkpoint_info(checkpoint)
        self.batch_size, self.device = batch_size, device
        self.predicts = checkpoint_predicts(self.info.raw)  # decided here, once (clinitui/kinds.py)
        self.members: list[Predictor] = []
        self.tfidf, self.weight, self.network = None, None, None
        if self.predicts is Predicts.SEED_AVERAGE:
            if _depth:
                raise CheckpointError(f"{self.info.path}: a seed group inside a seed group is not supported")
            for member in member_paths(self.info):
                loaded = Predictor(member, batch_size, device, _depth=1)
                if loaded.info.label_names != self.info.label_names:
                    raise CheckpointError(f"{member}: its labels differ from the seed group's; the group is damaged")
                self.members.append(loaded)
        elif self.predicts is Predicts.TFIDF:
            from clinitui.engine.tfidf.load import load_tfidf

            self.tfidf = load_tfidf(self.info.path, (self.info.raw.get("tfidf") or {}).get("sha256"))
        else:
            if self.predicts is Predicts.BLEND:
                from clinitui.engine.tfidf.blend import load_part

                self.tfidf, self.weight = load_part(self.info)  # checked before the network loads: fails fast
            self.network = Network(self.info, batch_size, device)

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """(N, C): exactly what the checkpoint predicts for ``texts`` (before temperature and threshold)."""
        texts = list(texts)
        if self.predicts is Predicts.SEED_AVERAGE:
            return np.mean([m.probabilities(texts) for m in self.members], axis=0)
        if self.predicts is Predicts.TFIDF:
            return self.tfidf.predict_proba(texts)
        if self.predicts is Predicts.NETWORK:
            return self.network.probabilities(texts)
        from clinitui.engine.tfidf.blend import blend

        return blend(self.network.probabilities(texts), self.tfidf.predict_proba(texts), self.weight)


def network_probabilities(info, texts: list[str], batch_size: int, device: str | None) -> np.ndarray:
    """The network's probabilities alone (a blend's network half), loading the checkpoint for this call."""
    return Network(info, batch_size, device).probabilities(texts)


def checkpoint_probabilities(checkpoint: Path, texts: list[str], batch_size: int = 64, device: str | None = None):
    """(probs (N, C), checkpoint info) for ``texts``: exactly what the checkpoint predicts."""
    loaded = Predictor(checkpoint, batch_size, device)
    return loaded.probabilities(texts), loaded.info
