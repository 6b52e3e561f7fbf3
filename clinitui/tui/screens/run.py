"""One run, live or replayed: stats, loss and learning-rate charts, memory, metrics, event log."""

from __future__ import annotations

import time
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent, TabPane

from clinitui.tui.follower import RunFollower
from clinitui.tui.messages import EventsPending, WorkerGone
from clinitui.tui.state import RunState
from clinitui.tui.widgets.confusion import ConfusionView
from clinitui.tui.widgets.event_log import EventLog
from clinitui.tui.widgets.loss_chart import LossChart
from clinitui.tui.widgets.lr_chart import LrChart
from clinitui.tui.widgets.memory_chart import MemoryChart
from clinitui.tui.widgets.metrics_table import MetricsTable
from clinitui.tui.widgets.mlm_table import MlmTable
from clinitui.tui.widgets.stats_bar import StatsBar

# However fast events arrive, text panels redraw at most once a second and charts (plotext
# rebuilds the whole figure: two thirds of the console's CPU while it follows a run) at most
# every 3 s, so the training beside it keeps the CPU (tests/benchmarks/tui_overhead.py).
REDRAW_EVERY_S = 1.0
CHART_EVERY_S = 3.0
CHART_TABS = ("loss", "memory")
TABS = ("loss", "memory", "metrics", "log")


