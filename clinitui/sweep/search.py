"""Search sweeps: Optuna's TPE sampler and median pruner, driven ask-and-tell by the scheduler.

The study lives in ``<sweep>/optuna.journal`` (Optuna's JournalStorage on a journal *file*, which
several processes may append to; SQLite would not survive them). Each asked point becomes an
ordinary trial run; the pruner is fed the trial's validation macro-F1 per epoch, read from the
``eval`` events of its run directory, and a pruned trial is stopped like any run (SIGTERM).
"""

from __future__ import annotations

import time
from pathlib import Path

from clinitui.sweep.spec import PART_KEYS, SweepSpec, Trial, trial_name

STORAGE_FILE = "optuna.journal"
STUDY = "sweep"


def storage(sweep_dir: Path):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str(Path(sweep_dir) / STORAGE_FILE)))


def distributions(space: dict) -> dict:
    """The spec's ranges as Optuna distributions (ints stay ints; ``choices`` are categorical)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out = {}
    for key, rng in space.items():
        if "choices" in rng:
            out[key] = CategoricalDistribution(rng["choices"])
        elif all(isinstance(rng[k], int) for k in ("low", "high")) and not isinstance(rng.get("step", 1), float):
            out[key] = IntDistribution(rng["low"], rng["high"], log=bool(rng.get("log")), step=rng.get("step", 1))
        else:
            out[key] = FloatDistribution(float(rng["low"]), float(rng["high"]), log=bool(rng.get("log")),
                                         step=rng.get("step"))
    return out


class Search:
    """Ask-and-tell over the spec's space, within ``n_trials`` and/or ``timeout_s`` of the sweep's start."""

    def __init__(self, sweep_dir: Path, spec: SweepSpec, records: dict[str, dict]) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.spec = spec
        s = spec.search or {}
        self.n_trials = s.get("n_trials")
        self.timeout_s = s.get("timeout_s")
        self.study = optuna.create_study(
            study_name=STUDY, storage=storage(sweep_dir), direction="maximize", load_if_exists=True,
            sampler=optuna.samplers.TPESampler(seed=s.get("sampler_seed", 0)),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=s.get("pruner_warmup_epochs", 1)),
        )
        self.space = distributions(s.get("space", {}))
        self.queued = len(records)
        self.started = _first_start(sweep_dir)
        known = {r.get("number") for r in records.values()}
        for t in self.study.get_trials(states=(optuna.trial.TrialState.RUNNING,)):
            if t.number not in known:  # asked, but the scheduler died before queueing it
                self.study.tell(t.number, state=optuna.trial.TrialState.FAIL)
        self._trials: dict[int, object] = {}
        self._reported: dict[int, set[int]] = {}

    def ask(self, sweep_dir: Path) -> tuple[Trial, int] | None:
        if self.n_trials is not None and self.queued >= self.n_trials:
            return None
        if self.timeout_s is not None and time.time() - self.started > self.timeout_s:
            return None
        trial = self.study.ask(self.space)
        self._trials[trial.number] = trial
        settings = {k: trial.params[k] for k in self.space}
        self.queued += 1
        seed = self.spec.seeds[0]
        return Trial(trial_name(self.queued - 1, {k: v for k, v in settings.items() if k in PART_KEYS} or
                                {"optuna": trial.number}, seed), settings, seed), trial.number

    def _trial(self, number: int):
        import optuna

        if number not in self._trials:  # a trial asked by an earlier scheduler process
            trial_id = self.study._storage.get_trial_id_from_study_id_trial_number(self.study._study_id, number)
            self._trials[number] = optuna.trial.Trial(self.study, trial_id)
        return self._trials[number]

    def report(self, number: int, curve: list[tuple[int, float]]) -> bool:
        """Feed the validation curve so far; True when the median rule says stop this trial."""
        if not curve:
            return False
        trial = self._trial(number)
        done = self._reported.setdefault(number, set())
        for epoch, f1 in curve:
            if epoch not in done:  # Optuna keeps the first value of a step
                trial.report(f1, epoch)
                done.add(epoch)
        return trial.should_prune()

    def tell(self, number: int, status: str, value: float | None) -> None:
        import optuna

        state = {"finished": optuna.trial.TrialState.COMPLETE, "pruned": optuna.trial.TrialState.PRUNED}.get(
            status, optuna.trial.TrialState.FAIL)
        if state == optuna.trial.TrialState.COMPLETE and value is None:
            state = optuna.trial.TrialState.FAIL
        try:
            self.study.tell(number, value if state == optuna.trial.TrialState.COMPLETE else None, state=state)
        except (ValueError, RuntimeError):  # already told (a resumed scheduler settling it again)
            pass


def _first_start(sweep_dir: Path) -> float:
    from clinitui.sweep.journal import read_journal

    return next((e["t"] for e in read_journal(sweep_dir) if e["type"] == "sweep_started"), time.time())
