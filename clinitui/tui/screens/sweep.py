"""A sweep: every trial's status and progress, live, and the leaderboard; enter opens a trial's run.

Reads only the sweep directory (journal, run directories), in a thread every two seconds, so
closing the console never touches the scheduler; opening the sweep again is reattaching.
``n`` launches a new sweep (a small modal that runs ``clinitui sweep --detach``), ``[``/``]``
move between the sweeps under the sweeps root, ``s`` stops the sweep gracefully.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from clinitui.tui.screens.polling import PollsWhileShown

REFRESH_S = 2.0
STATUS_STYLE = {"finished": "green", "running": "bold cyan", "failed": "red", "refused": "yellow",
                "pruned": "magenta", "interrupted": "yellow", "queued": "dim"}


@dataclass
class SweepRead(Message):
    """A fresh reading of the sweep directory (posted from the refresh thread)."""

    payload: dict | None
    progress: dict


def sweeps_under(root: Path) -> list[Path]:
    """Sweep directories under ``root``, newest first."""
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if (p / "sweep.toml").is_file()]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def progress_of(run_dir: Path) -> str:
    """``epoch 2/4 step 31`` for a running trial, from its events."""
    from clinitui.events import read_events

    events = read_events(run_dir)
    started = next((e for e in reversed(events) if e["type"] == "run_started"), None)
    last = next((e for e in reversed(events) if e["type"] == "step"), None)
    if started is None or last is None:
        return "starting"
    epochs = started.get("config", {}).get("train", {}).get("epochs", "?")
    return f"epoch {last.get('epoch', '?')}/{epochs} step {last.get('step', '?')}"


class SweepScreen(PollsWhileShown, Screen):
    CSS_PATH = "sweep.tcss"
    BINDINGS = [
        Binding("enter", "open", "Open run", show=False),
        Binding("n", "new", "New sweep"),
        Binding("s", "stop", "Stop sweep"),
        Binding("left_square_bracket", "other(1)", "Older sweep"),
        Binding("right_square_bracket", "other(-1)", "Newer sweep"),
        Binding("r", "refresh", "Refresh"),
        Binding("escape", "app.pop_screen", "Back", show=False),
    ]

    def __init__(self, sweep_dir: Path | None = None, sweeps_root: Path | None = None) -> None:
        super().__init__()
        self.sweep_dir = Path(sweep_dir) if sweep_dir else None
        self._root = sweeps_root
        self.rows: list[dict] = []
        self.reads = 0  # readings shown (tests wait on it)

    @property
    def sweeps_root(self) -> Path:
        if self._root is None:
            from clinitui.sweep.journal import default_sweeps_root

            self._root = default_sweeps_root()
        return self._root

    def compose(self) -> ComposeResult:
        yield Static("", id="sweep-title")
        yield DataTable(id="sweep-trials", cursor_type="row", zebra_stripes=True)
        yield Static("", id="sweep-board")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("trial", "status", "settings", "seed", "progress", "val F1", "test F1", "train s")
        if self.sweep_dir is None:
            found = sweeps_under(self.sweeps_root)
            self.sweep_dir = found[0] if found else None
        self.action_refresh()
        self.poll(REFRESH_S, self.action_refresh)
        table.focus()

    @work(thread=True, exclusive=True, group="sweep-read")
    def action_refresh(self) -> None:
        if self.sweep_dir is None:
            self.post_message(SweepRead(None, {}))
            return
        from clinitui.sweep.table import collect

        payload = collect(self.sweep_dir)
        progress = {t["name"]: progress_of(Path(t["run_dir"])) for t in payload["trials"]
                    if t["status"] == "running" and t["run_dir"]}
        self.post_message(SweepRead(payload, progress))

    def on_sweep_read(self, message: SweepRead) -> None:
        title = self.query_one("#sweep-title", Static)
        table = self.query_one(DataTable)
        board = self.query_one("#sweep-board", Static)
        self.reads += 1
        if message.payload is None:
            title.update(Text(f"No sweep under {self.sweeps_root} yet: press n to launch one", style="bold"))
            return
        p = message.payload
        counts: dict[str, int] = {}
        for t in p["trials"]:
            counts[t["status"]] = counts.get(t["status"], 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        title.update(Text(f"Sweep {p['sweep_dir']} · {p['status']} · {summary}", style="bold"))
        keep = table.cursor_row
        table.clear()
        self.rows = sorted(p["trials"], key=lambda t: t["name"])
        for t in self.rows:
            settings = ", ".join(f"{k}={v}" for k, v in t["settings"].items())
            status = Text(t["status"], style=STATUS_STYLE.get(t["status"], ""))
            table.add_row(t["name"], status, settings, str(t["seed"]), message.progress.get(t["name"], ""),
                          _f(t["val_f1_macro"]), _f(t["test_f1_macro"]), _f(t["train_seconds"], 1))
        if self.rows:
            table.move_cursor(row=min(keep, len(self.rows) - 1))
        lines = ["Leaderboard (ranked on validation macro-F1)"]
        for i, g in enumerate(p["groups"][:5], 1):
            settings = ", ".join(f"{k}={v}" for k, v in g["settings"].items()) or "(base)"
            sd = f" ±{g['test_f1_macro_sd']:.3f}" if g.get("test_f1_macro_sd") is not None else ""
            lines.append(f"{'*' if g.get('best') else ' '}{i}. {settings}: val {_f(g['val_f1_macro'])}, "
                         f"test {_f(g['test_f1_macro'])}{sd} ({g['n_finished']}/{len(g['seeds'])} seeds)")
        if p.get("baseline"):
            b = p["baseline"]
            lines.append(f"   baseline TF-IDF: val {_f(b['val_f1_macro'])}, test {_f(b['test_f1_macro'])}")
        board.update("\n".join(lines))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        row = self.query_one(DataTable).cursor_row
        if 0 <= row < len(self.rows) and self.rows[row]["run_dir"]:
            from clinitui.tui.screens.run import RunScreen

            self.app.push_screen(RunScreen(Path(self.rows[row]["run_dir"])))
        elif 0 <= row < len(self.rows):
            self.notify(f"{self.rows[row]['name']} has no run directory ({self.rows[row]['status']})")

    def action_other(self, step: int) -> None:
        found = sweeps_under(self.sweeps_root)
        if not found:
            return
        i = found.index(self.sweep_dir) if self.sweep_dir in found else 0
        self.sweep_dir = found[max(0, min(len(found) - 1, i + step))]
        self.action_refresh()

    def action_stop(self) -> None:
        import os
        import signal

        from clinitui.rundir import lock_holder

        pid = lock_holder(self.sweep_dir) if self.sweep_dir else None
        if pid is None or pid < 0:
            self.notify("no scheduler is running for this sweep")
            return
        os.kill(pid, signal.SIGTERM)
        self.notify("stopping: trials save their state; resume with `clinitui sweep --resume`")

    def action_new(self) -> None:
        from clinitui.tui.screens.sweep_launch import SweepLaunchScreen

        def opened(path: Path | None) -> None:
            if path is not None:
                self.sweep_dir = path
                self.action_refresh()

        self.app.push_screen(SweepLaunchScreen(self.sweeps_root), opened)


def _f(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
