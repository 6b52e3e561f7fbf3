"""Training precision on CPU, decided without torch (the planner runs on the CLI's start path).

``budget.precision = "bf16"`` trains in bf16 autocast on CPU (evaluation stays fp32). It pays on
a CPU whose instruction set has bf16 matrix products (AVX512-BF16 or AMX-BF16: Intel Cooper Lake /
Sapphire Rapids and later, AMD Zen 4 and later) for wide encoders: all-MiniLM-L6-v2's forward and
backward took 0.6× the CPU time of fp32 here. It does not pay for the default from-scratch
``mini`` encoder (128 wide: 1.2× slower, more memory, other predictions), so ``auto`` keeps fp32
on CPU. Measurements: docs/performance.md ("Levers").
"""

from __future__ import annotations


def cpu_precision(setting: str) -> str:
    """Training precision on CPU for ``budget.precision``: bf16 when asked; auto (measured: slower for
    the default model) and fp16 (no CPU kernels worth having) → fp32."""
    return "bf16" if setting == "bf16" else "fp32"
