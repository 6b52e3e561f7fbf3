"""Promote the selected run (runs table, ``p``): the same checks as ``clinitui promote``, after a confirmation.

The dialog asks where the model goes (DEPLOY_DIR) and, for ``--if-better``, the recent labelled
notes both models are scored on (empty: promote without a comparison). Promote is the confirmation;
the scoring runs in a thread and the outcome (promoted, refused with the reason, or the error's one
line) comes back as a notification.
"""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

LAST: dict[str, str] = {"deploy": "", "data": ""}  # this console's last answers, offered again


class PromoteScreen(ModalScreen[None]):
    CSS_PATH = "modal.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"Promote {self.run_dir.name}?", classes="dialog-title")
            yield Static("Its checkpoint replaces the deployed model atomically; the replaced one is kept as "
                         "DEPLOY_DIR.previous (`clinitui promote --rollback`). With recent notes, only if it is "
                         "not worse there (paired comparison, as eval --compare).")
            with Horizontal(classes="field-row"):
                yield Label("DEPLOY_DIR")
                yield Input(LAST["deploy"], compact=True, placeholder="folder a pipeline loads", id="promote-deploy")
            with Horizontal(classes="field-row"):
                yield Label("recent notes")
                yield Input(LAST["data"], compact=True, placeholder="labelled file for --if-better (empty: no check)",
                            id="promote-data")
            with Horizontal(classes="buttons"):
                yield Button("Promote", variant="error", id="yes", compact=True)
                yield Button("Cancel", id="no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#promote-deploy", Input).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "yes":
            self.submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def submit(self) -> None:
        deploy = self.query_one("#promote-deploy", Input).value.strip()
        data = self.query_one("#promote-data", Input).value.strip()
        if not deploy:
            self.notify("give DEPLOY_DIR: the folder a pipeline loads", severity="warning")
            return
        LAST.update(deploy=deploy, data=data)
        self.query_one("#yes", Button).disabled = True
        self.promote(Path(deploy).expanduser(), Path(data).expanduser() if data else None)

    @work(thread=True, exclusive=True, group="promote")
    def promote(self, deploy: Path, data: Path | None) -> None:
        from clinitui.errors import ClinituiError
        from clinitui.promote import promote
        from clinitui.names import resolve_checkpoint

        try:
            record = promote(resolve_checkpoint(self.run_dir), deploy, if_better=data is not None, data=data)
        except ClinituiError as exc:  # refused (exit 7 on the command line), bad input: its one line
            self.app.call_from_thread(self.notify, str(exc), severity="warning", timeout=10)
        else:
            self.app.call_from_thread(self.notify, f"promoted {record['run'] or self.run_dir.name} to {deploy}")
        self.app.call_from_thread(self.dismiss, None)
