"""Time from ``python`` start to the TUI's first screen on the terminal (not part of the test run).

    python tests/benchmarks/tui_startup.py [--runs 10]

Each run is a fresh interpreter (imports included, as an operator would see it) running the app
headless at 80×24; "first screen" is Textual's ``Ready`` event (the DOM is ready and the first
frame, the launch screen, has been written). Prints the
median and the spread; the issue asks for under one second on the lab machine.
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

CHILD = r"""
import sys, time, json
from pathlib import Path
t_imports = time.time()
import clinitui.tui.app
from clinitui.tui.app import ClinituiApp
t_imported = time.time()

class Probe(ClinituiApp):
    CSS_PATH = str(Path(clinitui.tui.app.__file__).with_name("app.tcss"))  # this class has no file

    def on_ready(self):
        self.painted = time.time()
        self.exit()

app = Probe(sys.argv[1], planner=False)
app.run(headless=True, size=(80, 24))
print(json.dumps({"imports_done": t_imported, "painted": app.painted, "imports_start": t_imports}))
"""


def one(runs_root: str) -> dict:
    start = time.time()
    out = subprocess.run([sys.executable, "-c", CHILD, runs_root], capture_output=True, text=True, check=True,
                         env={**os.environ, "CLINITUI_RUNS_ROOT": runs_root})
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return {"first_screen_s": data["painted"] - start, "imports_s": data["imports_done"] - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        one(root)  # warm the file cache (.pyc files) like any second start
        samples = [one(root) for _ in range(args.runs)]
    first = sorted(s["first_screen_s"] for s in samples)
    imports = sorted(s["imports_s"] for s in samples)
    print(f"TUI first screen: median {statistics.median(first):.3f} s "
          f"(min {first[0]:.3f}, max {first[-1]:.3f}, n={len(first)}); "
          f"interpreter + imports: median {statistics.median(imports):.3f} s")
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
