"""``clinitui eval`` and ``clinitui predict``: a saved checkpoint applied to a data file, whatever its task.

One path for single- and multi-label checkpoints: :func:`score` reads the file and computes what the
checkpoint predicts (engine/inference/predictor.py: network, TF-IDF blend, seed average); what
differs between the two tasks (how the file's label cells are read, how the decision is locked and
the metrics computed) is held by :class:`SingleLabel` and :class:`MultiLabel`, one of which
:func:`task_of` picks from the checkpoint's ``task`` (clinitui/kinds.py): the one place that branches.

* single-label: the stored temperature, then the operating threshold (binary) or argmax, assessed
  with intervals, calibration, subgroups, error ids and ``--compare`` (engine/evaluate/assess.py);
* multi-label: the file's label sets (the checkpoint's ``label_sep`` cuts the cells; JSONL lists are
  read as they are) at the per-label thresholds stored at training (engine/evaluate/multilabel.py).
  Subgroups, error ids and ``--compare`` are single-label features for now: asked for, they stop
  with one line (exit 2).

``--threshold-rule`` chooses the threshold (each label's, multi-label) again on the file's dev rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clinitui.data.readers import read_table
from clinitui.engine.checkpoint.folder import read_checkpoint_info
from clinitui.engine.evaluate import stats
from clinitui.engine.inference.rows import (CHUNK_ROWS, Predictions, decision_rule, file_dev_rows, rows_for_split,
                                            stream_rows)
from clinitui.errors import ConfigError, DataError
from clinitui.kinds import Predicts, Task, checkpoint_predicts


def probabilities(checkpoint: Path, texts: list[str], batch_size: int = 64, device: str | None = None):
    """(probs (N, C), checkpoint info) for ``texts``: what the checkpoint predicts (engine/inference/predictor.py)."""
    from clinitui.engine.inference.predictor import checkpoint_probabilities

    return checkpoint_probabilities(checkpoint, texts, batch_size, device)


@dataclass(frozen=True)
class Request:
    """What ``eval`` is asked: the file and its columns, which rows, and the optional analyses."""

    data: Path
    text_col: str = "text"
    label_col: str = "label"
    split_col: str | None = None
    split: str | None = "test"
    device: str | None = None
    n_boot: int = stats.DEFAULT_RESAMPLES
    seed: int = stats.DEFAULT_SEED
    threshold_rule: str | None = None
    compare: Path | None = None
    group_col: str | None = None
    id_col: str | None = None
    delimiter: str | None = None
    encoding: str | None = None

    @property
    def split_name(self) -> str:
        return self.split if self.split_col else "all"


@dataclass
class Scored:
    """A checkpoint's raw probabilities on a file's scored rows (and its dev rows, when asked)."""

    info: object  # CheckpointInfo
    y: np.ndarray  # class indices; multi-label: multi-hot rows
    raw_probs: np.ndarray
    rows: list[int]
    table: object  # data.readers.Table
    dev_y: np.ndarray | None = None
    dev_probs: np.ndarray | None = None

    def column(self, name: str | None) -> list[str] | None:
        """The scored rows' cells of an extra column (``--group-col``, ``--id-col``); None when not asked."""
        return [self.table.extra[name][i] for i in self.rows] if name else None


def score(checkpoint: Path, data: Path, *, text_col: str = "text", label_col: str = "label",
          split_col: str | None = None, split: str | None = "test", device: str | None = None,
          extra_cols: tuple[str, ...] = (), with_dev: bool = False, table=None, delimiter: str | None = None,
          encoding: str | None = None, info=None) -> Scored:
    """Read ``data`` and score the chosen rows (and, ``with_dev``, the dev rows) with one model load.

    ``info``: the checkpoint's CheckpointInfo when the caller already read it."""
    info = info or read_checkpoint_info(checkpoint)  # cheap checks before reading a large file
    task = task_of(info)
    if table is None:
        table = read_table(data, text_col, label_col, split_col, extra_cols=extra_cols, delimiter=delimiter,
                           encoding=encoding, multilabel=task.multilabel)
    rows = rows_for_split(table, split if split_col else None, Path(data))
    dev_rows = file_dev_rows(table, task.chosen) if with_dev else []
    y = task.labels(table, rows, info, Path(data))
    dev_y = task.labels(table, dev_rows, info, Path(data)) if with_dev else None
    probs, info = probabilities(info.path, [table.texts[i] for i in rows + dev_rows], device=device)
    return Scored(info, y, probs[:len(rows)], rows, table, dev_y, probs[len(rows):] if with_dev else None)


