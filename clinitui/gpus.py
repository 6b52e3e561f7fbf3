"""How many CUDA GPUs this process may use, without importing torch (the TUI's start path).

NVML (``nvidia-ml-py``) counts the devices; ``CUDA_VISIBLE_DEVICES`` narrows them as CUDA would.
No driver, no NVML: 0. The launch screen offers data-parallel processes when this is above 1.
"""

from __future__ import annotations

import os


def visible_gpu_count() -> int:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return 0
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            count = pynvml.nvmlDeviceGetCount()
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # no NVIDIA driver or library: no GPU to offer
        return 0
    if visible is not None:
        return min(count, len([d for d in visible.split(",") if d.strip()]))
    return count
