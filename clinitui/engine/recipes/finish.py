"""The end of every classifier run, single- or multi-label: blend, post-processing, test metrics, baseline.

The network run (engine/recipes/train.py) hands over the best checkpoint's validation and test
probabilities; the TF-IDF run (engine/recipes/tfidf.py) its model's, with the fitted model itself
(``fitted`` = (model, seconds, validation probabilities it did not train on): it is then its own
baseline, and nothing is blended). The TF-IDF member is refitted on train + validation once its C is
chosen (``train.tfidf_refit``, engine/tfidf/load.py ``fit_for_run``). :func:`finisher_for` branches on
the task once; each finisher then, in order:

* **single-label** -- with ``--ensemble tfidf`` fits the TF-IDF model on the same train split and
  blends it, the weight chosen on validation (engine/tfidf/blend.py), otherwise fits it as the
  baseline (``train.baseline``); :func:`finalize` fits the temperature and the threshold (binary)
  on validation, locks them in config.json and assesses the test split with them locked;
* **multi-label** -- fits the one-vs-rest TF-IDF model (engine/tfidf/ovr.py) as the baseline and
  the blend's second half (``w · p_network + (1 − w) · p_tfidf`` per label, ``w`` on blend's grid
  chosen by validation micro-F1, each candidate with its own per-label thresholds; ties as there),
  chooses one threshold per label on validation (``train.threshold_rule``), locks them in
  config.json (``label_thresholds`` with ``task`` and ``label_sep``), scores test with everything
  locked and the baseline likewise with thresholds from *its* validation probabilities.
  Temperature scaling is a softmax notion and is not applied.

Both write ``predictions.json`` (labels and probabilities only, no text) for ``clinitui report``,
and emit the test ``eval`` event (then ``baseline``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from clinitui.engine.checkpoint.format import operating_point_keys, thresholds_keys, update_config
from clinitui.engine.evaluate.assess import PREDICTIONS_FILE, assess, fit_on_validation, log_loss
from clinitui.kinds import Task
from clinitui.rundir import write_private


@dataclass
class Finished:
    metrics: dict  # test metrics of what the checkpoint predicts
    extras: dict  # calibration, operating_point / label_thresholds, vs_baseline...
    ensemble: dict | None  # the blend: weight, val, network_val, network_test (None: no blend)
    baseline: dict | None  # the TF-IDF model's test metrics, as metrics.json reports them


def finisher_for(dataset) -> "SingleLabel | MultiLabel":
    """The finishing path of the dataset's task: the one place that tells the two apart."""
    return MultiLabel() if dataset.task is Task.MULTILABEL else SingleLabel()


class SingleLabel:
    """One label per note (binary or multi-class): softmax, temperature, threshold (binary)."""

    def selection_metric(self, config) -> str:
        return "f1_macro"

    def val_metrics(self, dataset, probs, rule: str) -> dict:
        from clinitui.engine.evaluate.metrics import classification_metrics

        return classification_metrics(dataset.val.labels, probs, dataset.label_names, dataset.positive_index)

    def finish(self, path: Path, ckpt_dir: Path, dataset, config, val_probs, test_probs, *, emit: Callable[..., dict],
               epoch: int, step: int, fitted: tuple | None = None, val_history: list | None = None) -> Finished:
        from clinitui.engine.evaluate.operating_point import resolve_rule
        from clinitui.engine.tfidf.blend import wanted

        t, rule = config.train, resolve_rule(config.train.threshold_rule)
        blending = fitted is None and wanted(config.model.ensemble)
        ensemble = baseline = base = None
        if fitted is not None or blending or t.baseline:  # the TF-IDF run: its own model is the baseline
            from clinitui.engine.tfidf.baseline import baseline_with_rule
            from clinitui.engine.tfidf.load import fit_for_run

            model, seconds, tfidf_val = fitted or fit_for_run(dataset, seed=t.seed, refit=t.tfidf_refit)
            tfidf_test = model.predict_proba(dataset.test.texts)
            baseline_val, baseline, base_pred = baseline_with_rule(model, dataset, seconds, rule, tfidf_val, tfidf_test)
            base = {"baseline_probs": tfidf_test, "baseline_pred": base_pred}
        if blending:  # blend with the TF-IDF model, weight chosen on val, kept only when its gain is real
            from clinitui.engine.tfidf.blend import ensemble_with_tfidf

            ensemble = ensemble_with_tfidf(ckpt_dir, dataset, val_probs, test_probs, model, tfidf_val, tfidf_test,
                                           emit=emit, val_history=val_history)
            val_probs, test_probs = ensemble.pop("val_probs"), ensemble.pop("test_probs")
        metrics, extras = finalize(path, ckpt_dir, y_val=dataset.val.labels, val_probs=val_probs,
                                   y_test=dataset.test.labels, test_probs=test_probs,
                                   label_names=dataset.label_names, positive_index=dataset.positive_index,
                                   rule=rule, n_boot=t.bootstrap, **(base or {}))
        if base is not None:
            extras["baseline_val"] = baseline_val
        if ensemble is not None:
            extras["blend"] = ensemble.pop("blend")
        if dataset.positive_index is not None:
            from clinitui.data.dataset import positive_label_record

            extras["positive_label"] = positive_label_record(dataset)
        return _report(Finished(metrics, extras, ensemble, baseline), emit, epoch, step,
                       show_baseline=fitted is not None or t.baseline)


