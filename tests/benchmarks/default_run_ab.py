"""The default ``clinitui train`` on the demo corpus, a git commit against the working tree (not a test).

    python tests/benchmarks/default_run_ab.py --a c9bd28b --seeds 42 43 44 --out /tmp/default-ab

Each seed runs side A then side B (interleaved, so load on a shared machine hits both alike), each
in its own process with ``PYTHONPATH`` on its tree (side A: a ``git worktree`` of the commit in
``OUT``), ``--set train.seed=SEED`` and nothing else. Prints one line per run (wall seconds of the
command, best epoch, shipped / network / TF-IDF test macro-F1, what shipped) and the means;
the runs stay in ``OUT/<side>`` for replays (tests/benchmarks/default_vs_reference.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def tree_for(commit: str, out: Path) -> Path:
    if commit == ".":
        return ROOT
    folder = out / f"tree-{commit}"
    if not folder.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), commit], check=True,
                       stdout=subprocess.DEVNULL)
    return folder


def run(tree: Path, seed: int, runs: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, "-m", "clinitui", "train", "--runs-root", str(runs), "--set", f"train.seed={seed}",
           "--json", "--quiet"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(runs.parent))
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{tree} seed {seed}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    payload = json.loads(proc.stdout)
    run_dir = Path(payload["run_dir"])
    ens = next((json.loads(line) for line in (run_dir / "events.jsonl").open() if '"type":"ensemble"' in line), {})
    return {"wall_s": round(wall, 1), "best_epoch": payload.get("best_epoch"),
            "test_f1_macro": payload["metrics"]["f1_macro"], "network_test": ens.get("network_test_f1_macro"),
            "tfidf_test": ens.get("tfidf_test_f1_macro"), "weight": ens.get("weight"), "reason": ens.get("reason"),
            "run_dir": str(run_dir)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", required=True, help="side A: a commit (or '.')")
    ap.add_argument("--b", default=".", help="side B: a commit or '.', the working tree (default)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    ap.add_argument("--out", type=Path, required=True, help="a folder outside the repository")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sides = {"A": tree_for(args.a, args.out), "B": tree_for(args.b, args.out)}
    results: dict[str, list[dict]] = {"A": [], "B": []}
    for seed in args.seeds:
        for side, tree in sides.items():
            r = run(tree, seed, args.out / side)
            results[side].append(r)
            print(json.dumps({"side": side, "seed": seed, **r}), flush=True)
    for side, rows in results.items():
        print(f"{side}: wall {statistics.fmean(r['wall_s'] for r in rows):.1f} s, shipped test macro-F1 "
              f"{statistics.fmean(r['test_f1_macro'] for r in rows):.4f}, network alone "
              f"{statistics.fmean(r['network_test'] or 0 for r in rows):.4f} (mean of {len(rows)} seeds)")


if __name__ == "__main__":
    main()
