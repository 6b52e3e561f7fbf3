"""Show a few notes, only because the operator asked (the preview never shows note text)."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from clinitui.errors import ClinituiError


class PeekScreen(ModalScreen[None]):
    """The first notes of the file, cut short; nothing is logged or written anywhere."""

    CSS_PATH = "modal.tcss"
    BINDINGS = [Binding("escape,q", "close", "Close")]

    def __init__(self, path: str | None, text_col: str, label_col: str) -> None:
        super().__init__()
        self.path, self.text_col, self.label_col = path, text_col, label_col

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Peek: first notes (shown on request, never logged)", classes="dialog-title")
            with VerticalScroll(id="peek-notes"):
                yield Static("reading…", id="peek-body")
            yield Static("escape: close", classes="hint")

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        from clinitui.tui.preview import peek

        try:
            pairs = peek(self.path or None, self.text_col, self.label_col)
            body = Text()
            for label, note in pairs:
                body.append(f"[{label}] ", style="bold")
                body.append(note + "\n\n")
        except ClinituiError as exc:
            body = Text(str(exc), style="red")
        self.app.call_from_thread(self.query_one("#peek-body", Static).update, body)

    def action_close(self) -> None:
        self.dismiss(None)
