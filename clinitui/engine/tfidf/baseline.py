"""The cheap baseline every deep model must beat: the strong TF-IDF recipe of engine/tfidf/model.py.

Word 1–2-grams + character 2–5-grams, sublinear tf, class-balanced logistic regression with C
chosen on the validation split; trained on the run's own train split and scored on its test
split, so the comparison is fair (and the baseline is as strong as a five-second model can be).
"""

from __future__ import annotations

from clinitui.data.dataset import Dataset
from clinitui.engine.evaluate.metrics import classification_metrics


def baseline_metrics(model, dataset: Dataset, seconds: float, return_probs: bool = False):
    """Test metrics of a fitted TfidfModel, in the shape of the ``baseline`` event and payload key;
    with ``return_probs``, (metrics, per-note test probabilities) for the paired comparison."""
    from clinitui.engine.tfidf.model import METHOD

    probs = model.predict_proba(dataset.test.texts)
    metrics = classification_metrics(dataset.test.labels, probs, dataset.label_names, dataset.positive_index)
    metrics["seconds"] = round(seconds, 2)
    metrics["method"] = METHOD
    metrics["C"] = model.c
    metrics["val_f1_macro"] = model.val_f1
    return (metrics, probs) if return_probs else metrics


def tfidf_baseline(dataset: Dataset, seed: int = 0, return_probs: bool = False):
    """The baseline's test metrics; with ``return_probs``, (metrics, per-note test probabilities)
    for the paired comparison (engine/evaluate/assess.py)."""
    import time

    from clinitui.engine.tfidf.load import fit_on_dataset

    start = time.perf_counter()
    model, _ = fit_on_dataset(dataset, seed=seed)
    return baseline_metrics(model, dataset, time.perf_counter() - start, return_probs=return_probs)


def baseline_with_rule(model, dataset: Dataset, seconds: float, rule: str, tfidf_val, tfidf_test):
    """(validation metrics, test metrics, test predictions) of the TF-IDF model alone, post-processed exactly
    as the run's own predictor: temperature and threshold chosen by the same ``rule`` on *its own*
    validation predictions, so ``vs_baseline`` compares like with like."""
    from clinitui.engine.evaluate.assess import fit_on_validation, log_loss, scored
    from clinitui.engine.tfidf.model import METHOD

    names, pos = dataset.label_names, dataset.positive_index
    temperature, threshold = fit_on_validation(dataset.val.labels, tfidf_val, pos, rule)
    val, val_probs, _ = scored(dataset.val.labels, tfidf_val, names, pos, temperature, threshold)
    test, test_probs, pred = scored(dataset.test.labels, tfidf_test, names, pos, temperature, threshold)
    val["log_loss"], test["log_loss"] = log_loss(dataset.val.labels, val_probs), log_loss(dataset.test.labels, test_probs)
    test.update(seconds=round(seconds, 2), method=METHOD, C=model.c, val_f1_macro=model.val_f1,
                temperature=temperature, threshold=threshold, rule=rule if threshold is not None else None)
    return val, test, pred
