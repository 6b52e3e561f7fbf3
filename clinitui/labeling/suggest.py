"""``clinitui suggest``: the next notes to label, in order, with the score that chose them.

With a checkpoint, the pool is scored (engine/inference/apply.py ``probabilities``: whatever the
checkpoint predicts) and an uncertainty strategy ranks it, or ``coreset`` spreads the picks over
what is not labelled yet; without one (the cold start) k-means over TF-IDF vectors picks a diverse
first batch. Notes already labelled or skipped in the journal (``--labels``) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clinitui.errors import ConfigError
from clinitui.labeling import strategies
from clinitui.labeling.journal import check_pool, read_journal, replay


@dataclass
class Scores:
    """A model's view of the pool: probabilities (N × C), its label names, whether multi-label."""

    probs: np.ndarray
    label_names: list[str]
    multilabel: bool


def score_pool(checkpoint: Path, texts: list[str]) -> Scores:
    """The checkpoint's probabilities for every note of the pool (loads torch when the model needs it)."""
    from clinitui.engine.inference.apply import probabilities
    from clinitui.kinds import Task

    probs, info = probabilities(checkpoint, texts)
    return Scores(np.asarray(probs), list(info.label_names), Task.of(info.raw) is Task.MULTILABEL)


def handled_ids(journal: Path | None, pool) -> set[str]:
    """Ids labelled or skipped by anyone in ``journal`` (checked against the pool); empty without one."""
    if journal is None or not Path(journal).exists():
        return set()
    header, records = read_journal(Path(journal))
    check_pool(Path(journal), header, pool)
    state = replay(records)
    return set().union(*(state.handled(a) for a in set(state.labels) | set(state.skipped)))


def rank(pool, n: int, strategy: str | None, scores: Scores | None, done: set[str] = frozenset(),
         seed: int = 0, vectors: np.ndarray | None = None) -> list[dict]:
    """The next ``n`` notes: ``{"rank", "id", "row", "score"}`` in the order to label them.

    ``vectors``: the pool's TF-IDF vectors when the caller keeps them (the screen's session)."""
    if n < 1:
        raise ConfigError(f"--n must be at least 1, got {n}")
    strategy = strategy or (strategies.DEFAULT if scores is not None else strategies.COLD_START)
    known = strategies.STRATEGIES + ("kmeans",)
    if strategy not in known:
        raise ConfigError(f"unknown strategy '{strategy}'; use one of {', '.join(known)}")
    if strategy in strategies.UNCERTAINTY and scores is None:
        raise ConfigError(f"--strategy {strategy} needs a model's probabilities: give a run, or use "
                          "kmeans/coreset/random for a cold start")
    labelled = np.asarray([r for r, i in enumerate(pool.ids) if i in done], dtype=int)
    candidates = np.asarray([r for r, i in enumerate(pool.ids) if i not in done], dtype=int)
    if not len(candidates):
        return []
    if vectors is None and strategy in strategies.DIVERSITY:
        vectors = strategies.tfidf_vectors(pool.texts, seed=seed)
    rows, picked = strategies.choose(strategy, n, candidates, probs=None if scores is None else scores.probs,
                                     vectors=vectors, labelled=labelled,
                                     multilabel=bool(scores and scores.multilabel), seed=seed)
    return [{"rank": k + 1, "id": pool.ids[r], "row": int(r),
             "score": None if np.isnan(s) else round(float(s), 6)} for k, (r, s) in enumerate(zip(rows, picked))]
