"""A run of the ``tfidf`` backbone: the strong baseline trained as a checkpoint, in a normal run directory.

It has no network, tokenizer or memory plan; engine/recipes/dispatch.py picks this recipe for it
(its input is read and checked by engine/recipes/train.py's ``prepare``). It still writes
``run.toml``, ``events.jsonl`` (``run_started``, ``eval`` on val and test, ``checkpoint``,
``baseline``, ``run_finished``), ``metrics.json`` and ``checkpoint/`` (config.json +
``model.safetensors`` + ``tfidf.json``, engine/checkpoint/folder.py), so ``eval``, ``predict``, ``runs``
and the TUI treat it like any other run, and it ends through the same finishing path as a network
run (engine/recipes/finish.py). It fits in seconds, so stop and resume simply start over.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from clinitui.engine.checkpoint.format import task_keys
from clinitui.engine.recipes.finish import finisher_for
from clinitui.engine.recipes.scaffold import Run, labelled_run_started, run_scaffold
from clinitui.errors import StopRequested
from clinitui.rundir import write_private


def execute(prepared, path: Path, *, listeners: list[Callable[[dict], None]] | None = None,
            should_stop: Callable[[], bool] = lambda: False, resume: bool = False) -> dict:
    """Fit, evaluate and record the TF-IDF model in the run directory ``path``; returns the metrics.json payload."""
    wall_start = time.perf_counter()
    with run_scaffold(path, prepared.config, listeners=listeners, resume=resume,
                      oom_advice="choose a larger --budget") as run:
        _started(run, prepared)
        run.stage = "training"
        if should_stop():
            raise StopRequested("stop requested before the TF-IDF model was fitted")
        return _fit_and_finish(run, prepared, wall_start)


def _started(run: Run, prepared) -> None:
    config, dataset = prepared.config, prepared.dataset
    run.events.emit(
        "run_started", **labelled_run_started(run.path, config, dataset),
        params={"trainable": 0, "total": 0}, freeze="none", device="cpu", precision="fp32", plan={},
        backbone={"kind": "tfidf"},
    )
    for warning in dataset.warnings:
        run.events.emit("warning", message=warning)


def _fit_and_finish(run: Run, prepared, wall_start: float) -> dict:
    """Fit on train (C chosen on val), save the checkpoint, finish on val and test, write metrics.json."""
    from clinitui.data.leakage import leakage_summary
    from clinitui.engine.checkpoint.folder import save_tfidf_checkpoint
    from clinitui.engine.tfidf.load import fit_for_run

    config, dataset, emit = prepared.config, prepared.dataset, run.events.emit
    finisher = finisher_for(dataset)
    # refitted on train + val once C is chosen; val_probs: the train-only fit's (engine/tfidf/load.py)
    model, seconds, val_probs = fit_for_run(dataset, seed=config.train.seed, refit=config.train.tfidf_refit)
    val = finisher.val_metrics(dataset, val_probs, config.train.threshold_rule)
    emit("eval", split="val", epoch=1, step=1, C=model.c, **val)
    ckpt = save_tfidf_checkpoint(run.path / "checkpoint", model, model_cfg=config.model,
                                 max_length=config.train.max_length, positive_index=dataset.positive_index,
                                 extra={"epoch": 1, "val_f1_macro": val["f1_macro"], **task_keys(dataset)})
    emit("checkpoint", path=str(ckpt), epoch=1, metric="f1_macro", value=val["f1_macro"])
    run.stage = "evaluation"
    done = finisher.finish(run.path, ckpt, dataset, config, val_probs, model.predict_proba(dataset.test.texts),
                           emit=emit, epoch=1, step=1, fitted=(model, seconds, val_probs))
    payload = {
        "run_dir": str(run.path), "checkpoint": str(ckpt), "metrics": done.metrics, "val_metrics": val,
        "baseline": done.baseline, "best_epoch": 1, "epochs_run": 1, "steps": 1, "stopped_early": False,
        "train_seconds": round(seconds, 2), "wall_seconds": round(time.perf_counter() - wall_start, 2),
        "real_tokens_per_s": None, "peak_host_rss_bytes": None, "params": {"trainable": 0, "total": 0},
        "freeze": "none", "labels": dataset.label_names, "counts": dataset.counts(), "device": "cpu",
        **done.extras, "leakage": prepared.leakage and leakage_summary(prepared.leakage),
    }
    write_private(run.path / "metrics.json", json.dumps(payload, indent=2))
    emit("run_finished", best_epoch=1, best_val_f1_macro=val["f1_macro"], test_f1_macro=done.metrics["f1_macro"],
         wall_seconds=payload["wall_seconds"])
    return payload