def evaluate(checkpoint: Path, data: Path, **asked) -> dict:
    """The ``eval --json`` payload; ``asked``: the fields of :class:`Request` (columns, split, analyses)."""
    req = Request(data, **asked)
    info = read_checkpoint_info(checkpoint)
    task = task_of(info)
    task.refuse(req)
    s = score(checkpoint, data, text_col=req.text_col, label_col=req.label_col, split_col=req.split_col,
              split=req.split, device=req.device, extra_cols=tuple(c for c in (req.group_col, req.id_col) if c),
              with_dev=req.threshold_rule is not None, delimiter=req.delimiter, encoding=req.encoding, info=info)
    return task.payload(s, req)


class SingleLabel:
    """One label per note (binary or multi-class): temperature, threshold or argmax, full assessment."""

    multilabel = False
    chosen = "the threshold"  # what --threshold-rule chooses again on the file's dev rows

    def refuse(self, req: Request) -> None:
        """Nothing: every analysis of ``eval`` applies."""

    @staticmethod
    def labels(table, rows: list[int], info, data: Path) -> np.ndarray:
        """Class indices of ``table``'s labels; DataError for a label the checkpoint does not know."""
        unknown = sorted({table.labels[i] for i in rows} - set(info.label_names))
        if unknown:
            shown = ", ".join(repr(u[:30]) for u in unknown[:5])
            raise DataError(f"{data}: label(s) {shown} unknown to the checkpoint, which knows "
                            f"{', '.join(info.label_names)}; relabel the file or use a matching checkpoint")
        index = {name: i for i, name in enumerate(info.label_names)}
        return np.asarray([index[table.labels[i]] for i in rows], dtype=int)

    def payload(self, s: Scored, req: Request) -> dict:
        """Metrics with intervals, calibration, operating point, subgroups, error ids, comparison."""
        from clinitui.engine.evaluate.assess import assess, compare as compare_models, postprocess, postprocess_raw

        info = s.info
        temperature, threshold, rule = _locked(info, s, req.threshold_rule)
        baseline_probs, reason = tfidf_member(info, [s.table.texts[i] for i in s.rows])
        metrics, extras = assess(s.y, s.raw_probs, info.label_names, info.positive_index, temperature=temperature,
                                 threshold=threshold, rule=rule, n_boot=req.n_boot, seed=req.seed,
                                 baseline_probs=baseline_probs, groups=s.column(req.group_col),
                                 ids=s.column(req.id_col))
        extras.setdefault("vs_baseline", None)
        extras["vs_baseline_note"] = reason
        if req.compare is not None:
            other = score(req.compare, req.data, text_col=req.text_col, label_col=req.label_col,
                          split_col=req.split_col, split=req.split, device=req.device, table=s.table)
            if other.info.label_names != info.label_names:
                raise ConfigError(f"{req.compare}: its labels ({', '.join(other.info.label_names)}) differ from "
                                  f"{info.path}'s; compare checkpoints trained on the same classes")
            probs_b, pred_b = postprocess(other.raw_probs, other.info)
            probs_a, pred_a = postprocess_raw(s.raw_probs, {"temperature": temperature,
                                                            "operating_point": {"threshold": threshold}},
                                              info.positive_index)
            extras["vs_compare"] = {"other": str(other.info.path), **compare_models(
                s.y, pred_a, probs_a, pred_b, probs_b, info.positive_index, req.n_boot, req.seed,
                names=(Path(info.path).parent.name or "A", Path(other.info.path).parent.name or "B"))}
        from clinitui.engine.evaluate.metrics import undefined_warning

        return {**metrics, **extras, "labels": info.label_names, "checkpoint": str(info.path), "data": str(req.data),
                "split": req.split_name, "temperature": temperature,
                **_warnings(req, undefined_warning(s.y, info.label_names, info.positive_index))}


