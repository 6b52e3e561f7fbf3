"""The memory plan for the form's choices: micro-batch, accumulation, precision, peak estimate."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.widgets import Static

from clinitui.fmt import fmt_bytes, fmt_lr, fmt_params
from clinitui.tui.form import cli_command
from clinitui.tui.launch_values import LaunchValues
from clinitui.tui.messages import PlanReady

DEBOUNCE_S = 1.0  # the planner is a subprocess that imports torch: ask once the operator pauses

def plan_text(payload: dict) -> Text:
    """The ``plan`` of ``clinitui train --dry-run --json``; missing keys are left out, not guessed."""
    plan = payload.get("plan", payload)
    text = Text("memory plan ", style="bold")
    bits = []
    if plan.get("micro_batch") is not None:
        bits.append(f"micro-batch {plan['micro_batch']} × {plan.get('grad_accumulation', '?')}")
    for key, label in (("max_length", "tokens"), ("precision", ""), ("freeze", "freeze=")):
        if plan.get(key) is not None:
            bits.append(f"{plan[key]} {label}" if label == "tokens" else f"{label}{plan[key]}")
    if plan.get("gradient_checkpointing"):
        bits.append("grad checkpointing")
    text.append(" · ".join(bits) if bits else "ready")
    peak, avail = plan.get("estimated_peak_bytes"), plan.get("available_bytes")
    if peak:
        share = f" ({100 * peak / avail:.0f}%)" if avail else ""
        where = f" of {fmt_bytes(avail)} {plan.get('budget', '')} on {plan.get('device', '?')}" if avail else ""
        text.append(f"\npeak ≈ {fmt_bytes(peak)}{where}{share}")
    if plan.get("trainable_params") is not None:
        model = plan.get("model") or {}
        if model.get("pretrained") is False and model.get("vocab") and model.get("hidden"):
            # a from-scratch backbone learns its vocabulary when the run starts: the count is a ceiling
            text.append(f" · ≤{fmt_params(plan['trainable_params'])} of ≤{fmt_params(plan.get('total_params'))} "
                        f"params trainable (before the vocabulary is learnt: up to "
                        f"{fmt_params(model['vocab'] * model['hidden'])} fewer)")
        else:
            text.append(f" · {fmt_params(plan['trainable_params'])} of {fmt_params(plan.get('total_params'))} "
                        "params trainable")
    lr = payload.get("lr")  # the rate the run would train at, and why (engine/train/auto_lr.py)
    if lr and lr.get("value") is not None:
        text.append(f"\nlearning rate {fmt_lr(lr['value'])} ({lr.get('why', '')}"
                    + ("; the LR field chooses another)" if lr.get("auto") else ")"))
    for note in (plan.get("notes") or [])[:2]:
        text.append(f"\n{note}", style="dim")
    return text


class PlanPanel(Static):
    """Asks the planner (``clinitui train --dry-run --json``) for the form's values and shows the
    plan, a refusal ("does not fit"), 'planning…', or why there is no plan. Posts ``PlanReady``."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._timer = None

    def request(self, values: LaunchValues, enabled: bool) -> None:
        if self._timer is not None:
            self._timer.stop()
        if not enabled:
            self.workers.cancel_group(self, "plan")
            self.show_note("memory plan: made by the worker when it starts (planner off or form "
                           "incomplete); trainable parameters appear on the run screen")
            return
        self._timer = self.set_timer(DEBOUNCE_S, lambda: self._start(values))

    def _start(self, values: LaunchValues) -> None:
        from clinitui.tui.plan import plan_command

        self.show_note("planning…")
        self.run_plan(cli_command(values), plan_command(values))

    @work(exclusive=True, group="plan")
    async def run_plan(self, key: str, cmd: list[str]) -> None:
        from clinitui.tui.plan import run_dry_run

        plan, note, blocking = await run_dry_run(cmd)
        if plan is not None:
            self.show_plan(plan)
        else:
            self.show_note(("does not fit: " if blocking else "") + (note or "no plan"), error=blocking)
        self.post_message(PlanReady(key, plan, note, blocking))

    def show_plan(self, plan: dict) -> None:
        self.update(plan_text(plan))

    def show_note(self, note: str, error: bool = False) -> None:
        self.update(Text(note, style="red" if error else "dim"))
