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
