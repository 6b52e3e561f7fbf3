"""Data-parallel training under ``torchrun``: the few collectives the training loop needs.

``torchrun`` (``python -m torch.distributed.run``) starts one worker per process and sets
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` ... in their environment; :func:`setup` joins the process
group from them (NCCL on CUDA, gloo on CPU) with a timeout on every collective, so a rank that
dies or hangs ends the run with ``DistributedError`` instead of a silent wait.

The rules the loop follows (engine/train/loop.py):

* **same batches, sharded**: every rank builds the same batch order from (seed, epoch) with
  batches of ``micro-batch × world size`` rows and keeps every ``world``-th row of each
  (:func:`share`), so all ranks take the same number of optimizer steps whatever the dataset
  size; a rank whose share of a step is empty runs one row with weight 0 so the gradient
  all-reduce still meets. Effective batch = micro-batch × accumulation × world size.
* **gradients** are averaged by ``DistributedDataParallel`` (``find_unused_parameters=False``,
  one all-reduce per optimizer step: the other micro-batches run under ``no_sync``); each
  rank's loss is scaled by the world size so the average equals one process's sum over the step.
* **evaluation without duplicates**: each rank predicts every ``world``-th row (no padding), the
  predictions are gathered on rank 0, which alone computes metrics and broadcasts its decisions.
* **one writer**: rank 0 alone writes events, checkpoints, state and metrics (engine/recipes/train.py).
* **stop together**: each step the ranks exchange one small tensor — stop request, rank 0's
  "save state now", and each rank's memory (host RSS, NVML per-process and torch bytes), which
  rank 0's ``memory`` events carry as ``ranks``.

Everything here is a no-op path for a single process: the loop calls it only when
:func:`from_env` found more than one process.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import timedelta

from clinitui.errors import DistributedError

MEMORY_KEYS = ("host_rss_bytes", "nvml_process_bytes", "torch_allocated_bytes", "torch_peak_bytes")


@dataclass
class Dist:
    """This process's place in the group (from torchrun's environment variables)."""

    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    timeout_s: float = 600.0
    memory: list[dict] = field(default_factory=list)  # every rank's last memory sample (rank order)
    _last_sample: float = 0.0
    _sample: list[int] = field(default_factory=lambda: [-1] * len(MEMORY_KEYS))
    _nvml: object = None

    @property
    def main(self) -> bool:
        return self.rank == 0

    def rank_memory(self) -> list[dict]:
        """What the telemetry thread adds to rank 0's ``memory`` events."""
        return list(self.memory)


def from_env(environ: dict | None = None) -> Dist | None:
    """The torchrun environment, or None in a single process (torch-free)."""
    env = os.environ if environ is None else environ
    world = int(env.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return None
    return Dist(rank=int(env["RANK"]), world_size=world, local_rank=int(env.get("LOCAL_RANK", "0")),
                local_world_size=int(env.get("LOCAL_WORLD_SIZE", str(world))))


def restart_count(environ: dict | None = None) -> int:
    """How many times torchrun restarted this worker group (``--max-restarts``)."""
    env = os.environ if environ is None else environ
    return int(env.get("TORCHELASTIC_RESTART_COUNT", "0") or 0)


def default_threads(dist: Dist | None) -> int:
    """CPU threads per process: the cores shared by the processes of this machine."""
    cores = os.cpu_count() or 1
    return cores if dist is None else max(1, cores // dist.local_world_size)


def setup(dist: Dist, device_type: str, timeout_s: float):
    """Join the process group; returns the device this rank trains on."""
    import torch
    import torch.distributed as td

    dist.timeout_s = timeout_s
    backend = "nccl" if device_type == "cuda" else "gloo"
    if device_type == "cuda":
        torch.cuda.set_device(dist.local_rank)
        device = torch.device("cuda", dist.local_rank)
    else:
        device = torch.device("cpu")
    if not td.is_initialized():
        try:
            td.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s), store=_store(dist, timeout_s),
                                  rank=dist.rank, world_size=dist.world_size,
                                  **({"device_id": device} if device_type == "cuda" else {}))
        except Exception as exc:
            raise DistributedError(f"could not join the other {dist.world_size - 1} training process(es) "
                                   f"({type(exc).__name__}); check --rdzv-endpoint and that every node started") from None
    return device


def _store(dist: Dist, timeout_s: float):
    """torchrun's key-value store, under a prefix per restart of the group.

    After ``--max-restarts`` restarted the group, the gloo set-up read the previous attempt's
    addresses from the store and waited on a dead process (seen with torch 2.13 on CPU); a
    prefix per attempt keeps each attempt's keys apart.
    """
    from torch.distributed import PrefixStore, TCPStore

    agent = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"  # torchrun's agent hosts the store
    base = TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), dist.world_size,
                    is_master=not agent and dist.rank == 0, timeout=timedelta(seconds=timeout_s))
    return PrefixStore(f"clinitui/attempt-{restart_count()}", base)


def teardown() -> None:
    import torch.distributed as td

    if td.is_available() and td.is_initialized():
        td.destroy_process_group()


