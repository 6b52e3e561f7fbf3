"""Iterative stratification of multi-label data (Sechidis, Tsoumakas & Vlahavas, ECML-PKDD 2011).

A random split of label *sets* can leave a rare label with no validation or test example; a
stratified split on the label combinations fails when most combinations occur once. Iterative
stratification distributes each label in proportion instead: it takes the label with the fewest
examples left, hands each of its examples to the split that still wants that label most (ties: the
split that wants the most examples, then a seeded coin), and repeats. Notes with no label at all are
spread last to the splits furthest below their size. Deterministic for a given seed.
"""

from __future__ import annotations

import random
from typing import Sequence


def iterative_split(label_sets: Sequence[Sequence[int]], n_labels: int, fractions: Sequence[float],
                    seed: int) -> list[list[int]]:
    """Row indices of each split, sorted; ``fractions`` (summing to 1) give the splits' shares."""
    rng = random.Random(seed)
    n = len(label_sets)
    order = list(range(n))
    rng.shuffle(order)  # the order rows are handed out in, within a label: seeded, not file order
    wanted_total = [f * n for f in fractions]
    per_label = [0] * n_labels
    for labels in label_sets:
        for k in set(labels):
            per_label[k] += 1
    wanted = [[f * c for c in per_label] for f in fractions]
    left = [set() for _ in range(n_labels)]
    for i in order:
        for k in set(label_sets[i]):
            left[k].add(i)
    rank = {i: r for r, i in enumerate(order)}
    assigned: list[int | None] = [None] * n
    out: list[list[int]] = [[] for _ in fractions]

    def give(i: int, split: int) -> None:
        assigned[i] = split
        out[split].append(i)
        wanted_total[split] -= 1
        for k in set(label_sets[i]):
            wanted[split][k] -= 1
            left[k].discard(i)

    while True:
        remaining = [(len(rows), k) for k, rows in enumerate(left) if rows]
        if not remaining:
            break
        _, label = min(remaining)  # the rarest label still to place (ties: the lower index)
        for i in sorted(left[label], key=rank.__getitem__):
            best = max(range(len(fractions)), key=lambda s: (wanted[s][label], wanted_total[s], rng.random()))
            give(i, best)
    for i in order:  # notes with an empty label set
        if assigned[i] is None:
            give(i, max(range(len(fractions)), key=lambda s: (wanted_total[s], rng.random())))
    return [sorted(rows) for rows in out]
