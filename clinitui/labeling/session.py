"""A labelling session: the pool, the journal, the model's view and the queue, behind the TUI screen.

Everything the screen shows or does goes through here, so the same checks stop bad input before a
screen opens (one line, exit 2) and tests drive the loop without a terminal. The loop: every
``retrain_every`` labels (or on a key) :meth:`Session.retrain` fits the TF-IDF model
(engine/tfidf/model.py) on the labels standing, and the queue is ranked again by that model;
:meth:`launch_full` starts the full recipe on the exported labels as an ordinary detached run
(launcher.py).

Every ``hold_out_every``-th note served (default 5) is drawn at random from the notes not yet
handled, not by the strategy, and its label is marked ``held_out`` in the journal. Notes a strategy
chose are the ones the model found hard: scored on them, a model looks worse than it is, and a
choice made on them (the blend, the epoch) favours whatever disagrees with the model that chose
them (docs/labeling.md). The held-out labels are the fit's validation notes once there are 10, the
screen's curve is plotted on them, and the export makes them its dev and test rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clinitui.errors import ConfigError
from clinitui.labeling import HOLD_OUT_EVERY, RETRAIN_EVERY, strategies
from clinitui.labeling.journal import Journal
from clinitui.labeling.suggest import Scores, rank, score_pool

BATCH = 50  # notes ranked at a time; the queue is ranked again when they are done or a model is fitted
MIN_HELD_OUT = 10  # held-out labels before the fit validates on them alone


class Session:
    def __init__(self, pool, journal: Path, annotator: str, *, checkpoint: Path | None = None,
                 classes: list[str] | None = None, multilabel: bool = False, guide: Path | None = None,
                 retrain_every: int = RETRAIN_EVERY, strategy: str | None = None,
                 hold_out_every: int = HOLD_OUT_EVERY) -> None:
        self.pool, self.guide, self.retrain_every, self.hold_out_every = pool, guide, retrain_every, hold_out_every
        self._held: dict | None = None  # the random draw waiting to be labelled
        self.scores: Scores | None = score_pool(checkpoint, pool.texts) if checkpoint is not None else None
        names = self.scores.label_names if self.scores else classes
        if self.scores and classes and list(classes) != self.scores.label_names:
            raise ConfigError(f"--classes {', '.join(classes)} differ from the run's labels "
                              f"({', '.join(self.scores.label_names)}); drop --classes or pick the matching run")
        multilabel = self.scores.multilabel if self.scores else multilabel
        if guide is not None and not Path(guide).is_file():
            raise ConfigError(f"{guide}: no such label guide; give --guide a markdown file the site wrote")
        self.journal = Journal(journal, pool, annotator, names, multilabel)
        self.strategy = strategy or (strategies.DEFAULT if self.scores else strategies.COLD_START)
        if self.strategy in strategies.UNCERTAINTY and self.scores is None:
            self.strategy = strategies.COLD_START  # no model yet: the first refit switches to the one asked for
        self._asked = strategy or strategies.DEFAULT
        self._vectors = None
        self.queue: list[dict] = []
        self._since_fit = 0
        self.refill()

    # -- the queue ----------------------------------------------------------------------------
    def refill(self) -> None:
        """Rank the next batch among the notes this annotator has not labelled or skipped."""
        if self.strategy in strategies.DIVERSITY and self._vectors is None:
            self._vectors = strategies.tfidf_vectors(self.pool.texts)  # once a session: the pool does not change
        self.queue = rank(self.pool, BATCH, self.strategy, self.scores,
                          self.journal.state.handled(self.journal.annotator), vectors=self._vectors)

    def current(self) -> dict | None:
        """The note to label now: ``{"id", "row", "score"}``, or None when the pool is done."""
        done = self.journal.state.handled(self.journal.annotator)
        if self.hold_out_every > 0 and (self.labelled() + 1) % self.hold_out_every == 0:
            if self._held is None or self._held["id"] in done:
                self._held = self._draw(done)
            if self._held is not None:
                return self._held
        self.queue = [q for q in self.queue if q["id"] not in done]
        if not self.queue:
            self.refill()
        return self.queue[0] if self.queue else None

    def _draw(self, done: set[str]) -> dict | None:
        """A note drawn uniformly from those not handled yet (seeded by how many are: reopening draws alike)."""
        left = [r for r, i in enumerate(self.pool.ids) if i not in done]
        if not left:
            return None
        row = left[int(np.random.default_rng(len(done)).integers(len(left)))]
        return {"id": self.pool.ids[row], "row": row, "score": None, "held_out": True}

    def text(self, item: dict) -> str:
        return self.pool.texts[item["row"]]

    def probabilities(self, item: dict) -> list[tuple[str, float]] | None:
        if self.scores is None:
            return None
        return list(zip(self.scores.label_names, map(float, self.scores.probs[item["row"]])))

    # -- acts ---------------------------------------------------------------------------------
    def label(self, value) -> bool:
        """Label the current note; True when it is time to retrain (every ``retrain_every`` labels)."""
        item = self.current()
        if item is None:
            return False
        self.journal.label(item["id"], value, item.get("score"), held_out=bool(item.get("held_out")))
        self._since_fit += 1
        return self.retrain_every > 0 and self._since_fit >= self.retrain_every

    def skip(self) -> None:
        item = self.current()
        if item is not None:
            self.journal.skip(item["id"])

    def undo(self) -> dict | None:
        undone = self.journal.undo()
        if undone is not None:
            item = {"id": undone["id"], "row": undone["row"], "score": undone.get("score")}
            if undone.get("held_out"):
                self._held = {**item, "held_out": True}  # its slot comes back with it
            else:
                self.queue.insert(0, item)
            self._since_fit = max(0, self._since_fit - 1)
        return undone

    def labelled(self) -> int:
        return len(self.journal.state.labels.get(self.journal.annotator, {}))

    # -- the loop -----------------------------------------------------------------------------
    def training_rows(self) -> tuple[list[str], list, np.ndarray]:
        """(texts, labels, held out?) of the notes whose standing labels agree across annotators."""
        votes: dict[str, set] = {}
        for labels in self.journal.state.labels.values():
            for rid, label in labels.items():
                votes.setdefault(rid, set()).add(tuple(label) if isinstance(label, list) else label)
        rows = self.pool.row_of()
        keep = [(rid, next(iter(v))) for rid, v in votes.items() if len(v) == 1]
        held = np.asarray([rid in self.journal.state.held_out for rid, _ in keep], dtype=bool)
        return [self.pool.texts[rows[r]] for r, _ in keep], [lab for _, lab in keep], held

    def fit(self):
        """(probabilities over the pool, validation macro-F1 or None, labels used) of the TF-IDF model
        fitted on the labels standing; None when there is not enough to fit yet. Safe in a thread: reads only."""
        from clinitui.engine.tfidf.model import TfidfModel, unusable_reason
        from clinitui.engine.tfidf.ovr import OvrTfidfModel

        texts, labels, held = self.training_rows()
        names = self.journal.label_names
        index = {n: i for i, n in enumerate(names)}
        if self.journal.multilabel:
            y = np.zeros((len(labels), len(names)), dtype=int)
            for r, lab in enumerate(labels):
                y[r, [index[n] for n in lab]] = 1
            cls = OvrTfidfModel
        else:
            y = np.asarray([index[lab] for lab in labels], dtype=int)
            cls = TfidfModel
            if len(set(y.tolist())) < 2:
                return None
        if len(texts) < 10 or unusable_reason(texts):
            return None
        # validation: the random draws once there are enough (unbiased), else every fifth label
        val = held if held.sum() >= MIN_HELD_OUT and (~held).sum() >= 2 else np.arange(len(texts)) % 5 == 4
        tr = ~val
        model = cls.fit([t for t, v in zip(texts, tr) if v], y[tr], [t for t, v in zip(texts, val) if v], y[val], names)
        return model.predict_proba(self.pool.texts), model.val_f1, len(texts)

    def apply(self, fitted) -> None:
        """Take a fit's probabilities as the model's view, record its point on the curve, re-rank."""
        probs, val_f1, n = fitted
        self.scores = Scores(np.asarray(probs), self.journal.label_names, self.journal.multilabel)
        if self.strategy == strategies.COLD_START:
            self.strategy = self._asked
        self.journal.model_point(n, val_f1)
        self._since_fit = 0
        self.refill()

    def launch_full(self, runs_root: Path | None = None) -> Path:
        """Export the labels next to the journal and start the default recipe on them, detached."""
        from clinitui.config.schema import RunConfig
        from clinitui.kinds import Task
        from clinitui.labeling.export import export
        from clinitui.launcher import start_worker
        from clinitui.runs import default_runs_root

        to = self.journal.path.with_name(self.journal.path.stem + ".train.csv")
        written = export([self.journal.path], self.pool, to)
        task = Task.MULTILABEL if self.journal.multilabel else Task.MULTICLASS
        config = RunConfig.model_validate({"data": {"path": str(to), "task": task.value,
                                                    "split_col": written["split_col"]}})
        path, _ = start_worker(config, Path(runs_root) if runs_root else default_runs_root())
        return path

    def close(self) -> None:
        self.journal.close()
