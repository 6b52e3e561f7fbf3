"""Leakage between splits: the same or nearly the same note in train and in validation/test.

Clinical records are full of copy-paste; a test note that is a copy of a training note inflates
every test figure. A held-out note (val or test) counts as
- an *exact* duplicate when, after case folding and whitespace collapsing, it equals a note of an
  earlier split (val is checked against train; test against train and val);
- a *near* duplicate (when not exact) when its TF-IDF cosine similarity to such a note reaches the
  threshold (0.95 by default).
Near-duplicates are found with a sparse matrix product, a block of held-out rows at a time, so
memory stays bounded whatever the corpus size. Only counts and row positions are returned: never text.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

NEAR_THRESHOLD = 0.95
_BLOCK_CELLS = 20_000_000  # held-out rows × earlier rows per sparse product block
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    return _SPACE.sub(" ", text.casefold()).strip()


def find_leaks(train: list[str], val: list[str], test: list[str], threshold: float = NEAR_THRESHOLD) -> dict:
    """``{"exact", "near", "threshold", "by_split", "rows"}``; rows = held-out positions per split."""
    splits = {"train": train, "val": val, "test": test}
    norm = {name: [normalise(t) for t in texts] for name, texts in splits.items()}
    rows: dict[str, dict[str, list[int]]] = {"val": {"exact": [], "near": []}, "test": {"exact": [], "near": []}}
    earlier = {"val": ["train"], "test": ["train", "val"]}
    for name in ("val", "test"):
        seen = set().union(*(norm[e] for e in earlier[name]))
        rows[name]["exact"] = [i for i, t in enumerate(norm[name]) if t in seen]
    if threshold < 1.0 and any(norm.values()):
        near = _near_duplicates(norm, earlier, threshold, {n: set(r["exact"]) for n, r in rows.items()})
        for name in ("val", "test"):
            rows[name]["near"] = near[name]
    exact = sum(len(r["exact"]) for r in rows.values())
    near_n = sum(len(r["near"]) for r in rows.values())
    return {"exact": exact, "near": near_n, "threshold": threshold,
            "by_split": {n: {k: len(v) for k, v in r.items()} for n, r in rows.items()}, "rows": rows}


def _near_duplicates(norm: dict[str, list[str]], earlier: dict[str, list[str]], threshold: float,
                     skip: dict[str, set[int]]) -> dict[str, list[int]]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    # Terms in more than half the notes carry no identity and make the products dense: left out.
    vectorizer = TfidfVectorizer(ngram_range=(1, 1), min_df=1, max_df=0.5, dtype=np.float32)
    everything = norm["train"] + norm["val"] + norm["test"]
    try:
        matrix = vectorizer.fit_transform(everything).tocsr()
    except ValueError:  # no word at all (e.g. notes of punctuation only), or every term too common
        return {"val": [], "test": []}
    n_train, n_val = len(norm["train"]), len(norm["val"])
    mats = {"train": matrix[:n_train], "val": matrix[n_train:n_train + n_val], "test": matrix[n_train + n_val:]}
    out: dict[str, list[int]] = {}
    for name in ("val", "test"):
        from scipy.sparse import vstack

        reference = vstack([mats[e] for e in earlier[name]]).T.tocsc()
        held = mats[name]
        block = max(1, _BLOCK_CELLS // max(1, reference.shape[1]))
        found = []
        for start in range(0, held.shape[0], block):
            sims = (held[start:start + block] @ reference).max(axis=1).toarray().ravel()
            found += [int(start + i) for i in np.flatnonzero(sims >= threshold - 1e-6) if start + i not in skip[name]]
        out[name] = found
    return out


def leakage_summary(leaks: dict) -> dict:
    """What goes into metrics.json and the report: counts only (no row positions)."""
    return {k: leaks[k] for k in ("exact", "near", "threshold", "by_split")} | (
        {"removed": leaks["removed"]} if "removed" in leaks else {})


def warning_text(leaks: dict) -> str | None:
    if not leaks["exact"] and not leaks["near"]:
        return None
    return (f"leakage: {leaks['exact']} held-out note(s) duplicate an earlier split exactly and {leaks['near']} "
            f"nearly (TF-IDF cosine >= {leaks['threshold']}); test figures are optimistic; "
            "train with --dedupe to drop them from validation and test")


def dedupe_dataset(dataset, threshold: float = NEAR_THRESHOLD):
    """(dataset without the leaked val/test notes, leak report with ``removed`` counts)."""
    leaks = find_leaks(dataset.train.texts, dataset.val.texts, dataset.test.texts, threshold)
    kept = {}
    for name in ("val", "test"):
        drop = set(leaks["rows"][name]["exact"]) | set(leaks["rows"][name]["near"])
        split = getattr(dataset, name)
        keep = [i for i in range(len(split.texts)) if i not in drop]
        kept[name] = type(split)([split.texts[i] for i in keep], [split.labels[i] for i in keep])
    leaks["removed"] = {n: len(getattr(dataset, n).texts) - len(kept[n].texts) for n in ("val", "test")}
    return replace(dataset, val=kept["val"], test=kept["test"]), leaks


def check_splits(dataset, dedupe: bool = False, threshold: float = NEAR_THRESHOLD):
    """(dataset, leak report): count leaks; with ``dedupe`` also drop them from val and test."""
    from clinitui.errors import DataError

    if not dedupe:
        return dataset, find_leaks(dataset.train.texts, dataset.val.texts, dataset.test.texts, threshold)
    cleaned, leaks = dedupe_dataset(dataset, threshold)
    for name in ("val", "test"):
        if not getattr(cleaned, name).texts:
            raise DataError(f"{dataset.source}: every {name} note duplicates a training note; --dedupe leaves no "
                            f"{name} split; add distinct notes or give a --split-col")
    return cleaned, leaks
