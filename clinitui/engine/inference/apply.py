"""``clinitui eval`` and ``clinitui predict``: a saved checkpoint applied to a data file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clinitui.data.readers import read_table
from clinitui.engine.checkpoint.folder import load_checkpoint, read_checkpoint_info
from clinitui.engine.evaluate import stats
from clinitui.engine.inference.rows import file_dev_rows, rows_for_split
from clinitui.errors import ConfigError, DataError


def _device(device: str | None) -> str:
    import torch

    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def probabilities(checkpoint: Path, texts: list[str], batch_size: int = 64, device: str | None = None):
    """(probs (N, C), checkpoint info) for ``texts``: what the checkpoint predicts (engine/inference/predictor.py)."""
    from clinitui.engine.inference.predictor import checkpoint_probabilities

    return checkpoint_probabilities(checkpoint, texts, batch_size, device)


@dataclass
class Scored:
    """A checkpoint's raw probabilities on a file's scored rows (and its dev rows, when asked)."""

    info: object  # CheckpointInfo
    y: np.ndarray
    raw_probs: np.ndarray
    rows: list[int]
    table: object  # data.readers.Table
    dev_y: np.ndarray | None = None
    dev_probs: np.ndarray | None = None


def _label_indices(table, rows: list[int], info, data: Path) -> np.ndarray:
    unknown = sorted({table.labels[i] for i in rows} - set(info.label_names))
    if unknown:
        shown = ", ".join(repr(u[:30]) for u in unknown[:5])
        raise DataError(f"{data}: label(s) {shown} unknown to the checkpoint, which knows "
                        f"{', '.join(info.label_names)}; relabel the file or use a matching checkpoint")
    index = {name: i for i, name in enumerate(info.label_names)}
    return np.asarray([index[table.labels[i]] for i in rows], dtype=int)


def score(checkpoint: Path, data: Path, *, text_col: str = "text", label_col: str = "label",
          split_col: str | None = None, split: str | None = "test", device: str | None = None,
          extra_cols: tuple[str, ...] = (), with_dev: bool = False, table=None, delimiter: str | None = None,
          encoding: str | None = None) -> Scored:
    """Read ``data`` and score the chosen rows (and, ``with_dev``, the dev rows) with one model load."""
    info = read_checkpoint_info(checkpoint)  # cheap checks before reading a large file
    if table is None:
        table = read_table(data, text_col, label_col, split_col, extra_cols=extra_cols, delimiter=delimiter,
                           encoding=encoding)
    rows = rows_for_split(table, split if split_col else None, Path(data))
    dev_rows: list[int] = []
    if with_dev:
        dev_rows = file_dev_rows(table, "the threshold")
    y = _label_indices(table, rows, info, Path(data))
    dev_y = _label_indices(table, dev_rows, info, Path(data)) if with_dev else None
    probs, info = probabilities(info.path, [table.texts[i] for i in rows + dev_rows], device=device)
    return Scored(info, y, probs[:len(rows)], rows, table, dev_y, probs[len(rows):] if with_dev else None)


def evaluate(checkpoint: Path, data: Path, *, text_col: str = "text", label_col: str = "label",
             split_col: str | None = None, split: str | None = "test", device: str | None = None,
             n_boot: int = stats.DEFAULT_RESAMPLES, seed: int = stats.DEFAULT_SEED, threshold_rule: str | None = None,
             compare: Path | None = None, group_col: str | None = None, id_col: str | None = None,
             delimiter: str | None = None, encoding: str | None = None) -> dict:
    """The ``eval --json`` payload: metrics with intervals, calibration, operating point, comparisons."""
    from clinitui.engine.evaluate.assess import assess, compare as compare_models, postprocess

    if read_checkpoint_info(checkpoint).raw.get("task") == "multilabel":
        from clinitui.engine.inference.multilabel import evaluate_multilabel

        return evaluate_multilabel(checkpoint, data, text_col=text_col, label_col=label_col, split_col=split_col,
                                   split=split, device=device, threshold_rule=threshold_rule, compare=compare,
                                   group_col=group_col, id_col=id_col, delimiter=delimiter, encoding=encoding)

    extra_cols = tuple(c for c in (group_col, id_col) if c)
    s = score(checkpoint, data, text_col=text_col, label_col=label_col, split_col=split_col, split=split,
              device=device, extra_cols=extra_cols, with_dev=threshold_rule is not None, delimiter=delimiter,
              encoding=encoding)
    info = s.info
    temperature, threshold, rule = _locked(info, s, threshold_rule)
    groups = [s.table.extra[group_col][i] for i in s.rows] if group_col else None
    ids = [s.table.extra[id_col][i] for i in s.rows] if id_col else None
    metrics, extras = assess(s.y, s.raw_probs, info.label_names, info.positive_index, temperature=temperature,
                             threshold=threshold, rule=rule, n_boot=n_boot, seed=seed, groups=groups, ids=ids)
    if compare is not None:
        other = score(compare, data, text_col=text_col, label_col=label_col, split_col=split_col, split=split,
                      device=device, table=s.table)
        if other.info.label_names != info.label_names:
            raise ConfigError(f"{compare}: its labels ({', '.join(other.info.label_names)}) differ from "
                              f"{info.path}'s; compare checkpoints trained on the same classes")
        probs_b, pred_b = postprocess(other.raw_probs, other.info)
        probs_a, pred_a = _predicted(s.raw_probs, info, temperature, threshold)
        extras["vs_compare"] = {"other": str(other.info.path), **compare_models(
            s.y, pred_a, probs_a, pred_b, probs_b, info.positive_index, n_boot, seed,
            names=(Path(info.path).parent.name or "A", Path(other.info.path).parent.name or "B"))}
    return {**metrics, **extras, "labels": info.label_names, "checkpoint": str(info.path), "data": str(data),
            "split": split if split_col else "all", "temperature": temperature}


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


def _predicted(raw_probs, info, temperature, threshold):
    from clinitui.engine.evaluate.assess import postprocess_raw

    return postprocess_raw(raw_probs, {"temperature": temperature, "operating_point": {"threshold": threshold}},
                           info.positive_index)


def predict(checkpoint: Path, data: Path, *, text_col: str = "text", device: str | None = None,
            delimiter: str | None = None, encoding: str | None = None) -> tuple[list[str], list[dict]]:
    """(label names, one row per note: ``row``, ``predicted``, ``p_<label>`` ...) in file order."""
    info = read_checkpoint_info(checkpoint)
    table = read_table(data, text_col, require_labels=False, delimiter=delimiter, encoding=encoding)
    raw, info = probabilities(info.path, table.texts, device=device)
    from clinitui.engine.evaluate.assess import postprocess

    probs, predicted = postprocess(raw, info)  # the stored temperature, then the locked threshold
    names = info.label_names
    rows = []
    sep = info.raw.get("label_sep") or "|"
    for i, p in enumerate(probs):
        if info.raw.get("task") == "multilabel":  # the predicted set, joined; possibly empty
            row = {"row": i, "predicted": sep.join(n for n, on in zip(names, predicted[i]) if on)}
        else:
            row = {"row": i, "predicted": names[int(predicted[i])]}
        row.update({f"p_{name}": round(float(v), 6) for name, v in zip(names, p)})
        rows.append(row)
    return names, rows