def finalize(run_dir: Path, ckpt_dir: Path, *, y_val, val_probs, y_test, test_probs, label_names: list[str],
             positive_index: int | None, rule: str, n_boot: int, seed: int | None = None,
             baseline_probs=None, baseline_pred=None) -> tuple[dict, dict]:
    """Fit the temperature and threshold on validation, lock them in the checkpoint, assess test.

    The single-label end of a run and of a seed group (engine/recipes/seed_finalize.py). Also
    writes ``predictions.json`` so ``clinitui report`` can draw curves without the model.
    """
    from clinitui.engine.evaluate import stats
    from clinitui.engine.evaluate.calibration import apply_temperature
    from clinitui.engine.evaluate.operating_point import resolve_rule

    seed = stats.DEFAULT_SEED if seed is None else seed
    rule = resolve_rule(rule)
    temperature, threshold = fit_on_validation(y_val, val_probs, positive_index, rule)
    update_config(ckpt_dir, **operating_point_keys(temperature, rule, threshold))
    metrics, extras = assess(y_test, test_probs, label_names, positive_index, temperature=temperature,
                             threshold=threshold, rule=rule if threshold is not None else None, n_boot=n_boot,
                             seed=seed, baseline_probs=baseline_probs, baseline_pred=baseline_pred)
    metrics["log_loss"] = log_loss(y_test, apply_temperature(np.asarray(test_probs, dtype=float), temperature))
    record = {"labels": label_names, "positive_index": positive_index,
              "val": {"y": [int(v) for v in y_val], "probs": np.asarray(val_probs).tolist()},
              "test": {"y": [int(v) for v in y_test], "probs": np.asarray(test_probs).tolist()},
              "baseline_test_probs": None if baseline_probs is None else np.asarray(baseline_probs).tolist(),
              **({} if baseline_pred is None else {"baseline_test_pred": [int(v) for v in baseline_pred]}),
              "bootstrap": {"resamples": n_boot, "seed": seed}}
    write_private(Path(run_dir) / PREDICTIONS_FILE, json.dumps(record))
    return metrics, extras


