"""From the runs screen (``l``): label a pool with the highlighted run's probabilities beside each note.

The dialog asks for the pool, the journal and the annotator; the session (clinitui/labeling/session.py)
is prepared in a thread — scoring the pool loads the run's model — and a bad input is shown here in
one line, as ``clinitui label`` would print it, before the labelling screen opens.
"""

from __future__ import annotations

import os
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from clinitui.errors import ClinituiError
from clinitui.labeling import ID_COL


class LabelStartScreen(ModalScreen[None]):
    CSS_PATH = "modal.tcss"
    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, run_dir: Path, runs_root: Path | None = None) -> None:
        super().__init__()
        self.run_dir, self.runs_root = Path(run_dir), runs_root

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"Label notes with {self.run_dir.name} beside them", classes="dialog-title")
            for label, value, hint, wid in (("pool", "", "notes to label (CSV/TSV/JSONL/Parquet)", "lab-pool"),
                                            ("id column", ID_COL, "", "lab-id"),
                                            ("journal", "labels.jsonl", "", "lab-journal"),
                                            ("annotator", os.environ.get("USER", "anonymous"), "", "lab-who")):
                with Horizontal(classes="field-row"):
                    yield Label(label)
                    yield Input(value, compact=True, placeholder=hint, id=wid)
            yield Static("", id="lab-status")
            with Horizontal(classes="buttons"):
                yield Button("Start", variant="primary", id="lab-go", compact=True)
                yield Button("Close esc", id="lab-close", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "lab-go":
            self.query_one("#lab-status", Static).update("scoring the pool…")
            self.prepare(*(self.query_one(f"#{w}", Input).value.strip()
                           for w in ("lab-pool", "lab-id", "lab-journal", "lab-who")))
        else:
            self.action_close()

    @work(thread=True, exclusive=True)
    def prepare(self, pool: str, id_col: str, journal: str, annotator: str) -> None:
        from clinitui.labeling.pool import read_pool
        from clinitui.labeling.session import Session

        try:
            session = Session(read_pool(pool, id_col=id_col or ID_COL), Path(journal), annotator,
                              checkpoint=self.run_dir / "checkpoint")
        except ClinituiError as exc:
            self.app.call_from_thread(self.query_one("#lab-status", Static).update, Text(str(exc), style="red"))
            return
        self.app.call_from_thread(self._open, session)

    def _open(self, session) -> None:
        from clinitui.tui.screens.label import LabelScreen

        self.dismiss(None)
        self.app.push_screen(LabelScreen(session, self.runs_root, standalone=False))

    def action_close(self) -> None:
        self.dismiss(None)
