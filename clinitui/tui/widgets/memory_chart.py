"""GPU memory (NVML per-process and torch peak) or host RSS over time, against the budget line."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from clinitui.tui.state import RunState, memory_summary

GIB = 1 << 30
MIB = 1 << 20


class MemoryChart(PlotextPlot):
    """What the worker holds, sampled about once a second; a red line marks the budget."""

    def show(self, state: RunState) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        peak, budget = state.peak_memory or 0, state.budget_bytes or 0
        # a budget far above the usage (e.g. all host memory) would flatten the curve: leave it off
        budget_on_chart = bool(budget) and (not peak or budget <= 4 * peak)
        top = max(peak, budget if budget_on_chart else 0)
        unit, scale = ("GiB", GIB) if top >= GIB else ("MiB", MIB)
        if state.mem_process:
            xs, ys = zip(*state.mem_process)
            plt.plot(list(xs), [y / scale for y in ys], label=state.mem_source, color="cyan", marker="hd")
        if state.mem_torch_peak:
            xs, ys = zip(*state.mem_torch_peak)
            plt.plot(list(xs), [y / scale for y in ys], label="torch peak", color="yellow", marker="hd")
        if budget_on_chart:
            plt.hline(budget / scale, "red")
        if top:
            plt.ylim(0, top / scale * 1.1)
        plt.xlabel("seconds")
        plt.ylabel(unit)
        line = " (red line)" if budget_on_chart else (" (far above)" if budget else "")
        plt.title(memory_summary(state) + line if state.mem_process else "memory: no sample yet")
        self.refresh()
