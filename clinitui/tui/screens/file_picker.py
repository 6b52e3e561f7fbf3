"""Pick a data file from a directory tree; dismisses with the path or None."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Static

from clinitui.tui.widgets.data_file_tree import DataFileTree


class FilePickerScreen(ModalScreen[Path | None]):
    """Enter opens a folder or picks a file; backspace goes up one folder."""

    CSS_PATH = "modal.tcss"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("backspace", "up", "Parent folder"),
    ]

    def __init__(self, start: Path) -> None:
        super().__init__()
        start = Path(start).expanduser()
        self.root = start if start.is_dir() else (start.parent if start.parent.is_dir() else Path.cwd())

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Choose a dataset (CSV, TSV, JSONL, Parquet)", classes="dialog-title")
            yield Static(str(self.root), id="picker-root", classes="hint")
            yield DataFileTree(self.root, id="picker-tree")
            yield Static("enter: open / pick · backspace: parent folder · escape: cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one(DataFileTree).focus()

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        self.dismiss(Path(event.path))

    def action_up(self) -> None:
        tree = self.query_one(DataFileTree)
        parent = Path(tree.path).resolve().parent
        tree.path = parent
        self.query_one("#picker-root", Static).update(str(parent))

    def action_cancel(self) -> None:
        self.dismiss(None)
