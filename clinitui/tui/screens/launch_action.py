"""The launch screen's actions: browse for a file, peek at notes, start a detached worker.

A mixin of ``LaunchScreen``. Starting builds the same ``RunConfig`` the CLI would, launches the
worker in a thread (spawning a process must not block the event loop) and opens its run screen.
"""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.widgets import Button, Input

from clinitui.errors import ClinituiError
from clinitui.tui.messages import LaunchFailed, RunLaunched, SearchLaunched


class LaunchAction:
    """Buttons and key bindings of the launch screen."""

    launching: bool

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "browse":
            self.action_browse()
        elif event.button.id == "start":
            self.action_start()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_start()

    def action_browse(self) -> None:
        from clinitui.tui.screens.file_picker import FilePickerScreen

        def picked(path: Path | None) -> None:
            if path is not None:
                self.query_one("#data-path", Input).value = str(path)

        current = self.query_one("#data-path", Input).value.strip() or "."
        self.app.push_screen(FilePickerScreen(Path(current)), picked)

    def action_peek(self) -> None:
        from clinitui.tui.screens.peek import PeekScreen

        v = self.values()
        if v.data_path.strip() and not self.preview_ok:
            self.notify("the dataset is not readable yet", severity="warning")
            return
        self.app.push_screen(PeekScreen(v.data_path.strip() or None, v.text_col, v.label_col))

    def action_start(self) -> None:
        reason = self.start_problem() if self.catalog_loaded else "loading presets…"
        if reason or self.launching:
            self.notify(reason or "already starting", severity="warning")
            return
        from clinitui.tui.form import build_config

        try:
            config = build_config(self.values())
        except ClinituiError as exc:
            self.notify(str(exc), severity="error")
            return
        self.launching = True
        self.query_one("#start", Button).disabled = True
        self.launch(config, self.values().time_budget)

    @work(thread=True, exclusive=True, group="launch")
    def launch(self, config, time_budget: str = "") -> None:
        from clinitui.tui.processes import launch, launch_search

        try:
            if time_budget:
                path, pid = launch_search(config, time_budget, self.app.runs_root)
                self.post_message(SearchLaunched(path, pid))
                return
            path, pid = launch(config, self.app.runs_root)
        except ClinituiError as exc:
            self.post_message(LaunchFailed(str(exc)))
            return
        except OSError as exc:
            self.post_message(LaunchFailed(f"cannot start the worker ({exc.strerror or exc})"))
            return
        self.post_message(RunLaunched(path, pid))

    def on_run_launched(self, message: RunLaunched) -> None:
        from clinitui.tui.screens.run import RunScreen

        self.launching = False
        self._form_changed_without_plan()
        self.notify(f"worker {message.pid} started: {message.run_dir.name}")
        self.app.push_screen(RunScreen(message.run_dir))

    def on_search_launched(self, message: SearchLaunched) -> None:
        """A time-budget search runs detached; its candidates appear as runs of its trials/ folder."""
        self.launching = False
        self._form_changed_without_plan()
        self.notify(f"time-budget search {message.pid} started: {message.search_dir}; its table is "
                    f"budget.json there, and `clinitui eval {message.search_dir.name}` scores the model it keeps",
                    timeout=12)

    def on_launch_failed(self, message: LaunchFailed) -> None:
        self.launching = False
        self._form_changed_without_plan()
        self.notify(message.message, severity="error")
