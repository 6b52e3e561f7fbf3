"""2 processes × 1 thread (torchrun, gloo) against 1 process × 2 threads, on CPU (not part of the test run).

    nice -n 10 python tests/benchmarks/ddp_cpu.py [--rounds 2] [--steps 14] [--size small]

Both train the same model on the demo corpus with the same effective batch (32) and data order;
the rounds are interleaved (A, B, A, B ...) so a load change on a shared machine hits both. The
figure is the optimizer-step rate between the 3rd and the last step event (start-up, tokenizer
training and the first steps' allocations excluded), read from each run's ``events.jsonl``.
Prints one JSON line per run and the ratio per round.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def run(kind: str, root: Path, steps: int, size: str) -> dict:
    common = ["--set", f"model.backbone_options.size={size}", "--set", "data.demo_size=2000",
              "--set", "train.max_length=128", "--set", "train.batch_size=32", "--set", "train.log_every=1",
              "--set", f"train.max_steps={steps}", "--set", "train.baseline=false", "--epochs", "1",
              "--budget", "cpu", "--json", "--quiet"]
    extra = (["--nproc", "2", "--set", "train.micro_batch=16", "--set", "train.threads=1"] if kind == "2x1"
             else ["--set", "train.micro_batch=32", "--set", "train.threads=2"])
    run_dir = root / f"{kind}-{len(list(root.iterdir()))}"
    subprocess.run([sys.executable, "-m", "clinitui", "train", *common, *extra, "--run-dir", str(run_dir)],
                   check=True, stdout=subprocess.DEVNULL)
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    step_events = [e for e in events if e["type"] == "step"]
    first, last = step_events[2], step_events[-1]
    rate = (last["step"] - first["step"]) / (last["t"] - first["t"])
    return {"kind": kind, "steps_per_s": round(rate, 3), "samples_per_s": round(rate * 32, 1),
            "steps": last["step"], "load_1min": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=14)
    ap.add_argument("--size", default="small")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            a = run("2x1", Path(tmp), args.steps, args.size)
            b = run("1x2", Path(tmp), args.steps, args.size)
            print(json.dumps(a), flush=True)
            print(json.dumps(b), flush=True)
            print(json.dumps({"round": r + 1, "ratio_2x1_over_1x2": round(a["steps_per_s"] / b["steps_per_s"], 3)}),
                  flush=True)


if __name__ == "__main__":
    main()
