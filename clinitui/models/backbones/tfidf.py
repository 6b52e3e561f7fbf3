"""The strong baseline as a model: TF-IDF word + character n-grams, class-balanced logistic regression."""

from __future__ import annotations

from clinitui.models.base import Backbone
from clinitui.models.registry import register_backbone


@register_backbone("tfidf")
class TfidfBackbone(Backbone):
    """TF-IDF word 1-2 + char 2-5-grams + logistic regression, C tuned on val (no network; seconds on CPU)."""

    # Not a neural encoder: engine/recipes/dispatch.py gives a run with this backbone to engine/recipes/tfidf.py
    # (no tokenizer, no torch model, no memory plan); the adapter and training settings are unused.
    neural = False
