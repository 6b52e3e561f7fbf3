"""The masked-language-model training loop: read it top to bottom.

The same recipe as the classifier's loop (engine/train/loop.py: AdamW, linear warm-up and decay,
gradient accumulation, CUDA OOM back-off, one device sync per logging interval; the optimizer
step, the logging window and the resumable state are engine/train/step.py's, shared by both),
but the unit is a window of tokens and the loss is the cross-entropy of the masked tokens. Each
optimizer step's windows are masked together by a generator seeded from (seed, step), so the
masks do not depend on how the step is cut into micro-batches (an OOM back-off) or on an
interruption (a resume).
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import asdict, dataclass
from typing import Callable

import torch

from clinitui.config.schema import TrainConfig
from clinitui.engine.encode.batching import batch_order
from clinitui.engine.memory.oom import StepBackoff
from clinitui.engine.pretrain.masking import IGNORE, MaskingSpec, mask_tokens, step_generator
from clinitui.engine.runtime.precision import autocast, eval_precision
from clinitui.engine.train.step import Clock, Stepper, Window
from clinitui.errors import StopRequested

EVAL_SEED = -1  # validation windows are masked the same way at every evaluation


@dataclass
class MLMProgress:
    epoch: int = 1
    group: int = 0
    step: int = 0
    real_tokens: int = 0
    train_seconds: float = 0.0
    micro_batch: int = 0
    val_loss: float = float("nan")


@dataclass
class MaskRecipe:
    spec: MaskingSpec
    mask_prob: float = 0.15
    mask_fraction: float = 0.8
    random_fraction: float = 0.1
    whole_word: bool = True

    def apply(self, ids: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return mask_tokens(ids, self.spec, generator, mask_prob=self.mask_prob, mask_fraction=self.mask_fraction,
                           random_fraction=self.random_fraction, whole_word=self.whole_word)


def pad_rows(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    longest = max(len(r) for r in rows)
    ids = torch.full((len(rows), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), longest), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        mask[i, : len(r)] = 1
    return ids, mask


@torch.inference_mode()
def evaluate(model, windows: list[list[int]], recipe: MaskRecipe, *, pad_id: int, batch_size: int, seed: int,
             device: torch.device, precision: str) -> float:
    """Mean cross-entropy of the masked tokens of the held-out windows (same masks every time)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for b, indices in enumerate(batch_order([len(w) for w in windows], batch_size, rng=None, bucket=True)):
        ids, mask = pad_rows([windows[i] for i in indices], pad_id)
        masked, labels = recipe.apply(ids, step_generator(seed, EVAL_SEED, b))
        with autocast(device, eval_precision(device, precision)):
            loss, n, _ = model(masked.to(device), mask.to(device), labels.to(device))
        total += float(loss)
        count += n
    model.train(was_training)
    return total / max(count, 1)


def fit_mlm(model, train: list[list[int]], val: list[list[int]], recipe: MaskRecipe, *, cfg: TrainConfig, lr: float,
            total_steps: int, eval_every: int, micro_batch: int, pad_id: int, device: torch.device, precision: str,
            emit: Callable[..., dict], on_eval: Callable[[int, float], None], should_stop: Callable[[], bool],
            save_state: Callable[[dict], None], resume: dict | None, progress: dict | None = None) -> MLMProgress:
    """Train ``model`` (an engine/pretrain/models.py module) for ``total_steps`` optimizer steps."""
    accum = max(1, math.ceil(cfg.batch_size / micro_batch))
    stepper = Stepper(model, cfg, total_steps=total_steps, device=device, precision=precision, lr=lr)
    lengths = [len(w) for w in train]
    state = MLMProgress()
    if resume is not None:
        state = MLMProgress(**stepper.restore(resume))
    state.micro_batch = micro_batch
    clock = Clock(cfg.state_every_s)

    def snapshot() -> None:
        state.train_seconds += clock.lap()
        save_state(stepper.state(torch.get_rng_state(), asdict(state)))
        clock.saved()

    backoff = StepBackoff(micro_batch, micro_batch * accum, device=device, emit=emit, reset=stepper.zero_grad,
                          max_length=max(lengths, default=0))
    step_of = functools.partial(_accumulate, model, train, recipe, stepper, state, seed=cfg.seed, pad_id=pad_id,
                                device=device, precision=precision)
    progress = progress if progress is not None else {}
    model.train()
    while state.step < total_steps:
        rng = random.Random(f"{cfg.seed}-mlm-epoch-{state.epoch}")  # order depends on (seed, epoch) only
        batches = batch_order(lengths, micro_batch, rng, bucket=True)
        groups = [batches[i : i + accum] for i in range(0, len(batches), accum)]
        window = Window(device)
        while state.group < len(groups) and state.step < total_steps:
            step_loss, _, tokens = backoff.run(step_of, groups[state.group])
            stepper.step()
            state.step += 1
            state.group += 1
            state.real_tokens += tokens
            window.loss += step_loss
            window.steps += 1
            window.tokens += tokens
            step = state.step
            progress.update(epoch=state.epoch, step=step, total_steps=total_steps)
            if step % cfg.log_every == 0 or step == total_steps:
                mean = window.mean_loss(step, "MLM loss", "lower --set pretrain.lr")
                emit("step", epoch=state.epoch, step=step, total_steps=total_steps, loss=round(mean, 6),
                     mlm_loss=round(mean, 6), lr=stepper.lr, tokens_per_s=round(window.tokens / window.elapsed(), 1))
                window.reset()
            if step % eval_every == 0 or step == total_steps:
                state.val_loss = evaluate(model, val, recipe, pad_id=pad_id, batch_size=max(micro_batch, 8),
                                          seed=cfg.seed, device=device, precision=precision)
                on_eval(step, state.val_loss)
                snapshot()  # at an epoch's end group == len(groups): a resume moves on to the next epoch
            if should_stop():
                snapshot()
                raise StopRequested(f"stopped at step {step}; state saved, resume with `clinitui pretrain --resume RUN_DIR`")
            if clock.save_due():
                snapshot()
        if state.group >= len(groups):
            state.epoch, state.group = state.epoch + 1, 0
    state.train_seconds += clock.lap()
    return state


def _accumulate(model, train: list[list[int]], recipe: MaskRecipe, stepper: Stepper, state: MLMProgress,
                micro_batches: list[list[int]], *, seed: int, pad_id: int, device: torch.device,
                precision: str) -> tuple[torch.Tensor, int, int]:
    """One optimizer step: mask the step's windows together, then forward/backward per micro-batch."""
    rows = [i for b in micro_batches for i in b]
    ids, mask = pad_rows([train[i] for i in rows], pad_id)
    masked, labels = recipe.apply(ids, step_generator(seed, state.step, 0))
    n_pred = max(int((labels != IGNORE).sum()), 1)
    loss_total = torch.zeros((), device=device)
    start = 0
    for b in micro_batches:
        sl = slice(start, start + len(b))
        start += len(b)
        width = int(mask[sl].sum(1).max())  # trim this micro-batch's padding
        x, m, y = (t[sl, :width].to(device) for t in (masked, mask, labels))
        with autocast(device, precision):
            loss, _, aux = model(x, m, y)
            loss = loss / n_pred  # sum-then-divide: the same as one batch of the whole step
            if aux is not None:
                loss = loss + aux * (len(b) / len(rows))
        stepper.backward(loss)
        loss_total += loss.detach()
    return loss_total, n_pred, int(mask.sum())
