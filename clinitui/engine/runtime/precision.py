"""Autocast for the configured precision (its own module: the loop and the feature cache both use it).

It used to live in ``engine/train/loop.py``, which imports ``engine/train/feature_cache.py``; the feature cache
importing it back from the loop made an import circle. ``engine.loop`` still re-exports it.
"""

from __future__ import annotations

import contextlib

import torch


def autocast(device: torch.device, precision: str):
    """bf16/fp16 autocast on CUDA, bf16 autocast on CPU (engine/runtime/cpu.py); else a no-op context."""
    if device.type == "cuda" and precision in ("bf16", "fp16"):
        return torch.autocast("cuda", dtype=torch.bfloat16 if precision == "bf16" else torch.float16)
    if device.type == "cpu" and precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def eval_precision(device: torch.device, precision: str) -> str:
    """Precision of evaluation and prediction: the run's on GPU; fp32 on CPU, where bf16 speeds up
    training only — so a run's validation and test probabilities are the ones ``clinitui predict``
    gives (it runs fp32 on CPU)."""
    return precision if device.type == "cuda" else "fp32"
