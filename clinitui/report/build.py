"""Gather every number a report shows into one JSON-able dict (``report.json``); nothing is drawn here.

Sources: a run directory (``metrics.json``, ``predictions.json``, ``events.jsonl``, the
checkpoint's ``config.json``), or a checkpoint plus ``--data`` (scored afresh). Either way the
figures come from :func:`clinitui.engine.evaluate.assess.assess`, so they equal ``eval --json`` and
``metrics.json`` for the same rows and bootstrap settings. No note text is read into the result.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np

from clinitui import __version__
from clinitui.engine.evaluate import stats
from clinitui.digest import sha256_file
from clinitui.engine.checkpoint.folder import read_checkpoint_info
from clinitui.engine.evaluate.assess import PREDICTIONS_FILE, assess, curves
from clinitui.describe import describe_checkpoint, read_metrics
from clinitui.errors import ConfigError
from clinitui.engine.checkpoint.format import WEIGHTS
from clinitui.kinds import Predicts, Task, checkpoint_predicts

TODO = "[to be completed]"
SPLIT_USE = {
    "train": "fits the weights (and the tokenizer and TF-IDF baseline of from-scratch runs)",
    "val": "early stopping, best-checkpoint choice, temperature fit and threshold choice",
    "test": "the reported figures only; nothing was tuned on it",
}


def resolve(target: Path) -> tuple[Path | None, Path]:
    """(run directory or None, checkpoint folder) for a run or checkpoint path."""
    target = Path(target)
    if not target.exists():
        raise ConfigError(f"{target}: no such run or checkpoint; pass a run folder or its checkpoint/ folder")
    if (target / "config.json").is_file():
        run = target.parent if (target.parent / "run.toml").is_file() else None
        return run, target
    if (target / "checkpoint").is_dir():
        return target, target / "checkpoint"
    raise ConfigError(f"{target}: neither a run folder (with checkpoint/), a checkpoint folder (with config.json) "
                      "nor a folder of finished runs (a sweep)")


def finished_runs(folder: Path, depth: int = 3) -> list[Path]:
    """Run folders (metrics.json + checkpoint/) under ``folder``: the trials of a sweep directory."""
    found, level = [], [Path(folder)]
    for _ in range(depth):
        level = [c for d in level for c in sorted(d.iterdir()) if c.is_dir() and not c.name.startswith(".")]
        found += [d for d in level if (d / "metrics.json").is_file() and (d / "checkpoint").is_dir()]
        level = [d for d in level if d not in found]
    return found


def sweep_table(runs: list[Path]) -> list[dict]:
    """One row per finished run: the model, validation F1 and test F1 with its interval."""
    rows = []
    for run in runs:
        m = _read_json(run / "metrics.json") or {}
        cfg = _read_json(run / "checkpoint" / "config.json") or {}
        vs = m.get("vs_baseline") or {}
        rows.append({"run": run.name, "path": str(run), "backbone": (cfg.get("model") or {}).get("backbone"),
                     "adapter": (cfg.get("model") or {}).get("adapter"),
                     "val_f1_macro": (m.get("val_metrics") or {}).get("f1_macro"),
                     "f1_macro": (m.get("metrics") or {}).get("f1_macro"),
                     "f1_macro_ci": (m.get("metrics") or {}).get("f1_macro_ci"),
                     "delta_f1_macro": vs.get("delta_f1_macro"), "delta_f1_macro_ci": vs.get("delta_f1_macro_ci")})
    return rows


def build_sweep_report(folder: Path, **options) -> dict:
    """A folder of runs: the full report of the run best on *validation*, plus a table of all runs."""
    runs = finished_runs(folder)
    if not runs:
        raise ConfigError(f"{folder}: no finished run (metrics.json + checkpoint/) in it; pass a run folder")
    table = sweep_table(runs)
    best = max(table, key=lambda r: -1.0 if r["val_f1_macro"] is None else r["val_f1_macro"])
    report = build_report(Path(best["path"]), **options)
    report["sweep"] = {"folder": str(folder), "chosen_by": "best validation macro-F1", "best": best["run"],
                       "runs": table}
    report["title"] = f"clinitui evaluation report: {Path(folder).name} (best of {len(table)} runs: {best['run']})"
    return report


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def training_curves(run: Path | None) -> dict:
    """Loss per logged step and validation metrics per epoch, from events.jsonl; run start time."""
    if run is None:
        return {}
    from clinitui.events import read_events

    events = read_events(run)
    started = next((e for e in events if e["type"] == "run_started"), {})
    return {
        "started": dt.datetime.fromtimestamp(started["t"], dt.timezone.utc).isoformat(timespec="seconds") if started else None,
        "step": [e["step"] for e in events if e["type"] == "step"],
        "loss": [e["loss"] for e in events if e["type"] == "step"],
        "epoch": [e["epoch"] for e in events if e["type"] == "eval" and e.get("split") == "val"],
        "val_f1_macro": [e["f1_macro"] for e in events if e["type"] == "eval" and e.get("split") == "val"],
        "val_accuracy": [e["accuracy"] for e in events if e["type"] == "eval" and e.get("split") == "val"],
        "data_source": started.get("data_source"), "split_kind": started.get("split"),
        "trainable_params": (started.get("params") or {}).get("trainable"),
        "total_params": (started.get("params") or {}).get("total"),
    }


def build_report(target: Path, *, data: Path | None = None, text_col: str = "text", label_col: str = "label",
                 split_col: str | None = None, split: str = "test", n_boot: int | None = None,
                 seed: int | None = None, group_col: str | None = None, id_col: str | None = None) -> dict:
    """Everything ``report.html`` shows, as plain JSON-able data."""
    run, ckpt = resolve(target)
    info = read_checkpoint_info(ckpt)
    if Task.of(info.raw) is Task.MULTILABEL:
        raise ConfigError(f"{target}: clinitui report does not cover multi-label runs yet; metrics.json and "
                          "`clinitui eval RUN --data FILE --json` give their per-label metrics (docs/tasks.md)")
    run_metrics = read_metrics(run) if run else None  # a seed group's is its seeds.json
    temperature = info.raw.get("temperature")
    op = info.raw.get("operating_point") or {}
    threshold = op.get("threshold") if info.positive_index is not None else None
    baseline_probs = groups = ids = None
    description = describe_checkpoint(ckpt)
    if data is not None:
        from clinitui.engine.inference.apply import score, tfidf_member

        extra = tuple(c for c in (group_col, id_col) if c)
        s = score(ckpt, data, text_col=text_col, label_col=label_col, split_col=split_col, split=split,
                  extra_cols=extra)
        y, raw = s.y, s.raw_probs
        groups, ids = s.column(group_col), s.column(id_col)
        baseline_probs, _ = tfidf_member(s.info, [s.table.texts[i] for i in s.rows])
        scored = {"source": Path(data).name, "split": split if split_col else "all", "n": int(len(y)),
                  "training_split": False}
        boot = {"resamples": stats.DEFAULT_RESAMPLES, "seed": stats.DEFAULT_SEED}
    else:
        if group_col or id_col:
            raise ConfigError("--group-col and --id-col read columns of a data file: give it with --data")
        record = _read_json(run / PREDICTIONS_FILE) if run else None
        if record is None:
            raise ConfigError(f"{target}: no {PREDICTIONS_FILE} (a checkpoint alone, or a run from an older "
                              "clinitui); score a labelled file with --data FILE")
        y, raw = np.asarray(record["test"]["y"], dtype=int), np.asarray(record["test"]["probs"])
        if record.get("baseline_test_probs") is not None:
            baseline_probs = np.asarray(record["baseline_test_probs"])
        scored = {"source": "the run's own test split", "split": "test", "n": int(len(y)), "training_split": True}
        boot = record.get("bootstrap") or {"resamples": stats.DEFAULT_RESAMPLES, "seed": stats.DEFAULT_SEED}
    n_boot = boot["resamples"] if n_boot is None else n_boot
    seed = boot["seed"] if seed is None else seed
    metrics, extras = assess(y, raw, info.label_names, info.positive_index, temperature=temperature,
                             threshold=threshold, rule=op.get("rule") if threshold is not None else None,
                             n_boot=n_boot, seed=seed, baseline_probs=baseline_probs, groups=groups, ids=ids)
    if baseline_probs is not None:
        extras["vs_baseline_note"] = description.baseline_note() if description else None
    if run_metrics and run_metrics.get("baseline") and baseline_probs is not None:
        extras["baseline_metrics"] = {k: v for k, v in run_metrics["baseline"].items() if k != "per_class"}
    training = training_curves(run)
    m = info.model
    return {
        "title": f"clinitui evaluation report: {run.name if run else ckpt.name}",
        "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "clinitui_version": __version__,
        "scored": scored,
        "labels": info.label_names,
        "positive_label": None if info.positive_index is None else info.label_names[info.positive_index],
        "task": "binary" if info.positive_index is not None else f"{len(info.label_names)}-class",
        "data": _data_section(run_metrics, training),
        "model": {
            "backbone": m.backbone, "adapter": m.adapter, "pooling": m.pooling, "freeze": info.freeze,
            "max_length": info.max_length, "trainable_params": (run_metrics or {}).get("params", {}).get("trainable"),
            "total_params": (run_metrics or {}).get("params", {}).get("total"),
            "weights_sha256": _weights_sha256(info),
            "trained_with": info.raw.get("clinitui_version"), "trained_on": training.get("started"),
            "best_epoch": (run_metrics or {}).get("best_epoch"), "temperature": temperature or 1.0,
            "operating_point": op or None,
        },
        "metrics": metrics,
        **extras,
        "leakage": (run_metrics or {}).get("leakage"),
        "training": {k: training.get(k) for k in ("step", "loss", "epoch", "val_f1_macro", "val_accuracy")} if run else None,
        "curves": curves(y, raw, info.label_names, info.positive_index, temperature),
        "not_applicable": _not_applicable(info, baseline_probs, data),
        "model_card": _model_card(info, run_metrics, description, scored),
        "description": _description(description),
    }


def _weights_sha256(info) -> str:
    """SHA-256 of the checkpoint's weights; a seed group's (no weights of its own): of its members' digests."""
    if checkpoint_predicts(info.raw) is not Predicts.SEED_AVERAGE:
        return sha256_file(info.path / WEIGHTS)
    from clinitui.engine.inference.predictor import member_paths

    joined = "\n".join(sha256_file(m / WEIGHTS) for m in member_paths(info))
    return hashlib.sha256(joined.encode()).hexdigest()


