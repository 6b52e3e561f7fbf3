"""Kinds and tasks, declared once: what a run is, what a checkpoint predicts, single- or multi-label (torch-free).

Everything is a run, but not every run is a classifier: a pretraining run's product is a backbone
(its figure is the held-out MLM loss, not an F1), the TF-IDF model has no adapter, a sweep trial
lives inside its sweep, and ``train --seeds N`` leaves a *group* folder (``seed-<n>/`` run
directories, ``checkpoint/`` and ``seeds.json``, engine/recipes/seeds.py) with no ``run.toml`` of its own.
``clinitui runs`` and the TUI's runs screen show the kind so "backbone + grn" is never printed for
what was not trained with an adapter.
"""

from __future__ import annotations

import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any, Mapping


class RunKind(StrEnum):
    """What a run directory holds. ``TRAIN``, ``PRETRAIN`` and ``TFIDF`` come from the config
    (:func:`config_kind`); ``TRIAL``, ``SEED`` and ``SEEDS`` from where the directory lies (:func:`kind_of`)."""

    TRAIN = "train"  # a classifier network (perhaps blended with the TF-IDF model)
    PRETRAIN = "pretrain"  # masked-LM pretraining: its product is a backbone folder
    TFIDF = "tfidf"  # the TF-IDF model alone, as a run
    SEEDS = "seeds"  # a `train --seeds N` group folder (no run.toml of its own)
    TRIAL = "trial"  # a sweep trial (trials/<name>/ of a sweep directory)
    SEED = "seed"  # one member run of a seeds group
    SEARCH = "search"  # a `train --time-budget` search folder (clinitui/timebudget): its row is the run it keeps

    @property
    def classifier(self) -> bool:
        """False for a pretraining run: its product is a backbone, its figure the held-out MLM loss, not an F1."""
        return self is not RunKind.PRETRAIN

    @property
    def has_adapter(self) -> bool:
        """Whether the run trained a backbone *with an adapter* (not a pretraining run, not the TF-IDF model)."""
        return self not in (RunKind.PRETRAIN, RunKind.TFIDF)

    @property
    def has_epochs(self) -> bool:
        """Whether "epoch n of N" means something for the run: pretraining counts steps, TF-IDF fits once,
        a group's seed runs have their own epochs."""
        return self not in (RunKind.PRETRAIN, RunKind.SEEDS, RunKind.TFIDF, RunKind.SEARCH)


class Task(StrEnum):
    """What a classifier predicts for a note: one label (binary or multi-class), or a set of labels."""

    MULTICLASS = "multiclass"
    MULTILABEL = "multilabel"

    @classmethod
    def of(cls, raw: Mapping[str, Any] | None) -> "Task":
        """The task a saved description states in its ``task`` key (checkpoint config.json, ``tfidf.json``,
        an ONNX manifest, a dataset summary); single-label when absent, as every file written before multi-label."""
        return cls.MULTILABEL if (raw or {}).get("task") == cls.MULTILABEL else cls.MULTICLASS

    @classmethod
    def of_labels(cls, labels) -> "Task":
        """The task of a split's labels: multi-hot rows (lists, tuples or 1-D arrays; data/multilabel.py)
        are multi-label, class indices single-label. Read without numpy (the TUI starts without it)."""
        first = labels[0] if len(labels) else None
        rows = isinstance(first, (list, tuple)) or getattr(first, "ndim", 0) >= 1
        return cls.MULTILABEL if rows else cls.MULTICLASS


class Predicts(StrEnum):
    """What a checkpoint folder computes for a note (engine/inference/predictor.py acts on it)."""

    NETWORK = "network"  # the classifier network alone
    BLEND = "blend"  # the network blended with its TF-IDF model (config.json `ensemble`)
    TFIDF = "tfidf"  # the TF-IDF model alone (backbone `tfidf`)
    SEED_AVERAGE = "seed-average"  # the mean of a seeds group's member checkpoints (config.json `members`)


def checkpoint_predicts(raw: Mapping[str, Any]) -> Predicts:
    """What the checkpoint whose ``config.json`` is ``raw`` predicts; the one place that reads it from the keys."""
    if raw.get("members"):
        return Predicts.SEED_AVERAGE
    if (raw.get("model") or {}).get("backbone") == RunKind.TFIDF:
        return Predicts.TFIDF
    if raw.get("ensemble"):
        return Predicts.BLEND
    return Predicts.NETWORK


def config_kind(cfg: Any) -> RunKind:
    """``PRETRAIN``, ``TFIDF`` or ``TRAIN`` for a resolved config (a ``RunConfig`` or its dict, as in run.toml)."""
    if not isinstance(cfg, Mapping):
        cfg = {"pretrain": cfg.pretrain, "model": {"backbone": cfg.model.backbone}}
    if cfg.get("pretrain"):
        return RunKind.PRETRAIN
    if (cfg.get("model") or {}).get("backbone") == RunKind.TFIDF:
        return RunKind.TFIDF
    return RunKind.TRAIN


# kind -> the short label the tables print ("seeds" is completed with the group's size)
LABELS = {RunKind.TRAIN: "train", RunKind.PRETRAIN: "pretrain", RunKind.TFIDF: "tfidf", RunKind.SEEDS: "seeds",
          RunKind.TRIAL: "trial", RunKind.SEED: "seed run", RunKind.SEARCH: "time budget"}
SEEDS_FILE = "seeds.json"


def kind_of(run_dir: Path, cfg: dict) -> RunKind:
    """``pretrain`` / ``tfidf`` / ``trial`` (inside a sweep) / ``seed`` (inside a seeds group) / ``train``.

    ``cfg`` is the resolved config of the ``run_started`` event; a run that failed before starting
    has none, so its ``run.toml`` is read instead.
    """
    run_dir = Path(run_dir)
    if not cfg:
        try:
            cfg = tomllib.loads((run_dir / "run.toml").read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            cfg = {}
    kind = config_kind(cfg)
    if kind == RunKind.PRETRAIN:
        return kind
    if run_dir.parent.name == "trials" and (run_dir.parent.parent / "sweep.toml").is_file():
        return RunKind.TRIAL
    if run_dir.name.startswith("seed-") and is_seed_group(run_dir.parent):
        return RunKind.SEED
    return kind


def data_label(started: dict) -> str | None:
    """The data file's name; for pretraining (several files) the first one and how many more."""
    if started.get("data_source"):
        return started["data_source"]
    files = [f.get("file") for f in started.get("data_files") or [] if isinstance(f, dict) and f.get("file")]
    if not files:
        return None
    return files[0] + (f" +{len(files) - 1}" if len(files) > 1 else "")


def label(kind: str, members: int | None = None) -> str:
    """The short label the runs tables print for ``kind`` (a seeds group with its size: ``3 seeds``)."""
    if kind == RunKind.SEEDS and members:
        return f"{members} seeds"
    if kind == RunKind.SEARCH and members is not None:
        return f"budget, {members} tried"
    return LABELS.get(kind, kind)


def seed_members(group: Path) -> list[Path]:
    """The run directories of a seeds group, in seed order."""
    try:
        found = [p for p in Path(group).glob("seed-*") if (p / "run.toml").is_file()]
    except OSError:
        return []
    return sorted(found, key=lambda p: (len(p.name), p.name))


def is_seed_group(path: Path) -> bool:
    path = Path(path)
    return not (path / "run.toml").is_file() and bool(seed_members(path))
