"""Benchmark: what ``--log-to mlflow --log-to tensorboard`` costs a small demo run (docs/tracking.md).

Not a test (pytest does not collect this file name). Trains the same tiny demo run without and
with tracking, in interleaved pairs (so a machine's other load hits both alike), into a fresh
runs root whose default SQLite store is created first (its one-off creation is not counted).
Prints one JSON document: per mode, the runs' own ``wall_seconds``, the command's wall time and
its CPU time (user + sys of the child), each list and its median.

    python tests/benchmarks/tracking_overhead.py [--pairs 4] [--demo-size 1000] [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TINY = ["model.backbone_options.size=tiny", "model.backbone_options.vocab_size=300",
        "model.backbone_options.min_frequency=2", "train.max_length=48", "train.batch_size=16", "train.lr=3e-3",
        "train.log_every=2", "train.threads=1", "model.ensemble=none"]
TRACK = ["--log-to", "mlflow", "--log-to", "tensorboard"]


def train(root: Path, demo_size: int, epochs: int, extra: list[str]) -> dict:
    argv = [sys.executable, "-m", "clinitui", "train", "--runs-root", str(root), "--quiet", "--json",
            "--epochs", str(epochs), "--set", f"data.demo_size={demo_size}", *extra]
    for s in TINY:
        argv += ["--set", s]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_seconds": json.loads(out)["wall_seconds"], "process_s": round(wall, 2), "cpu_s": round(cpu, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--demo-size", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("PYTHONPATH", str(Path(__file__).resolve().parents[2]))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        train(root, 300, 1, ["--log-to", "mlflow"])  # creates the SQLite store: a one-off cost
        runs: dict[str, list[dict]] = {"without": [], "with": []}
        for _ in range(args.pairs):
            runs["without"].append(train(root, args.demo_size, args.epochs, []))
            runs["with"].append(train(root, args.demo_size, args.epochs, TRACK))
    summary = {mode: {key: {"runs": [r[key] for r in rs], "median": statistics.median(r[key] for r in rs)}
                      for key in ("wall_seconds", "process_s", "cpu_s")} for mode, rs in runs.items()}
    print(json.dumps({"demo_size": args.demo_size, "epochs": args.epochs, **summary}, indent=2))


if __name__ == "__main__":
    main()
