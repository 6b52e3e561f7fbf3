"""The run screen's top lines: status, model, progress, loss, learning rate, throughput, ETA."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from clinitui.fmt import fmt_duration, fmt_metric, fmt_params
from clinitui.tui.state import RunState

STATUS_STYLE = {
    "running": "bold green", "finished": "bold cyan", "failed": "bold red", "crashed": "bold red",
    "stopped": "bold yellow", "created": "bold",
}


def status_text(status: str) -> Text:
    return Text(f"● {status}", style=STATUS_STYLE.get(status, "bold"))


def progress_bar(fraction: float, width: int = 12) -> str:
    filled = int(round(max(0.0, min(1.0, fraction)) * width))
    return "█" * filled + "░" * (width - filled)


class StatsBar(Static):
    """Three short lines that fit 80 columns; they wrap rather than cut on narrower terminals."""

    _shown: str | None = None
    _lines = -1

    def show(self, state: RunState, name: str, tracked: str | None = None) -> None:
        """``tracked``: where the run is also recorded (clinitui.tracking.where), shown as a last line."""
        model = state.config.get("model", {})
        params = state.started.get("params") or {}
        device = state.started.get("device")
        budget = state.config.get("budget", {}).get("name")
        line1 = Text.assemble(status_text(state.status), "  ", (name, "bold"))
        where = [f"{device} {state.started.get('precision', '')}".strip() if device else "starting worker…"]
        if budget:
            where.append(budget)
        line1.append(" · " + " · ".join(where), style="dim")
        bits = [f"{model.get('backbone', '?')} + {model.get('adapter', '?')}"]
        if state.is_pretrain:  # masked-LM pretraining trains the encoder alone: no adapter
            bits = [f"{model.get('backbone', '?')} · pretraining (masked LM)"]
        if params:
            bits.append(f"{fmt_params(params.get('trainable'))} / {fmt_params(params.get('total'))} trainable")
        if state.micro_batch:
            accum = state.grad_accumulation
            bits.append(f"micro-batch {state.micro_batch}" + (f"×{accum}" if accum else ""))
        if state.oom_backoffs:
            bits.append(f"{state.oom_backoffs} OOM backoff" + ("s" if state.oom_backoffs > 1 else ""))
        total, step = state.total_steps, state.step
        frac = step / total if total else 0.0
        progress = [
            # pretraining stops after its steps: passes over the windows are counted, not planned
            f"epoch {state.epoch}" if state.is_pretrain else f"epoch {state.epoch}/{state.epochs or '?'}",
            f"step {step}/{total or '?'} {progress_bar(frac)}",
            f"loss {fmt_metric(state.loss[-1][1], 4) if state.loss else '-'}",
            f"lr {state.lr[-1][1]:.1e}" if state.lr else "lr -",
        ]
        last = state.last_step
        pace = [f"{last['tokens_per_s']:.0f} tok/s" if last.get("tokens_per_s") is not None else "- tok/s",
                f"{last['samples_per_s']:.1f} notes/s" if last.get("samples_per_s") is not None else "- notes/s",
                f"elapsed {fmt_duration(state.elapsed)}"]
        if state.status == "running":
            pace.append(f"ETA {fmt_duration(state.eta)}")
        best = state.best_eval
        if best is not None:
            whose = "network " if state.ensemble else ""  # a blend's epochs are its network's
            pace.append(f"best {whose}val F1 {fmt_metric(best.get('f1_macro'))} (ep {best.get('epoch')})")
        if state.ensemble:
            e = state.ensemble
            pace.append(f"blend {e.get('weight', 0):.2f}: val F1 {fmt_metric(e.get('val_f1_macro', e.get('val_f1_micro')))}"
                        f", test {fmt_metric(e.get('test_f1_macro', e.get('test_f1_micro')))}")
        if state.mlm_evals:
            held = state.mlm_evals[-1]
            pace.append(f"held-out MLM loss {fmt_metric(held.get('mlm_loss'))} "
                        f"(ppl {fmt_metric(held.get('perplexity'), 1)})")
        text = Text("\n").join([line1, Text(" · ".join(bits), style="dim"),
                                Text(" · ".join(progress)), Text(" · ".join(pace))])
        if tracked:
            text.append("\n")
            text.append(f"tracked in {tracked}", style="dim")
        if state.error and state.status in ("failed", "crashed"):
            text.append("\n")
            text.append(state.error.strip().splitlines()[-1][:200], style="red")
        if text.plain == self._shown:
            return  # nothing new: no repaint
        # same number of lines: repaint this widget only, without reflowing the screen's layout
        width = max(1, self.content_region.width or 80)
        lines = sum(max(1, -(-len(line) // width)) for line in text.plain.split("\n"))  # rows once wrapped
        self.update(text, layout=lines != self._lines)
        self._shown, self._lines = text.plain, lines
