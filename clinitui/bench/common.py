"""What every ``clinitui bench`` measurement shares: the spec, one result, clocks and peak memory.

Split out of bench/classify.py so the classification benchmark (bench.py), its Hugging Face side
(bench_reference.py) and the pretraining benchmark (bench_mlm.py) import it instead of each
other. Torch is imported inside functions.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

SCRATCH_SIZES = ("tiny", "mini", "small")
MODELS = (*SCRATCH_SIZES, "camembert-base", "minilm")
VARIANTS = ("ref-full", "linear-full", "grn-full", "ref-frozen", "linear-frozen", "grn-frozen", "grn-frozen-nocache")


@dataclass
class BenchSpec:
    """What to compare: one model on one data set, every variant with the same batches and steps."""

    model: str = "tiny"  # one of MODELS
    data: str = "demo"  # "demo" or a CSV path with text,label[,split]
    rows: int = 512  # training notes (a multiple of batch_size keeps step counts identical)
    val_rows: int = 128
    max_length: int = 256
    batch_size: int = 16  # effective batch
    micro_batch: int = 16
    epochs_full: int = 1
    epochs_frozen: int = 5
    lr: float = 1e-3
    threads: int = 2
    variants: tuple[str, ...] = VARIANTS
    repeats: int = 1  # rounds over all variants, interleaved; the summary takes the median
    monitoring: bool = True  # clinitui writes its event stream and runs its memory sampler
    device: str = "cpu"  # "cpu" or "cuda"
    precision: str = "fp32"  # "fp32", or autocast "bf16" / "fp16" (CUDA)


@dataclass
class Result:
    model: str
    data: str
    variant: str
    epochs: int
    steps: int
    rows: int
    real_tokens: int  # non-padding tokens seen in training (all epochs)
    wall_s: float  # training wall time, per-epoch evaluation included
    epoch_s: list[float] = field(default_factory=list)
    peak_rss_bytes: int = 0  # the whole process (interpreter, torch, earlier runs' freed-but-kept memory)
    start_rss_bytes: int = 0  # RSS when the measurement began: peak − start is what this run added
    cpu_s: float = 0.0  # CPU time of the whole process (all threads) during the run
    padding_fraction: float = 0.0  # of the training batches actually run
    model_flops: float | None = None  # training FLOPs on real tokens (bench/flops.py); None when frozen
    peak_tflops: float | None = None  # the GPU's dense bf16 peak, when known: gives the MFU
    gpu_peak_bytes: int = 0  # torch.cuda.max_memory_allocated during the run

    @property
    def tokens_per_s(self) -> float:
        return self.real_tokens / self.wall_s

    @property
    def samples_per_s(self) -> float:
        return self.rows * self.epochs / self.wall_s

    @property
    def tflops_per_s(self) -> float | None:
        return None if self.model_flops is None else self.model_flops / self.wall_s / 1e12

    @property
    def mfu(self) -> float | None:
        """Model FLOPs utilisation: achieved model FLOP/s over the card's peak."""
        if self.tflops_per_s is None or not self.peak_tflops:
            return None
        return self.tflops_per_s / self.peak_tflops

    def as_dict(self) -> dict:
        return {**asdict(self), "tokens_per_s": round(self.tokens_per_s, 1),
                "samples_per_s": round(self.samples_per_s, 2),
                "tflops_per_s": None if self.tflops_per_s is None else round(self.tflops_per_s, 4),
                "mfu": None if self.mfu is None else round(self.mfu, 4)}


# -- the device: clocks that wait for the GPU, its peak memory, its FLOP/s -----------------------
class DeviceClock:
    """Wall and CPU time of a block, waiting for queued GPU work at both ends; the GPU's peak memory."""

    def __init__(self, device) -> None:
        self.device = device

    def _sync(self) -> None:
        if self.device.type == "cuda":
            import torch

            torch.cuda.synchronize(self.device)

    def __enter__(self) -> "DeviceClock":
        if self.device.type == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats(self.device)
        self._sync()
        self.start, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self._sync()
        self.wall, self.cpu = time.perf_counter() - self.start, time.process_time() - self._cpu
        self.gpu_peak = 0
        if self.device.type == "cuda":
            import torch

            self.gpu_peak = torch.cuda.max_memory_allocated(self.device)


def device_peak_tflops(device) -> float | None:
    if device.type != "cuda":
        return None
    import torch

    from clinitui.bench.flops import peak_tflops

    return peak_tflops(torch.cuda.get_device_name(device))


def encoder_dims(spec: BenchSpec, folder: str | None) -> tuple[int, int]:
    """(layers, width) of the encoder both sides train, for the attention FLOPs."""
    if folder is None:
        from clinitui.models.backbones.scratch_transformer import SIZES

        dim, layers, _, _ = SIZES[spec.model]
        return layers, dim
    import json

    config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    return config["num_hidden_layers"], config["hidden_size"]


def run_flops(encoder, train, epochs: int, dims: tuple[int, int]) -> float:
    """Training FLOPs of ``epochs`` passes over ``train`` through ``encoder`` (real tokens only)."""
    from clinitui.bench.flops import matmul_params, training_flops

    return epochs * training_flops(train.lengths, matmul=matmul_params(encoder), layers=dims[0], width=dims[1])


# -- memory: peak RSS of one measurement --------------------------------------------------------
class PeakRSS:
    """Peak resident memory between ``start`` and ``stop``: the kernel's high-water mark, reset first
    (``/proc/self/clear_refs``), or a 20 Hz psutil sampler where that is not allowed."""

    def __enter__(self) -> "PeakRSS":
        import psutil

        self.proc, self.peak, self._stop = psutil.Process(), 0, threading.Event()
        self.start = self.proc.memory_info().rss
        self.kernel = _reset_hwm()
        if not self.kernel:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __exit__(self, *exc) -> None:
        if self.kernel:
            self.peak = _read_hwm()
        else:
            self._stop.set()
            self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return _read_hwm() > 0
    except OSError:
        return False


def _read_hwm() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def data_name(spec: BenchSpec) -> str:
    return "demo" if spec.data == "demo" else Path(spec.data).stem
