"""What kind of run a run directory holds, and the summary of a ``--seeds`` group (torch-free).

Everything is a run, but not every run is a classifier: a pretraining run's product is a backbone
(its figure is the held-out MLM loss, not an F1), the TF-IDF model has no adapter, a sweep trial
lives inside its sweep, and ``train --seeds N`` leaves a *group* folder (``seed-<n>/`` run
directories, ``checkpoint/`` and ``seeds.json``, engine/recipes/seeds.py) with no ``run.toml`` of its own.
``clinitui runs`` and the TUI's runs screen show the kind so "backbone + grn" is never printed for
what was not trained with an adapter.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

# kind -> the short label the tables print ("seeds" is completed with the group's size)
LABELS = {"train": "train", "pretrain": "pretrain", "tfidf": "tfidf", "seeds": "seeds", "trial": "trial",
          "seed": "seed run"}
SEEDS_FILE = "seeds.json"


def kind_of(run_dir: Path, cfg: dict) -> str:
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
    if cfg.get("pretrain"):
        return "pretrain"
    if run_dir.parent.name == "trials" and (run_dir.parent.parent / "sweep.toml").is_file():
        return "trial"
    if run_dir.name.startswith("seed-") and is_seed_group(run_dir.parent):
        return "seed"
    if (cfg.get("model") or {}).get("backbone") == "tfidf":
        return "tfidf"
    return "train"


def data_label(started: dict) -> str | None:
    """The data file's name; for pretraining (several files) the first one and how many more."""
    if started.get("data_source"):
        return started["data_source"]
    files = [f.get("file") for f in started.get("data_files") or [] if isinstance(f, dict) and f.get("file")]
    if not files:
        return None
    return files[0] + (f" +{len(files) - 1}" if len(files) > 1 else "")


def label(kind: str, members: int | None = None) -> str:
    if kind == "seeds" and members:
        return f"{members} seeds"
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