def is_collective_failure(exc: BaseException) -> bool:
    """True for the errors a lost or hung peer raises inside a collective (gloo/NCCL)."""
    import torch.distributed as td

    if isinstance(exc, getattr(td, "DistError", ())):
        return True
    text = str(exc) if isinstance(exc, RuntimeError) else ""
    return any(s in text for s in ("Connection closed by peer", "Connection reset", "Timed out", "timed out",
                                   "NCCL", "gloo", "Broken pipe"))


def lost_peer(stage: str, dist: Dist) -> DistributedError:
    return DistributedError(f"a training process stopped answering during {stage} (world size {dist.world_size}, "
                            f"collective timeout {dist.timeout_s:.0f} s); see worker.log, then resume with "
                            "`clinitui train --resume RUN_DIR`")


def share(rows: list[int], dist: Dist) -> list[int]:
    """This rank's rows of a batch (or split): every ``world``-th, starting at the rank; no padding."""
    return rows[dist.rank :: dist.world_size]


def wrap(model, features, device):
    """``DistributedDataParallel`` around the training forward: the classifier's, or, with the
    frozen-backbone feature cache, the adapter and head over cached features.

    ``find_unused_parameters=False``: every trainable parameter (LoRA's included) takes part in
    each forward; gradient checkpointing is non-reentrant (engine/memory/apply.py), which DDP supports.
    """
    import torch
    from torch.nn.parallel import DistributedDataParallel

    class TrainForward(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, inputs, attention_mask):
            if features is not None:  # inputs = cached pooled vectors or token states
                from types import SimpleNamespace

                return features.forward(self.model, SimpleNamespace(states=inputs, attention_mask=attention_mask))
            return self.model(inputs, attention_mask)

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(TrainForward(), device_ids=ids, find_unused_parameters=False)


def _local_memory(dist: Dist, device) -> list[int]:
    """This rank's memory, sampled at most once a second (NVML is not free)."""
    now = time.monotonic()
    if now - dist._last_sample >= 1.0:
        from clinitui.engine.runtime.telemetry import NvmlProbe, memory_sample

        if dist._nvml is None and device.type == "cuda":
            dist._nvml = NvmlProbe(device.index or 0)
        sample = memory_sample(device, None, dist._nvml)
        dist._sample = [int(sample[k]) if sample.get(k) is not None else -1 for k in MEMORY_KEYS]
        dist._last_sample = now
    return dist._sample


def agree(dist: Dist, device, *, stop: bool, save: bool) -> tuple[bool, bool]:
    """One small all-gather per step: (any rank asked to stop, rank 0 wants a state save).

    It also carries every rank's memory into ``dist.memory``.
    """
    import torch
    import torch.distributed as td

    mine = torch.tensor([int(stop), int(save), *_local_memory(dist, device)], dtype=torch.long, device=device)
    rows = [torch.empty_like(mine) for _ in range(dist.world_size)]
    try:
        td.all_gather(rows, mine)
    except Exception as exc:
        if is_collective_failure(exc):
            raise lost_peer("training", dist) from None
        raise
    table = torch.stack(rows).cpu().tolist()
    dist.memory = [{"rank": r, **{k: (v if v >= 0 else None) for k, v in zip(MEMORY_KEYS, row[2:])}}
                   for r, row in enumerate(table)]
    return any(row[0] for row in table), bool(table[0][1])


def all_sum(dist: Dist, values: list[float], device) -> list[float]:
    """Element-wise sum over ranks (the step events' loss and token counts)."""
    import torch
    import torch.distributed as td

    t = torch.tensor(values, dtype=torch.float64 if device.type == "cpu" else torch.float32, device=device)
    _collective(dist, "training", td.all_reduce, t)
    return t.cpu().tolist()


def broadcast(dist: Dist, values: list[int], device, stage: str) -> list[int]:
    """Rank 0's ``values`` on every rank (decisions: improved, stop early ...)."""
    import torch
    import torch.distributed as td

    t = torch.tensor(values, dtype=torch.long, device=device)
    _collective(dist, stage, td.broadcast, t, src=0)
    return t.cpu().tolist()


def gather_rows(dist: Dist, rows: list[int], probs, n_rows: int, stage: str):
    """Every rank's predictions for its ``rows``, put back in split order on rank 0 (None elsewhere)."""
    import numpy as np
    import torch.distributed as td

    parts = [None] * dist.world_size if dist.main else None
    _collective(dist, stage, td.gather_object, (rows, probs), parts, dst=0)
    if not dist.main:
        return None
    out = np.zeros((n_rows, probs.shape[1]), dtype=probs.dtype)
    for part_rows, part in parts:
        out[part_rows] = part
    return out


def gather_objects(dist: Dist, obj, stage: str) -> list:
    """``obj`` from every rank, on every rank (the RNG states a resume needs)."""
    import torch.distributed as td

    out = [None] * dist.world_size
    _collective(dist, stage, td.all_gather_object, out, obj)
    return out


def barrier(dist: Dist, stage: str) -> None:
    import torch.distributed as td

    _collective(dist, stage, td.barrier)


def _collective(dist: Dist, stage: str, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        if is_collective_failure(exc):
            raise lost_peer(stage, dist) from None
        raise


class NullEvents:
    """The event writer of ranks other than 0: they compute, rank 0 writes."""

    def emit(self, type_: str, **fields) -> dict:
        return {"type": type_, **fields}

    def close(self) -> None:
        pass
