"""Shared fixtures: small generated datasets (never copied real data) and tiny training settings."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# Settings that make a from-scratch run take a couple of seconds on 2 CPU cores.
TINY = [
    "--set", "model.backbone_options.size=tiny",
    "--set", "model.backbone_options.vocab_size=300",
    "--set", "model.backbone_options.min_frequency=2",
    "--set", "train.max_length=48",
    "--set", "train.batch_size=16",
    "--set", "train.lr=3e-3",
    "--set", "train.log_every=2",
    "--set", "train.threads=1",
    "--set", "model.ensemble=none",  # the network alone (tests/test_accuracy.py covers the default blend)
]

_POS = ["dyspnée", "œdème", "BNP élevé", "FEVG basse", "furosémide", "hépatomégalie", "cardiomégalie"]
_NEG = ["fracture", "entorse", "otite", "bronchiolite", "gastro-entérite", "plâtre", "antalgiques"]
_FILL = ["patient", "enfant", "admis", "pour", "surveillance", "stable", "examen", "bilan", "contrôle",
         "normal", "traitement", "sortie", "prévue", "demain", "avec", "parents", "présents", "FC", "TA", "SpO2"]


def make_rows(n: int, seed: int = 0, n_classes: int = 2) -> list[dict]:
    """Short notes whose label is signalled by a few keywords (learnable in a few steps)."""
    rng = random.Random(seed)
    rows = []
    keywords = [_NEG, _POS] + [[f"motif{c}a", f"motif{c}b", f"motif{c}c"] for c in range(2, n_classes)]
    for i in range(n):
        label = i % n_classes
        words = rng.choices(_FILL, k=rng.randint(6, 30)) + rng.choices(keywords[label], k=rng.randint(1, 3))
        rng.shuffle(words)
        rows.append({"text": " ".join(words), "label": str(label)})
    return rows


def write_csv(path: Path, rows: list[dict], delimiter: str = ",") -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def small_csv(tmp_path) -> Path:
    return write_csv(tmp_path / "notes.csv", make_rows(240))


def _xdist_group(item: pytest.Item) -> str | None:
    """The worker group of a test under ``--dist loadgroup`` (pyproject's addopts), or None to spread it.

    Tests on the TUI's fixed snapshot root (tests/tui/conftest.py) share one folder per test function,
    so the cases of one function run on one worker. Tests that share a module-scoped fixture (a tiny
    run trained once for several read-only tests) stay on one worker, so the run is trained once.
    """
    if "fixed_root" in item.fixturenames:
        return "fixed-root:" + item.name.split("[")[0]
    defs = getattr(item, "_fixtureinfo", None)
    if defs is not None and any(d and d[-1].scope == "module" for d in defs.name2fixturedefs.values()):
        return item.nodeid.split("::")[0]
    return None


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    for item in items:
        group = None if item.get_closest_marker("xdist_group") else _xdist_group(item)  # a test's own wins
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(autouse=True)
def _private_runs_root(tmp_path, monkeypatch):
    """Runs never land in the user's home folder during tests."""
    monkeypatch.setenv("CLINITUI_RUNS_ROOT", str(tmp_path / "runs"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
