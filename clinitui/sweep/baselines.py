"""The sweep's baseline row: the TF-IDF model once per distinct data split (``baseline.json``).

Both schedulers (local and Ray) call it before their first trial.
"""

from __future__ import annotations

import json
from pathlib import Path

from clinitui.kinds import Task
from clinitui.rundir import write_private
from clinitui.sweep import journal as J


def compute_baselines(sweep_dir: Path, configs: list) -> dict:
    """The TF-IDF baseline once per distinct data split, on validation and test; written to baseline.json."""
    from dataclasses import replace

    from clinitui.data.load import dataset_for
    from clinitui.engine.tfidf.baseline import tfidf_baseline

    splits, seen = [], set()
    for config in configs:
        key = json.dumps(config.data.model_dump(), sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        d = config.data
        if d.task == Task.MULTILABEL:
            from clinitui.errors import ConfigError

            raise ConfigError("the sweep's baseline row does not cover multi-label configurations (data.task = "
                              "multilabel) yet; each trial's metrics.json holds its own baseline (docs/tasks.md)")
        ds = dataset_for(config)
        test = tfidf_baseline(ds, seed=config.train.seed)
        val = tfidf_baseline(replace(ds, test=ds.val), seed=config.train.seed)
        splits.append({"dataset_digest": ds.digest, "data": config.data.model_dump(), "test": test, "val": val})
    doc = {"splits": splits}
    write_private(Path(sweep_dir) / J.BASELINE_FILE, json.dumps(doc, indent=2))
    return doc
