"""Autocast for the configured precision (its own module: the loop and the feature cache both use it).

It used to live in ``engine/train/loop.py``, which imports ``engine/train/feature_cache.py``; the feature cache
importing it back from the loop made an import circle. ``engine.loop`` still re-exports it.
"""

from __future__ import annotations

import contextlib

import torch


def autocast(device: torch.device, precision: str):
    """bf16/fp16 autocast on CUDA; a no-op context on CPU and in fp32."""
    if device.type == "cuda" and precision in ("bf16", "fp16"):
        return torch.autocast("cuda", dtype=torch.bfloat16 if precision == "bf16" else torch.float16)
    return contextlib.nullcontext()
