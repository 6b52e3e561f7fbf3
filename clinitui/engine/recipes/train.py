"""One training run from a resolved config to a finished run directory (the worker's body).

``prepare`` reads and checks everything that can be wrong with the input *before* a run
directory exists, so bad input never leaves a half-written run behind (the ``tfidf`` backbone's
too: engine/recipes/dispatch.py then hands it to engine/recipes/tfidf.py). ``execute`` sets the run
directory up (engine/recipes/scaffold.py), trains, evaluates the best checkpoint on the validation
and test splits, finishes through engine/recipes/finish.py, and records it all as events,
``metrics.json`` and ``checkpoint/``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from clinitui.config.schema import RunConfig
from clinitui.data.dataset import Dataset
from clinitui.data.load import dataset_for
from clinitui.engine.checkpoint.state import PROGRESS, STATE_DIR, load_state, save_state
from clinitui.engine.memory.planner import plan_for_config
from clinitui.engine.recipes.finish import finisher_for
from clinitui.engine.recipes.scaffold import Run, labelled_run_started, run_scaffold
from clinitui.engine.runtime.device import select_device
from clinitui.errors import ConfigError
from clinitui.kinds import Task
from clinitui.rundir import write_private

@dataclass
class Prepared:
    config: RunConfig
    dataset: Dataset
    plan: Any = None  # engine.planner.Plan: how the run fits its memory budget
    leakage: dict | None = None  # data/leakage.py: duplicates between splits (counts, and what --dedupe removed)
    epochs_raised: dict | None = None  # engine/train/auto_epochs.py: a small training split got more epochs
    lr_auto: dict | None = None  # engine/train/auto_lr.py: train.lr was unset, chosen from what trains


def prepare(config: RunConfig) -> Prepared:
    """Read and split the data and check the model choice; raises ClinituiError on bad input."""
    from clinitui.models import registry
    from clinitui.models.classifier import effective_freeze, parse_options, resolve_backbone
    from clinitui.models.pretrained import expand_backbone_folder

    from clinitui.engine.train.auto_epochs import raise_epochs
    from clinitui.engine.train.auto_lr import resolve_lr
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
        dataset, leaks = _dataset(config)
        _check_tfidf(config, dataset, neural=False)
        return Prepared(config, dataset, leakage=leaks)
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
    _check_tfidf(config, dataset, neural=True)
    config, raised = raise_epochs(config, len(dataset.train.texts))  # small splits: more epochs, in run.toml
    config, lr_auto = resolve_lr(config, plan.freeze, plan.model.pretrained)  # unset lr: from what trains, in run.toml
    return Prepared(config, dataset, plan, leaks, raised, lr_auto)


def _dataset(config: RunConfig) -> tuple[Dataset, dict | None]:
    from clinitui.data.leakage import check_splits

    return check_splits(dataset_for(config), dedupe=config.data.dedupe)  # (dataset, leakage counts)


def _check_tfidf(config: RunConfig, dataset: Dataset, *, neural: bool) -> None:
    """DataError (exit 2) before any run directory exists when the run will fit the TF-IDF model (the
    ``tfidf`` backbone, ``--ensemble tfidf`` or ``train.baseline``) and the training split cannot feed it:
    otherwise the network trains its epochs and the run fails at the TF-IDF stage."""
    from clinitui.engine.tfidf.blend import wanted
    from clinitui.engine.tfidf.model import unusable_reason
    from clinitui.errors import DataError

    if neural and not wanted(config.model.ensemble) and not config.train.baseline:
        return
    reason = unusable_reason(dataset.train.texts)
    if reason is None:
        return
    if not neural:
        who, fix = "the TF-IDF model (--backbone tfidf)", "check --text-col, or add notes"
    else:
        who = ("the TF-IDF half of the blend (--ensemble tfidf)" if wanted(config.model.ensemble)
               else "the TF-IDF baseline (train.baseline)")
        fix = ("check --text-col, add notes, or train the network alone with --ensemble none "
               "--set train.baseline=false")
    raise DataError(f"{dataset.source}: {who} cannot be fitted: {reason}; {fix}")


OOM_ADVICE = ("lower --set train.max_length, use --adapter lora or --set model.freeze=backbone, or choose a "
              "larger --budget")


@dataclass
class _Setup:
    """What the steps of one network run share once the model is built."""

    device: Any
    precision: str
    max_length: int
    tokenizer: Any
    encoded: dict  # split name -> encoded notes (engine/encode/long_notes.py)
    notes_spec: Any  # how notes longer than max_length are read (checkpoint key `long_notes`)
    truncation: dict
    model: Any = None
    freeze: str = "none"
    params: dict | None = None
    plan: Any = None
    micro_batch: int = 0
    memory_info: dict | None = None
    sampler: Any = None  # engine/runtime/telemetry.Sampler (rank 0)
    eval_batch: int = 0  # notes per prediction batch, within the plan


def execute(prepared: Prepared, path: Path, *, listeners: list[Callable[[dict], None]] | None = None,
            should_stop: Callable[[], bool] = lambda: False, resume: bool = False) -> dict:
    """Train, evaluate and record one run in the run directory ``path``.

    A new run needs a new, empty ``path``; with ``resume`` the run continues from the training
    state last saved in ``path/state/``. Returns the ``metrics.json`` payload ({} on a torchrun
    rank other than 0).
    """
    from clinitui.engine.runtime import distributed

    wall_start = time.perf_counter()
    dist = distributed.from_env()  # under torchrun: rank 0 writes, the other ranks only compute
    with run_scaffold(path, prepared.config, listeners=listeners, resume=resume, dist=dist, oom_advice=OOM_ADVICE,
                      load_snapshot=lambda: load_state(path, prepared.dataset.digest)) as run:
        s = _tokenize(run, prepared, *_runtime(run, prepared.config))
        _build(run, prepared, s)
        _announce(run, prepared, s)
        ckpt_dir = path / "checkpoint"
        result = _train(run, prepared, s, ckpt_dir, should_stop)
        run.stage = "evaluation"
        probs = _predict_best(run, s, ckpt_dir)
        if not run.main:  # each rank predicted its share of val and test; rank 0 goes on alone
            return {}
        return _finish(run, prepared, s, ckpt_dir, result, *probs, wall_start)


def _runtime(run: Run, config: RunConfig) -> tuple[Any, str]:
    """(device, precision), with the seed and threads set and, under torchrun, the process group joined."""
    import torch

    from clinitui.engine.runtime import distributed

    t = config.train
    torch.manual_seed(t.seed)
    torch.set_num_threads(t.threads or distributed.default_threads(run.dist))
    device, precision = select_device(config)
    if run.dist is not None:
        run.stage = "joining the other processes"
        device = distributed.setup(run.dist, device.type, config.dist.timeout_s)
    return device, precision


def _tokenize(run: Run, prepared: Prepared, device, precision: str) -> _Setup:
    """The tokenizer (trained and saved in state/ for a new run, read back on a resume) and the encoded splits."""
    from clinitui.engine.encode import long_notes  # --long-notes: truncate, head-tail or chunk, and what is lost
    from clinitui.engine.runtime import distributed
    from clinitui.models.classifier import load_tokenizer, make_tokenizer

    config, dataset, path = prepared.config, prepared.dataset, run.path
    m, max_length = config.model, min(config.train.max_length, config.budget.max_length)
    run.stage = "tokenizer"
    if run.snapshot is not None:
        tokenizer = load_tokenizer(m, path / STATE_DIR)
    elif run.main:
        tokenizer = make_tokenizer(m, dataset.train.texts)
        (path / STATE_DIR).mkdir(mode=0o700, exist_ok=True)
        tokenizer.save(path / STATE_DIR)  # a resume must tokenize exactly as this run did
    if run.dist is not None and run.snapshot is None:
        distributed.barrier(run.dist, run.stage)  # rank 0 trained and saved the tokenizer; the others load it
        if not run.main:
            tokenizer = load_tokenizer(m, path / STATE_DIR)
    notes_spec = long_notes.settings(config, max_length)
    encoded, cut = {}, {}
    for name in ("train", "val", "test"):
        encoded[name], cut[name] = long_notes.encode(tokenizer, getattr(dataset, name).texts,
                                                     getattr(dataset, name).labels, notes_spec, max_length)
    return _Setup(device, precision, max_length, tokenizer, encoded, notes_spec, long_notes.summary(cut))


def _build(run: Run, prepared: Prepared, s: _Setup) -> None:
    """The classifier on its device, its memory plan applied."""
    import torch

    from clinitui.engine.memory.apply import cap_allocator, enable_gradient_checkpointing
    from clinitui.models.classifier import build_classifier, count_parameters

    config, dataset = prepared.config, prepared.dataset
    run.stage = "model"
    torch.manual_seed(config.train.seed)
    s.model, s.freeze = build_classifier(config.model, len(dataset.label_names), s.tokenizer)
    s.model.multilabel = dataset.task is Task.MULTILABEL  # sigmoid per label in predict_probs (engine/evaluate/multilabel.py)
    s.model.to(s.device)
    s.params = count_parameters(s.model)
    s.plan = prepared.plan or plan_for_config(config)
    s.micro_batch = s.plan.micro_batch
    if run.snapshot is not None and run.snapshot[PROGRESS].get("micro_batch"):
        # cut batches as the interrupted run did, so the saved position means the same rows
        s.micro_batch = run.snapshot[PROGRESS]["micro_batch"]
    s.memory_info = {"gradient_checkpointing": s.plan.gradient_checkpointing
                     and enable_gradient_checkpointing(s.model.backbone)}
    if s.device.type == "cuda":  # a small budget on a big card: cap the allocator to the budget
        s.memory_info.update(cap_allocator(s.device, config.budget.memory_bytes, s.plan.estimate.overhead))


def _announce(run: Run, prepared: Prepared, s: _Setup) -> None:
    """``run_started`` and the data warnings; the telemetry sampler started (rank 0)."""
    from clinitui.data.leakage import warning_text
    from clinitui.engine.runtime.telemetry import Sampler

    config, dataset, dist, snapshot = prepared.config, prepared.dataset, run.dist, run.snapshot
    truncated = sum(1 for ids in s.encoded["train"].ids if len(ids) >= s.max_length)
    run.events.emit(
        "run_started", **labelled_run_started(run.path, config, dataset),
        params=s.params, freeze=s.freeze, device=str(s.device), precision=s.precision,
        plan={**s.plan.as_dict(), "precision": s.precision, **s.memory_info},
        vocab_size=s.tokenizer.vocab_size, truncated_train_notes=truncated, backbone=s.model.backbone.describe(),
        truncation=s.truncation, **({"epochs_raised": prepared.epochs_raised} if prepared.epochs_raised else {}),
        **({"lr_auto": prepared.lr_auto} if prepared.lr_auto else {}),
        **({"resumed_from_step": snapshot[PROGRESS]["step"]} if snapshot else {}),
        **({"world_size": dist.world_size} if dist else {}),
    )
    for warning in dataset.warnings:
        run.events.emit("warning", message=warning)
    if prepared.leakage and warning_text(prepared.leakage):
        run.events.emit("warning", message=warning_text(prepared.leakage))
    if run.main:
        s.sampler = Sampler(run.events.emit, s.device, s.plan.available_bytes)  # the budget the VRAM panel draws
        s.sampler.ranks = dist.rank_memory if dist else None  # every rank's memory in the `memory` events
        s.sampler.start()
        run.defer(s.sampler.stop)


def _train(run: Run, prepared: Prepared, s: _Setup, ckpt_dir: Path, should_stop: Callable[[], bool]):
    """Fit on train, the best epoch on validation saved to ``ckpt_dir``; the loop's result."""
    from clinitui.engine.checkpoint.folder import save_checkpoint
    from clinitui.engine.checkpoint.format import task_keys
    from clinitui.engine.train.loop import fit
    from clinitui.engine.train.sanity import watch_for_majority

    config, dataset, path, main = prepared.config, prepared.dataset, run.path, run.main
    t = config.train
    # the loop's events, watched: a run stuck on the majority class says so once (engine/train/sanity.py)
    emit = watch_for_majority(run.events.emit, lr=t.lr, freeze=s.freeze, pretrained=s.plan.model.pretrained)
    select = finisher_for(dataset).selection_metric(config)  # f1_macro; multi-label: train.multilabel_metric

    def save_best(epoch: int, metrics: dict) -> None:
        save_checkpoint(ckpt_dir, s.model, s.tokenizer, model_cfg=config.model, freeze=s.freeze,
                        label_names=dataset.label_names, positive_index=dataset.positive_index,
                        max_length=s.max_length, extra={"epoch": epoch, "val_f1_macro": metrics["f1_macro"],
                                                        **task_keys(dataset), "long_notes": s.notes_spec})
        emit("checkpoint", path=str(ckpt_dir), epoch=epoch, metric=select, value=metrics[select])

    run.stage = "training"
    fit_cfg = t.model_copy(update={"eval_batch_size": min(t.eval_batch_size, s.plan.eval_batch)})
    cache_limit = cache_dir = None
    if t.feature_cache and s.freeze == "backbone":  # backbone outputs computed once (engine/train/feature_cache.py)
        from clinitui.engine.train.feature_cache import limit_bytes
        from clinitui.engine.train.feature_store import STORE_DIR

        cache_limit = limit_bytes(s.device, s.plan)
        # on disk beside the run: shared by the runs of one runs root, or the trials of one sweep
        cache_dir = path.parent / STORE_DIR
    s.eval_batch = fit_cfg.eval_batch_size
    return fit(s.model, s.encoded["train"], s.encoded["val"], cfg=fit_cfg, micro_batch=s.micro_batch,
               pad_id=s.tokenizer.pad_id, label_names=dataset.label_names, positive_index=dataset.positive_index,
               device=s.device, precision=s.precision, emit=emit, save_best=save_best if main else None,
               should_stop=should_stop, progress=s.sampler.progress if main else {}, resume=run.snapshot,
               state_every_s=t.state_every_s, save_state=(lambda state: save_state(path, state)) if main else None,
               feature_cache_limit=cache_limit, dist=run.dist, feature_cache_dir=cache_dir)


