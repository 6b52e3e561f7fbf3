"""The launch screen's dataset preview: read the chosen file in a thread, offer its columns.

A mixin of ``LaunchScreen``. Reading is debounced (one read per pause in typing) and an answer
about a path the form no longer shows is dropped.
"""

from __future__ import annotations

from textual import work
from textual.widgets import Select

from clinitui.tui.messages import PreviewReady
from clinitui.tui.widgets.dataset_preview import DatasetPreview

PREVIEW_DEBOUNCE_S = 0.3


class LaunchPreview:
    """Keeps ``preview_ok`` / ``preview_error`` / ``columns`` on the screen up to date."""

    preview_key: tuple | None
    preview_ok: bool
    preview_error: str | None
    columns: list[str]

    def _schedule_preview(self) -> None:
        self.preview_ok, self.preview_error = False, None
        self.query_one(DatasetPreview).show_pending()
        if self._preview_timer is not None:
            self._preview_timer.stop()
        self._preview_timer = self.set_timer(PREVIEW_DEBOUNCE_S, self._start_preview)

    def _start_preview(self) -> None:
        v = self.values()
        key = (v.data_path.strip(), v.text_col, v.label_col, v.split_col, v.demo_size.strip(), v.kind)
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
