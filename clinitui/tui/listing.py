"""List the runs under a runs root, re-reading only the event files that changed.

``clinitui.runs.summarize`` reads a whole ``events.jsonl``; the runs screen refreshes every two
seconds, so finished runs whose files did not change are served from a cache. Live runs are
always re-read: their status depends on the clock (heartbeat freshness) as well as the file.
"""

from __future__ import annotations

from pathlib import Path

from clinitui.events import FILENAME
from clinitui.runs import RunSummary, is_run_dir, summarize, summarize_search
from clinitui.timebudget.layout import is_search_dir
from clinitui.tui.processes import reap

FINAL_STATUSES = ("finished", "failed", "stopped")


class RunLister:
    """``list()`` returns summaries newest first, like ``clinitui runs list``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._cache: dict[Path, tuple[tuple[int, int], RunSummary]] = {}

    def list(self) -> list[RunSummary]:
        reap()  # a worker this TUI started and that exited must not look alive
        if not self.root.is_dir():
            return []
        runs = []
        for path in sorted(self.root.iterdir()):
            if is_search_dir(path):  # a `train --time-budget` search: one row, the run it keeps (few: not cached)
                runs.append(summarize_search(path))
                continue
            if not is_run_dir(path):  # a run directory or a `train --seeds` group
                continue
            try:
                st = (path / FILENAME).stat()
                key = (st.st_mtime_ns, st.st_size)
            except OSError:
                key = (0, 0)
            cached = self._cache.get(path)
            if cached is not None and cached[0] == key and cached[1].status in FINAL_STATUSES:
                runs.append(cached[1])
                continue
            summary = summarize(path)
            self._cache[path] = (key, summary)
            runs.append(summary)
        return sorted(runs, key=lambda r: (r.started or 0, r.path.name), reverse=True)
