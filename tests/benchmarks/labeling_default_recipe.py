"""Learning curves of active learning with the default recipe (issue 28, point 4): not part of the test run.

    python -m clinitui.labeling.simulate --out /tmp/sim --model screen --strategies random,breaking-ties
    python tests/benchmarks/labeling_default_recipe.py --sim /tmp/sim [--sets demo,morfitt,abstracts]
        [--seeds 0] [--budgets 200,480,800]

The first command replays the labelling screen's loop (the TF-IDF recipe refitted every 50 labels,
the queue re-ranked by the strategy) with the gold labels standing in for the clinician, and saves
the pool rows in the order they were labelled. This script then trains the default recipe
(``clinitui train``, nothing set but the seed) on the first N of those labels — what pressing ``f``
on the screen after N labels does — and scores it on the set's test notes. Its dev split is every
7th labelled note, as a user would carve it. The table (mean over the seeds run) is printed and
written to ``--sim``/default-recipe.json with every run's command and wall time.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[2]))

from clinitui.labeling.simulate import SHARED, load_set  # noqa: E402


def write_split(path: Path, pool: tuple, test: tuple, rows: list[int]) -> None:
    """The training file a site would export after labelling ``rows`` (in order), plus the test notes."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label", "split"])
        w.writerows([pool[0][r], pool[1][r], "dev" if k % 7 == 6 else "train"] for k, r in enumerate(rows))
        w.writerows([t, y, "test"] for t, y in zip(*test))


def train(data: Path, seed: int, runs: Path) -> dict:
    cmd = [sys.executable, "-m", "clinitui", "train", "--data", str(data), "--split-col", "split",
           "--set", f"train.seed={seed}", "--runs-root", str(runs), "--json", "--quiet"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    if proc.returncode != 0:
        sys.exit(f"{data.name}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    payload = json.loads(proc.stdout)
    return {"f1_macro": payload["metrics"]["f1_macro"],
            "baseline_f1_macro": (payload.get("baseline") or {}).get("f1_macro"),
            "wall_s": round(time.perf_counter() - start, 1), "command": "clinitui " + " ".join(cmd[3:])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sim", type=Path, required=True, help="The --out folder of simulate --model screen.")
    ap.add_argument("--sets", default="demo,morfitt,abstracts")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--budgets", default="200,480,800")
    ap.add_argument("--strategies", default="random,breaking-ties")
    args = ap.parse_args()
    out_file = args.sim / "default-recipe.json"
    done = json.loads(out_file.read_text()) if out_file.exists() else {}
    for name in args.sets.split(","):
        screen = json.loads((args.sim / f"{name}-screen.json").read_text())
        tp, yp, tt, yt, _ = load_set(name, SHARED, 2500)
        for seed in (int(s) for s in args.seeds.split(",")):
            for strategy in args.strategies.split(","):
                order = screen["orders"][strategy][seed]
                for budget in (int(b) for b in args.budgets.split(",")):
                    key = f"{name}/{strategy}/{seed}/{budget}"
                    if key in done:
                        continue
                    data = args.sim / f"{name}-{strategy}-s{seed}-{budget}.csv"
                    write_split(data, (tp, yp), (tt, yt), order[:budget])
                    done[key] = train(data, seed, args.sim / "runs")
                    data.unlink()
                    out_file.write_text(json.dumps(done, indent=1))
                    print(key, done[key]["f1_macro"], done[key]["wall_s"], "s", flush=True)
    print(table(done))


def table(done: dict) -> str:
    """Mean test macro-F1 per set, strategy and budget (the seeds run), the TF-IDF baseline beside it."""
    cells: dict[tuple, list] = {}
    for key, rec in done.items():
        name, strategy, _, budget = key.split("/")
        cells.setdefault((name, strategy, int(budget)), []).append(rec)
    lines = ["| set | strategy | labels | default recipe | its TF-IDF baseline | seeds |", "|---|---|---|---|---|---|"]
    for (name, strategy, budget), recs in sorted(cells.items()):
        mean = sum(r["f1_macro"] for r in recs) / len(recs)
        base = sum(r["baseline_f1_macro"] or 0 for r in recs) / len(recs)
        lines.append(f"| {name} | {strategy} | {budget} | {mean:.3f} | {base:.3f} | {len(recs)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
