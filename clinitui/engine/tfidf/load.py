"""The TF-IDF model of a dataset or a folder, whatever its task: single-label or one-vs-rest.

The one place that picks the class (engine/tfidf/model.py, engine/tfidf/ovr.py) from the task.
"""

from __future__ import annotations

import time
from pathlib import Path

from clinitui.engine.tfidf.model import TfidfModel, read_saved
from clinitui.engine.tfidf.ovr import OvrTfidfModel
from clinitui.kinds import Task

CLASSES = {Task.MULTICLASS: TfidfModel, Task.MULTILABEL: OvrTfidfModel}


def load_tfidf(directory: Path, sha256: dict[str, str] | None) -> TfidfModel:
    """The TF-IDF model saved in ``directory`` (files checked against ``sha256``), of the class it was saved as."""
    meta, arrays = read_saved(directory, sha256)
    return CLASSES[Task.of(meta)].from_saved(Path(directory), meta, arrays)


def fit_on_dataset(dataset, seed: int = 0) -> tuple[TfidfModel, float]:
    """(model fitted on the dataset's train split with C chosen on its val split, seconds)."""
    start = time.perf_counter()
    # multi-label: one-vs-rest on the multi-hot labels (engine/tfidf/ovr.py)
    model = CLASSES[dataset.task].fit(dataset.train.texts, dataset.train.labels, dataset.val.texts,
                                      dataset.val.labels, dataset.label_names, seed=seed)
    return model, time.perf_counter() - start


def fit_for_run(dataset, seed: int = 0, refit: bool = True):
    """(model to ship, seconds, validation probabilities it did not train on) for a run's TF-IDF member.

    C is chosen on validation with the model fitted on train; with ``refit`` (single-label only) the
    model shipped is then refitted on train + validation at that C, as scikit-learn's ``refit=True``
    does -- more notes for the same recipe (docs/accuracy.md, "Refit on train + validation"). Its
    validation predictions would be in-sample, so the train-only fit's are returned for every choice
    made on validation (blend weight, temperature, threshold).
    """
    model, seconds = fit_on_dataset(dataset, seed=seed)
    val_probs = model.predict_proba(dataset.val.texts)
    if not refit or dataset.task is not Task.MULTICLASS or not len(dataset.val.texts):
        return model, seconds, val_probs
    start = time.perf_counter()
    final = TfidfModel.fit(list(dataset.train.texts) + list(dataset.val.texts),
                           list(dataset.train.labels) + list(dataset.val.labels), [], [], dataset.label_names,
                           seed=seed, c_grid=(model.c,))
    final.val_f1 = model.val_f1  # the validation score that chose C
    return final, seconds + time.perf_counter() - start, val_probs
