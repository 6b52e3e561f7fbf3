"""Enough optimizer steps on a small training split: more epochs when ``train.epochs`` is left at its default.

The default recipe (4 epochs of batches of 32, early stopping on validation) was tuned on the
4,320 training notes of the demo corpus: 540 optimizer steps. A site with 1,000 notes gets 136
steps from the same four epochs, and the network is still climbing when they end (MORFITT, 1,065
training notes: validation macro-F1 0.268 after 4 epochs, 0.360 at its best after 7 of 10,
docs/accuracy.md). So when the epochs were not chosen (no ``--epochs``, no ``train.epochs`` in a
preset or ``--set``), a training split of ``MIN_NOTES`` or more notes gets as many epochs as
``train.min_steps`` optimizer steps need, at most ``MAX_FACTOR`` times the default; early stopping
still ends the run when validation stops improving. Below ``MIN_NOTES`` notes the validation split
is too small to stop on reliably, so the epochs stay as they are. The raised value is written to
run.toml, so a resume, ``runs`` and the console see the epochs the run really has.
"""

from __future__ import annotations

import math

MIN_NOTES = 400
MAX_FACTOR = 3


def epochs_for(train_notes: int, batch_size: int, epochs: int, min_steps: int) -> int:
    """Epochs for ``train_notes`` notes so that training takes ≥ ``min_steps`` optimizer steps (capped)."""
    if min_steps <= 0 or train_notes < MIN_NOTES:
        return epochs
    per_epoch = max(1, math.ceil(train_notes / max(1, batch_size)))
    return min(max(epochs, math.ceil(min_steps / per_epoch)), epochs * MAX_FACTOR)


def raise_epochs(config, train_notes: int):
    """(config, what changed): a copy with more epochs when they were left at their default, else (config, None)."""
    t = config.train
    if "epochs" in t.model_fields_set:  # chosen by the user, a preset or a resumed run's run.toml
        return config, None
    new = epochs_for(train_notes, t.batch_size, t.epochs, t.min_steps)
    if new == t.epochs:
        return config, None
    note = {"from": t.epochs, "to": new, "train_notes": train_notes, "min_steps": t.min_steps,
            "steps_per_epoch": math.ceil(train_notes / max(1, t.batch_size))}
    config = config.model_copy(deep=True)
    config.train.epochs = new
    return config, note


def describe(note: dict) -> str:
    """One line for the run summary and the console."""
    return (f"epochs {note['from']} → {note['to']}: {note['train_notes']:,} training notes give "
            f"{note['steps_per_epoch']} optimizer steps an epoch, and train.min_steps={note['min_steps']} "
            "(early stopping still applies; --epochs N to choose)")
