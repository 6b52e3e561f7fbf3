"""The time-budget search loop: one candidate at a time, priced before it starts, stopped if it overruns.

Candidates run as the detached worker of ``clinitui train --detach`` in ``trials/<name>/``
(clinitui/sweep/trial.py starts, resumes and reads them), one at a time: on 2 CPU cores two runs
only share the same cores, and a single GPU is best given to one network. Before a candidate
starts it is priced (estimate.py); one that cannot finish in what remains is journalled as
skipped. While it runs its events are read: once its steps give a rate, a run projected past the
budget is stopped (SIGTERM: it saves its state and exits), and every run is stopped when the
budget is spent, killed if it has not exited 3 % later, so the search ends within the budget
+5 %. After each candidate the kept model (select.py) is rewritten atomically in ``best.json``
and the table in ``budget.json``, so a usable best-so-far model exists at every moment.

The clock counts only the seconds the search ran (``clock.json``, saved every few seconds): a
killed search resumed with ``clinitui train --resume SEARCH`` continues with what is left,
adopts a candidate whose worker outlived it, and resumes one that died from its saved state.
run.py starts it (in this process, or detached for the TUI's launch form).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from clinitui.events import EventWriter, parse_lines
from clinitui.fmt import fmt_duration
from clinitui.timebudget import estimate as E
from clinitui.timebudget import layout as L
from clinitui.timebudget.candidates import Proposal, ladder, pretrain_steps_per_pass, with_steps
from clinitui.timebudget.trial import backbone_folder, last_event_t, metrics, run_config, worker_pid

POLL_S = 0.5
CLOCK_EVERY_S = 2.0
PROJECT_EVERY_S = 3.0
OVERRUN = 1.25  # a running candidate projected past what is left by this factor is stopped at once
KILL_AFTER = 0.03  # share of the budget a stopped run may take to exit before it is killed
PRETRAIN_MARGIN = 1.1  # a pretraining box is priced at 1.1 × its measured step time (its fine-tuning must still fit)
FINAL = ("candidate_finished", "candidate_skipped")


def grace(budget_s: float) -> float:
    """Seconds kept free at the end: a run asked to stop finishes its step and saves its state in them."""
    return max(2.0, 0.02 * budget_s)


def minimum_budget(n_notes: int) -> float:
    """The least budget worth starting: the TF-IDF model's prior plus the grace (whole seconds)."""
    need = E.tfidf_seconds(n_notes)
    return float(int(max(need + 2.0, need / 0.98)) + 1)


@dataclass
class Running:
    proposal: Proposal
    path: Path
    pid: int | None
    launched_t: float  # unix time of this launch
    prior_wall_s: float = 0.0  # seconds it ran in earlier launches (a resumed candidate)
    box_end: float | None = None  # pretraining: the clock reading at which its time box ends
    stopping: str | None = None  # why it was asked to stop
    stop_sent: float | None = None
    projected: float = 0.0  # when its events were last read for a projection (monotonic)


def read_results(path: Path) -> dict[str, dict]:
    """Per candidate (in order): the merged fields of its journal events and its status."""
    text = (path / L.JOURNAL_FILE).read_text(encoding="utf-8") if (path / L.JOURNAL_FILE).is_file() else ""
    results: dict[str, dict] = {}
    for e in parse_lines(text):
        if not e["type"].startswith("candidate_"):
            continue
        rec = results.setdefault(e["name"], {"name": e["name"]})
        rec.update({k: v for k, v in e.items() if k not in ("v", "type")})
        if e["type"] == "candidate_started":
            rec["status"], rec["launched_t"] = "running", e["t"]
        elif e["type"] == "candidate_skipped":
            rec["status"] = "skipped"
    return results


