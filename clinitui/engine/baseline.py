"""The cheap baseline every deep model must beat: TF-IDF word 1–2-grams + logistic regression.

Trained on the run's own train split and scored on its test split, so the comparison is fair.
"""

from __future__ import annotations

import time

import numpy as np

from clinitui.data.splits import Dataset
from clinitui.engine.metrics import classification_metrics


def tfidf_baseline(dataset: Dataset, seed: int = 0, return_probs: bool = False):
    """The baseline's test metrics; with ``return_probs``, (metrics, per-note test probabilities)
    for the paired comparison (engine/evaluation.py)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    x_train = vectorizer.fit_transform(dataset.train.texts)
    model = LogisticRegression(max_iter=2000, random_state=seed)
    model.fit(x_train, dataset.train.labels)
    probs = np.zeros((len(dataset.test.texts), len(dataset.label_names)))
    probs[:, model.classes_] = model.predict_proba(vectorizer.transform(dataset.test.texts))
    metrics = classification_metrics(dataset.test.labels, probs, dataset.label_names, dataset.positive_index)
    metrics["seconds"] = round(time.perf_counter() - start, 2)
    metrics["method"] = "tfidf(1-2 grams, sublinear, min_df=2) + logistic regression"
    return (metrics, probs) if return_probs else metrics
