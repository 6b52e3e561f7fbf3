"""The training loss of a run: softmax cross-entropy (one label per note) or per-label sigmoid BCE.

Both return the *sum* over the batch's rows, so the loop's sum-then-divide by the accumulation
group stays exact. Single-label: optional inverse-frequency class weights (``train.class_weights``).
Multi-label: ``train.pos_weight`` weighs each label's positive notes (``balanced`` = negatives /
positives, ``sqrt`` its square root, both capped at 100), so a rare label's few positives are not
drowned by its many negatives.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch.nn import functional as F

from clinitui.config.schema import TrainConfig
from clinitui.kinds import Task

MAX_POS_WEIGHT = 100.0


def make_loss(cfg: TrainConfig, labels, n_labels: int, device: torch.device) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if Task.of_labels(labels) is Task.MULTILABEL:
        pos_weight = None
        if cfg.pos_weight != "none":
            y = np.asarray(labels, dtype=np.float64)
            pos = y.sum(axis=0)
            ratio = np.clip((len(y) - pos) / np.maximum(pos, 1), 1.0, MAX_POS_WEIGHT)
            if cfg.pos_weight == "sqrt":
                ratio = np.sqrt(ratio)
            pos_weight = torch.tensor(ratio, dtype=torch.float32, device=device)

        def bce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            per = F.binary_cross_entropy_with_logits(logits, targets.float(), pos_weight=pos_weight, reduction="none")
            return per.mean(dim=1).sum()  # per note: the mean over its labels; then the batch's sum

        return bce
    weights = None
    if cfg.class_weights:
        counts = np.bincount(labels, minlength=n_labels).astype(np.float64)
        weights = torch.tensor(len(labels) / (n_labels * np.maximum(counts, 1)), dtype=torch.float32, device=device)

    def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, targets, weight=weights, reduction="sum")

    return cross_entropy
