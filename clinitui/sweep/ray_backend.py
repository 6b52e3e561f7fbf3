"""The Ray backend: the same trials as Ray Tune trials, on a local Ray or an existing cluster.

Ray is an optional extra (``pip install 'clinitui[ray]'``) imported only here. Each Tune trial
calls the sweep's one trial entry point (``trial.run_blocking``: the detached worker of
``clinitui train``, in ``<sweep>/trials/<name>/``), reports the validation macro-F1 of every
epoch to Tune, and journals its start and end in ``sweep.jsonl`` itself -- so ``sweep show`` and
the TUI cannot tell a Ray sweep from a local one. On a cluster the sweep directory must be on a
file system every node mounts at the same path (docs/sweeps.md).

Grid sweeps are ``tune.grid_search`` over the trial names; search sweeps use ``OptunaSearch``
(TPE) with the spec's ranges. Refusals by the memory planner are decided on the driver, before
Tune sees the trial, exactly as the local scheduler does.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from pathlib import Path
from typing import Callable

from clinitui.errors import ConfigError
from clinitui.sweep import journal as J
from clinitui.sweep.spec import SweepSpec, Trial, threads_per_trial, trial_config, trials
from clinitui.sweep.trial import outcome, refusal, run_blocking, trial_dir


def _import_ray():
    try:
        import ray
        from ray import tune
    except ImportError:
        raise ConfigError("--backend ray needs Ray, which is not installed; pip install 'clinitui[ray]'") from None
    return ray, tune


def _finish(journal: J.Journal, sweep_dir: Path, name: str, status: str, error: str | None) -> float | None:
    from clinitui.sweep.table import _read_json

    metrics = _read_json(trial_dir(sweep_dir, name) / "metrics.json") or {}
    val = (metrics.get("val_metrics") or {}).get("f1_macro")
    if status == "finished":
        journal.record("trial_finished", name=name, run_dir=str(trial_dir(sweep_dir, name)), val_f1_macro=val,
                       test_f1_macro=(metrics.get("metrics") or {}).get("f1_macro"))
    else:
        journal.record("trial_failed", name=name, run_dir=str(trial_dir(sweep_dir, name)),
                       error=error or "the worker exited without a result")
    return val


def _trainable(params: dict, sweep_dir: str, threads: int) -> None:
    """One Tune trial: run the sweep's trial entry point and report each epoch's validation F1."""
    from ray import tune

    from clinitui.sweep.journal import Journal, read_spec

    sweep = Path(sweep_dir)
    spec = read_spec(sweep)
    journal = Journal(sweep)
    if "trial" in params:  # a grid point, queued in the journal by the driver
        name = params["trial"]
        record = J.trial_records(J.read_journal(sweep))[name]
        settings, seed = record["settings"], record["seed"]
    else:  # an Optuna point, named here
        settings, seed = dict(params), spec.seeds[0]
        name = f"ray-{tune.get_context().get_trial_id()}-s{seed}"
        journal.record("trial_queued", name=name, settings=settings, seed=seed, backend="ray")
    config = trial_config(spec, Trial(name, settings, seed), threads)
    journal.record("trial_started", name=name, run_dir=str(trial_dir(sweep, name)), backend="ray",
                   node=socket.gethostname(), pid=os.getpid())
    status, error = run_blocking(sweep, name, config,
                                 on_epoch=lambda epoch, f1: tune.report({"val_f1_macro": f1, "epoch": epoch}))
    val = _finish(journal, sweep, name, status, error)
    tune.report({"val_f1_macro": val if val is not None else -1.0, "epoch": 10**6, "status": status})


def run_ray(sweep_dir: Path, spec: SweepSpec, *, on_event: Callable[[dict], None] | None = None,
            num_cpus: int | None = None) -> str:
    """Run the sweep's unfinished trials on Ray; returns "finished"."""
    ray, tune = _import_ray()
    sweep_dir = Path(sweep_dir).resolve()
    res = spec.resources
    journal = J.Journal(sweep_dir)
    emit = lambda type, **f: (on_event or (lambda e: None))(journal.record(type, **f))  # noqa: E731
    gpus = res.get("gpus")
    per_gpu = res.get("per_gpu") or 1
    slots = len(gpus) * per_gpu if gpus else (res.get("slots") or 1)
    threads = threads_per_trial(spec, slots) if not res.get("address") else max(1, threads_per_trial(spec, 1))
    started = time.time()
    emit("sweep_started", pid=os.getpid(), backend="ray", mode=spec.mode, slots=slots, threads_per_trial=threads,
         address=res.get("address"), resumed=bool(J.read_journal(sweep_dir)))

    todo: list[Trial] = []
    if spec.mode == "grid":
        records = J.trial_records(J.read_journal(sweep_dir))
        for trial in trials(spec):
            if trial.name not in records:
                emit("trial_queued", name=trial.name, settings=trial.settings, seed=trial.seed)
            elif records[trial.name]["status"] not in ("queued", "running"):
                continue
            path = trial_dir(sweep_dir, trial.name)
            if path.exists():
                status, error = outcome(path)
                if status != "interrupted":
                    _finish(journal, sweep_dir, trial.name, status, error)
                    continue
            reason = refusal(trial_config(spec, trial, threads))
            if reason is not None:
                emit("trial_refused", name=trial.name, error=reason)
                continue
            todo.append(trial)

    if not (sweep_dir / J.BASELINE_FILE).is_file():
        from clinitui.sweep.baselines import compute_baselines

        sample = trials(spec)[:1] if spec.mode == "grid" else [Trial("baseline", {}, spec.seeds[0])]
        doc = compute_baselines(sweep_dir, [trial_config(spec, t, threads) for t in sample])
        emit("baseline", val_f1_macro=doc["splits"][0]["val"]["f1_macro"],
             test_f1_macro=doc["splits"][0]["test"]["f1_macro"])

    if todo or spec.mode == "search":
        with contextlib.redirect_stdout(sys.stderr):  # Tune's status tables must not mix with `--json`
            _fit(ray, tune, sweep_dir, spec, todo, slots, threads, gpus, per_gpu, num_cpus)
    emit("sweep_finished", seconds=round(time.time() - started, 2))
    return "finished"


