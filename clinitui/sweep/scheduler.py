"""The local scheduler: trials as detached workers in slots, resumable after ``kill -9``.

Slots are either GPUs (one trial per GPU by default, ``CUDA_VISIBLE_DEVICES`` set per worker,
``per_gpu`` packs small trials) or CPU slots that split the cores (``train.threads`` =
cores / slots). A slot is freed only when its worker has exited, so at most ``len(slots)`` trials
ever run at once. Before a trial starts the memory planner checks it; a refusal is journalled
with the planner's numbers and takes no slot.

The scheduler keeps no state of its own beyond the journal and the run directories: after a
crash, ``clinitui sweep --resume DIR`` re-reads them, adopts workers that are still alive,
resumes interrupted trials from their saved state, and never re-runs a finished one.

``python -m clinitui.sweep.scheduler SWEEP_DIR`` is the detached form (``clinitui sweep --detach``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from clinitui.rundir import spawn_detached
from clinitui.sweep import journal as J
from clinitui.sweep.baselines import compute_baselines
from clinitui.sweep.spec import SweepSpec, Trial, threads_per_trial, trial_config
from clinitui.sweep.trial import exited, launch, outcome, refusal, trial_dir, val_curve

POLL_S = 0.3


@dataclass
class Running:
    trial: Trial
    path: Path
    pid: int | None
    slot: int
    number: int | None = None  # the Optuna trial number (search sweeps)
    pruning: bool = False
    adopted: bool = False  # a worker a previous scheduler started (found alive on resume)


def detect_gpus() -> list[int]:
    """Visible GPU indices: ``CUDA_VISIBLE_DEVICES`` if set, else what NVML counts (none on a CPU box)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [int(x) for x in visible.split(",") if x.strip().isdigit()]
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            return list(range(pynvml.nvmlDeviceGetCount()))
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # no driver, no library: a CPU machine
        return []


def make_slots(resources: dict) -> list[dict[str, str]]:
    """One environment per slot: ``{"CUDA_VISIBLE_DEVICES": "1"}`` for GPU slots, ``{}`` for CPU ones."""
    gpus = resources.get("gpus")
    if gpus is None and resources.get("slots") is None:
        gpus = detect_gpus() or None
    if gpus:
        per = resources.get("per_gpu") or 1
        return [{"CUDA_VISIBLE_DEVICES": str(g)} for g in gpus for _ in range(per)]
    return [{} for _ in range(resources.get("slots") or 1)]