class MultiLabel:
    """A set of labels per note: one sigmoid and one threshold per label, no temperature."""

    def selection_metric(self, config) -> str:
        return config.train.multilabel_metric

    def val_metrics(self, dataset, probs, rule: str) -> dict:
        from clinitui.engine.evaluate.multilabel import validation_metrics

        return validation_metrics(dataset.val.labels, probs, dataset.label_names, rule)

    def finish(self, path: Path, ckpt_dir: Path, dataset, config, network_val, network_test, *,
               emit: Callable[..., dict], epoch: int, step: int, fitted: tuple | None = None,
               val_history: list | None = None) -> Finished:
        """``val_history`` is not used: a multi-label blend is weighed by validation micro-F1 as before."""
        from clinitui.engine.evaluate.multilabel import TASK
        from clinitui.engine.tfidf.blend import attach, blend, choose_weight, multilabel_score, wanted

        from clinitui.engine.evaluate.operating_point import resolve_rule

        t, names, rule = config.train, dataset.label_names, resolve_rule(config.train.threshold_rule, multilabel=True)
        y_val, y_test = np.asarray(dataset.val.labels, dtype=int), np.asarray(dataset.test.labels, dtype=int)
        val_probs, test_probs = network_val, network_test
        ensemble = baseline = None
        blending = wanted(config.model.ensemble) and fitted is None
        with_baseline = t.baseline or fitted is not None  # the TF-IDF run is its own baseline
        if blending or with_baseline:
            tfidf, tfidf_val, tfidf_test, tfidf_val_metrics, baseline = _ovr_part(dataset, t.seed, fitted, rule)
        if blending:
            weight, _ = choose_weight(network_val, tfidf_val, y_val, score=multilabel_score(names, rule))
            attach(ckpt_dir, tfidf, weight)
            val_probs, test_probs = blend(network_val, tfidf_val, weight), blend(network_test, tfidf_test, weight)
            network_val_metrics, network_test_metrics, _ = val_and_test(y_val, network_val, y_test, network_test,
                                                                        names, rule)
            ensemble = {"weight": weight, "network_val": network_val_metrics, "network_test": network_test_metrics}
            blend_record = {"kept": weight not in (0.0, 1.0), "weight": weight,
                            "reason": f"network weight {weight} chosen by validation micro-F1 (multi-label: no noise rule "
                                      "yet, docs/accuracy.md)"}
        val_metrics, metrics, thresholds = val_and_test(y_val, val_probs, y_test, test_probs, names, rule)
        update_config(ckpt_dir, **thresholds_keys(thresholds, rule, dataset.label_sep))
        if ensemble is not None:
            ensemble["val"] = val_metrics
            parts = {"": (ensemble["val"], metrics), "network_": (ensemble["network_val"], ensemble["network_test"]),
                     "tfidf_": (tfidf_val_metrics, baseline)}
            emit("ensemble", name="tfidf", weight=ensemble["weight"],
                 **{f"{who}{split}_{key}": pair[i][key] for who, pair in parts.items()
                    for i, split in enumerate(("val", "test")) for key in ("f1_micro", "f1_macro")})
        extras: dict = {"task": TASK, "label_thresholds": dict(zip(names, thresholds)), "threshold_rule": rule,
                        **({"blend": blend_record} if ensemble is not None else {})}
        if baseline is not None:
            extras["vs_baseline"] = {k: None if metrics[k] is None or baseline[k] is None  # undefined: no positive
                                     else round(metrics[k] - baseline[k], 6) for k in ("f1_micro", "f1_macro", "f1_samples")}
        record = {"task": TASK, "labels": names, "thresholds": thresholds,
                  "val": {"y": y_val.tolist(), "probs": np.asarray(val_probs).round(6).tolist()},
                  "test": {"y": y_test.tolist(), "probs": np.asarray(test_probs).round(6).tolist()}}
        write_private(Path(path) / PREDICTIONS_FILE, json.dumps(record))
        return _report(Finished(metrics, extras, ensemble, baseline if with_baseline else None), emit, epoch, step,
                       show_baseline=with_baseline)


def _ovr_part(dataset, seed: int, fitted: tuple | None, rule: str):
    """(one-vs-rest TF-IDF model, its val and test probabilities, val metrics, test metrics as the baseline)."""
    from clinitui.engine.tfidf.load import fit_on_dataset
    from clinitui.engine.tfidf.ovr import METHOD

    y_val, y_test = np.asarray(dataset.val.labels, dtype=int), np.asarray(dataset.test.labels, dtype=int)
    tfidf, seconds = fitted[:2] if fitted else fit_on_dataset(dataset, seed=seed)
    tfidf_val, tfidf_test = tfidf.predict_proba(dataset.val.texts), tfidf.predict_proba(dataset.test.texts)
    val_metrics, baseline, _ = val_and_test(y_val, tfidf_val, y_test, tfidf_test, dataset.label_names, rule)
    baseline.update(seconds=round(seconds, 2), method=METHOD, C=tfidf.c, val_f1_micro=tfidf.val_f1)
    return tfidf, tfidf_val, tfidf_test, val_metrics, baseline


def val_and_test(y_val, val_probs, y_test, test_probs, label_names: list[str], rule: str) -> tuple[dict, dict, list]:
    """(val metrics, test metrics, thresholds): one threshold choice per label on validation, applied to both."""
    from clinitui.engine.evaluate.multilabel import choose_thresholds, multilabel_metrics

    thresholds = choose_thresholds(y_val, val_probs, rule)
    return (multilabel_metrics(y_val, val_probs, label_names, thresholds=thresholds),
            multilabel_metrics(y_test, test_probs, label_names, thresholds=thresholds), thresholds)


def _report(done: Finished, emit: Callable[..., dict], epoch: int, step: int, *, show_baseline: bool) -> Finished:
    """The test ``eval`` event, then the ``baseline`` one when the run compares itself with it."""
    emit("eval", split="test", epoch=epoch, step=step, **done.metrics)
    if done.baseline is not None and show_baseline:
        emit("baseline", split="test", **done.baseline)
    return done
