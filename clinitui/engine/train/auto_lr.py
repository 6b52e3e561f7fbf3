"""The learning rate when ``train.lr`` is left unset: chosen from what trains (one table, one place).

A pre-trained encoder fully fine-tuned at the from-scratch rate (1e-3) is knocked out of its
pre-trained solution and never leaves the majority class; LoRA's low-rank updates want a rate in
between; a frozen backbone trains only the adapter and head, small freshly initialised layers
that learn at the from-scratch rate. So the rate follows the *regime*: from scratch, pre-trained
encoder fully fine-tuned, LoRA, or frozen backbone. Measured on the shared medical abstracts
(docs/models.md, "Learning rates"). ``train.lr`` set anywhere — ``--set train.lr=X``, a
preset, a sweep axis, a resumed run's run.toml — always wins. The resolved rate is written to
run.toml, and the reason goes into the ``run_started`` event and the dry-run plan.
"""

from __future__ import annotations

from enum import Enum

from clinitui.fmt import fmt_lr


class Regime(str, Enum):
    """What trains, as far as the learning rate is concerned."""

    SCRATCH = "scratch"  # every weight, randomly initialised (also a backbone pretrained by `clinitui pretrain`)
    FULL = "full"  # every weight of a pre-trained encoder
    LORA = "lora"  # low-rank updates inside a pre-trained backbone, plus adapter and head
    FROZEN = "frozen"  # the adapter and head only, over a frozen backbone

    @classmethod
    def of(cls, freeze: str, pretrained: bool) -> Regime:
        if freeze == "lora":
            return cls.LORA
        if freeze == "backbone":
            return cls.FROZEN
        return cls.FULL if pretrained else cls.SCRATCH


RATES = {Regime.SCRATCH: 1e-3, Regime.FULL: 5e-5, Regime.LORA: 2e-4, Regime.FROZEN: 1e-3}
WHY = {
    Regime.SCRATCH: "a network trained from scratch",
    Regime.FULL: "a pre-trained encoder, fully fine-tuned",
    Regime.LORA: "LoRA on a pre-trained backbone",
    Regime.FROZEN: "a frozen backbone, only the adapter and head trained",
}


def auto_rate(freeze: str, pretrained: bool) -> float:
    return RATES[Regime.of(freeze, pretrained)]


def describe_lr(lr: float | None, freeze: str, pretrained: bool) -> dict:
    """``{"value", "auto", "regime", "why"}``: the rate a run trains at and where it comes from."""
    regime = Regime.of(freeze, pretrained)
    if lr is not None:
        return {"value": lr, "auto": False, "regime": regime.value, "why": "train.lr set in the config (preset or --set)"}
    return {"value": RATES[regime], "auto": True, "regime": regime.value,
            "why": f"auto for {WHY[regime]}"}


def resolve_lr(config, freeze: str, pretrained: bool):
    """(config, note): a copy with ``train.lr`` filled when it was unset, and the note saying why; else (config, None)."""
    if config.train.lr is not None:
        return config, None
    note = describe_lr(None, freeze, pretrained)
    config = config.model_copy(deep=True)
    config.train.lr = note["value"]
    return config, note


def line(note: dict) -> str:
    """One line for the run summary, the dry-run plan and the console."""
    hint = "; --set train.lr=X to choose" if note["auto"] else ""
    return f"learning rate {fmt_lr(note['value'])} ({note['why']}{hint})"