class LocalScheduler:
    """Fills slots with trials until none is left, a stop is asked for, or the search budget is spent."""

    def __init__(self, sweep_dir: Path, spec: SweepSpec, *, should_stop: Callable[[], bool] = lambda: False,
                 on_event: Callable[[dict], None] | None = None) -> None:
        self.dir = Path(sweep_dir)
        self.spec = spec
        self.slots = make_slots(spec.resources)
        self.threads = threads_per_trial(spec, len(self.slots))
        self.should_stop = should_stop
        self.on_event = on_event
        self.journal = J.Journal(self.dir)
        self.running: dict[int, Running] = {}
        self.pending: list[Trial] = []
        self.search = None

    def record(self, type: str, **fields) -> None:
        event = self.journal.record(type, **fields)
        if self.on_event is not None:
            self.on_event(event)

    # -- the queue ------------------------------------------------------------------------------
    def _plan(self) -> list[Trial]:
        """Trials still to run, after adopting live workers and settling those that already ended."""
        records = J.trial_records(J.read_journal(self.dir))
        if self.spec.mode == "search":
            from clinitui.sweep.search import Search

            self.search = Search(self.dir, self.spec, records)
            todo = [Trial(r["name"], r["settings"], r["seed"]) for r in records.values() if r["status"] in ("queued", "running")]
        else:
            from clinitui.sweep.spec import trials

            todo = []
            for trial in trials(self.spec):
                if trial.name not in records:
                    self.record("trial_queued", name=trial.name, settings=trial.settings, seed=trial.seed)
                    records[trial.name] = {"status": "queued", "number": None}
                if records[trial.name]["status"] in ("queued", "running"):
                    todo.append(trial)
        pending = []
        for trial in todo:
            number = records[trial.name].get("number")
            path = trial_dir(self.dir, trial.name)
            if path.exists() and not exited(_read_pid(path), path):  # still training: adopt it
                slot = next((i for i in range(len(self.slots) + len(todo)) if i not in self.running), 0)
                self.running[slot] = Running(trial, path, _read_pid(path), slot, number, adopted=True)
                continue
            if path.exists():  # its worker ended while no scheduler watched: settle it from its run dir
                status, error = outcome(path)
                if status != "interrupted":
                    self._settle(Running(trial, path, None, -1, number), status, error)
                    continue
            pending.append(trial)
        return pending

    def _next(self, pending: list[Trial]) -> tuple[Trial, int | None] | None:
        if pending:
            trial = pending.pop(0)
            return trial, J.trial_records(J.read_journal(self.dir)).get(trial.name, {}).get("number")
        if self.search is not None:
            asked = self.search.ask(self.dir)
            if asked is not None:
                trial, number = asked
                self.record("trial_queued", name=trial.name, settings=trial.settings, seed=trial.seed, number=number)
                return trial, number
        return None

    def _settle(self, run: Running, status: str, error: str | None) -> None:
        """Journal a trial's end (and tell the search what it scored)."""
        metrics = _read_json(run.path / "metrics.json") or {}
        val = (metrics.get("val_metrics") or {}).get("f1_macro")
        if status == "finished":
            self.record("trial_finished", name=run.trial.name, run_dir=str(run.path), val_f1_macro=val,
                        test_f1_macro=(metrics.get("metrics") or {}).get("f1_macro"))
        elif status == "pruned":
            self.record("trial_pruned", name=run.trial.name, run_dir=str(run.path), error="pruned by the median rule")
        else:
            self.record("trial_failed", name=run.trial.name, run_dir=str(run.path), error=error)
        if self.search is not None and run.number is not None:
            self.search.tell(run.number, status, val)

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> str:
        """Run the sweep to its end; returns "finished" or "stopped" (workers stopped, state saved)."""
        started = time.time()
        prior = J.read_journal(self.dir)
        self.record("sweep_started", pid=os.getpid(), backend="local", mode=self.spec.mode, slots=len(self.slots),
                    threads_per_trial=self.threads, resumed=any(e["type"] == "sweep_started" for e in prior))
        self.pending = pending = self._plan()
        baseline_done = (self.dir / J.BASELINE_FILE).is_file()
        while True:
            if self.should_stop():
                return self._stop_all()
            for slot, run in list(self.running.items()):
                self._watch(slot, run)
            exhausted = False
            for slot in range(len(self.slots)):
                while slot not in self.running and not self.should_stop():
                    nxt = self._next(pending)
                    if nxt is None:
                        exhausted = True
                        break
                    self._start(slot, *nxt)
            if not baseline_done and not self.should_stop():
                self._baseline()
                baseline_done = True
            if exhausted and not self.running:
                self.record("sweep_finished", seconds=round(time.time() - started, 2))
                return "finished"
            time.sleep(POLL_S)

    def _start(self, slot: int, trial: Trial, number: int | None) -> None:
        try:
            config = trial_config(self.spec, trial, self.threads)
        except Exception as exc:  # a search point the schema rejects: this trial fails, the sweep goes on
            self._settle(Running(trial, trial_dir(self.dir, trial.name), None, slot, number), "failed", str(exc))
            return
        reason = refusal(config)
        if reason is not None:
            self.record("trial_refused", name=trial.name, error=reason)
            if self.search is not None and number is not None:
                self.search.tell(number, "refused", None)
            return
        path, pid, resumed = launch(self.dir, trial.name, config, env=self.slots[slot])
        self.running[slot] = Running(trial, path, pid, slot, number)
        self.record("trial_started", name=trial.name, run_dir=str(path), pid=pid, slot=slot, resumed=resumed,
                    env=self.slots[slot])

    def _watch(self, slot: int, run: Running) -> None:
        if self.search is not None and run.number is not None and not run.pruning:
            if self.search.report(run.number, val_curve(run.path)):
                from clinitui.launcher import stop_worker

                run.pruning = stop_worker(run.path)
        if not exited(run.pid, run.path):
            return
        del self.running[slot]
        status, error = outcome(run.path)
        if run.pruning:
            status = "pruned"
        elif status == "interrupted" and run.adopted:  # killed with the scheduler that started it: resume it
            self.pending.insert(0, run.trial)
            return
        elif status == "interrupted":  # it died while we watched (killed, out of host memory ...)
            status, error = "failed", f"the worker exited without a result ({error or 'see worker.log'})"
        self._settle(run, status, error)

    def _baseline(self) -> None:
        from clinitui.sweep.spec import trials

        sample = trials(self.spec)[:1] if self.spec.mode == "grid" else [Trial("baseline", {}, self.spec.seeds[0])]
        try:
            doc = compute_baselines(self.dir, [trial_config(self.spec, t, self.threads) for t in sample])
            first = doc["splits"][0]
            self.record("baseline", val_f1_macro=first["val"]["f1_macro"], test_f1_macro=first["test"]["f1_macro"])
        except Exception as exc:  # the trials go on; the table just lacks its baseline row
            self.record("baseline_failed", error=f"{type(exc).__name__}: {exc}"[:300])

    def _stop_all(self) -> str:
        from clinitui.launcher import stop_worker

        for run in self.running.values():
            stop_worker(run.path)
        deadline = time.time() + 120
        while self.running and time.time() < deadline:
            for slot, run in list(self.running.items()):
                if exited(run.pid, run.path):
                    del self.running[slot]
            time.sleep(POLL_S)
        self.record("sweep_stopped", message="stopped; continue with `clinitui sweep --resume`")
        return "stopped"


