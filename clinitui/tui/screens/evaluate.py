"""Evaluate a run's checkpoint on a labelled file with ``clinitui eval`` in a subprocess.

The subprocess keeps torch out of the TUI process and the event loop free; the report is the
same JSON ``clinitui eval --json`` prints.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from rich.console import Group
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from clinitui.fmt import fmt_metric
from clinitui.tui.widgets.confusion import confusion_table, per_class_table


def eval_command(checkpoint: Path, data: str, text_col: str, label_col: str, split_col: str) -> list[str]:
    cmd = [sys.executable, "-m", "clinitui", "eval", str(checkpoint), "--data", data, "--json",
           "--text-col", text_col or "text", "--label-col", label_col or "label"]
    if split_col:
        cmd += ["--split-col", split_col]
    return cmd


def report_command(run_dir: Path, data: str, text_col: str, label_col: str, split_col: str) -> list[str]:
    """``clinitui report`` for the run: its own test split, or ``data`` when given."""
    cmd = [sys.executable, "-m", "clinitui", "report", str(run_dir), "--out", str(Path(run_dir) / "report.html")]
    if data:
        cmd += ["--data", data, "--text-col", text_col or "text", "--label-col", label_col or "label"]
        if split_col:
            cmd += ["--split-col", split_col]
    return cmd


def with_ci(metrics: dict, key: str) -> str:
    """``0.861 [0.842, 0.879]`` (the interval when ``clinitui eval`` gave one)."""
    ci = metrics.get(f"{key}_ci")
    text = fmt_metric(metrics.get(key))
    return f"{text} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci and metrics.get(key) is not None else text


def assessment(metrics: dict, run_metrics: dict | None) -> Text:
    """Operating point, calibration and the comparisons, one line each (after any undefined-metric warning)."""
    lines = [f"warning: {w}" for w in metrics.get("warnings") or []]
    model = metrics.get("model") or {}
    if model.get("summary"):  # what computed these predictions (clinitui/describe.py)
        lines.append(f"model: {model['summary']}")
    op = metrics.get("operating_point")
    if op:
        lines.append(f"operating point {op['threshold']:.3f} ({op['rule']}): sensitivity {with_ci(op, 'sensitivity')}"
                     f" · specificity {with_ci(op, 'specificity')} · PPV {with_ci(op, 'ppv')} · NPV {with_ci(op, 'npv')}")
        if op.get("warning"):
            lines.append(f"warning: {op['warning']}")
    cal = metrics.get("calibration")
    if cal:
        lines.append(f"calibration: T {cal['temperature']:.2f} · Brier {fmt_metric(cal['brier'], 4)} · "
                     f"ECE {fmt_metric(cal['ece'], 4)}")
    if metrics.get("vs_baseline"):  # on this file, against the checkpoint's own TF-IDF member
        lines.append(f"on this file: {metrics['vs_baseline']['verdict']}")
    if metrics.get("vs_compare"):
        lines.append(metrics["vs_compare"]["verdict"])
    baseline = (run_metrics or {}).get("vs_baseline")
    if baseline:  # measured by the training run on its own test split
        lines.append(f"on the run's test split: {baseline['verdict']}")
    return Text("\n".join(lines) + ("\n" if lines else ""))


def report(metrics: dict, run_metrics: dict | None = None) -> Group:
    head = Text(f"{Path(metrics.get('data', '?')).name} [{metrics.get('split', 'all')}] · n={metrics.get('n', '?')}"
                " · 95% intervals\n"
                + (f"micro-F1 {with_ci(metrics, 'f1_micro')} · samples-F1 {with_ci(metrics, 'f1_samples')} · "
                   f"subset accuracy {with_ci(metrics, 'subset_accuracy')}\n" if "f1_micro" in metrics else "")
                + f"accuracy {with_ci(metrics, 'accuracy')} · F1 {with_ci(metrics, 'f1_macro')}"
                f" · ROC-AUC {with_ci(metrics, 'roc_auc')}\n"
                f"precision {with_ci(metrics, 'precision_macro')} · recall {with_ci(metrics, 'recall_macro')}\n",
                style="bold")
    labels = metrics.get("labels") or list(metrics.get("per_class") or [])
    return Group(head, assessment(metrics, run_metrics), confusion_table(metrics.get("confusion_matrix") or [], labels),
                 Text(""), per_class_table(metrics.get("per_class") or metrics.get("per_label") or {}))


class EvaluateScreen(ModalScreen[dict | None]):
    """Dismisses with the metrics dict of the last successful evaluation (or None)."""

    CSS_PATH = "modal.tcss"
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("ctrl+o", "browse", "Browse"),
        Binding("ctrl+s", "evaluate", "Evaluate"),
        Binding("ctrl+g", "write_report", "HTML report"),
    ]

    def __init__(self, run_dir: Path, data: str = "") -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.checkpoint = self.run_dir / "checkpoint"
        self.initial_data = data
        self.metrics: dict | None = None
        self.report_path: str | None = None  # the last HTML report written

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"Evaluate the checkpoint of {self.run_dir.name}", classes="dialog-title")
            with Horizontal(classes="field-row"):
                yield Label("data file")
                yield Input(self.initial_data, compact=True, placeholder="path to a labelled CSV/TSV/JSONL/Parquet", id="eval-data")
            with Horizontal(classes="field-row"):
                yield Label("text / label")
                yield Input("text", compact=True, id="eval-text")
                yield Input("label", compact=True, id="eval-label")
                yield Input("", compact=True, placeholder="split col", id="eval-split")
            with VerticalScroll(id="eval-report"):
                yield Static("", id="eval-result")
            with Horizontal(classes="buttons"):
                yield Button("Evaluate ^s", variant="primary", id="eval-go", compact=True)
                yield Button("Report ^g", id="eval-report-go", compact=True)
                yield Button("Close esc", id="eval-close", compact=True)

    def on_mount(self) -> None:
        self.query_one("#eval-data", Input).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "eval-go":
            self.action_evaluate()
        elif event.button.id == "eval-report-go":
            self.action_write_report()
        else:
            self.action_close()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_evaluate()

    def action_browse(self) -> None:
        from clinitui.tui.screens.file_picker import FilePickerScreen

        def picked(path: Path | None) -> None:
            if path is not None:
                self.query_one("#eval-data", Input).value = str(path)

        current = self.query_one("#eval-data", Input).value or "."
        self.app.push_screen(FilePickerScreen(Path(current)), picked)

    def action_evaluate(self) -> None:
        data = self.query_one("#eval-data", Input).value.strip()
        if not data:
            self._show(Text("give a labelled data file first (ctrl+o to browse)", style="red"))
            return
        self._show(Text("evaluating… (a separate process loads the checkpoint)", style="dim"))
        self.query_one("#eval-go", Button).disabled = True
        self.run_eval(eval_command(self.checkpoint, data, self.query_one("#eval-text", Input).value.strip(),
                                   self.query_one("#eval-label", Input).value.strip(),
                                   self.query_one("#eval-split", Input).value.strip()))

    @work(exclusive=True, group="evaluate")
    async def run_eval(self, cmd: list[str]) -> None:
        proc = await asyncio.create_subprocess_exec(*cmd, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        self.query_one("#eval-go", Button).disabled = False
        if proc.returncode == 0:
            try:
                self.metrics = json.loads(out)
            except json.JSONDecodeError:
                self._show(Text("clinitui eval printed no JSON report", style="red"))
                return
            from clinitui.describe import read_metrics

            self._show(report(self.metrics, read_metrics(self.run_dir)))
            return
        lines = [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
        self._show(Text(lines[-1] if lines else f"clinitui eval failed (exit code {proc.returncode})", style="red"))

    def action_write_report(self) -> None:
        """Write report.html into the run folder (the run's test split, or the data file when given)."""
        self.report_path = None
        self._show(Text("writing the HTML report… (a separate process)", style="dim"))
        self.query_one("#eval-report-go", Button).disabled = True
        self.run_report(report_command(self.run_dir, self.query_one("#eval-data", Input).value.strip(),
                                       self.query_one("#eval-text", Input).value.strip(),
                                       self.query_one("#eval-label", Input).value.strip(),
                                       self.query_one("#eval-split", Input).value.strip()))

    @work(exclusive=True, group="report")
    async def run_report(self, cmd: list[str]) -> None:
        proc = await asyncio.create_subprocess_exec(*cmd, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        self.query_one("#eval-report-go", Button).disabled = False
        if proc.returncode == 0:
            self.report_path = out.decode("utf-8", "replace").strip()
            self._show(Text(f"report written: {self.report_path}\n(and report.json beside it; open it in a browser, "
                            "it needs no network)", style="green"))
            return
        lines = [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
        self._show(Text(lines[-1] if lines else f"clinitui report failed (exit code {proc.returncode})", style="red"))

    def _show(self, renderable) -> None:
        self.query_one("#eval-result", Static).update(renderable)

    def action_close(self) -> None:
        self.dismiss(self.metrics)
