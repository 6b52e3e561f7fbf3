"""The training loop: read it top to bottom.

AdamW with linear warm-up and linear decay, gradient accumulation up to the effective batch,
optional class weights, early stopping on validation macro-F1, best checkpoint kept. The loop
syncs with the device only at logging intervals (no ``.item()`` per step).

:func:`fit` runs a ``_Fit``: ``start`` (resume, feature cache), then ``epochs``, each epoch
``train_epoch`` (``step`` → ``accumulate``, ``log``, ``stop_or_save``), ``validate`` and
``keep_best``. The optimizer side (AdamW, schedule, GradScaler, the resumable state) is
engine/train/step.py's, shared with the pretraining loop.
"""

from __future__ import annotations

import contextlib
import functools
import math
import random
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch

from clinitui.config.schema import TrainConfig
from clinitui.engine.runtime import distributed
from clinitui.engine.train import feature_cache
from clinitui.engine.encode.batching import EncodedSplit, batch_order, collate_split, forward, group_batches
from clinitui.engine.evaluate.metrics import classification_metrics
from clinitui.engine.memory.oom import EvalBackoff, StepBackoff
from clinitui.engine.runtime.precision import autocast, eval_precision
from clinitui.engine.train.step import Clock, Stepper, Window, check_resume
from clinitui.errors import StopRequested

__all__ = ["EncodedSplit", "FitResult", "Progress", "fit", "predict_probs"]  # EncodedSplit lives in batching.py


@dataclass
class Progress:
    """Where training stands: with the model, optimizer, scheduler and RNG, all a resume needs."""

    epoch: int = 1  # epoch in progress
    group: int = 0  # next accumulation group (optimizer step) within the epoch
    step: int = 0  # optimizer steps done
    best_epoch: int = 0
    best_f1: float = -1.0
    best_val: dict = field(default_factory=dict)
    stale_epochs: int = 0
    real_tokens: int = 0
    train_seconds: float = 0.0
    micro_batch: int = 0  # as planned when the run started: batches (and so groups) are cut by it
    world_size: int = 1  # training processes (torchrun); a resume needs the same number


@dataclass
class FitResult:
    best_epoch: int = 0
    best_f1: float = -1.0
    best_val: dict = field(default_factory=dict)
    epochs_run: int = 0
    steps: int = 0
    stopped_early: bool = False
    train_seconds: float = 0.0
    real_tokens: int = 0
    # every epoch's validation probabilities, epoch 1 first (single process, not resumed; else None):
    # what lets the blend judge the network out of sample (engine/tfidf/blend.py, cross_fitted_gain)
    val_history: list | None = None


@torch.inference_mode()
def predict_probs(model, split: EncodedSplit, pad_id: int, batch_size: int, device: torch.device,
                  precision: str = "fp32", cached: tuple | None = None, rows: list[int] | None = None) -> np.ndarray:
    """Class probabilities for every row of ``split`` (or of ``rows``, a rank's share), in that order.

    ``cached`` = (FeatureCache, split name): read the split's backbone outputs from the cache.
    """
    model.eval()
    rows = list(range(len(split.ids))) if rows is None else list(rows)
    out = [None] * len(rows)
    labels = split.labels or [0] * len(split.ids)
    lengths, sizes = split.lengths, split.sizes  # sizes: windows per chunked note (a batch holds ≤ batch_size)
    for positions in batch_order([lengths[i] for i in rows], batch_size, rng=None, bucket=True,
                                 sizes=[sizes[i] for i in rows] if sizes else None):
        indices = [rows[p] for p in positions]
        if cached is not None:
            batch = cached[0].collate(cached[1], indices).to(device)
        else:
            batch = collate_split(split, indices, pad_id, labels).to(device)
        with autocast(device, eval_precision(device, precision)):  # CPU: fp32 (bf16 trains only)
            logits = cached[0].forward(model, batch) if cached else forward(model, batch)
        # a multi-label classifier has one sigmoid per label (engine/recipes/train.py and
        # engine/checkpoint/folder.py set the flag)
        act = torch.sigmoid if getattr(model, "multilabel", False) else functools.partial(torch.softmax, dim=-1)
        probs = act(logits.float()).cpu().numpy()
        for row, p in enumerate(positions):
            out[p] = probs[row]
    if not out:  # a rank's empty share of a tiny split
        return np.zeros((0, model.head.out_features), dtype=np.float32)
    return np.stack(out)



