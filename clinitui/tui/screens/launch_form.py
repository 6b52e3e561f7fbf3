"""The launch screen's form: its widgets, reading them into ``LaunchValues``, presets and help lines.

A mixin of ``LaunchScreen`` (see launch.py) so each part of the screen reads on its own; Textual
finds the ``on_*`` handlers along the class's MRO, so a mixin's handlers run as the screen's own.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Footer, Input, Label, Select, Static

from clinitui.errors import ClinituiError
from clinitui.kinds import RunKind
from clinitui.tui import catalog
from clinitui.tui.launch_values import TIME_BUDGETS, LaunchValues
from clinitui.tui.messages import CatalogReady
from clinitui.tui.screens.launch_pretrain import kind_row, pretrain_rows
from clinitui.tui.widgets.dataset_preview import DatasetPreview
from clinitui.tui.widgets.plan_panel import PlanPanel

DEFAULT_BACKBONE, DEFAULT_ADAPTER = "scratch-transformer", "grn"


def options(names: dict[str, str]) -> list[tuple[str, str]]:
    return [(name, name) for name in names]


class LaunchForm:
    """The form's layout and the values it holds; the screen owns the state these methods fill."""

    backbones: dict[str, str]
    adapters: dict[str, str]
    budgets: dict[str, str]
    experiments: dict[str, str]
    preset_parts: dict[str, str]
    folder_backbones: dict[str, str]

    def compose(self) -> ComposeResult:
        yield Static(Text("New training run", style="bold"), id="launch-title")
        with VerticalScroll(id="form"):
            yield from kind_row()  # train a classifier, or pretrain a backbone (launch_pretrain.py)
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
            yield from pretrain_rows()
            yield DatasetPreview(id="preview", classes="panel")
            with Horizontal(classes="row", id="preset-row"):
                yield Label("Preset", classes="label")
                yield Select(options(self.experiments), prompt="none (choose the parts below)", id="preset",
                             compact=True)
            yield Static("", id="preset-help", classes="help")
            with Horizontal(classes="row"):
                yield Label("Backbone", classes="label")
                yield Select(options(self.backbones), value=DEFAULT_BACKBONE, allow_blank=False, id="backbone",
                             compact=True)
            yield Static("", id="backbone-help", classes="help")
            with Horizontal(classes="row", id="adapter-row"):
                yield Label("Adapter", classes="label")
                yield Select(options(self.adapters), value=DEFAULT_ADAPTER, allow_blank=False, id="adapter",
                             compact=True)
            yield Static("", id="adapter-help", classes="help")
            with Horizontal(classes="row"):
                yield Label("Budget", classes="label")
                yield Select(options(self.budgets), value="auto", allow_blank=False, id="budget", compact=True)
            yield Static("", id="budget-help", classes="help")
            with Horizontal(classes="row"):
                yield Label("Epochs", classes="label")
                yield Input(compact=True, placeholder="4", id="epochs", type="integer", classes="short")
                yield Label("LR", classes="label-short")
                yield Input(compact=True, placeholder="auto", id="lr", type="number", classes="short")
                yield Label("Seed", classes="label-short")
                yield Input(compact=True, placeholder="42", id="seed", type="integer", classes="short")
                yield Label("GPUs", classes="label-short", id="nproc-label")  # shown when several are visible
                yield Input(compact=True, placeholder="1", id="nproc", type="integer", classes="short")
            with Horizontal(classes="row"):
                yield Label("Settings", classes="label")
                yield Input(compact=True, placeholder="more key=value, e.g. train.max_length=128 model.freeze=backbone",
                            id="extra")
            with Horizontal(classes="row", id="time-budget-row"):
                yield Label("Time budget", classes="label")
                yield Select([("none: one run", "")] + [(t, t) for t in TIME_BUDGETS], value="", allow_blank=False,
                             id="time-budget", compact=True)
            yield PlanPanel(id="plan", classes="panel")
            yield Static("", id="cli-equivalent", classes="help")
        with Horizontal(id="start-row"):
            yield Button("Start ^s", id="start", variant="success", disabled=True, compact=True)
            yield Static("", id="start-reason")
        yield Footer()

    def on_catalog_ready(self, message: CatalogReady) -> None:
        cat = message.catalog
        self.backbones, self.adapters, self.budgets, self.experiments = (
            {**cat.backbones, **self.folder_backbones}, cat.adapters, cat.budgets, cat.experiments)
        self._updating = True
        try:
            for widget_id, names in (("backbone", self.backbones), ("adapter", self.adapters),
                                     ("budget", self.budgets)):
                select = self.query_one(f"#{widget_id}", Select)
                current = select.value
                select.set_options(options(names))
                if current in names:
                    select.value = current
            if self.experiments:
                self.query_one("#preset", Select).set_options(options(self.experiments))
                self.query_one("#preset-row").display = True
        finally:
            self.call_after_refresh(self._end_update)
        self.catalog_loaded = True
        self._apply_kind()
        self._refresh_help()
        self._form_changed()

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
            kind=self.run_kind(), more_data=text("more-data"), steps=text("steps"), window=text("window"),
            size=text("size"), time_budget=choice("time-budget") if self.run_kind() is RunKind.TRAIN else "",
        )

    def _apply_preset(self) -> None:
        """Fill backbone/adapter/budget and the number placeholders from the experiment preset."""
        name = self.values().preset
        self.preset_parts = {}
        if not name:
            for widget_id, default in (("epochs", "4"), ("lr", "auto"), ("seed", "42")):
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
                self.query_one(f"#{widget_id}", Select).set_options(options(names))
            self.query_one(f"#{widget_id}", Select).value = value
        for widget_id, value in (("epochs", parts.epochs), ("lr", parts.lr), ("seed", parts.seed)):
            self.query_one(f"#{widget_id}", Input).placeholder = "auto" if value is None else str(value)

    def _refresh_help(self) -> None:
        v = self.values()
        for help_widget in self.query("#preset-help"):
            help_widget.update(self.experiments.get(v.preset, ""))
        self.query_one("#backbone-help", Static).update(self.backbones.get(v.backbone, ""))
        self.query_one("#adapter-help", Static).update(self.adapters.get(v.adapter, ""))
        self.query_one("#budget-help", Static).update(self.budgets.get(v.budget, ""))

    def _end_update(self) -> None:
        self._updating = False
