"""The runs table: one row per run directory; space marks rows for comparison."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from clinitui.kinds import RunKind
from clinitui.kinds import label as kind_label
from clinitui.runs import RunSummary
from clinitui.fmt import ellipsize, fmt_bytes, fmt_duration, fmt_metric, short_run_name
from clinitui.tui.widgets.stats_bar import STATUS_STYLE

# Sized to fit 80 columns with the table's cell padding; the full names are in the detail pane.
COLUMNS = (("started", "  started"), ("status", "status"), ("kind", "kind"), ("backbone", "backbone"),
           ("adapter", "adapter"), ("budget", "budget"), ("f1", "F1"), ("time", "time"), ("peak", "peak"))


class RunsTable(DataTable):
    """Row keys are run directory paths (strings); ``marked`` holds the marked ones."""

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.marked: set[str] = set()
        self.runs: dict[str, RunSummary] = {}

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def on_resize(self) -> None:
        if self.runs:  # re-cut the names for the new width
            self.show(list(self.runs.values()), rebuild=True)

    def _started(self, r: RunSummary) -> Text:
        mark = "● " if str(r.path) in self.marked else "  "
        return Text.assemble((mark, "bold cyan"), short_run_name(r.path.name))

    def _cells(self, r: RunSummary) -> list:
        # names are cut to fit 80 columns; a wider terminal shows more of them
        wide = self.size.width >= 96
        return [
            self._started(r),
            Text(r.status, style=STATUS_STYLE.get(r.status, "")),
            Text(kind_label(r.kind, r.members), style="" if r.kind is RunKind.TRAIN else "bold"),
            ellipsize(r.backbone, 19 if wide else 9),
            ellipsize(r.adapter, 13 if wide else 6) if r.kind.has_adapter else "-",
            ellipsize(r.budget, 9 if wide else 5),
            # a pretraining run's figure is its held-out MLM loss (lower is better), not an F1
            fmt_metric(r.best_f1) if r.kind.classifier else Text(fmt_metric(r.mlm_loss, 2), style="italic"),
            fmt_duration(r.duration_s),
            fmt_bytes(r.peak_memory_bytes),
        ]

    def show(self, runs: list[RunSummary], rebuild: bool = False) -> None:
        """Replace the rows, keeping the cursor on the same run (cells updated in place when the
        same runs are listed, so the refresh every two seconds does not flicker)."""
        current = self.current_key
        self.runs = {str(r.path): r for r in runs}
        self.marked &= set(self.runs)
        keys = [str(r.path) for r in runs]
        if not rebuild and keys == [k.value for k in self.rows]:
            for r in runs:
                for (col, _), value in zip(COLUMNS, self._cells(r)):
                    self.update_cell(str(r.path), col, value)
            return
        self.clear(columns=True)
        for key, label in COLUMNS:
            self.add_column(label, key=key)
        for r in runs:
            self.add_row(*self._cells(r), key=str(r.path))
        if current in keys:
            self.move_cursor(row=keys.index(current))

    @property
    def current_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:  # cursor outside the (just cleared) table
            return None

    @property
    def current(self) -> RunSummary | None:
        key = self.current_key
        return self.runs.get(key) if key else None

    def toggle_mark(self) -> None:
        key = self.current_key
        if key is None:
            return
        self.marked ^= {key}
        self.update_cell(key, "started", self._started(self.runs[key]))