def _predict_best(run: Run, s: _Setup, ckpt_dir: Path) -> tuple[Any, Any]:
    """(validation, test) probabilities of the best checkpoint; under torchrun each rank predicts its share."""
    from clinitui.engine.checkpoint.folder import load_checkpoint
    from clinitui.engine.memory.oom import EvalBackoff, free_cuda
    from clinitui.engine.runtime import distributed
    from clinitui.engine.train.loop import predict_probs

    dist, device = run.dist, s.device
    s.model.to("cpu")  # the trained copy is done with: keep one model on a small card
    free_cuda(device)
    best, _, _ = load_checkpoint(ckpt_dir, device=str(device))

    def predict(name: str) -> tuple[Any, list | None]:
        rows = distributed.share(list(range(len(s.encoded[name].ids))), dist) if dist else None
        return EvalBackoff(s.eval_batch, device=device, emit=run.events.emit).run(
            lambda size: predict_probs(best, s.encoded[name], s.tokenizer.pad_id, size, device, s.precision,
                                       rows=rows)), rows

    (probs, rows), (val_probs, val_rows) = predict("test"), predict("val")
    if dist is not None:
        probs = distributed.gather_rows(dist, rows, probs, len(s.encoded["test"].ids), run.stage)
        val_probs = distributed.gather_rows(dist, val_rows, val_probs, len(s.encoded["val"].ids), run.stage)
    return val_probs, probs