def _read_pid(path: Path) -> int | None:
    from clinitui.rundir import lock_holder, read_pid

    holder = lock_holder(path)
    return holder if holder and holder > 0 else read_pid(path)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def run_sweep(sweep_dir: Path, *, should_stop: Callable[[], bool] = lambda: False,
              on_event: Callable[[dict], None] | None = None) -> str:
    """Run (or resume) the sweep in ``sweep_dir`` in this process, holding its lock; returns its status."""
    from clinitui.rundir import RunLock, write_private

    sweep_dir = Path(sweep_dir)
    spec = J.read_spec(sweep_dir)
    lock = RunLock(sweep_dir)  # one scheduler per sweep; the kernel frees it even after kill -9
    write_private(sweep_dir / J.PID_FILE, f"{os.getpid()}\n")
    from clinitui.tracking.sweep import sweep_parent

    try:
        with sweep_parent(sweep_dir, spec):  # --log-to mlflow: the sweep's run, its trials nested under it
            if spec.resources.get("backend") == "ray":
                from clinitui.sweep.ray_backend import run_ray

                return run_ray(sweep_dir, spec, on_event=on_event)
            return LocalScheduler(sweep_dir, spec, should_stop=should_stop, on_event=on_event).run()
    finally:
        lock.release()
        (sweep_dir / J.PID_FILE).unlink(missing_ok=True)


def start_detached(sweep_dir: Path) -> int:
    """Start the scheduler in its own session (survives logout); its output goes to scheduler.log."""
    return spawn_detached(["-m", "clinitui.sweep.scheduler", str(sweep_dir)], Path(sweep_dir) / J.LOG_FILE)


def main(argv: list[str] | None = None) -> int:
    from clinitui.errors import ClinituiError
    from clinitui.signals import StopFlag

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write("usage: python -m clinitui.sweep.scheduler SWEEP_DIR\n")
        return 2
    stop = StopFlag()
    stop.install()
    try:
        status = run_sweep(Path(argv[0]), should_stop=stop,
                           on_event=lambda e: sys.stderr.write(f"{e['type']} {e.get('name', '')}\n"))
    except ClinituiError as exc:
        sys.stderr.write(f"clinitui: error: {exc}\n")
        return exc.exit_code
    sys.stderr.write(f"clinitui: sweep {status}\n")
    return 0 if status == "finished" else 130


if __name__ == "__main__":
    sys.exit(main())
