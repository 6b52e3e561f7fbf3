"""Training loss per step, and validation loss / macro-F1 per epoch, as a plotext chart."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from clinitui.tui.state import RunState

# Named 4-bit colours: they look the same on 8/16/256-colour and true-colour terminals.
TRAIN, VAL_LOSS, VAL_F1 = "cyan", "yellow", "green"


class LossChart(PlotextPlot):
    """Left axis: loss (train per step, validation per epoch when the engine reports it).
    Right axis: validation macro-F1 per epoch."""

    def show(self, state: RunState) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if state.loss:
            steps, values = zip(*state.loss)
            plt.plot(list(steps), list(values), label="train loss", color=TRAIN, marker="hd")
        val_loss = [(e.get("step", 0), e["loss"]) for e in state.evals if e.get("loss") is not None]
        if val_loss:
            steps, values = zip(*val_loss)
            plt.plot(list(steps), list(values), label="val loss", color=VAL_LOSS, marker="o")
        val_f1 = [(e.get("step", 0), e["f1_macro"]) for e in state.evals if e.get("f1_macro") is not None]
        if val_f1:
            steps, values = zip(*val_f1)
            plt.plot(list(steps), list(values), label="val F1", color=VAL_F1, marker="*", yside="right")
            plt.ylim(0, 1, yside="right")
        if state.total_steps:
            plt.xlim(0, state.total_steps)
        plt.xlabel("step")
        plt.title("loss per step · val F1 per epoch" if state.loss else "loss: waiting for the first step")
        self.refresh()
