"""Scale curve of training: wall time and peak memory of `clinitui train` against the number of notes.

Not a test (pytest does not collect this file name). Each size is one `clinitui train` of the
default model on the built-in demo corpus at that size (``--set data.demo_size=N``: the same
generator, the same 80/10/10 split), in a fresh process, one after the other; it prints a
Markdown table: notes, wall time, the training loop's own seconds (``train_seconds`` of the
``--json`` output), seconds per 1,000 notes, peak RSS of the
training process, and the test macro-F1.

    python tests/benchmarks/scale_curve.py                      # 1,000, 5,000 and 20,000 notes (long: ~1 h on 2 cores)
    python tests/benchmarks/scale_curve.py --sizes 1000 5000 --set train.threads=1

Linear cost shows as a constant "s per 1k notes" column. Note that the default `train.epochs`
is raised for small data sets (``train.min_steps``), so at 1,000 notes more epochs run per note;
the column "epochs" shows how many ran.
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


def one(n: int, extra: list[str]) -> dict:
    """Train at ``n`` notes in a child process; wall, peak RSS (largest process of the run) and metrics."""
    with tempfile.TemporaryDirectory(prefix="scale-curve-") as root:
        argv = [sys.executable, "-m", "clinitui", "train", "--quiet", "--json", "--set", f"data.demo_size={n}"]
        for setting in extra:
            argv += ["--set", setting]
        start = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "CLINITUI_RUNS_ROOT": root})
        wall = time.perf_counter() - start
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # this child is the only one so far
        if proc.returncode != 0:
            sys.exit(f"{n} notes: clinitui train failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        out = json.loads(proc.stdout)
    return {"notes": n, "wall_s": round(wall, 1), "train_s": out.get("train_seconds"), "epochs": out.get("epochs_run"),
            "peak_rss_mib": peak_kib // 1024, "test_f1_macro": (out.get("metrics") or {}).get("f1_macro"),
            "load": os.getloadavg()[0]}

def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000])
    p.add_argument("--set", dest="settings", action="append", default=[], help="extra --set for every run")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child form: one size, JSON on stdout
    args = p.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.settings)))
        return
    rows = []
    for n in args.sizes:  # each size in its own process, so RUSAGE_CHILDREN is that run's peak alone
        child = subprocess.run([sys.executable, __file__, "--one", str(n)] + [f"--set={s}" for s in args.settings],
                               capture_output=True, text=True)
        if child.returncode != 0:
            sys.exit(child.stderr[-2000:])
        rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print("| notes | epochs | wall s | training loop s | s per 1k notes | peak RSS MiB | test macro-F1 | load |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        per = r["wall_s"] / (r["notes"] / 1000)
        f1 = f"{r['test_f1_macro']:.4f}" if isinstance(r["test_f1_macro"], float) else "–"
        train = f"{r['train_s']:.1f}" if isinstance(r["train_s"], (int, float)) else "–"
        print(f"| {r['notes']:,} | {r['epochs']} | {r['wall_s']:.1f} | {train} | {per:.1f} | {r['peak_rss_mib']:,} "
              f"| {f1} | {r['load']:.1f} |")


if __name__ == "__main__":
    main()
