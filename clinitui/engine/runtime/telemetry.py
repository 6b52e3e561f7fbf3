"""Memory telemetry: host RSS always; torch CUDA counters and NVML per-process memory on NVIDIA GPUs.

A background thread emits a ``memory`` event about once a second and a ``heartbeat`` every few
seconds, so front ends can draw the VRAM panel and tell a live worker from a dead one.
"""

from __future__ import annotations

import os
import threading
from typing import Callable

import psutil


class NvmlProbe:
    """Per-process GPU memory of this pid on the device torch uses, matched by UUID."""

    def __init__(self, torch_device_index: int) -> None:
        self.handle = None
        try:
            import pynvml
            import torch

            pynvml.nvmlInit()
            self.pynvml = pynvml
            uuid = str(torch.cuda.get_device_properties(torch_device_index).uuid)  # honours CUDA_VISIBLE_DEVICES
            for i in range(pynvml.nvmlDeviceGetCount()):
                h = pynvml.nvmlDeviceGetHandleByIndex(i)
                nvml_uuid = pynvml.nvmlDeviceGetUUID(h)
                nvml_uuid = nvml_uuid.decode() if isinstance(nvml_uuid, bytes) else nvml_uuid
                if nvml_uuid.removeprefix("GPU-") == uuid.removeprefix("GPU-"):
                    self.handle = h
                    break
        except Exception:  # no driver, no NVML, MIG without permissions: telemetry degrades, never fails
            self.handle = None

    def sample(self) -> dict:
        if self.handle is None:
            return {}
        nv = self.pynvml
        out = {}
        try:
            mem = nv.nvmlDeviceGetMemoryInfo(self.handle)
            out["device_total_bytes"] = int(mem.total)
            out["device_used_bytes"] = int(mem.used)
            pid = os.getpid()
            for proc in nv.nvmlDeviceGetComputeRunningProcesses(self.handle):
                if proc.pid == pid:
                    used = proc.usedGpuMemory
                    # None / NVML_VALUE_NOT_AVAILABLE in containers without the pid namespace
                    out["nvml_process_bytes"] = int(used) if used is not None and used < 2**63 else None
        except Exception:
            pass
        return out


def memory_sample(device, budget_bytes: int | None, nvml: NvmlProbe | None = None) -> dict:
    sample: dict = {"host_rss_bytes": psutil.Process().memory_info().rss, "budget_bytes": budget_bytes}
    if device is not None and device.type == "cuda":
        import torch

        sample["torch_allocated_bytes"] = torch.cuda.memory_allocated(device)
        sample["torch_reserved_bytes"] = torch.cuda.memory_reserved(device)
        sample["torch_peak_bytes"] = torch.cuda.max_memory_allocated(device)
        if nvml is not None:
            sample.update(nvml.sample())
    return sample


class Sampler(threading.Thread):
    """Emits ``memory`` every ``interval`` s and ``heartbeat`` every ``heartbeat_every`` s until stopped."""

    def __init__(self, emit: Callable[..., dict], device, budget_bytes: int | None,
                 interval: float = 1.0, heartbeat_every: float = 5.0) -> None:
        super().__init__(name="clinitui-telemetry", daemon=True)
        self.emit, self.device, self.budget = emit, device, budget_bytes
        self.interval, self.heartbeat_every = interval, heartbeat_every
        self._stop_event = threading.Event()
        self.nvml = NvmlProbe(device.index or 0) if device is not None and device.type == "cuda" else None
        self.peak_host_rss = 0
        self.progress: dict = {}  # step/epoch the training loop last reported, for heartbeats
        self.ranks: Callable[[], list[dict]] | None = None  # torchrun: every rank's memory (engine/runtime/distributed.py)

    def run(self) -> None:
        ticks = 0
        every = max(1, round(self.heartbeat_every / self.interval))
        while not self._stop_event.is_set():
            self._sample()
            if ticks % every == 0:
                self.emit("heartbeat", pid=os.getpid(), **self.progress)
            ticks += 1
            self._stop_event.wait(self.interval)

    def _sample(self) -> None:
        sample = memory_sample(self.device, self.budget, self.nvml)
        self.peak_host_rss = max(self.peak_host_rss, sample["host_rss_bytes"])
        if self.ranks is not None and (ranks := self.ranks()):
            sample["ranks"] = ranks
        self.emit("memory", **sample)

    def stop(self, last_sample: bool = False) -> None:
        """Stop sampling. ``last_sample``: then take one more sample, so that a run shorter than the
        interval still records its memory with everything known by its end (every rank's too); only
        before the run's final event, which must stay the last line of ``events.jsonl``."""
        if self._stop_event.is_set():
            return
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout=self.interval + 5)
            if last_sample:
                self._sample()
        if self.is_alive():
            self.join(timeout=5)