class Search:
    def __init__(self, path: Path, should_stop: Callable[[], bool], on_event: Callable[[dict], None] | None,
                 started: float | None = None) -> None:
        from clinitui.config.overrides import from_toml

        self.dir = Path(path)
        self.spec = L.read_spec(self.dir)
        self.budget = float(self.spec["budget_s"])
        self.grace = grace(self.budget)
        self.base = from_toml(L.read_base_toml(self.dir), str(self.dir / L.BASE_FILE))  # prepared when written
        self.n_train, self.n_notes = int(self.spec["n_train"]), int(self.spec["n_notes"])
        self.should_stop, self.on_event = should_stop, on_event
        self.journal = EventWriter(self.dir / L.JOURNAL_FILE)
        # the clock runs from the command's start (``started``, a monotonic reading), not this object's
        self.before, self.t0, self.saved = L.spent(self.dir), started or time.monotonic(), 0.0
        self.results = read_results(self.dir)

    # -- the clock --------------------------------------------------------------------------------
    def spent(self) -> float:
        return self.before + time.monotonic() - self.t0

    def remaining(self) -> float:
        return self.budget - self.spent()

    def _tick(self, force: bool = False) -> None:
        if force or time.monotonic() - self.saved >= CLOCK_EVERY_S:
            L.save_clock(self.dir, self.spent())
            self.saved = time.monotonic()

    def record(self, type: str, **fields) -> dict:
        event = self.journal.emit(type, **fields)
        self.results = read_results(self.dir)
        if self.on_event is not None:
            self.on_event(event)
        return event

    # -- the loop ---------------------------------------------------------------------------------
    def run(self) -> str:
        """Run (or continue) the search to its end; returns "finished" or "stopped"."""
        self.record_search("search_started", resumed=self.before > 0)
        running = self._recover()
        while True:
            self._tick()
            if self.should_stop():
                return self._stop(running)
            if running is not None and not self._watch(running):
                time.sleep(POLL_S)
                continue
            running = self._next()
            if running is None:
                break
        self._tick(force=True)
        self.record_search("search_finished")
        self.write_table("finished")
        return "finished"

    def record_search(self, type: str, **fields) -> None:
        self.record(type, budget_s=self.budget, spent_s=round(self.spent(), 2), **fields)

    def _recover(self) -> Running | None:
        """A candidate the previous session left running: adopt its live worker, or resume it."""
        from clinitui.sweep.trial import exited, launch

        for name, rec in self.results.items():
            if rec.get("status") != "running":
                continue
            proposal = next((p for p in self._ladder() if p.name == name), None)
            path = self.dir / rec["run_dir"]
            if proposal is None:
                continue
            proposal.what = rec.get("what", proposal.what)
            pid = worker_pid(path)
            box = rec.get("box_s")
            if pid is not None and not exited(pid, path):
                return Running(proposal, path, pid, rec["launched_t"], rec.get("prior_wall_s", 0.0),
                               self.spent() + max(0.0, box - (time.time() - rec["launched_t"])) if box else None)
            prior = rec.get("prior_wall_s", 0.0) + max(0.0, last_event_t(path, rec["launched_t"]) - rec["launched_t"])
            if self.remaining() <= self.grace:
                self._close(Running(proposal, path, None, time.time(), prior), "stopped", "out of time")
                continue
            config = run_config(path) or self._prepared(proposal.config)
            _, pid, _ = launch(self.dir, name, config)
            self.record("candidate_started", name=name, what=proposal.what, run_dir=rec["run_dir"],
                        estimate_s=rec.get("estimate_s"), box_s=box, prior_wall_s=round(prior, 2), resumed=True)
            return Running(proposal, path, pid, time.time(), prior, self.spent() + box if box else None)
        return None

    def _ladder(self) -> list[Proposal]:
        return list(ladder(self.base, self.results, pretrain_text=self.spec.get("pretrain_text"),
                           unlabeled=self.spec.get("unlabeled", []), n_train=self.n_train))

    def _next(self) -> Running | None:
        """Start the first rung not yet decided that fits in what remains (journal the others as skipped)."""
        from clinitui.errors import ClinituiError
        from clinitui.sweep.trial import launch

        while True:
            proposal = next((p for p in self._ladder() if p.name not in self.results), None)
            if proposal is None:
                return None
            room = self.remaining() - self.grace
            try:  # priced before anything is read, so skipping the rest at the end costs no time
                proposal, cost, why = self._price(proposal)
                if cost is not None and cost <= room:
                    config = self._prepared(proposal.config)  # checks and plans (reads the data)
            except ClinituiError as exc:
                self.record("candidate_skipped", name=proposal.name, what=proposal.what, note=str(exc)[:300])
                continue
            if cost is None or cost > room:
                self.record("candidate_skipped", name=proposal.name, what=proposal.what,
                            estimate_s=None if cost is None else round(cost, 1),
                            note=why or f"needs ~{fmt_duration(cost)}, {fmt_duration(max(0.0, room))} left")
                continue
            path, pid, _ = launch(self.dir, proposal.name, config)
            box = cost if proposal.pretrain else None
            self.record("candidate_started", name=proposal.name, what=proposal.what,
                        run_dir=str(path.relative_to(self.dir)), estimate_s=round(cost, 1),
                        box_s=None if box is None else round(box, 1))
            return Running(proposal, path, pid, time.time(), box_end=self.spent() + box if box else None)

    def _prepared(self, config):
        from clinitui.engine.recipes.dispatch import recipe_for

        return recipe_for(config).prepare(config).config  # checks, plans, raises the epochs of small splits

    def _price(self, proposal: Proposal) -> tuple[Proposal, float | None, str | None]:
        """(proposal, seconds, why not): what the rung should cost. A pretraining rung is shortened to leave
        time for its fine-tuning, and its price is its time box; None and the reason when it cannot run."""
        config = proposal.config
        if proposal.name == "tfidf":
            return proposal, E.tfidf_seconds(self.n_notes), None
        speed = self._speed(proposal.parent or "network")
        if not proposal.pretrain:
            if speed is None:
                return proposal, E.network_prior(config, self.n_train, self.n_notes), None
            return proposal, speed.total(E.planned_steps(config, self.n_train), self._finish_s()), None
        if speed is None:
            return proposal, None, "no measured network speed to size the pretraining by"
        fine_tune = speed.total(E.planned_steps(self.base, self.n_train), self._finish_s())
        step_s = speed.step_s * config.pretrain.window / max(8, self.base.train.max_length) * 1.2
        per_pass = pretrain_steps_per_pass(self.base, self.n_train)
        step_s *= PRETRAIN_MARGIN  # the box's safety margin is spent inside the room, not after it
        room = self.remaining() - self.grace - fine_tune - speed.startup_s
        steps = min(config.pretrain.steps, int(room / step_s) if room > 0 else 0)
        if steps < 2 * per_pass:
            need = speed.startup_s + 2 * per_pass * step_s + fine_tune
            return proposal, None, (f"needs ~{fmt_duration(need)} (2 passes, then fine-tuning), "
                                    f"{fmt_duration(max(0.0, self.remaining() - self.grace))} left")
        return with_steps(proposal, steps), speed.startup_s + steps * step_s, None

    def _speed(self, name: str) -> E.Speed | None:
        rec = self.results.get(name) or {}
        return E.Speed(**rec["speed"]) if rec.get("speed") else None

    def _finish_s(self, parent: str = "network") -> float:
        """Seconds from a network run's last step to its end: measured on ``parent``, else 1.5 × the TF-IDF
        model's fit (the blend fits it again), its worker's start-up left out."""
        speed = self._speed(parent)
        if speed is not None and speed.finish_s is not None:
            return speed.finish_s
        fit = (self.results.get("tfidf") or {}).get("run_s") or E.tfidf_seconds(self.n_notes) - E.STARTUP_S
        return 2.0 + 1.5 * fit  # + test scoring and the bootstrap

    # -- a running candidate ----------------------------------------------------------------------
    def _watch(self, run: Running) -> bool:
        """Check the running candidate; True once it has exited and been settled."""
        from clinitui.launcher import stop_worker
        from clinitui.sweep.trial import exited

        if exited(run.pid, run.path):
            self._settle(run)
            return True
        left = self.remaining()
        if run.stopping is None:
            why = self._overrun(run, left)
            if why:
                run.stopping, run.stop_sent = why, self.spent()
                stop_worker(run.path)
        elif left < -KILL_AFTER * self.budget or self.spent() - run.stop_sent > self.grace + KILL_AFTER * self.budget:
            stop_worker(run.path, force=True)  # its last saved state stays; the candidate ends as stopped
        return False

    def _overrun(self, run: Running, left: float) -> str | None:
        if left <= self.grace:
            return "out of time"
        if run.box_end is not None:
            return "its time box is spent" if self.spent() >= run.box_end else None
        if run.proposal.name == "tfidf" or time.monotonic() - run.projected < PROJECT_EVERY_S:
            return None
        run.projected = time.monotonic()  # events.jsonl grows all run long: read it every few seconds only
        speed = E.measured_speed(run.path, run.launched_t)
        if speed is None or speed.step < 2 or speed.step >= speed.total_steps:
            return None  # no rate yet, or every step done (only the finish is left: let it end)
        need = (speed.total_steps - speed.step) * speed.step_s + self._finish_s(run.proposal.parent or "network")
        if need > OVERRUN * (left - self.grace):  # a close race is run to the end of the budget: it may still win
            return f"would not finish: needs ~{fmt_duration(need)} more, {fmt_duration(left)} left"
        return None

    def _settle(self, run: Running) -> None:
        from clinitui.sweep.trial import outcome

        status, error = outcome(run.path)
        if run.stopping is not None:
            status, note = "stopped", run.stopping
        elif status == "interrupted":
            status, note = "failed", error or "the worker exited without a result"
        else:
            note = error
        self._close(run, status, note)

    def _close(self, run: Running, status: str, note: str | None) -> None:
        """Journal the candidate's end with what it measured; re-choose the kept model."""
        from clinitui.timebudget import select

        wall = run.prior_wall_s + last_event_t(run.path, run.launched_t) - run.launched_t
        fields: dict = {"status": status, "wall_s": round(max(0.0, wall), 2), "note": note}
        speed = E.measured_speed(run.path, run.launched_t)
        if speed is not None and not run.proposal.pretrain:
            fields["speed"] = speed.__dict__  # what later rungs are priced by (a stopped run's rate counts too)
        fields["run_s"] = (metrics(run.path) or {}).get("wall_seconds")  # inside the worker: no start-up
        if run.proposal.pretrain:
            fields["backbone"] = backbone_folder(run.path)
            if fields["backbone"] and status == "stopped":
                fields["note"] = f"{note}; its last saved backbone is used"
        elif status == "finished":
            entry = select.load_entry(run.proposal.name, run.path, wall)
            if entry is not None:
                fields["val_score"], fields["val_ci"] = select.score(entry)
            fields["stopped_early"] = bool((metrics(run.path) or {}).get("stopped_early"))
        self.record("candidate_finished", name=run.proposal.name, **fields)
        self._choose()
        self.write_table("running")

    def _choose(self) -> None:
        from clinitui.timebudget import select

        entries = []
        for name, rec in self.results.items():
            if rec.get("status") == "finished" and rec.get("val_score") is not None:
                entry = select.load_entry(name, self.dir / rec["run_dir"], rec.get("wall_s") or 0.0)
                if entry is not None:
                    entries.append(entry)
        chosen = select.choose(entries)
        if chosen is None:
            return
        name, reason = chosen
        best = {"name": name, "run_dir": self.results[name]["run_dir"], "val_score": self.results[name]["val_score"],
                "reason": reason, "metric": select.METRIC["multi" if entries[0].multilabel else "single"]}
        if best != L.read_best(self.dir):
            L.write_best(self.dir, best)  # atomic: a reader sees the previous kept model or this one
            self.record("best", **best)

    def _stop(self, running: Running | None) -> str:
        """Stopped by a signal: the running candidate saves its state and stops; resume continues it."""
        from clinitui.launcher import stop_worker
        from clinitui.sweep.trial import exited

        if running is not None:
            stop_worker(running.path)
            deadline = time.monotonic() + 60
            while not exited(running.pid, running.path) and time.monotonic() < deadline:
                time.sleep(POLL_S / 2)
        self._tick(force=True)
        self.record_search("search_stopped", message="stopped; continue with `clinitui train --resume SEARCH`")
        self.write_table("stopped")
        return "stopped"

    def write_table(self, status: str) -> None:
        from clinitui.timebudget.table import payload

        L.write_table(self.dir, payload(self.dir, self.results, self.budget, self.spent(), status))
