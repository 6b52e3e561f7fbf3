"""The run's event log: checkpoints, evaluations, OOM backoffs, warnings and errors."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

from clinitui.tui.state import LogLine

LEVEL_STYLE = {"info": "", "good": "green", "warn": "yellow", "error": "bold red"}


class EventLog(RichLog):
    """Appends :class:`LogLine` entries; keeps the newest in view."""

    def __init__(self, **kwargs) -> None:
        super().__init__(wrap=True, markup=False, highlight=False, max_lines=1000, **kwargs)
        self.shown = 0

    def show(self, lines: list[LogLine], total: int) -> None:
        """``lines`` are the newest entries of ``total`` ever logged (the state trims old ones)."""
        new = min(total - self.shown, len(lines))
        for line in lines[len(lines) - new:] if new > 0 else []:
            self.write(Text(line.render(), style=LEVEL_STYLE.get(line.level, "")))
        self.shown = total
