"""Predict at scale: wall time and peak memory of ``clinitui predict`` against the number of notes.

    python tests/benchmarks/predict_scale.py CHECKPOINT_OR_EXPORT [MORE ...] [--notes 1000 10000 100000]

For each size, writes a CSV of that many synthetic demo notes, then runs ``clinitui predict TARGET
--data FILE --out OUT`` in a fresh process for every target in turn (interleaved), and reads the
last stderr line (notes, seconds, notes/s, peak RSS). Wall time includes the process start and
the model load. Prints one JSON line per run and the load average.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def notes_csv(path: Path, n: int) -> Path:
    from clinitui.data.demo import generate_notes

    texts = list(generate_notes(min(n, 5000), seed=11)[0])
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text"])
        for i in range(n):  # repeated past 5,000: the cost per note is what is measured
            writer.writerow([texts[i % len(texts)]])
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("targets", nargs="+")
    parser.add_argument("--notes", type=int, nargs="+", default=[1000, 10000, 100000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.notes:
            data = notes_csv(Path(tmp) / f"{n}.csv", n)
            for target in args.targets:
                load = os.getloadavg()[0]
                t0 = time.perf_counter()
                done = subprocess.run([sys.executable, "-m", "clinitui", "predict", target, "--data", str(data),
                                       "--out", str(Path(tmp) / "out.csv")], capture_output=True, text=True)
                wall = time.perf_counter() - t0
                assert done.returncode == 0, done.stderr
                last = done.stderr.strip().splitlines()[-2]  # before "wrote N predictions"
                peak = float(re.search(r"peak memory ([\d,]+) MiB", last).group(1).replace(",", ""))
                rate = float(re.search(r"\(([\d,]+) notes/s\)", last).group(1).replace(",", ""))
                print(json.dumps({"target": target, "notes": n, "wall_s": round(wall, 1), "notes_per_s": rate,
                                  "peak_rss_mib": peak, "load_avg": round(load, 2)}), flush=True)


if __name__ == "__main__":
    main()