def fit(model, train: EncodedSplit, val: EncodedSplit, *, cfg: TrainConfig, micro_batch: int, pad_id: int,
        label_names: list[str], positive_index: int | None, device: torch.device, precision: str,
        emit: Callable[..., dict], save_best: Callable[[int, dict], None],
        should_stop: Callable[[], bool] = lambda: False, progress: dict | None = None,
        save_state: Callable[[dict], None] | None = None, resume: dict | None = None,
        state_every_s: float = 120.0, feature_cache_limit: int | None = None,
        dist: distributed.Dist | None = None, feature_cache_dir=None) -> FitResult:
    """Train; ``save_state`` receives a resumable snapshot now and then, ``resume`` is one such snapshot.

    ``feature_cache_limit`` (bytes): with a frozen backbone, compute its outputs once and train
    the adapter and head on them (engine/train/feature_cache.py); None keeps the uncached path.
    ``feature_cache_dir``: a folder where that cache is kept on disk and reused by later runs
    with the same data and backbone (engine/train/feature_store.py); None: in memory only.
    ``dist``: this process's rank under torchrun (engine/runtime/distributed.py): batches of
    ``micro_batch × world`` rows are sharded over the ranks; only rank 0 computes metrics and
    calls ``emit``'s eval, ``save_best`` and ``save_state`` (pass them on rank 0 alone).
    """
    run = _Fit(model, train, val, cfg=cfg, micro_batch=micro_batch, pad_id=pad_id, label_names=label_names,
               positive_index=positive_index, device=device, precision=precision, emit=emit, save_best=save_best,
               should_stop=should_stop, progress=progress, save_state=save_state, dist=dist)
    run.start(resume, state_every_s, feature_cache_limit, feature_cache_dir)
    return run.epochs()


class _StepPlan:
    """How the training split is cut: batches of ``micro_batch × world`` rows, ``accum`` of them a step."""

    def __init__(self, train: EncodedSplit, cfg: TrainConfig, micro_batch: int, world: int) -> None:
        self.train, self.cfg, self.rows = train, cfg, micro_batch * world
        self.accum = max(1, math.ceil(cfg.batch_size / self.rows))
        batches_per_epoch = math.ceil(len(train.ids) / self.rows)
        total_steps = math.ceil(batches_per_epoch / self.accum) * cfg.epochs
        if train.sizes:  # batches cut by windows: their number depends on each epoch's order
            total_steps = sum(len(self.groups(e)) for e in range(1, cfg.epochs + 1))
        if cfg.max_steps:
            total_steps = min(total_steps, cfg.max_steps)
        self.total_steps = total_steps

    def groups(self, epoch: int) -> list[list[list[int]]]:
        """The epoch's optimizer steps: batches of rows (chunked notes: of ≤ micro-batch windows)."""
        cfg, train = self.cfg, self.train
        rng = random.Random(f"{cfg.seed}-epoch-{epoch}")  # data order depends on (seed, epoch) only
        batches = batch_order(train.lengths, self.rows, rng, cfg.bucket_by_length, sizes=train.sizes)
        return group_batches(batches, self.accum, cfg.batch_size if train.sizes else None)