def tfidf_member(info, texts: list[str]) -> tuple[np.ndarray | None, str]:
    """(the TF-IDF member's probabilities, what ``vs_baseline`` compares) — or (None, why there is no comparison).

    A blend carries its own TF-IDF model (checkpoint/tfidf/), the baseline the run printed beside its
    figures, so ``eval`` scores it on the same notes and compares like ``metrics.json`` does."""
    predicts = checkpoint_predicts(info.raw)
    if predicts is Predicts.BLEND:
        from clinitui.engine.tfidf.blend import load_part

        model, weight = load_part(info)
        return model.predict_proba(texts), (f"the checkpoint's own TF-IDF member alone (the blend gives it "
                                             f"{1 - weight:.0%} of its weight)")
    if predicts is Predicts.TFIDF:
        return None, "the checkpoint is the TF-IDF model itself: there is no separate baseline to compare with"
    if predicts is Predicts.SEED_AVERAGE:
        return None, ("a seeds group carries no TF-IDF model of its own; compare with a TF-IDF run on the same "
                      "file with `eval --compare`")
    return None, ("the checkpoint carries no TF-IDF member (trained with --ensemble none); compare with a TF-IDF "
                  "run on the same file with `eval --compare`")


def _locked(info, s: Scored, threshold_rule: str | None):
    """(temperature, threshold, rule): stored in the checkpoint, or re-chosen on the file's dev rows."""
    from clinitui.engine.evaluate.calibration import apply_temperature
    from clinitui.engine.evaluate.operating_point import choose_threshold, parse_rule

    temperature = info.raw.get("temperature")
    op = info.raw.get("operating_point") or {}
    threshold, rule = op.get("threshold"), op.get("rule")
    if threshold_rule is not None:
        parse_rule(threshold_rule)
        if info.positive_index is None:
            raise ConfigError("--threshold-rule applies to binary tasks only; this checkpoint has "
                              f"{len(info.label_names)} classes")
        dev = apply_temperature(s.dev_probs, temperature)
        threshold = choose_threshold(s.dev_y, dev[:, info.positive_index], info.positive_index, threshold_rule)
        rule = f"{threshold_rule} (chosen on the file's dev rows)"
    if info.positive_index is None:
        threshold = None
    return temperature, threshold, rule


