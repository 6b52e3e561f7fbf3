"""Model FLOPs and model FLOPs utilisation (MFU) of a training run, for the benchmark.

Counted the usual way (Kaplan et al. 2020; Chowdhery et al. 2022, appendix B): a training step
costs 6 FLOPs per weight of every matrix multiply per token (2 forward, 4 backward), plus the
attention scores and their weighted sum, 12 · layers · width · T per token of a T-token sequence.
Only real (non-padding) tokens count: padding is work a run chose to do, not work the model
needed, so a run that pads less is rightly credited with a higher utilisation. Embedding lookups
and element-wise work are left out, as in those papers.
"""

from __future__ import annotations

# Dense (no sparsity) tensor-core peaks, TFLOP/s, from the vendors' data sheets: bf16/fp16.
PEAK_TFLOPS_BF16 = {
    "H200": 989.0,
    "H100 SXM": 989.0, "H100 80GB HBM3": 989.0,
    "H100 NVL": 835.0,
    "H100 PCIe": 756.0, "H100": 756.0,  # an unqualified "H100" name is taken as the slower PCIe card
    "A100": 312.0,
    "L40S": 362.0,
    "L4": 121.0,
    "A10": 125.0,
    "RTX 4090": 165.0,
    "T4": 65.0,  # fp16 only: Turing has no bf16
}


def peak_tflops(device_name: str) -> float | None:
    """The card's dense bf16 peak from its CUDA name (``torch.cuda.get_device_name``), or None if unknown."""
    name = device_name.upper()
    for key in sorted(PEAK_TFLOPS_BF16, key=len, reverse=True):  # most specific first
        if all(part in name for part in key.upper().split()):
            return PEAK_TFLOPS_BF16[key]
    return None


def matmul_params(model) -> int:
    """Weights of every ``nn.Linear`` in ``model`` (the matrix multiplies a token goes through)."""
    from torch import nn

    return sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Linear))


def training_flops(lengths: list[int], *, matmul: int, layers: int, width: int) -> float:
    """FLOPs of one training pass (forward + backward) over sequences of these real lengths."""
    tokens = sum(lengths)
    return 6.0 * matmul * tokens + 12.0 * layers * width * sum(t * t for t in lengths)
