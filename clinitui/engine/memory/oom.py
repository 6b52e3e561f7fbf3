"""Recovery from CUDA out-of-memory: retry the same step with half the micro-batch.

The training loop hands one optimizer step's rows to :meth:`StepBackoff.run`; when CUDA runs
out of memory in that step, gradients are dropped, the cache is emptied, the micro-batch is
halved (so accumulation doubles and the effective batch — the same rows — is unchanged) and
the step is retried. At micro-batch 1 the run stops with ``OutOfMemoryError`` (exit code 3).
Evaluation backs off its own batch only (:class:`EvalBackoff`). The optimizer step allocates
AdamW's two states per trainable parameter on its first call, when no activations are alive, so
a smaller micro-batch cannot help there: :func:`optimizer_step` frees the cache and tries once
more, then stops with the numbers and the fix (exit code 3).
"""

from __future__ import annotations

import gc
import math
from typing import Callable, TypeVar

import torch

from clinitui.errors import OutOfMemoryError
from clinitui.fmt import fmt_params

T = TypeVar("T")


def free_cuda(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


class StepBackoff:
    """The micro-batch the loop uses now, halved on CUDA OOM."""

    def __init__(self, micro_batch: int, step_rows: int, *, device: torch.device, emit: Callable[..., dict],
                 reset: Callable[[], None], max_length: int) -> None:
        self.size = micro_batch
        self.step_rows = step_rows  # rows per optimizer step (the effective batch)
        self.device, self.emit, self.reset, self.max_length = device, emit, reset, max_length

    sizes: list[int] | None = None  # chunked notes: windows per row; micro-batches then count windows

    def split(self, group: list[list[int]]) -> list[list[int]]:
        """The step's batches cut into micro-batches of at most ``size`` rows (order kept)."""
        if self.sizes is not None:
            from clinitui.engine.encode.batching import cut_by_size

            return [piece for b in group for piece in cut_by_size(b, self.size, self.sizes)]
        return [b[i : i + self.size] for b in group for i in range(0, len(b), self.size)]

    def run(self, step: Callable[[list[list[int]]], T], group: list[list[int]]) -> T:
        """``step(micro_batches)`` for this optimizer step's rows, retried smaller after a CUDA OOM."""
        while True:
            try:
                return step(self.split(group))
            except torch.cuda.OutOfMemoryError:
                pass  # recover outside the handler: its traceback still pins the step's tensors
            self.reset()  # partial gradients of the failed attempt
            free_cuda(self.device)
            self._halve()

    def _halve(self) -> None:
        if self.size <= 1:
            raise OutOfMemoryError(
                f"out of GPU memory even at micro-batch 1 ({self.max_length} tokens); lower --set train.max_length, "
                "use --adapter lora or --set model.freeze=backbone, or choose a larger --budget"
            )
        old, self.size = self.size, self.size // 2
        accum_old, accum_new = math.ceil(self.step_rows / old), math.ceil(self.step_rows / self.size)
        self.emit("oom_backoff", phase="train", old_micro_batch=old, new_micro_batch=self.size,
                  grad_accumulation=accum_new,
                  message=f"out of GPU memory: micro-batch {old} → {self.size}, accumulation {accum_old} → {accum_new}")


def optimizer_step(scaler: torch.amp.GradScaler, optimizer: torch.optim.Optimizer, device: torch.device) -> None:
    """``scaler.step(optimizer)``; after a CUDA OOM, free the cache and retry once.

    Safe to retry: AdamW creates every parameter's state before it updates any parameter.
    """
    for _ in range(2):
        try:
            scaler.step(optimizer)
            return
        except torch.cuda.OutOfMemoryError:
            pass  # recover outside the handler (its traceback pins tensors)
        free_cuda(device)
    trainable_params = sum(p.numel() for group in optimizer.param_groups for p in group["params"])
    state_mib = trainable_params * 8 / 2**20  # two fp32 states per parameter
    raise OutOfMemoryError(
        f"out of GPU memory in the optimizer step: AdamW keeps ≈ {state_mib:,.0f} MiB of state for "
        f"{fmt_params(trainable_params)} trainable parameters; use --adapter lora or --set model.freeze=backbone, "
        "or choose a larger --budget"
    )


class EvalBackoff:
    """The evaluation batch, halved on CUDA OOM (training's micro-batch is left alone)."""

    def __init__(self, batch_size: int, *, device: torch.device, emit: Callable[..., dict]) -> None:
        self.size = batch_size
        self.device, self.emit = device, emit

    def run(self, predict: Callable[[int], T]) -> T:
        """``predict(batch_size)``, rerun with half the batch after a CUDA OOM."""
        while True:
            try:
                return predict(self.size)
            except torch.cuda.OutOfMemoryError:
                pass
            free_cuda(self.device)
            if self.size <= 1:
                raise OutOfMemoryError("out of GPU memory while evaluating one note at a time; lower "
                                       "--set train.max_length or choose a larger --budget")
            old, self.size = self.size, self.size // 2
            self.emit("oom_backoff", phase="eval", old_micro_batch=old, new_micro_batch=self.size,
                      message=f"out of GPU memory in evaluation: batch {old} → {self.size}")