def _description(d) -> dict | None:
    """What the checkpoint predicts and each predictor's figures on the training run's own splits."""
    if d is None:
        return None
    rows = [{"predictor": label, "val": f.val, "test": f.test, "test_ci": f.test_ci} for label, f in d.rows()]
    return {**d.as_json(), "metric_label": d.metric_label, "rows": rows,
            "curve_of": "the network alone" if d.predicts is not Predicts.NETWORK else "the model"}


def _data_section(run_metrics: dict | None, training: dict) -> dict | None:
    if not run_metrics or not run_metrics.get("counts"):
        return None
    splits = []
    for name, counts in run_metrics["counts"].items():
        n = sum(counts.values())
        splits.append({"split": name, "n": n, "counts": counts,
                       "prevalence": {k: (v / n if n else None) for k, v in counts.items()}, "use": SPLIT_USE.get(name, "")})
    return {"source": training.get("data_source"), "split_kind": training.get("split_kind"), "splits": splits}


def _not_applicable(info, baseline_probs, data) -> list[str]:
    notes = []
    if info.positive_index is None:
        notes.append("Operating point, sensitivity/specificity, likelihood ratios and the decision curve apply to "
                     "binary tasks only; this task has several classes (per-class one-vs-rest figures are given).")
        notes.append("Calibration is measured on the top label (confidence of the predicted class).")
    if baseline_probs is None:
        notes.append("Baseline comparison: the TF-IDF baseline is scored on the training run's own test split; "
                     "it is shown when the report is built from a run without --data.")
    return notes


