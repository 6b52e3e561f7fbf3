"""Which device and precision a run computes on, from its budget and this machine."""

from __future__ import annotations

from clinitui.config.schema import RunConfig
from clinitui.engine.runtime.cpu import cpu_precision
from clinitui.errors import ConfigError


def select_device(config: RunConfig):
    import torch

    want = config.budget.device
    if want == "cuda" and not torch.cuda.is_available():
        raise ConfigError("budget.device = 'cuda' but no CUDA GPU is visible; use --budget cpu or check the driver")
    device = torch.device("cuda" if want == "cuda" or (want == "auto" and torch.cuda.is_available()) else "cpu")
    precision = config.budget.precision
    if device.type == "cpu":
        precision = cpu_precision(precision)  # fp32 unless bf16 is asked (runtime/cpu.py)
    elif precision == "auto":
        precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return device, precision
