"""Command-palette entries that open a run by name: type a name, a prefix of it, or ``last``.

The same names ``clinitui runs show`` takes (``clinitui.names.resolve_run``); the list is read
from the runs root on each search, so runs started by another console appear at once.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from textual.command import DiscoveryHit, Hit, Hits, Provider


class RunNames(Provider):
    """``open <run name>`` for every run under the app's runs root, newest first."""

    def _runs(self) -> list[Path]:
        from clinitui.runs import run_dirs
        from clinitui.names import newest_run

        dirs = sorted(run_dirs(self.app.runs_root), key=lambda p: p.name, reverse=True)
        if dirs:
            newest = newest_run(dirs)
            dirs.remove(newest)
            dirs.insert(0, newest)
        return dirs

    def _open(self, path: Path) -> None:
        from clinitui.tui.screens.run import RunScreen

        self.app.push_screen(RunScreen(path))

    async def discover(self) -> Hits:
        for i, path in enumerate(self._runs()[:10]):
            yield DiscoveryHit(f"open {path.name}", partial(self._open, path),
                               help="the newest run (also: `open last`)" if i == 0 else "open this run")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        runs = self._runs()
        words = query.strip().split()
        wanted = words[-1] if words else ""
        for i, path in enumerate(runs):
            label = f"open {path.name}" + (" (last)" if i == 0 else "")
            if wanted and (path.name.startswith(wanted) or (wanted == "last" and i == 0)):
                score = 1.0  # a prefix of the name, as on the command line
            else:
                score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), partial(self._open, path), help=str(path))