def _model_card(info, run_metrics: dict | None, description, scored: dict) -> list[dict]:
    m = info.model
    network = f"{m.backbone} backbone + {m.adapter} adapter, {m.pooling} pooling, freeze={info.freeze}"
    if description is not None and description.predicts is Predicts.TFIDF:
        network = description.sentence()
    elif description is not None and description.predicts is not Predicts.NETWORK:
        network = f"{description.sentence()}; network: {network}"
    evaluation = ("the training run's held-out test split" if scored.get("training_split") else
                  f"the file {scored['source']} ({scored['split']} rows, n = {scored['n']}), not the training "
                  "run's test split")
    known = {
        "Model": network,
        "Task": "classify a clinical note into: " + ", ".join(info.label_names),
        "Training data": (run_metrics or {}).get("run_dir") and "see 'Data and splits of the training run'" or TODO,
        "Evaluation": f"{evaluation}; figures with 95% intervals (stratified bootstrap, Wilson)",
        "Decision threshold": (f"{(info.raw.get('operating_point') or {}).get('threshold'):.3f} "
                               f"(rule {(info.raw.get('operating_point') or {}).get('rule')}, chosen on validation)")
        if info.raw.get("operating_point") else "argmax of the class probabilities",
    }
    rows = [{"field": k, "value": v} for k, v in known.items()]
    for field in ("Intended use", "Intended users", "Population and setting", "Out-of-scope uses",
                  "Ethical considerations", "Caveats and recommendations"):
        rows.append({"field": field, "value": TODO})
    return rows