def _fit(ray, tune, sweep_dir: Path, spec: SweepSpec, todo: list[Trial], slots: int, threads: int,
         gpus: list[int] | None, per_gpu: int, num_cpus: int | None) -> None:
    from functools import partial

    res = spec.resources
    if res.get("address"):
        ray.init(address=res["address"], log_to_driver=False)
    else:  # a local Ray on this machine, no dashboard
        ray.init(num_cpus=num_cpus or max(slots * threads, 1), num_gpus=len(gpus) if gpus else None,
                 include_dashboard=False, log_to_driver=False)
    try:
        per_trial = {"cpu": threads, "gpu": (1 / per_gpu) if gpus else 0}
        trainable = tune.with_resources(partial(_trainable, sweep_dir=str(sweep_dir), threads=threads), per_trial)
        run_config = tune.RunConfig(name="tune", storage_path=str(sweep_dir / "ray"), verbose=0)
        if spec.mode == "grid":
            space = {"trial": tune.grid_search([t.name for t in todo])}  # settings: from the journal
            tune_config = tune.TuneConfig(max_concurrent_trials=slots)
        else:
            from ray.tune.search.optuna import OptunaSearch

            from clinitui.sweep.search import distributions

            s = spec.search or {}
            import optuna

            searcher = OptunaSearch(space=distributions(s["space"]), metric="val_f1_macro", mode="max",
                                    sampler=optuna.samplers.TPESampler(seed=s.get("sampler_seed", 0)))
            space = None
            tune_config = tune.TuneConfig(search_alg=searcher, num_samples=s.get("n_trials") or 10**6,
                                          time_budget_s=s.get("timeout_s"), max_concurrent_trials=slots)
        tune.Tuner(trainable, param_space=space, tune_config=tune_config, run_config=run_config).fit()
    finally:
        ray.shutdown()
