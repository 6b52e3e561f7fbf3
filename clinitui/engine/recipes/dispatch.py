"""Which recipe runs a config: the one place that picks it (the worker, `clinitui train`, seed groups).

The kind comes from clinitui.kinds.config_kind: a ``[pretrain]`` table is a pretraining run
(engine/recipes/pretrain.py), the ``tfidf`` backbone a TF-IDF run (engine/recipes/tfidf.py, checked
and read by the training recipe's ``prepare``), anything else a network run (engine/recipes/train.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from clinitui.kinds import RunKind, config_kind


@dataclass(frozen=True)
class Recipe:
    kind: RunKind
    prepare: Callable[[Any], Any]  # config -> prepared input; raises ClinituiError before any run directory exists
    execute: Callable[..., dict]  # (prepared, path, *, listeners, should_stop, resume) -> the metrics.json payload


def recipe_for(config) -> Recipe:
    """The recipe of ``config`` (a RunConfig or its dict), its modules imported only now."""
    kind = config_kind(config)
    if kind is RunKind.PRETRAIN:
        from clinitui.engine.recipes import pretrain

        return Recipe(kind, pretrain.prepare, pretrain.execute)
    from clinitui.engine.recipes import train

    if kind is RunKind.TFIDF:
        from clinitui.engine.recipes import tfidf

        return Recipe(kind, train.prepare, tfidf.execute)
    return Recipe(kind, train.prepare, train.execute)
