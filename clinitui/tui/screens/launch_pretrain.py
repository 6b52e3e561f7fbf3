"""The launch screen's pretraining choice: its widgets, and the hand-over to a training run.

A mixin of ``LaunchScreen`` (see launch.py). "Run" switches the form between training a
classifier and pretraining a backbone (``clinitui pretrain`` in the detached worker, the values in
clinitui/tui/pretrain_form.py). When a pretraining run is done, its run screen's "Train on this
backbone" comes back here with the backbone folder offered and chosen in the Backbone list, so the
next run fine-tunes it (``train --backbone DIR``).
"""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Label, Select, Static

from clinitui.kinds import RunKind
from clinitui.tui.pretrain_form import KINDS

TITLES = {RunKind.TRAIN: "New training run", RunKind.PRETRAIN: "New pretraining run (masked language model)"}


def kind_row() -> ComposeResult:
    with Horizontal(classes="row", id="kind-row"):
        yield Label("Run", classes="label")
        yield Select(list(KINDS), value=RunKind.TRAIN, allow_blank=False, id="run-kind", compact=True)


def pretrain_rows() -> ComposeResult:
    """Shown only for a pretraining run: more unlabeled text, and how long / wide / big."""
    with Horizontal(classes="row pretrain-only", id="more-data-row"):
        yield Label("More text", classes="label")
        yield Input(compact=True, placeholder="more unlabeled files, comma-separated (labels ignored)", id="more-data")
    with Horizontal(classes="row pretrain-only", id="pretrain-row"):
        yield Label("Steps", classes="label")
        yield Input(compact=True, placeholder="12 passes", id="steps", type="integer", classes="short")
        yield Label("Window", classes="label-short")
        yield Input(compact=True, placeholder="128", id="window", type="integer", classes="short")
        yield Label("Size", classes="label-short")
        yield Input(compact=True, placeholder="mini", id="size", classes="short")
    yield Static("Test rows (by the split column, or train's own split of a labelled file) are left out: "
                 "test text is never seen. The product is a backbone folder that a training run fine-tunes.",
                 classes="help pretrain-only", id="pretrain-help")


class LaunchPretrain:
    """Shows the rows that belong to the chosen kind of run; takes a pretrained backbone folder."""

    backbones: dict[str, str]
    folder_backbones: dict[str, str]

    def run_kind(self) -> RunKind:
        value = self.query_one("#run-kind", Select).value
        return RunKind.PRETRAIN if value == RunKind.PRETRAIN else RunKind.TRAIN

    def _apply_kind(self) -> None:
        pretrain = self.run_kind() is RunKind.PRETRAIN
        for widget in self.query(".pretrain-only"):
            widget.display = pretrain
        for widget_id in ("#adapter-row", "#adapter-help", "#preset-help", "#time-budget-row"):
            self.query_one(widget_id).display = not pretrain
        self.query_one("#preset-row").display = bool(self.experiments) and not pretrain
        self._show_nproc()  # pretraining runs in one process
        self._show_title()

    def use_backbone_folder(self, folder: Path, note: str = "") -> None:
        """Offer ``folder`` (a pretrained backbone) in the Backbone list and choose it, for training."""
        key = str(folder)
        self.folder_backbones[key] = note or "a backbone folder made by `clinitui pretrain`"
        self.backbones = {**self.backbones, **self.folder_backbones}
        self._updating = True
        try:
            self.query_one("#run-kind", Select).value = RunKind.TRAIN
            select = self.query_one("#backbone", Select)
            select.set_options([(name, name) for name in self.backbones])
            select.value = key
        finally:
            self.call_after_refresh(self._end_update)
        self._apply_kind()
        self._refresh_help()
        self._schedule_preview()  # a training run needs labels again
        self._form_changed()
