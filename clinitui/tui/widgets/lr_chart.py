"""The learning-rate schedule as it was applied, step by step."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from clinitui.tui.state import RunState


class LrChart(PlotextPlot):
    """Warm-up then decay: a glance shows where in the schedule the run is."""

    def show(self, state: RunState) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if state.lr:
            steps, values = zip(*state.lr)
            plt.plot(list(steps), list(values), color="magenta", marker="hd")
            plt.title(f"learning rate (now {state.lr[-1][1]:.2e})")
        else:
            plt.title("learning rate")
        if state.total_steps:
            plt.xlim(0, state.total_steps)
        self.refresh()
