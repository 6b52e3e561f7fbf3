"""Which candidate the search keeps: validation only, the simpler one unless the gain is beyond noise.

Every candidate is scored the same way on the same validation notes, from the ``predictions.json``
its run wrote (labels and probabilities, no text): macro-F1 of the most probable class (micro-F1
at 0.5 per label for a multi-label task). The argmax, not each run's own operating threshold:
a threshold chosen on these very notes would flatter the runs that have one, and the comparison
must be like for like. The test split is never read here.

The rule (:func:`one_standard_error`, swapped by changing ``RULE``): take the candidate with the
best validation score; keep instead the cheapest candidate (least wall time, so the TF-IDF model
first) whose score is within one standard error of it, the standard error of the *paired*
difference over bootstrap resamples of the validation notes (both models scored on the same
resampled rows, as engine/evaluate/stats.paired_deltas does). A gain smaller than the noise
of the validation split does not buy the more expensive model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

RESAMPLES = 1000
METRIC = {"single": "macro-F1 (argmax)", "multi": "micro-F1 (0.5 per label)"}


@dataclass
class Entry:
    """A finished candidate's validation predictions and what it cost."""

    name: str
    cost_s: float
    y: np.ndarray  # class indices (N,) or multi-hot (N, L)
    probs: np.ndarray  # (N, C) or (N, L)

    @property
    def multilabel(self) -> bool:
        return self.y.ndim == 2


def load_entry(name: str, run_dir: Path, cost_s: float) -> Entry | None:
    """The candidate's validation predictions, or None when its run wrote none."""
    from clinitui.engine.evaluate.assess import PREDICTIONS_FILE

    try:
        record = json.loads((Path(run_dir) / PREDICTIONS_FILE).read_text(encoding="utf-8"))
        val = record["val"]
        return Entry(name, cost_s, np.asarray(val["y"], dtype=int), np.asarray(val["probs"], dtype=float))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _scores(entry: Entry, rows: np.ndarray) -> np.ndarray:
    """The validation score on each row of ``rows`` (a ``(B, N)`` matrix of note indices)."""
    from clinitui.engine.evaluate.stats import metric_rows

    y, probs = entry.y[rows], entry.probs[rows]
    if entry.multilabel:
        pred = probs >= 0.5
        tp = (pred & (y == 1)).sum(axis=(1, 2))
        denom = pred.sum(axis=(1, 2)) + (y == 1).sum(axis=(1, 2))
        return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    return metric_rows(y, probs.argmax(axis=-1), probs, None)["f1_macro"]


def _resamples(entry: Entry, seed: int) -> np.ndarray:
    from clinitui.engine.evaluate.stats import stratified_indices

    if entry.multilabel:  # no single class to stratify on: plain resampling of the notes
        rng = np.random.default_rng(seed)
        return rng.integers(0, len(entry.y), size=(RESAMPLES, len(entry.y)))
    return stratified_indices(entry.y, RESAMPLES, seed)


def score(entry: Entry, seed: int = 20240501) -> tuple[float, list[float]]:
    """(validation score, 95 % bootstrap percentile interval)."""
    point = float(_scores(entry, np.arange(len(entry.y))[None, :])[0])
    boot = _scores(entry, _resamples(entry, seed))
    return point, [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))]


def one_standard_error(entries: list[Entry], seed: int = 20240501) -> tuple[str, str]:
    """(name kept, why): the cheapest candidate within one paired standard error of the best."""
    if len(entries) == 1:
        return entries[0].name, "the only candidate with validation predictions"
    full = np.arange(len(entries[0].y))[None, :]
    points = {e.name: float(_scores(e, full)[0]) for e in entries}
    best = max(entries, key=lambda e: (points[e.name], -e.cost_s))
    rows = _resamples(best, seed)
    best_boot = _scores(best, rows)
    for e in sorted(entries, key=lambda e: e.cost_s):
        if e is best:
            break
        gap = points[best.name] - points[e.name]
        se = float(np.std(best_boot - _scores(e, rows)))
        if gap <= se:
            return e.name, (f"within the noise of the best ({best.name} +{gap:.3f} on validation, one paired "
                            f"standard error {se:.3f}): the cheaper model is kept")
    cheaper = [e for e in entries if e.cost_s < best.cost_s]
    if not cheaper:
        return best.name, "best on validation, and the cheapest"
    return best.name, "best on validation, by more than one paired standard error over every cheaper candidate"


RULE: Callable[[list[Entry]], tuple[str, str]] = one_standard_error


def choose(entries: list[Entry]) -> tuple[str, str] | None:
    """The kept candidate by the search's rule; None when nothing finished. Entries scored on other
    validation notes than the first (which cannot happen within one search) are left out."""
    if not entries:
        return None
    ref = entries[0].y
    same = [e for e in entries if e.y.shape == ref.shape and np.array_equal(e.y, ref)]
    return RULE(same)
