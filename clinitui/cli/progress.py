"""Training progress on stderr: a Rich bar in a terminal, plain periodic lines otherwise (cron)."""

from __future__ import annotations

import sys
import time

from clinitui.fmt import fmt_params


def _fmt_counts(counts: dict) -> str:
    from clinitui.data.guard import summarize_counts  # many classes: the top ones and "… N more"

    return "  ".join(f"{split}: " + summarize_counts(by_label) for split, by_label in counts.items())


class PlainProgress:
    """One line per event of interest, at most every ``every`` seconds for steps."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self._last = 0.0

    def __call__(self, event: dict) -> None:
        line = self.format(event)
        if line:
            self.write(line)

    def write(self, line: str) -> None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def format(self, event: dict) -> str | None:
        kind = event["type"]
        line = None
        if kind == "run_started":
            p = event["params"]
            line = (f"run {event['run_dir']}\n  data {event['data_source']} ({event['split']})\n"
                    f"  classes {_fmt_counts(event['counts'])}\n"
                    f"  model {event['config']['model']['backbone']} + {event['config']['model']['adapter']}, "
                    f"{fmt_params(p['trainable'])} trainable / {fmt_params(p['total'])} parameters, freeze={event['freeze']}, "
                    f"device {event['device']}")
            if event.get("truncation"):  # --long-notes: how many notes exceed the window, what is dropped
                from clinitui.data.windows import describe

                line += "\n  " + describe(event["truncation"])
            if event.get("epochs_raised"):  # a small training split got more epochs (engine/train/auto_epochs.py)
                from clinitui.engine.train.auto_epochs import describe as epochs_line

                line += "\n  " + epochs_line(event["epochs_raised"])
            if event.get("lr_auto"):  # train.lr was unset: chosen from what trains (engine/train/auto_lr.py)
                from clinitui.engine.train.auto_lr import line as lr_line

                line += "\n  " + lr_line(event["lr_auto"])
        elif kind == "step":
            now = time.monotonic()
            if now - self._last >= self.every or event["step"] == event["total_steps"]:
                self._last = now
                line = (f"epoch {event['epoch']} step {event['step']}/{event['total_steps']} "
                        f"loss {event['loss']:.4f} lr {event['lr']:.2e} {event['tokens_per_s']:.0f} tok/s")
        elif kind == "baseline":
            line = f"baseline (TF-IDF + logistic regression) test macro-F1 {event['f1_macro']:.4f}"
        elif kind == "ensemble":
            line = (f"ensemble with TF-IDF: network weight {event['weight']} chosen on val (val macro-F1 "
                    f"{event['val_f1_macro']:.4f}; network {event['network_val_f1_macro']:.4f}, "
                    f"TF-IDF {event['tfidf_val_f1_macro']:.4f})" + (f"; {event['reason']}" if event.get("reason") else ""))
        elif kind == "eval" and "f1_micro" in event:  # multi-label (engine/evaluate/multilabel.py)
            line = (f"{event['split']} epoch {event['epoch']}: micro-F1 {event['f1_micro']:.4f} "
                    f"macro-F1 {event['f1_macro']:.4f} subset accuracy {event['subset_accuracy']:.4f}")
        elif kind == "eval":
            line = f"{event['split']} epoch {event['epoch']}: macro-F1 {event['f1_macro']:.4f} accuracy {event['accuracy']:.4f}"
        elif kind == "checkpoint":
            line = f"checkpoint saved (epoch {event['epoch']}, val {event.get('metric', 'f1_macro')} {event['value']:.4f})"
        elif kind in ("warning", "oom_backoff"):
            line = f"{kind}: {event.get('message', event)}"
        return line

    def close(self) -> None:
        pass


class RichProgress(PlainProgress):
    """A live progress bar; other events print above it."""

    def __init__(self) -> None:
        super().__init__()
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from clinitui.cli.common import err_console

        self.console = err_console()
        self.bar = Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                            TimeRemainingColumn(), console=self.console, transient=True)
        self.task = None

    def __call__(self, event: dict) -> None:
        kind = event["type"]
        if kind == "step":
            if self.task is None:
                self.bar.start()
                self.task = self.bar.add_task("train", total=event["total_steps"], info="")
            self.bar.update(self.task, completed=event["step"], total=event["total_steps"],
                            info=f"epoch {event['epoch']} loss {event['loss']:.4f} {event['tokens_per_s']:.0f} tok/s")
            return
        super().__call__(event)

    def write(self, line: str) -> None:
        self.console.print(line, markup=False)  # printed above the live bar

    def close(self) -> None:
        if self.task is not None:
            self.bar.stop()


def make_progress(quiet: bool):
    if quiet:
        return None
    return RichProgress() if sys.stderr.isatty() else PlainProgress()
