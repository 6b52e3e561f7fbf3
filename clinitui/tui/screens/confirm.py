"""A yes/no question in a modal box; dismisses with True (confirm) or False."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    """``y`` confirms, ``n`` or ``escape`` cancels; the safe choice has the focus."""

    CSS_PATH = "modal.tcss"
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, detail: str, confirm_label: str = "Yes") -> None:
        super().__init__()
        self.title_text, self.detail, self.confirm_label = title, detail, confirm_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="dialog-title")
            yield Static(self.detail)
            with Horizontal(classes="buttons"):
                yield Button(f"{self.confirm_label} y", variant="error", id="yes", compact=True)
                yield Button("Cancel n", id="no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