class _Fit:
    """One call of :func:`fit`: set up, then :meth:`start` (resume, feature cache), then :meth:`epochs`."""

    def __init__(self, model, train: EncodedSplit, val: EncodedSplit, *, cfg: TrainConfig, micro_batch: int,
                 pad_id: int, label_names: list[str], positive_index: int | None, device: torch.device,
                 precision: str, emit: Callable[..., dict], save_best: Callable[[int, dict], None],
                 should_stop: Callable[[], bool], progress: dict | None,
                 save_state: Callable[[dict], None] | None, dist: distributed.Dist | None) -> None:
        from clinitui.kinds import Task
        from clinitui.engine.train.losses import make_loss

        self.model, self.train, self.val, self.cfg, self.pad_id = model, train, val, cfg, pad_id
        self.label_names, self.positive_index = label_names, positive_index
        self.device, self.precision = device, precision
        self.emit, self.save_best, self.should_stop, self.save_state = emit, save_best, should_stop, save_state
        self.dist = dist
        self.world = dist.world_size if dist is not None else 1
        self.main = dist is None or dist.main  # rank 0 (or the lone process): metrics, events, saves
        self.plan = _StepPlan(train, cfg, micro_batch, self.world)
        self.stepper = Stepper(model, cfg, total_steps=self.plan.total_steps, device=device, precision=precision)
        self.multilabel = Task.of_labels(train.labels) is Task.MULTILABEL  # multi-hot rows: sigmoid + BCE, per-label thresholds
        self.loss_of = make_loss(cfg, train.labels, len(label_names), device)  # summed over rows (losses.py)
        self.select = cfg.multilabel_metric if self.multilabel else "f1_macro"  # the metric that picks the epoch
        # CUDA OOM in a step: same rows, half the micro-batch (engine/memory/oom.py); evaluation backs off alone
        self.backoff = StepBackoff(micro_batch, micro_batch * self.plan.accum, device=device, emit=emit,
                                   reset=self.stepper.zero_grad, max_length=max(train.lengths, default=0))
        self.backoff.sizes = train.sizes  # chunked notes: a halved micro-batch holds half the windows
        self.eval_backoff = EvalBackoff(cfg.eval_batch_size, device=device, emit=emit)
        self.val_history: list[np.ndarray] = []
        self.micro_batch = micro_batch
        self.progress = progress if progress is not None else {}
        self.state = Progress()
        self.features = None  # the feature cache, when there is one; set by ``start`` before the first step
        self.net = model  # under torchrun: the DDP-wrapped model

    def start(self, resume: dict | None, state_every_s: float, feature_cache_limit: int | None,
              feature_cache_dir=None) -> None:
        """Resume from a saved state (or seed this rank), start the clock, build the feature cache."""
        model, dist = self.model, self.dist
        if resume is not None:
            check_resume(resume, dist)
            self.state = Progress(**self.stepper.restore(resume, dist.rank if dist is not None else None))
        elif dist is not None and not self.main:
            # own dropout masks; rank 0 keeps a lone run's stream
            torch.manual_seed(self.cfg.seed + 1_000_003 * dist.rank)
        self.state.micro_batch, self.state.world_size = self.micro_batch, self.world
        self.clock = Clock(state_every_s)
        if feature_cache_limit is not None:  # built inside the clock: the one backbone pass is training time
            self.features = self.eval_backoff.run(lambda size: feature_cache.build(
                model, {"train": self.train, "val": self.val}, pad_id=self.pad_id, batch_size=size, device=self.device,
                precision=self.precision, limit=feature_cache_limit, emit=self.emit, should_stop=self.should_stop,
                store=feature_cache_dir))
        self.frozen_backbone = not any(p.requires_grad for p in model.backbone.parameters())
        # under torchrun DDP averages the gradients
        self.net = model if dist is None else distributed.wrap(model, self.features, self.device)

    def epochs(self) -> FitResult:
        """Train epoch after epoch, validating after each, until the last, the step budget or early stopping."""
        cfg, state, result = self.cfg, self.state, FitResult()
        whole = state.epoch == 1 and self.dist is None  # this process sees every epoch's validation
        for epoch in range(state.epoch, cfg.epochs + 1):
            self.train_epoch(epoch)
            result.epochs_run = epoch
            self.keep_best(epoch, self.validate(epoch))
            state.epoch, state.group = epoch + 1, 0
            self.snapshot()
            if state.step >= self.plan.total_steps:
                break
            if cfg.early_stopping and state.stale_epochs >= cfg.patience:
                result.stopped_early = True
                self.emit("warning", message=f"early stopping: validation {self.select} did not improve for "
                                             f"{state.stale_epochs} epoch(s)")
                break
        state.train_seconds += self.clock.lap()
        result.best_epoch, result.best_f1, result.best_val = state.best_epoch, state.best_f1, state.best_val
        result.steps, result.train_seconds, result.real_tokens = state.step, state.train_seconds, state.real_tokens
        result.val_history = self.val_history if whole and not self.multilabel else None
        return result

    def train_epoch(self, epoch: int) -> None:
        """The epoch's optimizer steps from where it stands, with ``step`` events, stops and state saves."""
        model, state, total_steps = self.model, self.state, self.plan.total_steps
        model.train()
        if self.frozen_backbone:
            model.backbone.eval()  # a frozen backbone runs without dropout, as the feature cache saw it
        groups = self.plan.groups(epoch)
        window = Window(self.device)
        while state.group < len(groups) and state.step < total_steps:
            self.step(groups[state.group], window)
            self.progress.update(epoch=epoch, step=state.step, total_steps=total_steps)
            last_of_epoch = state.group == len(groups)
            if state.step % self.cfg.log_every == 0 or last_of_epoch or state.step == total_steps:
                self.log(window, epoch)
            self.stop_or_save(last_of_epoch)

    def step(self, group: list[list[int]], window: Window) -> None:
        """One optimizer step over ``group`` (its micro-batches; under torchrun, this rank's share of each)."""
        if self.dist is None:
            step_loss, step_aux, tokens = self.backoff.run(self.accumulate, group)
        else:  # this rank's share of every batch; the loss is scaled by the whole step's rows
            accumulate = functools.partial(self.accumulate, rows=sum(len(b) for b in group))
            step_loss, step_aux, _ = self.backoff.run(accumulate, [distributed.share(b, self.dist) for b in group])
            tokens = sum(self.train.lengths[i] for b in group for i in b)
        window.loss += step_loss
        window.aux += step_aux
        window.tokens += tokens
        window.samples += sum(len(b) for b in group)
        self.state.real_tokens += tokens
        self.stepper.step()
        self.state.step += 1
        self.state.group += 1
        window.steps += 1

    def accumulate(self, micro_batches: list[list[int]],
                   rows: int | None = None) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Forward and backward over one optimizer step's micro-batches; gradients add up.

        ``rows``: the step's rows over all ranks (this rank holds a share of them).
        """
        model, net, features, device = self.model, self.net, self.features, self.device
        group_size = rows or sum(len(b) for b in micro_batches)
        weight = self.world  # DDP averages the ranks' gradients: × world turns the average back into the step's sum
        if not micro_batches:  # this rank's share of a short last step is empty: one row at weight 0
            micro_batches, weight = [[0]], 0  # keeps the gradient all-reduce in step with the other ranks
        loss_total = torch.zeros((), device=device)
        aux_total = torch.zeros((), device=device)
        tokens = 0
        for k, indices in enumerate(micro_batches):
            if features is not None:
                batch = features.collate("train", indices).to(device)
            else:
                batch = collate_split(self.train, indices, self.pad_id).to(device)
            # DDP all-reduces once per optimizer step: after the last micro-batch's backward
            defer = net.no_sync() if net is not model and k < len(micro_batches) - 1 else contextlib.nullcontext()
            with defer:
                with autocast(device, self.precision):
                    if net is not model:
                        logits = net(batch.states if features else batch.input_ids, batch.attention_mask)
                    else:
                        logits = features.forward(model, batch) if features else forward(model, batch)
                    # sum-then-divide by the group size: identical to one big batch of group_size
                    loss = self.loss_of(logits.float(), batch.labels) / group_size
                    aux = None if features else model.backbone.auxiliary_loss()
                    if aux is not None:
                        loss = loss + aux * (len(indices) / group_size)
                        if weight:
                            aux_total += aux.detach() * (len(indices) / group_size)
                    if weight != 1:
                        loss = loss * weight
                self.stepper.backward(loss)
            loss_total += loss.detach()
            tokens += batch.real_tokens
        return loss_total, aux_total, tokens

    def log(self, window: Window, epoch: int) -> None:
        """The ``step`` event of the window's steps (the one device sync per logging interval)."""
        dist, step = self.dist, self.state.step
        if dist is not None:  # each rank holds its share of the loss: add them up
            shares = [window.loss.item() / self.world, window.aux.item()]
            loss_all, aux_all = distributed.all_sum(dist, shares, self.device)
            window.loss.fill_(loss_all)
            window.aux.fill_(aux_all)
        mean_loss = window.mean_loss(step, "loss", "lower train.lr or check the labels")
        elapsed = window.elapsed()
        event = dict(epoch=epoch, step=step, total_steps=self.plan.total_steps, loss=round(mean_loss, 6),
                     lr=self.stepper.lr, tokens_per_s=round(window.tokens / elapsed, 1),
                     samples_per_s=round(window.samples / elapsed, 2))
        if window.aux.item() != 0.0:
            event["aux_loss"] = round((window.aux / window.steps).item(), 6)
        self.emit("step", **event)
        window.reset()

    def stop_or_save(self, last_of_epoch: bool) -> None:
        """Stop (state saved) when asked; save the state when it is due (the epoch's end saves anyway)."""
        stop_now = self.should_stop()
        save_now = not last_of_epoch and self.clock.save_due()
        if self.dist is not None:  # a stop on any rank stops all; rank 0's clock decides the saves
            stop_now, save_now = distributed.agree(self.dist, self.device, stop=stop_now, save=save_now and self.main)
        if stop_now:
            self.snapshot()
            raise StopRequested(f"stopped at step {self.state.step}; state saved, resume with "
                                "`clinitui train --resume RUN_DIR`")
        if save_now:
            self.snapshot()

    def snapshot(self) -> None:
        """Hand ``save_state`` the resumable state (every rank takes part: the generators are gathered)."""
        rng = torch.get_rng_state()
        ranks_rng = distributed.gather_objects(self.dist, rng, "a state save") if self.dist is not None else None
        if self.save_state is not None:
            self.state.train_seconds += self.clock.lap()
            self.save_state(self.stepper.state(rng, asdict(self.state), ranks_rng))
            self.clock.saved()

    def validate(self, epoch: int) -> dict | None:
        """Validation metrics of this epoch (rank 0; None on the other ranks), emitted as an ``eval`` event."""
        from clinitui.engine.evaluate.multilabel import validation_metrics

        dist, val = self.dist, self.val
        rows = distributed.share(list(range(len(val.ids))), dist) if dist is not None else None
        cached = (self.features, "val") if self.features else None
        probs = self.eval_backoff.run(lambda size: predict_probs(self.model, val, self.pad_id, size, self.device,
                                                                 self.precision, cached=cached, rows=rows))
        if dist is not None:  # every rank predicted its share; rank 0 alone scores them
            probs = distributed.gather_rows(dist, rows, probs, len(val.ids), "validation")
        if not self.main:
            return None
        self.val_history.append(probs)
        if self.multilabel:
            metrics = validation_metrics(val.labels, probs, self.label_names, self.cfg.threshold_rule)
        else:
            metrics = classification_metrics(val.labels, probs, self.label_names, self.positive_index)
            picked = probs[np.arange(len(val.labels)), val.labels]
            metrics["loss"] = round(float(-np.mean(np.log(np.clip(picked, 1e-12, None)))), 6)  # validation loss
        self.emit("eval", split="val", epoch=epoch, step=self.state.step, **metrics)
        return metrics

    def keep_best(self, epoch: int, metrics: dict | None) -> None:
        """Save the checkpoint when validation improved (rank 0 decides for all); count stale epochs."""
        state = self.state
        # an undefined (None) validation metric (multi-label: no positive label at all) counts as 0, as before
        improved = self.main and (metrics[self.select] or 0.0) > state.best_f1
        if self.dist is not None:  # rank 0's decision (and so early stopping) holds for every rank
            improved = bool(distributed.broadcast(self.dist, [int(improved)], self.device, "validation")[0])
        if improved:
            if self.main:
                state.best_f1, state.best_epoch, state.best_val = metrics[self.select] or 0.0, epoch, metrics
                self.save_best(epoch, metrics)
            else:
                state.best_epoch = epoch
            state.stale_epochs = 0
        else:
            state.stale_epochs += 1