class RunScreen(Screen):
    """Follows ``run_dir/events.jsonl`` through a :class:`RunFollower` thread."""

    CSS_PATH = "run.tcss"
    BINDINGS = [
        # the tab labels show the digits, so the footer keeps its room for the actions
        Binding("1", "tab('loss')", "Loss chart", show=False),
        Binding("2", "tab('memory')", "Memory chart", show=False),
        Binding("3", "tab('metrics')", "Metrics", show=False),
        Binding("4", "tab('log')", "Event log", show=False),
        Binding("s", "stop", "Stop run"),
        Binding("e", "evaluate", "Evaluate"),
        Binding("t", "train_on_backbone", "Train on backbone"),  # shown for a pretraining run only
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.state = RunState()
        self.follower: RunFollower | None = None
        self.events_applied = 0
        self._dirty: set[str] = set(TABS) | {"stats"}
        self._last_draw = 0.0
        self._last_chart = 0.0
        self._timer = None
        self._tracked: str | None = None  # where the run is also recorded (MLflow, TensorBoard), once known

    def compose(self) -> ComposeResult:
        yield StatsBar(id="stats")
        with TabbedContent(initial="loss", id="tabs"):
            with TabPane("1 Loss", id="loss"):
                yield LossChart(id="loss-chart")
                yield LrChart(id="lr-chart")
            with TabPane("2 Memory", id="memory"):
                yield MemoryChart(id="memory-chart")
            with TabPane("3 Metrics", id="metrics"):
                with VerticalScroll():
                    yield MetricsTable(id="metrics-table")
                    yield ConfusionView(id="confusion")
                    yield MlmTable(id="mlm-table")  # a pretraining run's figures, instead of the two above
            with TabPane("4 Log", id="log"):
                yield EventLog(id="event-log")
        yield Footer()

    def on_mount(self) -> None:
        self.follower = RunFollower(self.run_dir, self.post_message)
        self.follower.start()
        self._flush()

    def on_unmount(self) -> None:
        if self.follower is not None:
            self.follower.stop()

    # ---- events from the follower thread ----------------------------------------------------
    def on_events_pending(self, message: EventsPending) -> None:
        if self.follower is None:
            return
        events = self.follower.drain()
        first = self.events_applied == 0
        self.events_applied += len(events)
        was_pretrain = self.state.is_pretrain
        changed = self.state.apply(events)
        if self.state.is_pretrain != was_pretrain:
            self.refresh_bindings()  # the footer offers "Train on backbone" instead of "Evaluate"
        self._dirty |= {"stats" if name == "header" else name for name in changed}
        if first or self.state.final is not None:  # history (a replay, a run joined midway) or the end: at once
            self._flush(force=True)
        else:
            self._schedule()

    def on_worker_gone(self, message: WorkerGone) -> None:
        if self.state.final is None:
            self.state.mark_crashed(message.log_tail)
            self._dirty |= {"stats", "log"}
            self._flush(force=True)
            self.notify("the worker died without a final event: shown as crashed", severity="error")

    def _schedule(self) -> None:
        if self._timer is not None:
            return  # a redraw is already due within a second
        wait = REDRAW_EVERY_S - (time.monotonic() - self._last_draw)
        if wait <= 0:
            self._flush()
        else:
            self._timer = self.set_timer(wait, self._flush)

    def _flush(self, force: bool = False) -> None:
        """Redraw what changed; panels in hidden tabs wait until their tab is shown."""
        self._timer = None
        now = self._last_draw = time.monotonic()
        state = self.state
        if "stats" in self._dirty:
            if self._tracked is None and state.started:  # tracking.json is written at run_started
                from clinitui.tracking import where

                self._tracked = where(self.run_dir)
            self.query_one(StatsBar).show(state, self.run_dir.name, self._tracked)
            self._dirty.discard("stats")
        active = self.query_one(TabbedContent).active
        if active not in self._dirty:
            return
        if active in CHART_TABS and not force and now - self._last_chart < CHART_EVERY_S:
            wait = min(CHART_EVERY_S - (now - self._last_chart), REDRAW_EVERY_S)  # the stats bar keeps its pace
            self._timer = self.set_timer(wait, self._flush)
            return
        self._dirty.discard(active)
        if active in CHART_TABS:
            self._last_chart = now
        if active == "loss":
            self.query_one(LossChart).show(state)
            self.query_one(LrChart).show(state)
        elif active == "memory":
            self.query_one(MemoryChart).show(state)
        elif active == "metrics":
            pretrain = state.is_pretrain
            for widget, shown in ((MetricsTable, not pretrain), (ConfusionView, not pretrain), (MlmTable, pretrain)):
                self.query_one(widget).display = shown
            if pretrain:
                self.query_one(MlmTable).show(state.mlm_evals, state.started.get("unigram_loss"))
            else:
                self.query_one(MetricsTable).show(state.evals, state.test_eval, state.baseline, state.ensemble)
                self.query_one(ConfusionView).show(state.shown_eval, state.labels)
        elif active == "log":
            self.query_one(EventLog).show(state.log, state.log_count)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._flush(force=True)

    # ---- actions -------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """A pretraining run has a backbone to train on and no classifier to evaluate."""
        if action == "train_on_backbone":
            return self.state.is_pretrain
        if action == "evaluate":
            return not self.state.is_pretrain
        return True

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
        else:
            self.app.switch_mode("runs")

    def action_stop(self) -> None:
        from clinitui.tui.screens.confirm import ConfirmScreen

        if self.state.status not in ("running", "created"):
            self.notify(f"this run is {self.state.status}: nothing to stop", severity="warning")
            return

        def decided(yes: bool | None) -> None:
            if yes:
                from clinitui.launcher import stop_worker

                if stop_worker(self.run_dir):
                    self.notify("stop requested: the worker finishes its step, saves and exits")
                else:
                    self.notify("no live worker to stop", severity="warning")

        self.app.push_screen(ConfirmScreen(f"Stop {self.run_dir.name}?",
                                           "The worker finishes the current step, saves its state and exits.",
                                           "Stop run"), decided)

    def action_evaluate(self) -> None:
        from clinitui.tui.screens.evaluate import EvaluateScreen

        if self.state.is_pretrain:
            self.notify("a pretraining run makes a backbone, not a classifier: press t to train on it",
                        severity="warning")
            return
        if not (self.run_dir / "checkpoint").is_dir():
            self.notify("no checkpoint yet: it is saved after the first evaluation", severity="warning")
            return
        self.app.push_screen(EvaluateScreen(self.run_dir))

    def action_train_on_backbone(self) -> None:
        """Open the launch form with this pretraining run's backbone folder chosen as the backbone."""
        from clinitui.models.pretrained import MARKER

        folder = self.run_dir / "checkpoint"
        if not self.state.is_pretrain:
            self.notify("only a pretraining run makes a backbone to train on", severity="warning")
            return
        if not (folder / MARKER).is_file():
            self.notify("no backbone folder yet: it is written at the first held-out evaluation", severity="warning")
            return
        if self.state.status == "running":
            self.notify("still pretraining: the folder holds the latest evaluation's weights", severity="warning")
        self.app.pending_backbone = (folder, f"pretrained by {self.run_dir.name}")
        self.app.show_launch_form()  # the app knows its screens; a screen does not import another's parent
