"""What following a run in the console costs the training (not part of the test run).

    python tests/benchmarks/tui_overhead.py [--pairs 4] [--threads 2] [--demo-size 1600]

Each pair starts two identical detached workers one after the other (``clinitui.launcher``, the
path ``clinitui train --detach`` and the console take): one alone, one with the real console open
on its run screen in another process (``ClinituiApp(open_run=RUN)``, headless at 80×24: the event
follower, state folding, charts and compositor all run; only the terminal write is skipped). The
order alternates between pairs. Throughput is the worker's own ``real_tokens_per_s`` from
``metrics.json`` (training time only). Prints every pair and the median paired overhead.
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
from pathlib import Path

CHILD = r"""
import sys
from pathlib import Path
import clinitui.tui.app
from clinitui.tui.app import ClinituiApp

class Follow(ClinituiApp):
    CSS_PATH = str(Path(clinitui.tui.app.__file__).with_name("app.tcss"))  # this class has no file

    def on_ready(self):
        self.set_interval(0.5, self._done)

    def _done(self):
        if (Path(sys.argv[2]) / "metrics.json").exists() or (Path(sys.argv[2]) / "STOP").exists():
            self.exit()

Follow(sys.argv[1], open_run=Path(sys.argv[2]), planner=False).run(headless=True, size=(80, 24))
"""


def one(runs_root: Path, args, attached: bool) -> dict:
    from clinitui.config.schema import RunConfig
    from clinitui.launcher import start_worker
    from clinitui.describe import read_metrics

    config = RunConfig.model_validate({
        "data": {"demo_size": args.demo_size},
        "model": {"backbone_options": {"size": args.size}},
        "train": {"epochs": args.epochs, "baseline": False, "early_stopping": False, "threads": args.threads,
                  "log_every": 10},
        "budget": {"device": "cpu"},
    })
    path, pid = start_worker(config, runs_root)
    follower = None
    if attached:
        follower = subprocess.Popen([sys.executable, "-c", CHILD, str(runs_root), str(path)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    os.waitpid(pid, 0)  # the worker is our child (in its own session): wait for it to end
    console_cpu = None
    if follower is not None:
        (path / "STOP").touch()  # a run that failed leaves no metrics.json: tell the follower to go
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        _, err = follower.communicate(timeout=60)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the worker was reaped before: this is the console
        console_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        if follower.returncode != 0:
            raise SystemExit(f"the console failed:\n{err[-2000:]}")
    metrics = read_metrics(path)
    if metrics is None:
        raise SystemExit(f"the run failed; see {path / 'worker.log'}")
    return {"attached": attached, "tokens_per_s": metrics["real_tokens_per_s"], "train_s": metrics["train_seconds"],
            "wall_s": metrics["wall_seconds"], "console_cpu_s": console_cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--demo-size", type=int, default=1600)
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i in range(args.pairs):
            order = (False, True) if i % 2 == 0 else (True, False)
            pair = {r["attached"]: r for r in (one(root, args, attached) for attached in order)}
            overhead = 1 - pair[True]["tokens_per_s"] / pair[False]["tokens_per_s"]
            rows.append({"alone": pair[False], "attached": pair[True], "overhead": overhead})
            share = pair[True]["console_cpu_s"] / pair[True]["wall_s"]
            rows[-1]["console_core_share"] = share
            print(f"pair {i + 1}: alone {pair[False]['tokens_per_s']:,.0f} tok/s, with the console "
                  f"{pair[True]['tokens_per_s']:,.0f} tok/s, overhead {overhead:+.1%}; the console used "
                  f"{pair[True]['console_cpu_s']:.1f} CPU s ({share:.1%} of a core)", flush=True)
    overheads = [r["overhead"] for r in rows]
    shares = [r["console_core_share"] for r in rows]
    print(f"median paired overhead {statistics.median(overheads):+.1%} "
          f"(min {min(overheads):+.1%}, max {max(overheads):+.1%}, n={len(overheads)}; "
          f"{args.size}, {args.threads} torch threads, demo {args.demo_size} notes, {args.epochs} epochs); "
          f"the console took a median {statistics.median(shares):.1%} of one core")
    if args.out:
        args.out.write_text(json.dumps({"args": vars(args) | {"out": str(args.out)}, "pairs": rows}, indent=2))


if __name__ == "__main__":
    main()
