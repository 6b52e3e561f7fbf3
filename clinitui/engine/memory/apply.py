"""Putting the memory plan into effect: allocator cap on large GPUs, gradient checkpointing."""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

MiB = 1 << 20


def cap_allocator(device: torch.device, budget_bytes: int | None, overhead_bytes: int) -> dict:
    """Cap torch's caching allocator so a run on a large GPU behaves as on a card of ``budget_bytes``.

    The budget is what NVML reports for the process, which includes the CUDA context; the cap
    for torch is the budget minus that context (measured here when NVML can see this process,
    else the planner's ``overhead_bytes``).
    """
    total = torch.cuda.get_device_properties(device).total_memory
    info: dict = {"device_total_bytes": int(total), "allocator_cap_bytes": None}
    if not budget_bytes or budget_bytes >= total:
        return info
    context = _context_bytes(device)
    overhead = max(overhead_bytes, context + 32 * MiB) if context is not None else overhead_bytes
    cap = max(budget_bytes - overhead, 64 * MiB)
    torch.cuda.set_per_process_memory_fraction(cap / total, device)
    info.update(allocator_cap_bytes=int(cap), context_bytes=context)
    return info


def _context_bytes(device: torch.device) -> int | None:
    """NVML's per-process figure minus torch's reserved bytes, once CUDA and cuBLAS are initialised."""
    from clinitui.engine.runtime.telemetry import NvmlProbe

    x = torch.ones(64, 64, device=device)
    (x @ x).sum().item()  # creates the cuBLAS handle, part of the fixed overhead
    used = NvmlProbe(device.index or 0).sample().get("nvml_process_bytes")
    if used is None:
        return None
    return max(0, int(used) - int(torch.cuda.memory_reserved(device)))


def enable_gradient_checkpointing(backbone: nn.Module) -> bool:
    """Recompute each encoder layer's activations in backward; False if the backbone cannot.

    Hugging Face models use their own switch; our from-scratch encoders (a ``layers`` ModuleList)
    get each layer's ``forward`` wrapped on the instance, which leaves parameter names — and so
    checkpoints — unchanged.
    """
    if hasattr(backbone, "set_gradient_checkpointing"):
        backbone.set_gradient_checkpointing(True)
        return True
    for module in backbone.modules():
        if module is not backbone and hasattr(module, "gradient_checkpointing_enable"):
            module.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            return True
    layers = getattr(backbone, "layers", None)
    if not isinstance(layers, nn.ModuleList):
        return False
    for layer in layers:
        layer.forward = functools.partial(_checkpointed, layer, layer.forward)
    return True


def _checkpointed(layer: nn.Module, forward, *args, **kwargs):
    if layer.training and torch.is_grad_enabled():
        # non-reentrant: works when the layer's inputs need no gradient (frozen embeddings, LoRA)
        return checkpoint(forward, *args, use_reentrant=False, **kwargs)
    return forward(*args, **kwargs)
