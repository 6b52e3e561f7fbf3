"""The seed-averaged checkpoint gets its own temperature and operating point, like a single run's.

A seed group's checkpoint predicts the mean of its members' (un-scaled) probabilities, which is
a different model from any member: averaging flattens the probabilities, so a member's
temperature and threshold do not fit it. :func:`finalize_group` therefore fits both on the
*group's* validation predictions only -- the same :func:`engine.recipes.finish.finalize` every
single-label run uses -- locks them in ``<group>/checkpoint/config.json`` (so ``eval``, ``predict``, ``report``
and ``export`` apply them), writes ``<group>/predictions.json`` and assesses the test split with
intervals, calibration and the paired comparison with the baseline.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from clinitui.engine.checkpoint.format import read_config
from clinitui.engine.evaluate.assess import PREDICTIONS_FILE, postprocess_raw
from clinitui.engine.recipes.finish import finalize


def finalize_group(group: Path, ckpt: Path, dataset, config, member_runs: list[Path]) -> tuple[dict, dict, dict]:
    """(test metrics, val metrics, extras) of the seed-averaged checkpoint ``ckpt``, post-processed.

    ``val metrics`` are what the checkpoint predicts on validation (temperature, then threshold);
    ``extras`` are ``calibration``, ``operating_point`` (binary) and ``vs_baseline`` (when the
    members compared themselves with the TF-IDF baseline: its test probabilities are read from the
    first member's ``predictions.json``, the baseline the group reports).
    """
    from clinitui.engine.evaluate.metrics import classification_metrics
    from clinitui.engine.inference.predictor import checkpoint_probabilities

    val_probs, _ = checkpoint_probabilities(ckpt, dataset.val.texts, device="cpu")
    test_probs, _ = checkpoint_probabilities(ckpt, dataset.test.texts, device="cpu")
    t = config.train
    test, extras = finalize(group, ckpt, y_val=dataset.val.labels, val_probs=val_probs, y_test=dataset.test.labels,
                            test_probs=test_probs, label_names=dataset.label_names,
                            positive_index=dataset.positive_index, rule=t.threshold_rule, n_boot=t.bootstrap,
                            **_baseline_of(member_runs))
    raw = read_config(ckpt)  # what finalize locked in
    probs, pred = postprocess_raw(np.asarray(val_probs), raw, dataset.positive_index)
    val = classification_metrics(dataset.val.labels, probs, dataset.label_names, dataset.positive_index, y_pred=pred)
    return test, val, extras


def _baseline_of(member_runs: list[Path]) -> dict:
    """The first member's baseline test probabilities and predictions (at the baseline's own operating point)."""
    if not member_runs:
        return {}
    try:
        record = json.loads((Path(member_runs[0]) / PREDICTIONS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {"baseline_probs": record.get("baseline_test_probs"), "baseline_pred": record.get("baseline_test_pred")}
