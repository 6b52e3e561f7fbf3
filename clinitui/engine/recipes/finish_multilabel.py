"""The end of a multi-label run: blend, thresholds on validation, test metrics, baseline.

engine/recipes/train.py hands over the best checkpoint's validation and test probabilities (one sigmoid per
label). This module, in order:

1. fits the one-vs-rest TF-IDF model on the same train split (engine/tfidf/ovr.py) — the baseline
   beside every run, and with ``--ensemble tfidf`` (the default) the second half of the blend
   ``w · p_network + (1 − w) · p_tfidf``, per label, ``w`` on the grid of engine/tfidf/blend.py chosen by
   validation micro-F1 (each candidate with its own per-label thresholds; ties as there);
2. chooses one threshold per label on validation (``train.threshold_rule``, engine/evaluate/multilabel.py)
   and locks them in config.json (``label_thresholds``) with ``task`` and ``label_sep``;
3. scores test with everything locked, the baseline likewise with thresholds from *its*
   validation probabilities.

Temperature scaling is a softmax notion and is not applied to multi-label checkpoints.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np

from clinitui.engine.evaluate.multilabel import TASK, choose_thresholds, multilabel_metrics

PREDICTIONS_FILE = "predictions.json"


def selection_metric(config, dataset) -> str:
    return config.train.multilabel_metric if dataset.multilabel else "f1_macro"


def checkpoint_keys(dataset) -> dict:
    """config.json keys that make a checkpoint multi-label (none for a single-label one)."""
    return {"task": TASK, "label_sep": dataset.label_sep} if dataset.multilabel else {}


def thresholds_record(thresholds: list[float], rule: str) -> dict:
    return {"rule": rule, "thresholds": [float(t) for t in thresholds], "chosen_on": "validation"}


def choose_weight(network_val, tfidf_val, y_val, label_names: list[str], rule: str) -> tuple[float, float]:
    """(network weight, validation micro-F1) of the best blend on engine/tfidf/blend.py's grid."""
    from clinitui.engine.tfidf.blend import GRID, blend

    scored = []
    for w in GRID:
        probs = blend(network_val, tfidf_val, w)
        f1 = multilabel_metrics(y_val, probs, label_names, thresholds=choose_thresholds(y_val, probs, rule))["f1_micro"]
        scored.append((round(f1, 12), -abs(w - 0.5), w))
    f1, _, w = max(scored)
    return w, f1


def val_and_test(y_val, val_probs, y_test, test_probs, label_names: list[str], rule: str) -> tuple[dict, dict, list]:
    """(val metrics, test metrics, thresholds): one threshold choice on validation, applied to both."""
    thresholds = choose_thresholds(y_val, val_probs, rule)
    return (multilabel_metrics(y_val, val_probs, label_names, thresholds=thresholds),
            multilabel_metrics(y_test, test_probs, label_names, thresholds=thresholds), thresholds)


def evaluate_multilabel(path: Path, ckpt_dir: Path, dataset, network_val: np.ndarray, network_test: np.ndarray,
                        config, *, emit: Callable[..., dict], fitted: tuple | None = None,
                        blend_wanted: bool | None = None) -> tuple[dict, dict, dict | None, dict | None]:
    """(test metrics, extras, ensemble summary or None, baseline metrics or None); updates the checkpoint.

    ``fitted`` = (OvR TF-IDF model, seconds) already fitted on this split (the ``tfidf`` backbone's own
    model, engine/recipes/tfidf.py); ``blend_wanted`` overrides ``model.ensemble``."""
    from clinitui.engine.tfidf.blend import attach, blend, wanted
    from clinitui.engine.evaluate.assess import update_checkpoint_config
    from clinitui.engine.tfidf.load import fit_on_dataset
    from clinitui.rundir import write_private

    t, names, rule = config.train, dataset.label_names, config.train.threshold_rule
    y_val, y_test = np.asarray(dataset.val.labels, dtype=int), np.asarray(dataset.test.labels, dtype=int)
    val_probs, test_probs = network_val, network_test
    ensemble = baseline = None
    blending = wanted(config.model.ensemble) if blend_wanted is None else blend_wanted
    if blending or t.baseline:
        tfidf, seconds = fitted or fit_on_dataset(dataset, seed=t.seed)
        tfidf_val, tfidf_test = tfidf.predict_proba(dataset.val.texts), tfidf.predict_proba(dataset.test.texts)
        tfidf_val_metrics, baseline, _ = val_and_test(y_val, tfidf_val, y_test, tfidf_test, names, rule)
        from clinitui.engine.tfidf.ovr import METHOD

        baseline.update(seconds=round(seconds, 2), method=METHOD, C=tfidf.c, val_f1_micro=tfidf.val_f1)
    if blending:
        weight, _ = choose_weight(network_val, tfidf_val, y_val, names, rule)
        attach(ckpt_dir, tfidf, weight)
        val_probs, test_probs = blend(network_val, tfidf_val, weight), blend(network_test, tfidf_test, weight)
        network_val_metrics, network_test_metrics, _ = val_and_test(y_val, network_val, y_test, network_test,
                                                                    names, rule)
        ensemble = {"weight": weight, "network_val": network_val_metrics, "network_test": network_test_metrics}
    val_metrics, metrics, thresholds = val_and_test(y_val, val_probs, y_test, test_probs, names, rule)
    update_checkpoint_config(ckpt_dir, **{"task": TASK, "label_sep": dataset.label_sep,
                                          "label_thresholds": thresholds_record(thresholds, rule)})
    if ensemble is not None:
        ensemble["val"] = val_metrics
        parts = {"": (ensemble["val"], metrics), "network_": (ensemble["network_val"], ensemble["network_test"]),
                 "tfidf_": (tfidf_val_metrics, baseline)}
        emit("ensemble", name="tfidf", weight=ensemble["weight"],
             **{f"{who}{split}_{key}": pair[i][key] for who, pair in parts.items()
                for i, split in enumerate(("val", "test")) for key in ("f1_micro", "f1_macro")})
    extras: dict = {"task": TASK, "label_thresholds": dict(zip(names, thresholds)), "threshold_rule": rule}
    if baseline is not None:
        extras["vs_baseline"] = {k: round(metrics[k] - baseline[k], 6) for k in ("f1_micro", "f1_macro", "f1_samples")}
    record = {"task": TASK, "labels": names, "thresholds": thresholds,
              "val": {"y": y_val.tolist(), "probs": np.asarray(val_probs).round(6).tolist()},
              "test": {"y": y_test.tolist(), "probs": np.asarray(test_probs).round(6).tolist()}}
    write_private(Path(path) / PREDICTIONS_FILE, json.dumps(record))
    return metrics, extras, ensemble, baseline if t.baseline else None
