"""A run of the ``tfidf`` backbone: the strong baseline trained as a checkpoint, in a normal run directory.

It has no network, tokenizer or memory plan, so engine/recipes/train.py hands it here; it still writes
``run.toml``, ``events.jsonl`` (``run_started``, ``eval`` on val and test, ``checkpoint``,
``baseline``, ``run_finished``), ``metrics.json`` and ``checkpoint/`` (config.json +
``model.safetensors`` + ``tfidf.json``, engine/tfidf/model.py), so ``eval``, ``predict``, ``runs`` and the
TUI treat it like any other run. It fits in seconds, so stop and resume simply start over.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Callable

from clinitui import __version__
from clinitui.config.overrides import config_digest, to_toml
from clinitui.config.schema import RunConfig
from clinitui.engine.recipes.failure import record_failure
from clinitui.errors import StopRequested
from clinitui.events import FILENAME as EVENTS_FILE
from clinitui.events import EventWriter
from clinitui.rundir import RunLock, write_private


def is_tfidf(config: RunConfig) -> bool:
    return config.model.backbone == "tfidf"


def save_tfidf_checkpoint(directory: Path, model, *, config: RunConfig, positive_index: int | None,
                          extra: dict | None = None) -> Path:
    """A complete checkpoint folder for a TF-IDF model, swapped in atomically (temp folder + rename)."""
    from clinitui.engine.checkpoint.folder import FORMAT, FORMAT_VERSION, WEIGHTS

    directory = Path(directory)
    tmp = directory.with_name(directory.name + ".new")
    shutil.rmtree(tmp, ignore_errors=True)
    sha = model.save(tmp)
    cfg = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "clinitui_version": __version__,
        "model": config.model.model_dump(), "freeze": "none", "label_names": model.label_names,
        "positive_index": positive_index, "max_length": config.train.max_length,
        "weights_sha256": sha[WEIGHTS], "tfidf": {"sha256": sha}, **(extra or {}),
    }
    write_private(tmp / "config.json", json.dumps(cfg, indent=2))
    if directory.exists():
        shutil.rmtree(directory)
    os.replace(tmp, directory)
    return directory


def execute_tfidf(prepared, path: Path, *, listeners: list[Callable[[dict], None]] | None = None,
                  should_stop: Callable[[], bool] = lambda: False, resume: bool = False) -> dict:
    from clinitui.engine.tfidf.baseline import baseline_metrics
    from clinitui.engine.evaluate.metrics import classification_metrics
    from clinitui.engine.tfidf.load import fit_on_dataset

    config, dataset = prepared.config, prepared.dataset
    wall_start = time.perf_counter()
    lock = RunLock(path)
    if not resume:
        write_private(path / "run.toml", to_toml(config))
    write_private(path / "worker.pid", f"{os.getpid()}\n")
    events = EventWriter(path / EVENTS_FILE, listeners)
    stage = "setup"
    try:
        events.emit(
            "run_started", clinitui_version=__version__, pid=os.getpid(), run_dir=str(path),
            config=config.model_dump(), config_digest=config_digest(config), dataset_digest=dataset.digest,
            data_source="demo" if dataset.source == "demo" else Path(dataset.source).name,
            split=dataset.split_kind, n_train=len(dataset.train.texts), n_val=len(dataset.val.texts),
            n_test=len(dataset.test.texts), labels=dataset.label_names, counts=dataset.counts(),
            params={"trainable": 0, "total": 0}, freeze="none", device="cpu", precision="fp32", plan={},
            backbone={"kind": "tfidf"},
        )
        for warning in dataset.warnings:
            events.emit("warning", message=warning)
        stage = "training"
        if should_stop():
            raise StopRequested("stop requested before the TF-IDF model was fitted")
        model, seconds = fit_on_dataset(dataset, seed=config.train.seed)
        val_probs = model.predict_proba(dataset.val.texts)
        if dataset.multilabel:  # one-vs-rest model, per-label thresholds (engine/recipes/finish_multilabel.py)
            from clinitui.engine.evaluate.multilabel import validation_metrics

            val = validation_metrics(dataset.val.labels, val_probs, dataset.label_names, config.train.threshold_rule)
        else:
            val = classification_metrics(dataset.val.labels, val_probs, dataset.label_names, dataset.positive_index)
        events.emit("eval", split="val", epoch=1, step=1, C=model.c, **val)
        from clinitui.engine.recipes.finish_multilabel import checkpoint_keys, evaluate_multilabel

        ckpt = save_tfidf_checkpoint(path / "checkpoint", model, config=config, positive_index=dataset.positive_index,
                                     extra={"epoch": 1, "val_f1_macro": val["f1_macro"], **checkpoint_keys(dataset)})
        events.emit("checkpoint", path=str(ckpt), epoch=1, metric="f1_macro", value=val["f1_macro"])
        stage = "evaluation"
        from clinitui.data.leakage import leakage_summary
        from clinitui.engine.evaluate.assess import finalize  # temperature + threshold on val, intervals on test

        if dataset.multilabel:
            test, extras, _, baseline = evaluate_multilabel(
                path, ckpt, dataset, val_probs, model.predict_proba(dataset.test.texts),
                config.model_copy(update={"train": config.train.model_copy(update={"baseline": True})}),
                emit=events.emit, fitted=(model, seconds), blend_wanted=False)
        else:
            baseline = baseline_metrics(model, dataset, seconds)
            test, extras = finalize(
                path, ckpt, y_val=dataset.val.labels, val_probs=val_probs, y_test=dataset.test.labels,
                test_probs=model.predict_proba(dataset.test.texts), label_names=dataset.label_names,
                positive_index=dataset.positive_index, rule=config.train.threshold_rule, n_boot=config.train.bootstrap)
        events.emit("eval", split="test", epoch=1, step=1, **test)
        events.emit("baseline", split="test", **baseline)
        payload = {
            "run_dir": str(path), "checkpoint": str(ckpt), "metrics": test, "val_metrics": val,
            "baseline": baseline, "best_epoch": 1, "epochs_run": 1, "steps": 1, "stopped_early": False,
            "train_seconds": round(seconds, 2), "wall_seconds": round(time.perf_counter() - wall_start, 2),
            "real_tokens_per_s": None, "peak_host_rss_bytes": None, "params": {"trainable": 0, "total": 0},
            "freeze": "none", "labels": dataset.label_names, "counts": dataset.counts(), "device": "cpu",
            **extras, "leakage": prepared.leakage and leakage_summary(prepared.leakage),
        }
        write_private(path / "metrics.json", json.dumps(payload, indent=2))
        events.emit("run_finished", best_epoch=1, best_val_f1_macro=val["f1_macro"], test_f1_macro=test["f1_macro"],
                    wall_seconds=payload["wall_seconds"])
        return payload
    except BaseException as exc:  # the last event: stopped or run_failed (engine/recipes/failure.py)
        raise record_failure(events, exc, stage, log_dir=path, oom_advice="choose a larger --budget")
    finally:
        events.close()
        lock.release()
        try:
            (path / "worker.pid").unlink()
        except OSError:
            pass
