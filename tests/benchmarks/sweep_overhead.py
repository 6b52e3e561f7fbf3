"""Benchmark: the sweep scheduler's overhead per trial, and 4 trials in 2 CPU slots vs back to back.

Not a test (pytest does not collect this file name). Prints one JSON document:

* ``start_to_first_step_s``: from the moment a trial is handed to its launcher to its first
  ``step`` event, for a plain ``clinitui train --detach`` worker and for the first trial of a
  1-slot sweep (whose clock starts at ``sweep_started``: planner check, journal and polling
  included); their difference is the scheduler's overhead per trial;
* ``refill_gap_s``: in a sweep, from a trial's last event to the next trial's start in the same slot;
* ``sweep_2_slots_s`` vs ``back_to_back_s``: the same four trials as one sweep with 2 CPU slots
  (1 thread each) and as four ``clinitui train`` runs one after the other (all cores each).

    nice -n 10 python tests/benchmarks/sweep_overhead.py [--epochs 1] [--demo-size 300]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETS = ["model.backbone_options.size=tiny", "model.backbone_options.vocab_size=1000", "train.max_length=64",
        "train.batch_size=16", "train.lr=3e-3", "train.log_every=1"]
ADAPTERS = ["grn", "linear"]
SEEDS = [1, 2]


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clinitui", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, check=True)


def _events(path: Path) -> list[dict]:
    from clinitui.events import read_events

    return read_events(path)


def _first_step_t(run: Path, timeout: float = 600) -> float:
    deadline = time.time() + timeout
    while time.time() < deadline:
        step = next((e for e in _events(run) if e["type"] == "step"), None)
        if step:
            return step["t"]
        time.sleep(0.05)
    raise TimeoutError(run)


def _wait_final(run: Path) -> None:
    while not any(e["type"] in ("run_finished", "run_failed") for e in _events(run)):
        time.sleep(0.2)


def plain_start(tmp: Path, common: list[str]) -> float:
    t0 = time.time()
    out = json.loads(_cli("train", *common, "--adapter", "grn", "--seed", "1", "--detach", "--json",
                          "--run-dir", str(tmp / "plain")).stdout)
    first = _first_step_t(Path(out["run_dir"]))
    _wait_final(Path(out["run_dir"]))
    return first - t0


def sweep(tmp: Path, name: str, slots: int, common_sets: list[str], epochs: int, demo: int) -> tuple[float, Path]:
    args = ["sweep", "--backbones", "scratch-tiny", "--adapters", ",".join(ADAPTERS), "--seeds", str(len(SEEDS)),
            "--budget", "cpu", "--set", f"train.epochs={epochs}", "--set", f"data.demo_size={demo}",
            *sum((["--set", s] for s in common_sets), []), "--slots", str(slots), "--sweep-dir", str(tmp / name),
            "--quiet", "--json"]
    t0 = time.time()
    _cli(*args)
    return time.time() - t0, tmp / name


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--demo-size", type=int, default=300)
    a = ap.parse_args()
    from clinitui.sweep.journal import read_journal

    tmp = Path(tempfile.mkdtemp(prefix="sweep-bench-"))
    common = ["--backbone", "scratch-tiny", "--budget", "cpu", "--epochs", str(a.epochs),
              "--set", f"data.demo_size={a.demo_size}", "--set", "train.baseline=false",
              *sum((["--set", s] for s in SETS), [])]
    result: dict = {"cpus": os.cpu_count(), "loadavg_before": os.getloadavg()}
    result["plain_start_to_first_step_s"] = round(plain_start(tmp, common), 2)

    one_slot_s, one = sweep(tmp, "one-slot", 1, SETS, a.epochs, a.demo_size)
    journal = read_journal(one)
    t_sweep = next(e["t"] for e in journal if e["type"] == "sweep_started")
    first = next(e for e in journal if e["type"] == "trial_started")
    result["sweep_start_to_first_step_s"] = round(_first_step_t(Path(first["run_dir"])) - t_sweep, 2)
    result["overhead_per_trial_s"] = round(result["sweep_start_to_first_step_s"] - result["plain_start_to_first_step_s"], 2)
    gaps = []
    starts = [e for e in journal if e["type"] == "trial_started"]
    for prev, nxt in zip(starts, starts[1:]):
        last = _events(Path(prev["run_dir"]))[-1]["t"]
        gaps.append(round(nxt["t"] - last, 2))
    result["refill_gap_s"] = gaps

    back_to_back = 0.0
    for adapter in ADAPTERS:
        for seed in SEEDS:
            t0 = time.time()
            _cli("train", *common, "--adapter", adapter, "--seed", str(seed), "--json", "--quiet",
                 "--run-dir", str(tmp / f"b2b-{adapter}-{seed}"))
            back_to_back += time.time() - t0
    result["back_to_back_s"] = round(back_to_back, 1)
    result["sweep_1_slot_s"] = round(one_slot_s, 1)
    two_s, _ = sweep(tmp, "two-slots", 2, SETS, a.epochs, a.demo_size)
    result["sweep_2_slots_s"] = round(two_s, 1)
    result["ratio_2_slots_vs_back_to_back"] = round(two_s / back_to_back, 2)
    result["loadavg_after"] = os.getloadavg()
    result["tmp"] = str(tmp)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
