"""How long a candidate takes: a prior before anything ran, then what the runs measured.

Priors are deliberately rough and only decide the first of each kind: the TF-IDF model's time
from the number of notes (it fits in seconds on thousands of notes), a network's from the memory
planner's shapes (about 6 × parameters floating-point operations per training token, at a
device speed measured on the default demo network, PRIOR_FLOPS). As soon as a run has logged steps, its own events replace the prior:
the seconds from launch to its first step (interpreter, data, tokenizer, model), the seconds per
optimizer step (evaluations included, as they recur every epoch), and the seconds from its last
step to ``run_finished`` (the TF-IDF member of the blend, calibration, test bootstrap). A variant of
a measured run (more epochs, another seed or adapter) is priced from those three numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

STARTUP_S = 8.0  # a worker's start before its first step: interpreter, imports, data (2 CPU cores, measured)
TFIDF_S_PER_NOTE = 0.005  # word + char n-grams and the C search: ~25 s for the 5,400 demo notes on 2 busy cores
# Training FLOP/s assumed before a run is measured, counting every note at the padded max_length. On CPU:
# the default demo network (1.55 M parameters, 540 steps of 32 notes at 256 tokens) trained in 121 s on
# 2 idle cores (23k real tokens/s): 6 × 1.55e6 × 540 × 32 × 256 / 121 s ≈ 3.4e11 (padding counted, so a
# busy machine still tends to beat the prior). On CUDA a conservative figure for small models, which launch
# overhead dominates. A wrong prior costs little: the run's own first steps replace it (search.py stops a
# run projected well past the budget).
PRIOR_FLOPS = {"cpu": 3.0e11, "cuda": 2.0e12}


def tfidf_seconds(n_notes: int) -> float:
    """The TF-IDF run's prior: start-up plus a cost per note (all splits are read and scored)."""
    return STARTUP_S + TFIDF_S_PER_NOTE * n_notes


@dataclass
class Speed:
    """What one network run measured (from its events.jsonl)."""

    startup_s: float  # launch → first step event
    step_s: float  # seconds per optimizer step, evaluations included
    finish_s: float | None  # last step → run_finished (None while it runs)
    step: int  # optimizer steps done so far
    total_steps: int  # steps the run plans (epochs × steps per epoch)

    def total(self, steps: int | None = None, finish_s: float = 0.0) -> float:
        """Seconds for a run like this one of ``steps`` optimizer steps (default: this run's own)."""
        steps = self.total_steps if steps is None else steps
        return self.startup_s + steps * self.step_s + (self.finish_s if self.finish_s is not None else finish_s)


def measured_speed(run_dir: Path, launched_t: float) -> Speed | None:
    """The run's speed so far, or None before it has logged two step events (no rate yet)."""
    from clinitui.events import read_events

    events = read_events(run_dir)
    steps = [e for e in events if e["type"] == "step" and isinstance(e.get("step"), int)]
    if len(steps) < 2 or steps[-1]["step"] <= steps[0]["step"]:
        return None
    first, last = steps[0], steps[-1]
    step_s = (last["t"] - first["t"]) / (last["step"] - first["step"])
    startup = max(0.0, first["t"] - launched_t - first["step"] * step_s)
    done = next((e for e in reversed(events) if e["type"] == "run_finished"), None)
    finish = (done["t"] - last["t"]) if done else None
    return Speed(startup, step_s, finish, int(last["step"]), int(last.get("total_steps") or last["step"]))


def planned_steps(config, n_train: int) -> int:
    """Optimizer steps a network run of ``config`` plans on ``n_train`` notes (all its epochs)."""
    per_epoch = max(1, math.ceil(n_train / max(1, config.train.batch_size)))
    steps = per_epoch * config.train.epochs
    return min(steps, config.train.max_steps) if config.train.max_steps else steps


def network_prior(config, n_train: int, n_notes: int) -> float:
    """Seconds for a network run nothing has measured yet, from the planner's shapes (raises ConfigError
    when the planner refuses the model for this budget)."""
    from clinitui.engine.memory.planner import plan_for_config

    plan = plan_for_config(config)
    trainable = plan.trainable_params
    per_token = 2 * plan.model.total_params + 4 * trainable  # forward everywhere, backward where it learns
    tokens = planned_steps(config, n_train) * config.train.batch_size * plan.max_length
    device = "cuda" if plan.device.startswith("cuda") else "cpu"
    evals = config.train.epochs * (n_notes - n_train) * plan.max_length * 2 * plan.model.total_params
    return STARTUP_S + (per_token * tokens + evals) / PRIOR_FLOPS[device] + tfidf_seconds(n_notes)