class MultiLabel:
    """A set of labels per note: one sigmoid per label, each at its own locked threshold."""

    multilabel = True
    chosen = "the thresholds"

    def refuse(self, req: Request) -> None:
        unsupported = [flag for flag, v in (("--compare", req.compare), ("--group-col", req.group_col),
                                            ("--id-col", req.id_col)) if v]
        if unsupported:
            raise ConfigError(f"{', '.join(unsupported)} is not supported for multi-label checkpoints yet; "
                              "drop it (eval --json gives per-label metrics)")

    @staticmethod
    def labels(table, rows: list[int], info, data: Path) -> np.ndarray:
        """Multi-hot rows of ``table``'s labels; DataError for a label the checkpoint does not know."""
        from clinitui.engine.evaluate.multilabel import parse_label_set

        names, sep = info.label_names, info.raw.get("label_sep") or "|"
        index = {name: i for i, name in enumerate(names)}
        lists = table.label_lists or [None] * len(table.labels)
        y = np.zeros((len(rows), len(names)), dtype=int)
        unknown: set[str] = set()
        for r, i in enumerate(rows):
            labels = lists[i] if lists[i] is not None else parse_label_set(table.labels[i], sep)
            for name in labels:
                if name in index:
                    y[r, index[name]] = 1
                else:
                    unknown.add(name)
        if unknown:
            shown = ", ".join(repr(u[:30]) for u in sorted(unknown)[:5])
            raise DataError(f"{data}: label(s) {shown} unknown to the checkpoint, which knows {', '.join(names)}; "
                            f"check --label-col and the separator '{sep}', or use a matching checkpoint")
        return y

    def payload(self, s: Scored, req: Request) -> dict:
        """Per-label and averaged metrics at the stored thresholds (or those re-chosen on the dev rows)."""
        from clinitui.engine.evaluate.multilabel import (choose_thresholds, multilabel_metrics, thresholds_of,
                                                         undefined_labels_warning)

        info, names = s.info, s.info.label_names
        thresholds, rule = thresholds_of(info.raw, len(names)), (info.raw.get("label_thresholds") or {}).get("rule")
        if req.threshold_rule is not None:
            thresholds = choose_thresholds(s.dev_y, s.dev_probs, req.threshold_rule)
            rule = f"{req.threshold_rule} (chosen on the file's dev rows)"
        metrics = multilabel_metrics(s.y, s.raw_probs, names, thresholds=thresholds)
        return {**metrics, "vs_baseline": None,
                "vs_baseline_note": "multi-label checkpoints keep no thresholds for their TF-IDF member; the "
                                    "run's like-for-like comparison is in its metrics.json",
                "labels": names, "label_thresholds": dict(zip(names, thresholds)), "threshold_rule": rule,
                "checkpoint": str(info.path), "data": str(req.data), "split": req.split_name,
                **_warnings(req, undefined_labels_warning(s.y, names))}


def _warnings(req: Request, undefined: str | None) -> dict:
    """``{"warnings": [...]}`` naming the metrics the scored rows leave undefined (null); {} when none,
    so the payload of a normal file keeps its keys."""
    return {"warnings": [f"{Path(req.data).name} [{req.split_name}] {undefined}"]} if undefined else {}


TASKS = {Task.MULTICLASS: SingleLabel(), Task.MULTILABEL: MultiLabel()}


def task_of(info) -> SingleLabel | MultiLabel:
    """How ``eval`` treats the checkpoint ``info`` (CheckpointInfo): by the task its config.json states."""
    return TASKS[Task.of(info.raw)]


def predict(checkpoint: Path, data: Path, *, text_col: str = "text", device: str | None = None,
            delimiter: str | None = None, encoding: str | None = None, chunk_rows: int | None = None) -> Predictions:
    """The rows ``predict`` writes, streamed (:class:`~clinitui.engine.inference.rows.Predictions`):
    ``row``, ``predicted``, ``p_<label>`` ..., ``threshold``, in file order, ``chunk_rows`` notes at a
    time (memory bounded by the chunk, not the file), and the sentence saying which rule and threshold
    chose the labels. The file's header is checked and the checkpoint loaded before this returns."""
    from clinitui.data.stream import TextStream
    from clinitui.engine.evaluate.assess import postprocess
    from clinitui.engine.evaluate.multilabel import thresholds_of
    from clinitui.engine.inference.predictor import Predictor

    info = read_checkpoint_info(checkpoint)
    texts = TextStream(data, text_col, chunk_rows=chunk_rows or CHUNK_ROWS, delimiter=delimiter, encoding=encoding)
    loaded = Predictor(info.path, device=device)
    info = loaded.info
    task = Task.of(info.raw)
    locked = info.raw.get("label_thresholds" if task is Task.MULTILABEL else "operating_point") or {}
    columns, said = decision_rule(info.label_names, task, info.positive_index, threshold=locked.get("threshold"),
                                  label_thresholds=thresholds_of(info.raw, len(info.label_names)),
                                  rule=locked.get("rule"), chosen_on=locked.get("chosen_on"))

    def chunk(batch: list[str]):
        return postprocess(loaded.probabilities(batch), info)  # the stored temperature, then the locked threshold(s)

    return Predictions(info.label_names, said, stream_rows(texts, chunk, info.label_names, task,
                                                           info.raw.get("label_sep") or "|", columns), texts)
