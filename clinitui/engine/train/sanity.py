"""A run that learns nothing beyond the class frequencies says so, once, with the likely cause.

A pre-trained encoder fully fine-tuned at a from-scratch learning rate (1e-3) is pushed out of
its pre-trained solution within a few steps and then predicts the majority class for every note:
validation macro-F1 sits at the constant predictor's level epoch after epoch, the run "finishes",
and nothing told the user. This watch reads the training loop's validation (``eval``) events; when
every validation note got the same class at ``PATIENCE`` consecutive evaluations it emits one
``warning`` event (the CLI prints it on stderr, the console shows it in the event log) naming the
rate, the regime and what to try. Multi-label runs are not watched (there is no single class).
"""

from __future__ import annotations

from typing import Any, Callable

from clinitui.engine.train.auto_lr import RATES, WHY, Regime
from clinitui.fmt import fmt_lr

PATIENCE = 2  # evaluations in a row predicting one class before the warning
TOO_FAR = 3.0  # a rate this many times above (or below) the regime's auto rate is the likely cause


def predicted_classes(metrics: dict) -> int | None:
    """How many classes the validation predictions use (columns of the confusion matrix with a prediction)."""
    matrix = metrics.get("confusion_matrix")
    if not matrix or not isinstance(matrix[0], list):
        return None
    return sum(1 for col in zip(*matrix) if sum(col) > 0)


def likely_cause(lr: float, regime: Regime) -> str:
    auto = RATES[regime]
    what = WHY[regime]
    if lr >= TOO_FAR * auto:
        return f"the learning rate {fmt_lr(lr)} is likely too high for {what}; try --set train.lr={fmt_lr(auto)}"
    if lr * TOO_FAR <= auto:
        return f"the learning rate {fmt_lr(lr)} is likely too low for {what}; try --set train.lr={fmt_lr(auto)}"
    return ("the labels may carry too little signal for this model, or one class dominates: check --label-col, "
            "or try --set train.class_weights=true")


class MajorityWatch:
    """Counts consecutive validation evaluations that predicted a single class; says so once."""

    def __init__(self, lr: float, regime: Regime, patience: int = PATIENCE) -> None:
        self.lr, self.regime, self.patience = lr, regime, patience
        self.streak = 0
        self.warned = False

    def check(self, metrics: dict) -> str | None:
        """The warning to emit after this evaluation, or None."""
        if self.warned or metrics.get("split", "val") != "val":
            return None
        if predicted_classes(metrics) != 1:
            self.streak = 0
            return None
        self.streak += 1
        if self.streak < self.patience:
            return None
        self.warned = True
        f1 = metrics.get("f1_macro")
        level = f" ({f1:.3f})" if isinstance(f1, (int, float)) else ""
        return (f"validation macro-F1 has stayed at the majority-class level{level} for {self.streak} epochs "
                f"(every note predicted as one class): {likely_cause(self.lr, self.regime)}")


def watch_for_majority(emit: Callable[..., Any], *, lr: float, freeze: str, pretrained: bool) -> Callable[..., Any]:
    """``emit`` for the training loop, that also watches its ``eval`` events (the loop needs no other hook)."""
    watch = MajorityWatch(lr, Regime.of(freeze, pretrained))

    def emit_and_watch(type: str, **fields: Any) -> Any:
        event = emit(type, **fields)
        if type == "eval":
            message = watch.check(fields)
            if message:
                emit("warning", message=message)
        return event

    emit_and_watch.watch = watch  # type: ignore[attr-defined]  (tests read the streak)
    return emit_and_watch
