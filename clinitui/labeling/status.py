"""``clinitui label status``: counts per class and annotator, and agreement where annotators overlap.

Agreement is Cohen's kappa (sklearn.metrics.cohen_kappa_score) on the notes both annotators of a
pair labelled, with a 95 % percentile bootstrap interval over those notes (resampled with a fixed
seed, so the same journal gives the same interval). Multi-label sets are compared as whole sets.
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations
from pathlib import Path

import numpy as np

from clinitui.labeling.export import _key, merged

N_BOOT = 1000
SEED = 0


def kappa_interval(a: list[str], b: list[str], n_boot: int = N_BOOT, seed: int = SEED) -> tuple[float, float, float]:
    """(kappa, low, high): Cohen's kappa of two raters and its 95 % percentile bootstrap interval."""
    from sklearn.metrics import cohen_kappa_score

    a_, b_ = np.asarray(a), np.asarray(b)
    k = _kappa(cohen_kappa_score, a_, b_)
    rng = np.random.default_rng(seed)
    boots = [_kappa(cohen_kappa_score, a_[i], b_[i]) for i in (rng.integers(0, len(a_), len(a_)) for _ in range(n_boot))]
    boots = [x for x in boots if not np.isnan(x)]
    if not boots:
        return k, float("nan"), float("nan")
    return k, float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))


def _kappa(fn, a: np.ndarray, b: np.ndarray) -> float:
    """Kappa, 1.0 when both raters used one and the same label throughout (sklearn gives NaN there)."""
    if len(set(a) | set(b)) == 1:
        return 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(fn(a, b))


def status(journals: list[Path], pool) -> dict:
    """Counts per class (standing labels, every annotator) and per annotator, and kappa per overlapping pair."""
    header, votes, _ = merged(journals, pool)
    per_class: Counter = Counter()
    per_annotator: Counter = Counter()
    by_annotator: dict[str, dict[str, str]] = {}
    for rid, given in votes.items():
        for annotator, label in given.items():
            per_annotator[annotator] += 1
            by_annotator.setdefault(annotator, {})[rid] = _key(label)
            for name in (label if isinstance(label, list) else [label]):
                per_class[name] += 1
    agreement = []
    for x, y in combinations(sorted(by_annotator), 2):
        both = sorted(set(by_annotator[x]) & set(by_annotator[y]))
        if len(both) < 2:
            continue
        k, lo, hi = kappa_interval([by_annotator[x][i] for i in both], [by_annotator[y][i] for i in both])
        agreement.append({"annotators": [x, y], "notes": len(both), "kappa": round(k, 4),
                          "low": round(lo, 4), "high": round(hi, 4)})
    return {"pool": str(pool.path), "pool_size": len(pool.ids), "labelled": len(votes),
            "classes": {name: per_class.get(name, 0) for name in header["labels"]},
            "annotators": dict(per_annotator), "agreement": agreement}
