"""Canned run directories for the TUI tests: events.jsonl files written the way the worker writes them.

Timestamps are fixed (or, for a live run, a fixed pattern ending one second ago), so the screens
they produce are the same on every machine and every day.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC: any fixed instant works
LABELS = ["0", "1"]
GIB = 1 << 30
MIB = 1 << 20


def _config(backbone: str, adapter: str, budget: dict, epochs: int) -> dict:
    return {
        "name": None,
        "data": {"path": "notes.csv", "text_col": "text", "label_col": "label", "demo_size": 5400},
        "model": {"backbone": backbone, "adapter": adapter, "pooling": "mean", "freeze": None},
        "train": {"epochs": epochs, "lr": 0.001, "batch_size": 32, "max_length": 256, "seed": 42},
        "budget": budget,
    }


def _metrics(split: str, epoch: int, step: int, acc: float, cm: list[list[int]]) -> dict:
    f1 = round(acc - 0.02, 4)
    return {
        "type": "eval", "split": split, "epoch": epoch, "step": step, "n": sum(map(sum, cm)),
        "accuracy": acc, "precision_macro": round(acc - 0.01, 4), "recall_macro": round(acc - 0.03, 4),
        "f1_macro": f1, "f1_weighted": round(acc - 0.015, 4), "roc_auc": round(min(0.99, acc + 0.05), 4),
        "confusion_matrix": cm,
        "per_class": {
            "0": {"precision": round(acc + 0.02, 4), "recall": round(acc + 0.04, 4), "f1": round(acc + 0.03, 4),
                  "support": sum(cm[0])},
            "1": {"precision": round(acc - 0.05, 4), "recall": round(acc - 0.09, 4), "f1": round(acc - 0.07, 4),
                  "support": sum(cm[1])},
        },
    }


def build_events(kind: str, t0: float = T0) -> list[dict]:
    """Events of a run of ``kind``: running, finished, failed, oom, cpu, crashed, stopped."""
    gpu = kind in ("oom", "running")
    budget = ({"name": "p620-2gb", "device": "cuda", "memory_bytes": 2 * GIB, "max_micro_batch": 4,
               "max_length": 256, "precision": "fp16"} if gpu else
              {"name": "cpu", "device": "cpu", "memory_bytes": None, "max_micro_batch": 64, "max_length": 512,
               "precision": "auto"})
    backbone = "camembert-bio" if gpu else "scratch-transformer"
    adapter = "lora" if kind == "oom" else "grn"
    epochs = 3
    total_steps = 60
    micro = 4 if gpu else 32
    accum = 8 if gpu else 1
    events: list[dict] = []

    def emit(offset: float, **event) -> None:
        events.append({"v": 1, "t": t0 + offset, **event})

    emit(0.0, type="run_started", pid=4242, run_dir="/runs/x", config=_config(backbone, adapter, budget, epochs),
         config_digest="sha256:0000", dataset_digest="sha256:1111", data_source="notes.csv",
         split="stratified(seed=13, val=0.1, test=0.1)", n_train=480, n_val=60, n_test=60, labels=LABELS,
         counts={"train": {"0": 312, "1": 168}}, params={"trainable": 1_327_106 if gpu else 279_170,
                                                         "total": 111_950_338 if gpu else 279_170},
         freeze="lora" if gpu else "none", device="cuda:0" if gpu else "cpu",
         precision="fp16" if gpu else "fp32",
         plan={"micro_batch": micro, "grad_accumulation": accum, "effective_batch": 32, "max_length": 256,
               "precision": "fp16" if gpu else "fp32"})
    pace = {"oom": 0.95, "cpu": 0.98}.get(kind, 0.97)  # loss decays at a different pace per story
    last_step = {"running": 34, "failed": 26, "crashed": 30, "stopped": 40}.get(kind, total_steps)
    offset = 0.0
    for step in range(2, last_step + 1, 2):
        offset = step * 1.5
        epoch = (step - 1) // 20 + 1
        loss = round(0.72 * (pace ** step) + 0.05 * ((step * 7) % 5) / 5, 4)
        lr = round(0.001 * min(1.0, step / 4) * (1 - step / total_steps) + 1e-6, 8)
        emit(offset, type="step", epoch=epoch, step=step, total_steps=total_steps, loss=loss, lr=lr,
             tokens_per_s=5000.0 + 25 * step, samples_per_s=30.0 + step / 4)
        if gpu:
            process = int(1.20 * GIB + step * 9 * MIB)
            emit(offset + 0.5, type="memory", host_rss_bytes=900 * MIB, budget_bytes=2 * GIB,
                 nvml_process_bytes=process, torch_allocated_bytes=process - 300 * MIB,
                 torch_reserved_bytes=process - 200 * MIB, torch_peak_bytes=process - 150 * MIB,
                 device_total_bytes=80 * GIB)
        else:
            emit(offset + 0.5, type="memory", host_rss_bytes=int(420 * MIB + step * 3 * MIB), budget_bytes=None)
        if step % 20 == 0:
            acc = round(0.70 + 0.06 * (step // 20), 4)
            emit(offset + 0.75, **_metrics("val", step // 20, step, acc, [[36, 3], [9, 12]]))
            emit(offset + 1.0, type="checkpoint", path="/runs/x/checkpoint", epoch=step // 20, metric="f1_macro",
                 value=round(acc - 0.02, 4))
        if kind == "oom" and step == 10:
            emit(offset + 0.25, type="oom_backoff", phase="train", old_micro_batch=4, new_micro_batch=2,
                 grad_accumulation=16, message="out of GPU memory: micro-batch 4 → 2, accumulation 8 → 16")
    end = offset + 2.0
    if kind in ("finished", "oom", "cpu"):
        emit(end, **_metrics("test", 3, total_steps, 0.85, [[37, 2], [7, 14]]))
        emit(end + 0.25, type="baseline", **{k: v for k, v in _metrics("test", 0, 0, 0.8, [[35, 4], [9, 12]]).items()
                                                if k not in ("type", "epoch", "step")})
        emit(end + 0.5, type="run_finished", best_epoch=3, best_val_f1_macro=0.86, test_f1_macro=0.83,
             wall_seconds=end + 0.5)
    elif kind == "failed":
        emit(end, type="run_failed", error="TrainingFailedError",
             message="loss became NaN at step 26; lower --set train.lr or use --set budget.precision=fp32",
             stage="training", exit_code=4)
    elif kind == "stopped":
        emit(end, type="stopped", message="stopped at step 40", stage="training")
    return events


def write_run(root: Path, name: str, kind: str, live: bool = False) -> Path:
    """A run directory ``root/name`` whose events tell a ``kind`` story.

    ``live``: timestamps end one second ago and ``worker.pid`` is this test process, so the
    run reads as running (fresh heartbeat, live pid) for the next half minute.
    """
    path = Path(root) / name
    path.mkdir(parents=True, exist_ok=True)
    (path / "run.toml").write_text("# canned\n", encoding="utf-8")
    events = build_events(kind)
    if live:
        shift = float(int(time.time()) - 1) - events[-1]["t"]
        for e in events:
            e["t"] += shift
        (path / "worker.pid").write_text(f"{os.getpid()}\n")
    elif kind == "crashed":
        (path / "worker.pid").write_text(f"{dead_pid()}\n")
        (path / "worker.log").write_text("epoch 2 step 30\nKilled: out of host memory (OOM killer)\n")
    with open(path / "events.jsonl", "w", encoding="utf-8") as fh:
        for e in events:
            fh.write(json.dumps(e, separators=(",", ":")) + "\n")
    return path


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(proc.stdout.strip())
