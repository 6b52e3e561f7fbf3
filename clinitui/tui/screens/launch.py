"""The first screen: choose data, model and budget, see the preview and plan, start a run.

Reading the dataset and planning run off the event loop (thread / subprocess workers); the form
itself is validated on every change by the same ``RunConfig`` the CLI uses, and Start stays
disabled, with the reason shown next to it, until the form can start a run.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Select, Static

from clinitui.errors import ClinituiError
from clinitui.tui import catalog
from clinitui.tui.form import LaunchValues, cli_command, problem
from clinitui.tui.messages import CatalogReady, LaunchFailed, PlanReady, PreviewReady, RunLaunched, RunsListed
from clinitui.tui.screens.polling import PollsWhileShown
from clinitui.tui.widgets.dataset_preview import DatasetPreview
from clinitui.tui.widgets.plan_panel import PlanPanel

DEFAULT_BACKBONE, DEFAULT_ADAPTER = "scratch-transformer", "grn"
PREVIEW_DEBOUNCE_S = 0.3
VALIDATE_DEBOUNCE_S = 0.15  # typing a path re-validates once per pause, not once per key


def _options(names: dict[str, str]) -> list[tuple[str, str]]:
    return [(name, name) for name in names]


class LaunchScreen(PollsWhileShown, Screen):
    """Every field is reachable with tab; ctrl+s starts, ctrl+o browses, ctrl+t peeks at notes."""

    CSS_PATH = "launch.tcss"
    BINDINGS = [
        Binding("ctrl+s", "start", "Start run"),
        Binding("ctrl+o", "browse", "Browse data"),
        Binding("ctrl+t", "peek", "Peek notes"),  # ctrl+k is the inputs' "delete to end"
    ]

    def __init__(self) -> None:
        super().__init__()
        # filled by a thread after the first frame (reading presets and registries takes a while)
        self.backbones: dict[str, str] = {DEFAULT_BACKBONE: ""}
        self.adapters: dict[str, str] = {DEFAULT_ADAPTER: ""}
        self.budgets: dict[str, str] = {"auto": catalog.AUTO_BUDGET}
        self.experiments: dict[str, str] = {}
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
        self.launching = False

    # ---- layout --------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(Text("New training run", style="bold"), id="launch-title")
        with VerticalScroll(id="form"):
            with Horizontal(classes="row"):
                yield Label("Dataset", classes="label")
                yield Input(compact=True, placeholder="empty: the built-in synthetic demo corpus", id="data-path")
                yield Button("Browse ^o", id="browse", compact=True)
            with Horizontal(classes="row", id="columns-row"):
                yield Label("Columns", classes="label")
                yield Select([("text", "text")], value="text", allow_blank=False, id="text-col", compact=True)
                yield Select([("label", "label")], value="label", allow_blank=False, id="label-col", compact=True)
                yield Select([], prompt="no split column", id="split-col", compact=True)
            with Horizontal(classes="row", id="demo-row"):
                yield Label("Demo notes", classes="label")
                yield Input(compact=True, placeholder="5400", id="demo-size", type="integer")
            yield DatasetPreview(id="preview", classes="panel")
            with Horizontal(classes="row", id="preset-row"):
                yield Label("Preset", classes="label")
                yield Select([], prompt="none (choose the parts below)", id="preset", compact=True)
            yield Static("", id="preset-help", classes="help")
            with Horizontal(classes="row"):
                yield Label("Backbone", classes="label")
                yield Select(_options(self.backbones), value=DEFAULT_BACKBONE, allow_blank=False, id="backbone",
                             compact=True)
            yield Static("", id="backbone-help", classes="help")
            with Horizontal(classes="row"):
                yield Label("Adapter", classes="label")
                yield Select(_options(self.adapters), value=DEFAULT_ADAPTER, allow_blank=False, id="adapter",
                             compact=True)
            yield Static("", id="adapter-help", classes="help")
            with Horizontal(classes="row"):
                yield Label("Budget", classes="label")
                yield Select(_options(self.budgets), value="auto", allow_blank=False, id="budget", compact=True)
            yield Static("", id="budget-help", classes="help")
            with Horizontal(classes="row"):
                yield Label("Epochs", classes="label")
                yield Input(compact=True, placeholder="4", id="epochs", type="integer", classes="short")
                yield Label("LR", classes="label-short")
                yield Input(compact=True, placeholder="1e-3", id="lr", type="number", classes="short")
                yield Label("Seed", classes="label-short")
                yield Input(compact=True, placeholder="42", id="seed", type="integer", classes="short")
                yield Label("GPUs", classes="label-short", id="nproc-label")  # shown when several are visible
                yield Input(compact=True, placeholder="1", id="nproc", type="integer", classes="short")
            with Horizontal(classes="row"):
                yield Label("Settings", classes="label")
                yield Input(compact=True, placeholder="more key=value, e.g. train.max_length=128 model.freeze=backbone",
                            id="extra")
            yield PlanPanel(id="plan", classes="panel")
            yield Static("", id="cli-equivalent", classes="help")
        with Horizontal(id="start-row"):
            yield Button("Start ^s", id="start", variant="success", disabled=True, compact=True)
            yield Static("", id="start-reason")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#data-path", Input).focus()
        self.query_one("#preset-row").display = False
        self._show_nproc(0)
        self.query_one(PlanPanel).show_note("")
        self._show_reason("loading presets…")
        # everything slow starts after the first frame, in threads: the form appears at once
        self.call_after_refresh(self.load_catalog)
        self.call_after_refresh(self._schedule_preview)
        self.call_after_refresh(self.count_running)
        self.call_after_refresh(self.count_gpus)
        self.poll(5.0, self.count_running)  # paused while hidden

    @work(thread=True, exclusive=True, group="gpus")
    def count_gpus(self) -> None:
        from clinitui.gpus import visible_gpu_count

        count = visible_gpu_count()
        self.app.call_from_thread(self._show_nproc, count)

    def _show_nproc(self, gpus: int) -> None:
        """Data-parallel processes (torchrun, docs/distributed.md) are offered with 2+ GPUs."""
        for widget_id in ("#nproc-label", "#nproc"):
            self.query_one(widget_id).display = gpus > 1
        if gpus > 1:
            self.query_one("#nproc", Input).placeholder = f"1 (of {gpus})"

    @work(thread=True, exclusive=True, group="catalog")
    def load_catalog(self) -> None:
        self.post_message(CatalogReady(catalog.load_catalog()))

    def on_catalog_ready(self, message: CatalogReady) -> None:
        cat = message.catalog
        self.backbones, self.adapters, self.budgets, self.experiments = (
            cat.backbones, cat.adapters, cat.budgets, cat.experiments)
        self._updating = True
        try:
            for widget_id, names in (("backbone", self.backbones), ("adapter", self.adapters),
                                     ("budget", self.budgets)):
                select = self.query_one(f"#{widget_id}", Select)
                current = select.value
                select.set_options(_options(names))
                if current in names:
                    select.value = current
            if self.experiments:
                self.query_one("#preset", Select).set_options(_options(self.experiments))
                self.query_one("#preset-row").display = True
        finally:
            self.call_after_refresh(self._end_update)
        self.catalog_loaded = True
        self._refresh_help()
        self._form_changed()

    # ---- reading the form ----------------------------------------------------------------------
    def values(self) -> LaunchValues:
        def text(widget_id: str) -> str:
            return self.query_one(f"#{widget_id}", Input).value

        def choice(widget_id: str) -> str:
            value = self.query_one(f"#{widget_id}", Select).value
            return "" if value is Select.NULL or value is None else str(value)

        presets = self.query("#preset")
        return LaunchValues(
            preset=choice("preset") if presets else "", preset_parts=dict(self.preset_parts),
            data_path=text("data-path"), text_col=choice("text-col") or "text",
            label_col=choice("label-col") or "label", split_col=choice("split-col"), demo_size=text("demo-size"),
            backbone=choice("backbone"), adapter=choice("adapter"), budget=choice("budget") or "auto",
            epochs=text("epochs"), lr=text("lr"), seed=text("seed"), nproc=text("nproc"), extra=text("extra"),
        )

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id in ("data-path", "demo-size"):
            self._schedule_preview()
        if self._validate_timer is not None:
            self._validate_timer.stop()
        self._validate_timer = self.set_timer(VALIDATE_DEBOUNCE_S, self._form_changed)

    def on_select_changed(self, event: Select.Changed) -> None:
        if self._updating:
            return
        if event.select.id in ("text-col", "label-col", "split-col"):
            self._schedule_preview()
        elif event.select.id == "preset":
            self._apply_preset()
        self._refresh_help()
        self._form_changed()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_start()

    def _apply_preset(self) -> None:
        """Fill backbone/adapter/budget and the number placeholders from the experiment preset."""
        name = self.values().preset
        self.preset_parts = {}
        if not name:
            for widget_id, default in (("epochs", "4"), ("lr", "1e-3"), ("seed", "42")):
                self.query_one(f"#{widget_id}", Input).placeholder = default
            return
        try:
            parts = catalog.experiment_parts(name)
        except ClinituiError as exc:
            self.notify(str(exc), severity="error")
            return
        self.preset_parts = {"backbone": parts.backbone, "adapter": parts.adapter, "budget": parts.budget}
        for widget_id, value, names in (("backbone", parts.backbone, self.backbones),
                                        ("adapter", parts.adapter, self.adapters),
                                        ("budget", parts.budget, self.budgets)):
            if value not in names:  # e.g. a Hugging Face id: offer it as a choice
                names[value] = "set by the preset"
                self.query_one(f"#{widget_id}", Select).set_options(_options(names))
            self.query_one(f"#{widget_id}", Select).value = value
        for widget_id, value in (("epochs", parts.epochs), ("lr", parts.lr), ("seed", parts.seed)):
            self.query_one(f"#{widget_id}", Input).placeholder = str(value)

    def _refresh_help(self) -> None:
        v = self.values()
        for help_widget in self.query("#preset-help"):
            help_widget.update(self.experiments.get(v.preset, ""))
        self.query_one("#backbone-help", Static).update(self.backbones.get(v.backbone, ""))
        self.query_one("#adapter-help", Static).update(self.adapters.get(v.adapter, ""))
        self.query_one("#budget-help", Static).update(self.budgets.get(v.budget, ""))

    def _form_changed(self) -> None:
        """Re-validate (cheap: pydantic) and show why Start is disabled, if it is."""
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
        enabled = self.app.planner and catalog.planner_available() and form_problem is None
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

    # ---- dataset preview (thread) -----------------------------------------------------------------
    def _schedule_preview(self) -> None:
        self.preview_ok, self.preview_error = False, None
        self.query_one(DatasetPreview).show_pending()
        if self._preview_timer is not None:
            self._preview_timer.stop()
        self._preview_timer = self.set_timer(PREVIEW_DEBOUNCE_S, self._start_preview)

    def _start_preview(self) -> None:
        v = self.values()
        key = (v.data_path.strip(), v.text_col, v.label_col, v.split_col, v.demo_size.strip())
        self.preview_key = key
        self.load_preview(key)

    @work(thread=True, exclusive=True, group="preview")
    def load_preview(self, key: tuple) -> None:
        from clinitui.tui.preview import preview_for

        self.post_message(PreviewReady(*preview_for(key)))

    def on_preview_ready(self, message: PreviewReady) -> None:
        key = message.key
        if self.preview_key is None or key[0] != self.preview_key[0]:
            return  # an answer about a path the form no longer shows
        if message.columns and message.columns != self.columns:
            self.columns = list(message.columns)
            self._set_columns(message.columns, key[1], key[2], key[3])
        self.preview_key = key
        preview = self.query_one(DatasetPreview)
        if message.error:
            self.preview_ok, self.preview_error = False, message.error
            preview.show_error(message.error)
        else:
            self.preview_ok, self.preview_error = True, None
            preview.show_stats(message.stats)
        self._form_changed()

    def _set_columns(self, columns: list[str], text_col: str, label_col: str, split_col: str) -> None:
        self._updating = True
        try:
            options = [(c, c) for c in columns]
            for widget_id, value in (("text-col", text_col), ("label-col", label_col)):
                select = self.query_one(f"#{widget_id}", Select)
                select.set_options(options)
                select.value = value if value in columns else columns[0]
            split = self.query_one("#split-col", Select)
            split.set_options(options)
            if split_col in columns:
                split.value = split_col
        finally:
            self.call_after_refresh(self._end_update)

    def _end_update(self) -> None:
        self._updating = False

    # ---- memory plan (the panel runs the planner; only its verdict matters here) -------------
    def on_plan_ready(self, message: PlanReady) -> None:
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

    # ---- running runs (so a reopened TUI points at them) --------------------------------------
    @work(thread=True, exclusive=True, group="count")
    def count_running(self) -> None:
        from clinitui.tui.listing import RunLister

        if self._lister is None:
            self._lister = RunLister(self.app.runs_root)
        self.post_message(RunsListed(self._lister.list()))

    def on_runs_listed(self, message: RunsListed) -> None:
        running = [r for r in message.runs if r.status == "running"]
        title = Text("New training run", style="bold")
        if running:
            title.append(f"   ● {len(running)} running: ctrl+r to follow", style="bold green")
        self.query_one("#launch-title", Static).update(title)

    # ---- actions -------------------------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "browse":
            self.action_browse()
        elif event.button.id == "start":
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
        self.launch(config)

    @work(thread=True, exclusive=True, group="launch")
    def launch(self, config) -> None:
        from clinitui.tui.processes import launch

        try:
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

    def on_launch_failed(self, message: LaunchFailed) -> None:
        self.launching = False
        self._form_changed_without_plan()
        self.notify(message.message, severity="error")
