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
        if state.is_pretrain:
            self._show_mlm(state)
            return
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
            # a blended run's epochs evaluate its network alone: the blend is made once, at the end
            blended = (state.config.get("model") or {}).get("ensemble") not in (None, "", "none")
            plt.plot(list(steps), list(values), label="val F1 (network)" if blended else "val F1", color=VAL_F1,
                     marker="*", yside="right")
            plt.ylim(0, 1, yside="right")
        if state.total_steps:
            plt.xlim(0, state.total_steps)
        plt.xlabel("step")
        plt.title("loss per step · val F1 per epoch" if state.loss else "loss: waiting for the first step")
        self.refresh()

    def _show_mlm(self, state: RunState) -> None:
        """A pretraining run: MLM loss per step, held-out MLM loss per evaluation, and the level of
        token frequencies alone (a model under that line has learnt some context)."""
        plt = self.plt
        if state.loss:
            steps, values = zip(*state.loss)
            plt.plot(list(steps), list(values), label="train MLM loss", color=TRAIN, marker="hd")
        held = [(e.get("step", 0), e["mlm_loss"]) for e in state.mlm_evals]
        if held:
            steps, values = zip(*held)
            plt.plot(list(steps), list(values), label="held-out MLM loss", color=VAL_LOSS, marker="o")
        unigram = state.started.get("unigram_loss")
        end = state.total_steps or (state.loss[-1][0] if state.loss else 0)
        if unigram is not None and end:
            plt.plot([0, end], [unigram, unigram], label="token frequencies alone", color=VAL_F1, marker="dot")
        if state.total_steps:
            plt.xlim(0, state.total_steps)
        plt.xlabel("step")
        plt.title("masked-LM loss per step · held-out per evaluation" if state.loss
                  else "MLM loss: waiting for the first step")
        self.refresh()