def _finish(run: Run, prepared: Prepared, s: _Setup, ckpt_dir: Path, result, val_probs, probs,
            wall_start: float) -> dict:
    """Blend, post-processing and test metrics (engine/recipes/finish.py), then metrics.json and run_finished."""
    from clinitui.data.leakage import leakage_summary
    from clinitui.engine.tfidf.blend import wanted as wanted_ensemble

    config, dataset, path = prepared.config, prepared.dataset, run.path
    m = config.model
    run.stage = "ensemble" if wanted_ensemble(m.ensemble) else "evaluation"
    done = finisher_for(dataset).finish(path, ckpt_dir, dataset, config, val_probs, probs, emit=run.events.emit,
                                        epoch=result.best_epoch, step=result.steps, val_history=result.val_history)
    ensemble = done.ensemble
    s.sampler.stop(last_sample=True)  # before run_finished, the last event
    payload = {
        "run_dir": str(path),
        "checkpoint": str(ckpt_dir),
        "metrics": done.metrics,
        "val_metrics": ensemble["val"] if ensemble else result.best_val,
        "baseline": done.baseline,
        **({"network": ensemble["network_test"], "network_val": ensemble["network_val"],
            "ensemble": {"name": m.ensemble, "weight": ensemble["weight"]}} if ensemble else {}),
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "steps": result.steps,
        "stopped_early": result.stopped_early,
        "train_seconds": round(result.train_seconds, 2),
        "wall_seconds": round(time.perf_counter() - wall_start, 2),
        "real_tokens_per_s": round(result.real_tokens / max(result.train_seconds, 1e-9), 1),
        "peak_host_rss_bytes": s.sampler.peak_host_rss,
        "params": s.params,
        "freeze": s.freeze,
        "labels": dataset.label_names,
        "counts": dataset.counts(),
        "device": str(s.device),
        **done.extras,  # calibration, operating_point / label_thresholds, vs_baseline (engine/recipes/finish.py)
        "leakage": prepared.leakage and leakage_summary(prepared.leakage),
        "truncation": s.truncation,
    }
    write_private(path / "metrics.json", json.dumps(payload, indent=2))
    run.events.emit("run_finished", best_epoch=result.best_epoch,
                    best_val_f1_macro=result.best_val.get("f1_macro", result.best_f1),
                    test_f1_macro=done.metrics["f1_macro"], wall_seconds=payload["wall_seconds"])
    return payload
