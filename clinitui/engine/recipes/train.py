"""One training run from a resolved config to a finished run directory (the worker's body).

``prepare`` reads and checks everything that can be wrong with the input *before* a run
directory exists, so bad input never leaves a half-written run behind. ``execute`` then creates
the run directory, trains, evaluates the best checkpoint on the test split, and records it all
as events, ``metrics.json`` and ``checkpoint/``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from clinitui import __version__
from clinitui.config.overrides import config_digest, to_toml
from clinitui.config.schema import RunConfig
from clinitui.data.dataset import Dataset
from clinitui.data.load import dataset_for
from clinitui.engine.checkpoint.state import STATE_DIR, load_state, save_state
from clinitui.engine.memory.planner import plan_for_config
from clinitui.engine.recipes.failure import record_failure
from clinitui.engine.runtime.device import select_device
from clinitui.errors import ConfigError
from clinitui.events import FILENAME as EVENTS_FILE
from clinitui.events import EventWriter
from clinitui.rundir import RunLock, write_private

@dataclass
class Prepared:
    config: RunConfig
    dataset: Dataset
    plan: Any = None  # engine.planner.Plan: how the run fits its memory budget
    leakage: dict | None = None  # data/leakage.py: duplicates between splits (counts, and what --dedupe removed)
    epochs_raised: dict | None = None  # engine/train/auto_epochs.py: a small training split got more epochs


def prepare(config: RunConfig) -> Prepared:
    """Read and split the data and check the model choice; raises ClinituiError on bad input."""
    from clinitui.models import registry
    from clinitui.models.classifier import effective_freeze, parse_options, resolve_backbone
    from clinitui.models.pretrained import expand_backbone_folder

    from clinitui.engine.train.auto_epochs import raise_epochs
    from clinitui.engine.tfidf.blend import check_ensemble

    check_ensemble(config.model.ensemble)
    if config.pretrain is not None:
        raise ConfigError("this is a pretraining configuration ([pretrain] table): use `clinitui pretrain` "
                          "(`clinitui pretrain --resume RUN_DIR` to continue one)")
    config = expand_backbone_folder(config)  # `--backbone DIR` of `clinitui pretrain`: entry + options + weights
    backbone_cls, source = resolve_backbone(config.model.backbone)
    from clinitui.engine.evaluate.operating_point import parse_rule

    parse_rule(config.train.threshold_rule)  # a bad rule fails before any run directory exists
    if not getattr(backbone_cls, "neural", True):  # the TF-IDF model: no tokenizer, network or memory plan
        return Prepared(config, *_dataset(config))
    b_opts = parse_options(backbone_cls, config.model.backbone_options, f"backbone '{config.model.backbone}'")
    effective_freeze(config.model, backbone_cls)
    if config.model.adapter == "lora" and not backbone_cls.pretrained:
        raise ConfigError(f"--adapter lora adapts pre-trained weights, and '{config.model.backbone}' is trained "
                          "from scratch (its frozen weights would stay random); choose another adapter")
    adapter_cls = registry.get("adapter", config.model.adapter).cls
    parse_options(adapter_cls, config.model.adapter_options, f"adapter '{config.model.adapter}'")
    from clinitui.engine.encode import long_notes

    config = long_notes.check(config)  # --long-notes: stride and process count (engine/encode/long_notes.py)
    plan = plan_for_config(config)  # refuses what cannot fit before any data or weights are read
    backbone_cls.check_source(b_opts, source)  # weights on this machine? (a clear error, no run directory)
    if config.model.freeze == "none" and plan.freeze == "backbone":
        config = config.model_copy(deep=True)
        config.model.freeze = "backbone"  # the planner's fallback, recorded in run.toml
    dataset, leaks = _dataset(config)
    config, raised = raise_epochs(config, len(dataset.train.texts))  # small splits: more epochs, in run.toml
    return Prepared(config, dataset, plan, leaks, raised)


def _dataset(config: RunConfig) -> tuple[Dataset, dict | None]:
    from clinitui.data.leakage import check_splits

    return check_splits(dataset_for(config), dedupe=config.data.dedupe)  # (dataset, leakage counts)


def execute(prepared: Prepared, path: Path, *, listeners: list[Callable[[dict], None]] | None = None,
            should_stop: Callable[[], bool] = lambda: False, resume: bool = False) -> dict:
    """Train, evaluate and record one run in the run directory ``path``.

    A new run needs a new, empty ``path``; with ``resume`` the run continues from the training
    state last saved in ``path/state/``. Returns the ``metrics.json`` payload.
    """
    from clinitui.engine.runtime import distributed

    config, dataset = prepared.config, prepared.dataset
    if config.model.backbone == "tfidf":
        from clinitui.engine.recipes.tfidf import execute_tfidf

        return execute_tfidf(prepared, path, listeners=listeners, should_stop=should_stop, resume=resume)
    wall_start = time.perf_counter()
    dist = distributed.from_env()  # under torchrun: rank 0 writes, the other ranks only compute
    main = dist is None or dist.main
    lock = RunLock(path) if main else None  # held until this process exits, even by kill -9
    try:
        snapshot = load_state(path, dataset.digest) if resume else None
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    if not resume and main:
        write_private(path / "run.toml", to_toml(config))
    if main:
        write_private(path / "worker.pid", f"{os.getpid()}\n")
    events = EventWriter(path / EVENTS_FILE, listeners) if main else distributed.NullEvents()
    umask = os.umask(0o077)  # whatever else creates files here (tokenizers, torch) makes them private
    sampler = None
    stage = "setup"
    try:
        import torch

        from clinitui.engine.checkpoint.folder import load_checkpoint, save_checkpoint
        from clinitui.engine.tfidf.blend import wanted as wanted_ensemble
        from clinitui.engine.train.loop import fit, predict_probs
        from clinitui.engine.memory.apply import cap_allocator, enable_gradient_checkpointing
        from clinitui.engine.memory.oom import EvalBackoff, free_cuda
        from clinitui.data.leakage import leakage_summary
        from clinitui.engine.runtime.telemetry import Sampler
        from clinitui.models.classifier import build_classifier, count_parameters, load_tokenizer, make_tokenizer

        t, m, b = config.train, config.model, config.budget
        torch.manual_seed(t.seed)
        torch.set_num_threads(t.threads or distributed.default_threads(dist))
        device, precision = select_device(config)
        if dist is not None:
            stage = "joining the other processes"
            device = distributed.setup(dist, device.type, config.dist.timeout_s)
        max_length = min(t.max_length, b.max_length)

        stage = "tokenizer"
        if snapshot is not None:
            tokenizer = load_tokenizer(m, path / STATE_DIR)
        elif main:
            tokenizer = make_tokenizer(m, dataset.train.texts)
            (path / STATE_DIR).mkdir(mode=0o700, exist_ok=True)
            tokenizer.save(path / STATE_DIR)  # a resume must tokenize exactly as this run did
        if dist is not None and snapshot is None:
            distributed.barrier(dist, stage)  # rank 0 trained and saved the tokenizer; the others load it
            if not main:
                tokenizer = load_tokenizer(m, path / STATE_DIR)
        from clinitui.engine.encode import long_notes  # --long-notes: truncate, head-tail or chunk, and what is lost

        notes_spec = long_notes.settings(config, max_length)
        encoded, cut = {}, {}
        for name in ("train", "val", "test"):
            encoded[name], cut[name] = long_notes.encode(tokenizer, getattr(dataset, name).texts,
                                                         getattr(dataset, name).labels, notes_spec, max_length)
        truncation = long_notes.summary(cut)
        stage = "model"
        torch.manual_seed(t.seed)
        model, freeze = build_classifier(m, len(dataset.label_names), tokenizer)
        model.multilabel = dataset.multilabel  # sigmoid per label in predict_probs (engine/evaluate/multilabel.py)
        model.to(device)
        params = count_parameters(model)
        plan = prepared.plan or plan_for_config(config)
        micro_batch = plan.micro_batch
        if snapshot is not None and snapshot["progress"].get("micro_batch"):
            # cut batches as the interrupted run did, so the saved position means the same rows
            micro_batch = snapshot["progress"]["micro_batch"]
        memory_info = {"gradient_checkpointing": plan.gradient_checkpointing and enable_gradient_checkpointing(model.backbone)}
        if device.type == "cuda":  # a small budget on a big card: cap the allocator to the budget
            memory_info.update(cap_allocator(device, b.memory_bytes, plan.estimate.overhead))
        truncated = sum(1 for ids in encoded["train"].ids if len(ids) >= max_length)
        events.emit(
            "run_started", clinitui_version=__version__, pid=os.getpid(), run_dir=str(path),
            config=config.model_dump(), config_digest=config_digest(config), dataset_digest=dataset.digest,
            data_source="demo" if dataset.source == "demo" else Path(dataset.source).name,
            split=dataset.split_kind, n_train=len(dataset.train.texts), n_val=len(dataset.val.texts),
            n_test=len(dataset.test.texts), labels=dataset.label_names, counts=dataset.counts(),
            params=params, freeze=freeze, device=str(device), precision=precision,
            plan={**plan.as_dict(), "precision": precision, **memory_info},
            vocab_size=tokenizer.vocab_size, truncated_train_notes=truncated, backbone=model.backbone.describe(),
            truncation=truncation, **({"epochs_raised": prepared.epochs_raised} if prepared.epochs_raised else {}),
            **({"resumed_from_step": snapshot["progress"]["step"]} if snapshot else {}),
            **({"world_size": dist.world_size} if dist else {}),
        )
        for warning in dataset.warnings:
            events.emit("warning", message=warning)
        from clinitui.data.leakage import warning_text

        if prepared.leakage and warning_text(prepared.leakage):
            events.emit("warning", message=warning_text(prepared.leakage))
        if main:
            sampler = Sampler(events.emit, device, plan.available_bytes)  # the budget the VRAM panel draws
            sampler.ranks = dist.rank_memory if dist else None  # every rank's memory in the `memory` events
            sampler.start()

        ckpt_dir = path / "checkpoint"

        from clinitui.engine.recipes.finish_multilabel import checkpoint_keys, selection_metric

        select = selection_metric(config, dataset)  # f1_macro; multi-label: train.multilabel_metric

        def save_best(epoch: int, metrics: dict) -> None:
            save_checkpoint(ckpt_dir, model, tokenizer, model_cfg=m, freeze=freeze, label_names=dataset.label_names,
                            positive_index=dataset.positive_index, max_length=max_length,
                            extra={"epoch": epoch, "val_f1_macro": metrics["f1_macro"], **checkpoint_keys(dataset),
                                   "long_notes": notes_spec})
            events.emit("checkpoint", path=str(ckpt_dir), epoch=epoch, metric=select, value=metrics[select])

        stage = "training"
        fit_cfg = t.model_copy(update={"eval_batch_size": min(t.eval_batch_size, plan.eval_batch)})
        cache_limit = None
        if t.feature_cache and freeze == "backbone":  # backbone outputs computed once (engine/train/feature_cache.py)
            from clinitui.engine.train.feature_cache import limit_bytes

            cache_limit = limit_bytes(device, plan)
        result = fit(model, encoded["train"], encoded["val"], cfg=fit_cfg, micro_batch=micro_batch, pad_id=tokenizer.pad_id,
                     label_names=dataset.label_names, positive_index=dataset.positive_index, device=device,
                     precision=precision, emit=events.emit, save_best=save_best if main else None, should_stop=should_stop,
                     progress=sampler.progress if main else {}, resume=snapshot, state_every_s=t.state_every_s,
                     save_state=(lambda state: save_state(path, state)) if main else None,
                     feature_cache_limit=cache_limit, dist=dist)

        stage = "evaluation"
        model.to("cpu")  # the trained copy is done with: keep one model on a small card
        free_cuda(device)
        best, _, _ = load_checkpoint(ckpt_dir, device=str(device))
        rows = distributed.share(list(range(len(encoded["test"].ids))), dist) if dist else None
        probs = EvalBackoff(fit_cfg.eval_batch_size, device=device, emit=events.emit).run(
            lambda size: predict_probs(best, encoded["test"], tokenizer.pad_id, size, device, precision, rows=rows))
        val_rows = distributed.share(list(range(len(encoded["val"].ids))), dist) if dist else None
        val_probs = EvalBackoff(fit_cfg.eval_batch_size, device=device, emit=events.emit).run(
            lambda size: predict_probs(best, encoded["val"], tokenizer.pad_id, size, device, precision, rows=val_rows))
        if dist is not None:  # each rank predicted its share of val and test; rank 0 goes on alone
            probs = distributed.gather_rows(dist, rows, probs, len(encoded["test"].ids), stage)
            val_probs = distributed.gather_rows(dist, val_rows, val_probs, len(encoded["val"].ids), stage)
            if not main:
                return {}
        ensemble = baseline = baseline_probs = None
        if dataset.multilabel:  # per-label thresholds, OvR TF-IDF baseline and blend (engine/recipes/finish_multilabel.py)
            from clinitui.engine.recipes.finish_multilabel import evaluate_multilabel

            stage = "ensemble" if wanted_ensemble(m.ensemble) else "evaluation"
            test_metrics, extras, ensemble, baseline = evaluate_multilabel(
                path, ckpt_dir, dataset, val_probs, probs, config, emit=events.emit)
        elif wanted_ensemble(m.ensemble):  # blend with the TF-IDF model, weight chosen on val (engine/tfidf/blend.py)
            from clinitui.engine.tfidf.blend import ensemble_with_tfidf

            stage = "ensemble"
            ensemble = ensemble_with_tfidf(ckpt_dir, dataset, val_probs, probs, seed=t.seed, emit=events.emit)
            val_probs, probs = ensemble.pop("val_probs"), ensemble.pop("test_probs")
            baseline, baseline_probs = ensemble["baseline"], ensemble.pop("tfidf_test_probs")
        elif t.baseline:
            from clinitui.engine.tfidf.baseline import tfidf_baseline

            baseline, baseline_probs = tfidf_baseline(dataset, seed=t.seed, return_probs=True)
        from clinitui.engine.evaluate.assess import finalize  # temperature + threshold on val, intervals on test

        if not dataset.multilabel:
            test_metrics, extras = finalize(
                path, ckpt_dir, y_val=encoded["val"].labels, val_probs=val_probs, y_test=encoded["test"].labels,
                test_probs=probs, label_names=dataset.label_names, positive_index=dataset.positive_index,
                rule=t.threshold_rule, n_boot=t.bootstrap, baseline_probs=baseline_probs)
        events.emit("eval", split="test", epoch=result.best_epoch, step=result.steps, **test_metrics)
        if baseline is not None and t.baseline:
            events.emit("baseline", split="test", **baseline)
        sampler.stop(last_sample=True)  # before run_finished, the last event
        payload = {
            "run_dir": str(path),
            "checkpoint": str(ckpt_dir),
            "metrics": test_metrics,
            "val_metrics": ensemble["val"] if ensemble else result.best_val,
            "baseline": baseline,
            **({"network": ensemble["network_test"], "network_val": ensemble["network_val"],
                "ensemble": {"name": m.ensemble, "weight": ensemble["weight"]}} if ensemble else {}),
            "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run,
            "steps": result.steps,
            "stopped_early": result.stopped_early,
            "train_seconds": round(result.train_seconds, 2),
            "wall_seconds": round(time.perf_counter() - wall_start, 2),
            "real_tokens_per_s": round(result.real_tokens / max(result.train_seconds, 1e-9), 1),
            "peak_host_rss_bytes": sampler.peak_host_rss,
            "params": params,
            "freeze": freeze,
            "labels": dataset.label_names,
            "counts": dataset.counts(),
            "device": str(device),
            **extras,  # calibration, operating_point, vs_baseline (engine/evaluate/assess.py)
            "leakage": prepared.leakage and leakage_summary(prepared.leakage),
            "truncation": truncation,
        }
        write_private(path / "metrics.json", json.dumps(payload, indent=2))
        events.emit("run_finished", best_epoch=result.best_epoch,
                    best_val_f1_macro=result.best_val.get("f1_macro", result.best_f1),
                    test_f1_macro=test_metrics["f1_macro"], wall_seconds=payload["wall_seconds"])
        return payload
    except BaseException as exc:  # the last event: stopped or run_failed (engine/recipes/failure.py)
        raise record_failure(events, exc, stage, log_dir=path if main else None, dist=dist,
                             oom_advice="lower --set train.max_length, use --adapter lora or --set "
                                        "model.freeze=backbone, or choose a larger --budget")
    finally:
        if sampler is not None:
            sampler.stop()
        events.close()
        if dist is not None:
            distributed.teardown()
        if lock is not None:
            lock.release()
            try:
                (path / "worker.pid").unlink()
            except OSError:
                pass
        os.umask(umask)
