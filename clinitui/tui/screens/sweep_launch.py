"""Launch a sweep from the console: a shipped sweep preset (or a spec file) and the slots.

It runs ``clinitui sweep ... --detach --json`` as a subprocess, so the scheduler is the same
detached process the CLI starts and the console never schedules anything itself; dismisses with
the new sweep directory, or None.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


class SweepLaunchScreen(ModalScreen[Path | None]):
    CSS_PATH = "modal.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, sweeps_root: Path) -> None:
        super().__init__()
        self.sweeps_root = sweeps_root

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Launch a sweep", classes="dialog-title")
            yield Static("Sweep preset (paper = the study's grid; see `clinitui presets list`) or a SPEC.toml path:")
            yield Input(value="demo-cpu", id="sweep-what")
            yield Static("CPU slots (blank: one trial per GPU, or one CPU slot):")
            yield Input(value="", id="sweep-slots", restrict=r"[0-9]*")
            yield Static("", id="sweep-error")
            with Horizontal(classes="buttons"):
                yield Button("Start", variant="primary", id="start", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.start()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @work(thread=True, exclusive=True)
    def start(self) -> None:
        what = self.query_one("#sweep-what", Input).value.strip()
        slots = self.query_one("#sweep-slots", Input).value.strip()
        args = [sys.executable, "-m", "clinitui", "sweep"]
        args += [what] if what.endswith(".toml") else ["--preset", what]
        args += ["--slots", slots] if slots else []
        args += ["--sweeps-root", str(self.sweeps_root), "--detach", "--json"]
        done = subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
        if done.returncode != 0:
            message = (done.stderr.strip().splitlines() or ["failed"])[-1]
            self.app.call_from_thread(self.query_one("#sweep-error", Static).update, message)
            return
        path = Path(json.loads(done.stdout)["sweep_dir"])
        self.app.call_from_thread(self.app.notify, f"sweep started: {path}")
        self.app.call_from_thread(self.dismiss, path)
