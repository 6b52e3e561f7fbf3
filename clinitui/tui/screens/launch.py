"""The first screen: choose data, model and budget, see the preview and plan, start a run.

Reading the dataset and planning run off the event loop (thread / subprocess workers); the form
itself is validated on every change by the same ``RunConfig`` the CLI uses, and Start stays
disabled, with the reason shown next to it, until the form can start a run.

The screen is assembled from one mixin per job, each in its own module: the form
(launch_form.py), the dataset preview (launch_preview.py), the validation and memory-plan gate
(launch_plan.py) and the actions (launch_action.py). This module holds the state they share, the
key bindings and the change handlers that route between them.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Select, Static

from clinitui.kinds import RunKind
from clinitui.tui import catalog
from clinitui.tui.messages import CatalogReady, RunsListed
from clinitui.tui.screens.launch_action import LaunchAction
from clinitui.tui.screens.launch_form import DEFAULT_ADAPTER, DEFAULT_BACKBONE, LaunchForm
from clinitui.tui.screens.launch_plan import LaunchPlan
from clinitui.tui.screens.launch_preview import LaunchPreview
from clinitui.tui.screens.launch_pretrain import TITLES, LaunchPretrain
from clinitui.tui.screens.polling import PollsWhileShown
from clinitui.tui.widgets.plan_panel import PlanPanel

VALIDATE_DEBOUNCE_S = 0.15  # typing a path re-validates once per pause, not once per key
_UNSEEN = object()  # a select whose value this screen has not seen yet


class LaunchScreen(LaunchForm, LaunchPretrain, LaunchPreview, LaunchPlan, LaunchAction, PollsWhileShown, Screen):
    """Every field is reachable with tab; ctrl+s starts, ctrl+o browses, ctrl+t peeks at notes."""

    CSS_PATH = "launch.tcss"
    AUTO_FOCUS = "#data-path"  # focused once by Textual: a second focus change restyles the whole form
    BINDINGS = [
        Binding("ctrl+s", "start", "Start run"),
        Binding("ctrl+o", "browse", "Browse data"),
        Binding("ctrl+t", "peek", "Peek notes"),  # ctrl+k is the inputs' "delete to end"
    ]

    def __init__(self) -> None:
        super().__init__()
        # the cached catalogue fills the first frame; a thread reads presets and registries (again) after it
        cached = catalog.cached_catalog()
        self.backbones: dict[str, str] = cached.backbones if cached else {DEFAULT_BACKBONE: ""}
        self.adapters: dict[str, str] = cached.adapters if cached else {DEFAULT_ADAPTER: ""}
        self.budgets: dict[str, str] = cached.budgets if cached else {"auto": catalog.AUTO_BUDGET}
        self.experiments: dict[str, str] = cached.experiments if cached else {}
        self.catalog_loaded = False
        self.preset_parts: dict[str, str] = {}
        self.preview_key: tuple | None = None
        self.preview_ok = False
        self.preview_error: str | None = None
        self.columns: list[str] = []
        self.plan_problem: str | None = None
        self._updating = False
        self._preview_timer = None
        self._validate_timer = None
        self._lister = None
        self._select_values: dict[str | None, object] = {}  # each select's last value seen
        self.launching = False
        self.folder_backbones: dict[str, str] = {}  # pretrained backbone folders offered as backbones
        self.running = 0  # runs running under the runs root (the title says so)
        self.gpus = 0  # visible GPUs (several: the GPUs field is offered)

    def on_mount(self) -> None:
        # the selects announce their first values after this: nothing changed, nothing to redo (a few
        # hundredths of a second before the first frame)
        self._select_values = {select.id: select.value for select in self.query(Select)}
        self._refresh_help()
        self._apply_kind()
        self._show_nproc(0)
        self.query_one(PlanPanel).show_note("")
        self._show_reason("loading presets…")
        # everything slow starts after the first frame, in threads: the form appears at once
        self.call_after_refresh(self.load_catalog)
        self.call_after_refresh(self._schedule_preview)
        self.call_after_refresh(self.count_running)
        self.call_after_refresh(self.count_gpus)
        self.poll(5.0, self.count_running)  # paused while hidden
        self._take_pending_backbone()

    def on_screen_resume(self) -> None:
        self._take_pending_backbone()

    def _take_pending_backbone(self) -> None:
        """A run screen's "Train on this backbone" left a pretrained folder for this form."""
        folder = getattr(self.app, "pending_backbone", None)
        if folder is not None:
            self.app.pending_backbone = None
            self.use_backbone_folder(*folder)

    @work(thread=True, exclusive=True, group="gpus")
    def count_gpus(self) -> None:
        from clinitui.gpus import visible_gpu_count

        count = visible_gpu_count()
        self.app.call_from_thread(self._show_nproc, count)

    def _show_nproc(self, gpus: int | None = None) -> None:
        """Data-parallel processes (torchrun, docs/distributed.md) are offered with 2+ GPUs, for training."""
        self.gpus = self.gpus if gpus is None else gpus
        gpus = self.gpus
        for widget_id in ("#nproc-label", "#nproc"):
            self.query_one(widget_id).display = gpus > 1 and self.run_kind() is RunKind.TRAIN
        if gpus > 1:
            self.query_one("#nproc", Input).placeholder = f"1 (of {gpus})"

    @work(thread=True, exclusive=True, group="catalog")
    def load_catalog(self) -> None:
        self.post_message(CatalogReady(catalog.load_catalog()))

    # ---- routing changes between the parts ------------------------------------------------------
    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id in ("data-path", "demo-size"):
            self._schedule_preview()
        if self._validate_timer is not None:
            self._validate_timer.stop()
        self._validate_timer = self.set_timer(VALIDATE_DEBOUNCE_S, self._form_changed)

    def on_select_changed(self, event: Select.Changed) -> None:
        if self._select_values.get(event.select.id, _UNSEEN) == event.value:
            return
        self._select_values[event.select.id] = event.value
        if event.select.id == "run-kind":  # even mid-update (idempotent): the rows must follow the choice
            self._apply_kind()
            self._schedule_preview()  # a pretraining file needs no labels
            self._form_changed()
            return
        if self._updating:
            return
        if event.select.id in ("text-col", "label-col", "split-col"):
            self._schedule_preview()
        elif event.select.id == "preset":
            self._apply_preset()
        self._refresh_help()
        self._form_changed()

    # ---- running runs (so a reopened TUI points at them) --------------------------------------
    @work(thread=True, exclusive=True, group="count")
    def count_running(self) -> None:
        from clinitui.tui.listing import RunLister

        if self._lister is None:
            self._lister = RunLister(self.app.runs_root)
        self.post_message(RunsListed(self._lister.list()))

    def on_runs_listed(self, message: RunsListed) -> None:
        self.running = sum(1 for r in message.runs if r.status == "running")
        self._show_title()

    def _show_title(self) -> None:
        title = Text(TITLES[self.run_kind()], style="bold")
        if self.running:
            title.append(f"   ● {self.running} running: ctrl+r to follow", style="bold green")
        self.query_one("#launch-title", Static).update(title)
