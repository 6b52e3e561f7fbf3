"""How long ``clinitui report`` takes on a 1,000-note test set with 2,000 bootstrap resamples.

Target (issue 12): under 20 s on 2 cores. A tiny model is trained on the demo corpus with 20 %
held out for test (5,000 notes → 1,000 test notes); the report is then timed as a user runs it
(a fresh process: imports, bootstrap, paired bootstrap against the baseline, every figure, HTML).

    nice -n 10 python tests/benchmarks/report_speed.py [--runs-root DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRAIN = ["--set", "data.demo_size=5000", "--set", "data.test_fraction=0.2", "--set", "model.backbone_options.size=tiny",
         "--set", "train.max_length=64", "--set", "train.max_steps=30", "--epochs", "1", "--bootstrap", "2000", "--quiet"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs-root", type=Path, default=None)
    args = parser.parse_args()
    root = args.runs_root or Path(tempfile.mkdtemp(prefix="report-speed-"))
    run = root / "run"
    subprocess.run([sys.executable, "-m", "clinitui", "train", "--run-dir", str(run), *TRAIN], check=True)
    n_test = len(json.loads((run / "predictions.json").read_text())["test"]["y"])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "clinitui", "report", str(run), "--out", str(root / "report.html")], check=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    report = json.loads((root / "report.json").read_text())
    print(json.dumps({"test_notes": n_test, "resamples": report["metrics"]["bootstrap"]["resamples"],
                      "report_seconds": round(seconds, 2), "report_cpu_seconds": round(cpu, 2),
                      "load_average_1min": round(os.getloadavg()[0], 1), "target_seconds": 20, "ok": seconds < 20}))


if __name__ == "__main__":
    main()
