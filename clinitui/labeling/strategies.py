"""Query strategies: which unlabelled notes to label next (numpy and scikit-learn only).

Each uncertainty strategy turns the model's probabilities (N × C) into one score per note, higher
meaning "label this sooner":

* ``breaking-ties`` — 1 − (p₁ − p₂), the margin between the two most likely classes (the strong
  default of Schröder et al., ACL Findings 2022);
* ``least-confidence`` — 1 − p₁;
* ``entropy`` — −Σ p log p (natural log).

Multi-label probabilities (one sigmoid per label) are read as L binary problems and the score is
the mean over the labels of that binary score.

``coreset`` (greedy k-centre: each pick the note farthest from everything labelled or picked) and
the cold start ``kmeans`` (the note nearest each of n k-means centres) use TF-IDF vectors of the
pool instead of a model; ``random`` is the baseline every strategy is measured against.
"""

from __future__ import annotations

import numpy as np

UNCERTAINTY = ("breaking-ties", "entropy", "least-confidence")
DIVERSITY = ("coreset", "kmeans")
STRATEGIES = UNCERTAINTY + ("coreset", "random")  # what `suggest --strategy` takes with a model
DEFAULT = "breaking-ties"
COLD_START = "kmeans"  # no model yet


def _binary(probs: np.ndarray) -> np.ndarray:
    """(N, L) sigmoid outputs → (N, L, 2) two-class distributions."""
    return np.stack([1.0 - probs, probs], axis=-1)


def uncertainty(probs: np.ndarray, strategy: str, multilabel: bool = False) -> np.ndarray:
    """One score per row of ``probs`` (higher: more uncertain) for an uncertainty ``strategy``."""
    p = np.asarray(probs, dtype=np.float64)
    if multilabel:
        return np.mean([uncertainty(_binary(p)[:, j], strategy) for j in range(p.shape[1])], axis=0)
    if strategy == "least-confidence":
        return 1.0 - p.max(axis=1)
    if strategy == "breaking-ties":
        top = np.sort(p, axis=1)[:, ::-1]
        return 1.0 - (top[:, 0] - (top[:, 1] if p.shape[1] > 1 else 0.0))
    if strategy == "entropy":
        safe = np.clip(p, 1e-12, 1.0)
        return -(p * np.log(safe)).sum(axis=1)
    raise ValueError(f"not an uncertainty strategy: {strategy}")


def top_n(scores: np.ndarray, candidates: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, scores) of the ``n`` highest-scored ``candidates``; ties go to the earlier row (stable)."""
    order = np.argsort(-scores[candidates], kind="stable")[:n]
    return candidates[order], scores[candidates][order]


def tfidf_vectors(texts: list[str], dims: int = 100, seed: int = 0) -> np.ndarray:
    """L2-normalised dense vectors of the pool: TF-IDF word 1–2-grams reduced by truncated SVD.

    Fitted on the pool itself (no labels needed): the geometry the diversity strategies work in."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    x = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2 if len(texts) > 20 else 1).fit_transform(texts)
    k = min(dims, x.shape[1] - 1, x.shape[0] - 1)
    if k >= 2:
        x = TruncatedSVD(n_components=k, random_state=seed).fit_transform(x)
    else:
        x = x.toarray()
    return normalize(np.asarray(x, dtype=np.float64))


def coreset(vectors: np.ndarray, labelled: np.ndarray, candidates: np.ndarray, n: int,
            seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Greedy k-centre: (rows, distance to the nearest labelled-or-picked note when picked).

    With nothing labelled the first pick is the candidate nearest the pool's mean (deterministic)."""
    picked: list[int] = []
    scores: list[float] = []
    if len(labelled):
        dist = _min_dist(vectors[candidates], vectors[labelled])
    else:
        centre = vectors.mean(axis=0, keepdims=True)
        first = int(np.argmin(((vectors[candidates] - centre) ** 2).sum(1)))
        picked.append(int(candidates[first]))
        scores.append(float("nan"))
        dist = _min_dist(vectors[candidates], vectors[[candidates[first]]])
    while len(picked) < min(n, len(candidates)):
        j = int(np.argmax(dist))
        picked.append(int(candidates[j]))
        scores.append(float(dist[j]))
        dist = np.minimum(dist, _min_dist(vectors[candidates], vectors[[candidates[j]]]))
    return np.asarray(picked, dtype=int), np.asarray(scores)


def _min_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each row of ``a``, the Euclidean distance to its nearest row of ``b``."""
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.clip(d2, 0.0, None)).min(axis=1)


def kmeans_start(vectors: np.ndarray, candidates: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Cold start: k-means with ``n`` centres over the candidates; the note nearest each centre.

    Rows come largest cluster first (the commonest kind of note is labelled first); the score is
    the cluster's share of the pool."""
    from sklearn.cluster import KMeans

    n = min(n, len(candidates))
    x = vectors[candidates]
    km = KMeans(n_clusters=n, n_init=3, random_state=seed).fit(x)
    sizes = np.bincount(km.labels_, minlength=n)
    rows, scores = [], []
    for c in np.argsort(-sizes, kind="stable"):
        members = np.flatnonzero(km.labels_ == c)
        if not len(members):
            continue
        nearest = members[np.argmin(((x[members] - km.cluster_centers_[c]) ** 2).sum(1))]
        rows.append(int(candidates[nearest]))
        scores.append(float(sizes[c] / len(candidates)))
    return np.asarray(rows, dtype=int), np.asarray(scores)


def random_pick(candidates: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` candidates in a seeded random order; score NaN (chance chose them)."""
    rows = np.random.default_rng(seed).permutation(candidates)[:n]
    return rows, np.full(len(rows), np.nan)


def choose(strategy: str, n: int, candidates: np.ndarray, *, probs: np.ndarray | None = None,
           vectors: np.ndarray | None = None, labelled: np.ndarray | None = None, multilabel: bool = False,
           seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(pool rows, scores) of the next ``n`` notes among ``candidates`` by ``strategy``.

    ``probs`` (all pool rows) for the uncertainty strategies, ``vectors`` for coreset and kmeans."""
    candidates = np.asarray(candidates, dtype=int)
    if strategy in UNCERTAINTY:
        return top_n(uncertainty(probs, strategy, multilabel), candidates, n)
    if strategy == "coreset":
        return coreset(vectors, np.asarray(labelled if labelled is not None else [], dtype=int), candidates, n, seed)
    if strategy == "kmeans":
        return kmeans_start(vectors, candidates, n, seed)
    if strategy == "random":
        return random_pick(candidates, n, seed)
    raise ValueError(f"unknown strategy {strategy}")
