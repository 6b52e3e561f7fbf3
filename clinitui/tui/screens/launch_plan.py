"""The launch screen's gate: validate the form, ask the plan panel for a memory plan, say why Start waits.

A mixin of ``LaunchScreen``. Start is enabled exactly when ``start_problem`` finds nothing: the
form's own problem first, then the dataset's, then the planner's refusal.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Button, Static

from clinitui.kinds import RunKind
from clinitui.tui import catalog
from clinitui.tui.form import cli_command, problem
from clinitui.tui.launch_values import LaunchValues
from clinitui.tui.messages import PlanReady
from clinitui.tui.widgets.plan_panel import PlanPanel


class LaunchPlan:
    """Re-validates on every change (cheap: pydantic) and shows the verdict next to Start."""

    plan_problem: str | None
    launching: bool

    def _form_changed(self) -> None:
        """Re-validate and show why Start is disabled, if it is; then re-plan."""
        if not self.catalog_loaded:
            return
        values = self.values()
        self.plan_problem = None  # a refusal was about the previous values
        demo = not values.data_path.strip()
        self.query_one("#columns-row").display = not demo
        self.query_one("#demo-row").display = demo
        form_problem = problem(values)
        self._show_reason(self.start_problem(values, form_problem))
        self.query_one("#cli-equivalent", Static).update(Text(cli_command(values), style="dim"))
        # the planner is `clinitui train --dry-run`: a pretraining run is planned by its worker
        enabled = self.app.planner and catalog.planner_available() and form_problem is None and values.kind == RunKind.TRAIN
        self.query_one(PlanPanel).request(values, enabled=enabled)

    def start_problem(self, values: LaunchValues | None = None, form_problem: str | None = "") -> str | None:
        """Why Start is disabled: the form's own problem, the dataset's, or the planner's refusal."""
        values = values or self.values()
        reason = problem(values) if form_problem == "" else form_problem
        if reason:
            return reason
        if self.preview_error:
            return self.preview_error
        if values.data_path.strip() and not self.preview_ok:
            return "reading the dataset…"
        return self.plan_problem

    def on_plan_ready(self, message: PlanReady) -> None:
        """The panel ran the planner; only its verdict matters here."""
        if message.key != cli_command(self.values()):
            return  # about values the form no longer has
        self.plan_problem = message.note if message.blocking else None
        self._form_changed_without_plan()

    def _form_changed_without_plan(self) -> None:
        if self.catalog_loaded:
            self._show_reason(self.start_problem())

    def _show_reason(self, reason: str | None) -> None:
        """Start is enabled exactly when there is no reason against it; the reason is shown."""
        self.query_one("#start", Button).disabled = reason is not None or self.launching
        self.query_one("#start-reason", Static).update(
            Text(reason, style="yellow") if reason else Text("ready: ctrl+s starts a detached worker", style="green"))
