"""Time from ``python`` start to the TUI's first screen on the terminal (not part of the test run).

    python tests/benchmarks/tui_startup.py [--runs 10] [--compare OTHER_CHECKOUT]

Each run is a fresh interpreter (imports included, as an operator would see it) running the app
headless at 80×24. Three moments, each measured from the interpreter's start:

* ``first screen``: Textual's ``Ready`` event (the DOM is ready and the first frame, the launch
  screen, has been written);
* ``form filled``: the first frame whose backbone, adapter and budget fields list the catalogue
  (presets and registries) — the moment the issue timed in tmux; with the catalogue cache
  (clinitui/tui/catalog.py) it is the first screen itself;
* ``checked``: the form validated (pydantic imported, Start enabled or the reason shown);
* ``CPU to first screen``: the process's CPU seconds at ``Ready`` — on a loaded machine the wall
  times stretch with the load, this much less.

``--compare DIR`` runs the same probe on another checkout (``git worktree add`` or ``git archive``
of an older commit) alternately with this one, so machine load hits both sides alike, and prints
the ratios. Both sides get their own catalogue cache folder, warmed by one discarded start.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import sys, time, json
from pathlib import Path
import clinitui.tui.app
from clinitui.tui.app import ClinituiApp
t_imported = time.time()

class Probe(ClinituiApp):
    CSS_PATH = str(Path(clinitui.tui.app.__file__).with_name("app.tcss"))  # this class has no file
    marks = {}

    def on_ready(self):
        self.marks["painted"] = time.time()
        self.marks["cpu"] = time.process_time()  # this process's CPU seconds so far: less sensitive to load
        self.watch_form()
        self.set_interval(0.01, self.watch_form)

    def watch_form(self):
        screen, now = self.screen, time.time()
        if "filled" not in self.marks and len(getattr(screen, "backbones", {})) > 1:
            self.marks["filled"] = self.marks["painted"] if now - self.marks["painted"] < 0.005 else now
        if getattr(screen, "catalog_loaded", False) and "filled" in self.marks:
            self.marks["checked"] = now
            self.exit()

app = Probe(sys.argv[1], planner=False)
app.run(headless=True, size=(80, 24))
print(json.dumps({**app.marks, "imports_done": t_imported}))
"""
KEYS = {"first screen": "painted", "form filled": "filled", "checked": "checked", "interpreter + imports": "imports_done"}


def one(tree: str, runs_root: str, cache: str) -> dict:
    start = time.time()
    env = {**os.environ, "CLINITUI_RUNS_ROOT": runs_root, "XDG_CACHE_HOME": cache, "PYTHONPATH": tree}
    # cwd: `python -c` puts the working directory first on sys.path, ahead of PYTHONPATH
    out = subprocess.run([sys.executable, "-c", CHILD, runs_root], capture_output=True, text=True, check=True, env=env,
                         cwd=runs_root)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return {**{name: data[key] - start for name, key in KEYS.items()}, "CPU to first screen": data["cpu"]}


def summary(samples: list[dict]) -> dict:
    return {name: statistics.median(s[name] for s in samples) for name in [*KEYS, "CPU to first screen"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--compare", help="another checkout, run alternately with this one")
    args = parser.parse_args()
    here = str(Path(__file__).resolve().parents[2])
    trees = [here] + ([str(Path(args.compare).resolve())] if args.compare else [])
    with tempfile.TemporaryDirectory() as root:
        caches = {tree: os.path.join(root, f"cache{i}") for i, tree in enumerate(trees)}
        for tree in trees:
            one(tree, root, caches[tree])  # warms the file cache (.pyc files) and the catalogue cache
        samples: dict[str, list[dict]] = {tree: [] for tree in trees}
        for _ in range(args.runs):
            for tree in trees:
                samples[tree].append(one(tree, root, caches[tree]))
    medians = {tree: summary(samples[tree]) for tree in trees}
    for tree in trees:
        first = sorted(s["first screen"] for s in samples[tree])
        m = medians[tree]
        print(f"{tree}: first screen median {m['first screen']:.3f} s (min {first[0]:.3f}, max {first[-1]:.3f}, "
              f"n={len(first)}); form filled {m['form filled']:.3f} s; checked {m['checked']:.3f} s; "
              f"interpreter + imports {m['interpreter + imports']:.3f} s; "
              f"CPU to first screen {m['CPU to first screen']:.3f} s")
    if args.compare:
        a, b = medians[trees[0]], medians[trees[1]]
        print("ratio this / other: " + ", ".join(f"{name} {a[name] / b[name]:.2f}" for name in a))
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
