"""Several runs side by side: one column per run, and their loss curves on one chart."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static, TabbedContent, TabPane
from textual_plotext import PlotextPlot

from clinitui.events import read_events
from clinitui.runs import summarize
from clinitui.fmt import ellipsize, fmt_bytes, fmt_duration, fmt_metric, fmt_params, short_run_name
from clinitui.tui.state import RunState

COLORS = ("cyan", "yellow", "green", "magenta", "red", "blue", "white")


def load(path: Path) -> tuple[RunState, str]:
    """Fold a run's whole event file (thread side)."""
    events = read_events(path)
    state = RunState()
    state.apply(events)
    status = state.status if state.final is not None else summarize(path, events).status
    return state, status


def comparison_table(runs: list[tuple[Path, RunState, str]]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False, expand=False)
    table.add_column("", style="bold")
    for i, (path, _, _) in enumerate(runs):
        table.add_column(Text(f"#{i + 1} {short_run_name(path.name)}", style=f"bold {COLORS[i % len(COLORS)]}"),
                         justify="right")

    def row(label: str, values: list[str]) -> None:
        table.add_row(label, *values)

    states = [(s, st) for _, s, st in runs]
    row("status", [st for _, st in states])
    row("backbone", [ellipsize(s.config.get("model", {}).get("backbone", "?"), 16) for s, _ in states])
    row("adapter", [s.config.get("model", {}).get("adapter", "?") for s, _ in states])
    row("budget", [s.config.get("budget", {}).get("name", "?") for s, _ in states])
    row("device", [s.started.get("device", "?") for s, _ in states])
    row("trainable", [fmt_params((s.started.get("params") or {}).get("trainable")) for s, _ in states])
    row("epochs run", [str(len(s.evals)) for s, _ in states])
    row("best val F1", [fmt_metric((s.best_eval or {}).get("f1_macro")) for s, _ in states])
    for key, label in (("accuracy", "test accuracy"), ("precision_macro", "test precision"),
                       ("recall_macro", "test recall"), ("f1_macro", "test F1")):
        row(label, [fmt_metric((s.test_eval or {}).get(key)) for s, _ in states])
    row("baseline F1", [fmt_metric((s.baseline or {}).get("f1_macro")) for s, _ in states])
    row("duration", [fmt_duration(s.elapsed) for s, _ in states])
    row("peak memory", [fmt_bytes(s.peak_memory) for s, _ in states])
    row("tokens/s", [f"{s.last_step['tokens_per_s']:.0f}" if s.last_step.get("tokens_per_s") else "-"
                     for s, _ in states])
    return table


class CompareScreen(Screen):
    """Read-only; escape goes back to the runs list."""

    CSS_PATH = "compare.tcss"
    BINDINGS = [
        Binding("1", "tab('compare-numbers')", "Numbers", show=False),
        Binding("2", "tab('compare-curves')", "Loss curves", show=False),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self, paths: list[Path]) -> None:
        super().__init__()
        self.paths = [Path(p) for p in paths]
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Static(Text(f"Comparing {len(self.paths)} runs", style="bold"), id="compare-title")
        with TabbedContent(initial="compare-numbers"):
            with TabPane("1 Numbers", id="compare-numbers"):
                with VerticalScroll():
                    yield Static("reading runs…", id="compare-table")
            with TabPane("2 Loss curves", id="compare-curves"):
                yield PlotextPlot(id="compare-chart")
        yield Footer()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def on_mount(self) -> None:
        self.load_runs()

    @work(thread=True, exclusive=True)
    def load_runs(self) -> None:
        runs = [(p, *load(p)) for p in self.paths]
        self.app.call_from_thread(self._show, runs)

    def _show(self, runs: list[tuple[Path, RunState, str]]) -> None:
        self.query_one("#compare-table", Static).update(comparison_table(runs))
        chart = self.query_one("#compare-chart", PlotextPlot)
        plt = chart.plt
        plt.clear_data()
        plt.clear_figure()
        for i, (path, state, _) in enumerate(runs):
            if state.loss:
                steps, values = zip(*state.loss)
                model = state.config.get("model", {})
                label = f"#{i + 1} {model.get('backbone', '?')} + {model.get('adapter', '?')}"
                plt.plot(list(steps), list(values), label=label, color=COLORS[i % len(COLORS)], marker="hd")
        plt.title("train loss per step")
        plt.xlabel("step")
        chart.refresh()
        self.loaded = True
