"""Every run under the runs root: status, model, budget, best F1, duration, peak memory."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from clinitui.kinds import label as kind_label
from clinitui.kinds import RunKind, seed_members
from clinitui.runs import RunSummary
from clinitui.fmt import fmt_bytes, fmt_duration, fmt_metric
from clinitui.tui.listing import RunLister
from clinitui.tui.messages import RunsListed
from clinitui.tui.screens.polling import PollsWhileShown
from clinitui.tui.widgets.runs_table import RunsTable

REFRESH_S = 2.0


class RunsScreen(PollsWhileShown, Screen):
    """Refreshes in a thread every two seconds; enter opens a run (live or replayed)."""

    CSS_PATH = "runs.tcss"
    BINDINGS = [
        Binding("enter", "open", "Open", show=False),
        Binding("space", "mark", "Mark"),
        Binding("c", "compare", "Compare"),
        Binding("e", "evaluate", "Evaluate"),
        Binding("s", "stop", "Stop run"),
        Binding("u", "resume", "Resume"),
        Binding("p", "promote", "Promote", show=False),
        Binding("l", "label", "Label", show=False),  # label a pool with this run beside the notes (docs/labeling.md)  # docs/tui.md; the footer keeps its room
        Binding("r", "refresh", "Refresh"),
        Binding("n", "app.switch_mode('launch')", "New run"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.lister: RunLister | None = None
        self.listed = 0  # listings received (tests wait on it)

    def compose(self) -> ComposeResult:
        yield Static("", id="runs-title")
        yield RunsTable(id="runs-table")
        yield Static("", id="run-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.lister = RunLister(self.app.runs_root)
        self.query_one("#runs-title", Static).update(Text(f"Runs in {self.app.runs_root}", style="bold"))
        self.action_refresh()
        self.poll(REFRESH_S, self.action_refresh)  # paused while another screen covers this one
        self.query_one(RunsTable).focus()

    def on_screen_resume(self) -> None:
        self.action_refresh()

    @work(thread=True, exclusive=True, group="runs-list")
    def action_refresh(self) -> None:
        self.post_message(RunsListed(self.lister.list() if self.lister else []))

    def on_runs_listed(self, message: RunsListed) -> None:
        table = self.query_one(RunsTable)
        table.show(message.runs)
        self.listed += 1
        running = sum(1 for r in message.runs if r.status == "running")
        count = f"{len(message.runs)} run" + ("" if len(message.runs) == 1 else "s")
        title = f"Runs in {self.app.runs_root} · {count}, {running} running"
        if not message.runs:
            title += " · none yet: press n to start one"
        self.query_one("#runs-title", Static).update(Text(title, style="bold"))
        self._show_detail(table.current)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(self.query_one(RunsTable).current)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def _show_detail(self, run: RunSummary | None) -> None:
        detail = self.query_one("#run-detail", Static)
        if run is None:
            detail.update("")
            return
        figure = f"best val F1 {fmt_metric(run.best_f1)}"
        d = run.description
        if d is not None and d.shipped.test is not None:  # finished: both figures are the shipped predictor's
            figure = (f"predicts {d.cell()} · val {d.metric_label} {fmt_metric(d.shipped.val)} · "
                      f"test {fmt_metric(d.shipped.test)}")
        if not run.kind.classifier:  # its product is a backbone: the held-out MLM loss says how good
            figure = (f"pretrain · val MLM loss {fmt_metric(run.mlm_loss)} · "
                      f"perplexity {fmt_metric(run.perplexity, 1)}")
        elif run.kind is not RunKind.TRAIN:
            figure = f"{kind_label(run.kind, run.members)} · {figure}"
        text = Text.assemble((run.path.name, "bold"), f"  {run.status}", f" · {figure} · "
                             f"{fmt_duration(run.duration_s)} · peak {fmt_bytes(run.peak_memory_bytes)}")
        if run.error:
            label = "worker.log ends:" if run.status == "crashed" else "error:"
            text.append(f"\n{label} ", style="bold red")
            text.append(run.error.strip(), style="red")
        detail.update(text)

    # ---- actions -------------------------------------------------------------------------------
    def action_open(self) -> None:
        run = self.query_one(RunsTable).current
        if run is not None:
            from clinitui.tui.screens.run import RunScreen

            path = run.path
            if run.kind is RunKind.SEEDS:  # a group has no events of its own: follow its latest seed run
                path = seed_members(run.path)[-1]
                self.notify(f"{run.members} seed runs in this group; showing {path.name}")
            elif run.kind is RunKind.SEARCH:  # a time-budget search: the run it keeps, else its latest candidate
                from clinitui.timebudget.layout import TRIALS_DIR, best_run

                tried = sorted((run.path / TRIALS_DIR).glob("*/run.toml"), key=lambda p: p.stat().st_mtime)
                path = best_run(run.path) or (tried[-1].parent if tried else None)
                if path is None:
                    self.notify("this time-budget search has not started a candidate yet", severity="warning")
                    return
                self.notify(f"{run.members} candidates tried; showing {path.name} (budget.json has the table)")
            self.app.push_screen(RunScreen(path))

    def action_mark(self) -> None:
        self.query_one(RunsTable).toggle_mark()

    def action_compare(self) -> None:
        table = self.query_one(RunsTable)
        marked = [Path(k) for k in table.runs if k in table.marked]
        if len(marked) < 2:
            self.notify("mark at least two runs with space, then press c", severity="warning")
            return
        from clinitui.tui.screens.compare import CompareScreen

        self.app.push_screen(CompareScreen(marked))

    def action_evaluate(self) -> None:
        run = self.query_one(RunsTable).current
        if run is None:
            return
        if not run.kind.classifier:
            self.notify("a pretraining run makes a backbone, not a classifier: open it and press t to train on it",
                        severity="warning")
            return
        if not (run.path / "checkpoint").is_dir():
            self.notify("this run has no checkpoint to evaluate", severity="warning")
            return
        from clinitui.tui.screens.evaluate import EvaluateScreen

        self.app.push_screen(EvaluateScreen(run.path))

    def action_label(self) -> None:
        run = self.query_one(RunsTable).current
        if run is None or not run.kind.classifier or not (run.path / "checkpoint").is_dir():
            self.notify("pick a finished classifier run (with a checkpoint) to label with", severity="warning")
            return
        from clinitui.tui.screens.label_start import LabelStartScreen

        self.app.push_screen(LabelStartScreen(run.path, getattr(self.app, "runs_root", None)))

    def action_stop(self) -> None:
        run = self.query_one(RunsTable).current
        if run is None or run.status != "running":
            self.notify("only a running run can be stopped", severity="warning")
            return
        from clinitui.tui.screens.confirm import ConfirmScreen

        def decided(yes: bool | None) -> None:
            if yes:
                from clinitui.launcher import stop_worker

                ok = stop_worker(run.path)
                self.notify("stop requested: the worker saves and exits" if ok else "no live worker to stop",
                            severity="information" if ok else "warning")
                self.action_refresh()

        self.app.push_screen(ConfirmScreen(f"Stop {run.path.name}?",
                                           "The worker finishes the current step, saves its state and exits.",
                                           "Stop run"), decided)

    def action_resume(self) -> None:
        run = self.query_one(RunsTable).current
        if run is None or run.status not in ("stopped", "crashed", "failed"):
            self.notify("only a stopped, crashed or failed run can be resumed", severity="warning")
            return
        if not (run.path / "state" / "trainer.pt").is_file():
            self.notify("this run saved no training state to resume from; start it again", severity="warning")
            return
        from clinitui.launcher import resume_worker

        pid = resume_worker(run.path)  # a detached worker: it goes on if the console closes
        self.notify(f"resumed in worker {pid}")
        self.action_refresh()

    def action_promote(self) -> None:
        run = self.query_one(RunsTable).current
        if run is None or run.status != "finished" or not run.kind.classifier or not (run.path / "checkpoint").is_dir():
            self.notify("only a finished run with a classifier checkpoint can be promoted", severity="warning")
            return
        from clinitui.tui.screens.promote import PromoteScreen

        self.app.push_screen(PromoteScreen(run.path))
