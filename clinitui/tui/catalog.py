"""What the launch form can offer, and how its choices become a config: presets and registries.

Backbones and adapters are the preset names of ``clinitui.config.presets`` (when that module is
installed) followed by the registry names no preset shadows; budgets are ``auto`` plus the budget
presets, or ``auto`` / ``cpu`` without presets. A config is composed exactly as
``clinitui train --preset P --backbone B --adapter A --budget X --set ...`` composes it.
Nothing here imports torch.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pydantic is imported by the worker thread that loads the catalogue, not at startup
    from clinitui.config.schema import RunConfig

AUTO_BUDGET = "Use a CUDA GPU if one is visible, else the CPU; no memory cap."
FALLBACK_BUDGETS = {"auto": AUTO_BUDGET, "cpu": "Train on the CPU only (no GPU), with all cores."}


@lru_cache(maxsize=1)
def _presets() -> Any | None:
    try:
        return importlib.import_module("clinitui.config.presets")
    except ImportError:  # presets are an optional layer: the form still works without them
        return None


def presets_available() -> bool:
    return _presets() is not None


@lru_cache(maxsize=1)
def _preset_descriptions() -> dict[tuple[str, str], str]:
    """``{(kind, name): description}`` of every readable preset (a broken file is left out)."""
    module = _presets()
    if module is None:
        return {}
    out: dict[tuple[str, str], str] = {}
    for (kind, name), (path, origin) in module.catalogue().items():
        try:
            out[(kind, name)] = module.load_file(path, kind, origin).description
        except Exception:  # a user's broken preset must not break the form; the CLI reports it
            continue
    return out


def _of_kind(kind: str) -> dict[str, str]:
    return {name: desc for (k, name), desc in sorted(_preset_descriptions().items()) if k == kind}


@lru_cache(maxsize=2)
def registry(kind: str) -> dict[str, str]:
    """``{name: description}`` of registered backbones or adapters, read without importing torch."""
    from clinitui.models.registry import registry_names

    return registry_names(kind)


def part_choices(kind: str) -> dict[str, str]:
    """Backbone or adapter choices: presets first, then registry entries with no preset of that name."""
    found = _of_kind(kind)
    for name, desc in registry(kind).items():
        found.setdefault(name, desc)
    return found


def budget_choices() -> dict[str, str]:
    budgets = _of_kind("budget")
    if not budgets:
        return dict(FALLBACK_BUDGETS)
    return {"auto": AUTO_BUDGET, **{k: v for k, v in budgets.items() if k != "auto"}}


def experiment_choices() -> dict[str, str]:
    """Experiment presets (``presets/experiments`` and the study's grid in ``presets/paper``)."""
    return _of_kind("experiment")


@dataclass
class ExperimentParts:
    """What choosing an experiment preset puts in the form's backbone/adapter/budget/number fields."""

    backbone: str
    adapter: str
    budget: str
    epochs: int
    lr: float
    seed: int


def experiment_parts(name: str) -> ExperimentParts:
    module = _presets()
    preset = module.load_experiment(name)
    config = module.compose(preset=name)
    return ExperimentParts(
        backbone=preset.uses.get("backbone", config.model.backbone),
        adapter=preset.uses.get("adapter", config.model.adapter),
        budget=preset.uses.get("budget", config.budget.name if config.budget.name != "auto" else "auto"),
        epochs=config.train.epochs, lr=config.train.lr, seed=config.train.seed,
    )


@dataclass
class Catalog:
    """Everything the launch form lists, loaded once in a thread after the first frame."""

    backbones: dict[str, str]
    adapters: dict[str, str]
    budgets: dict[str, str]
    experiments: dict[str, str]


def load_catalog() -> Catalog:
    """Reads the preset files and the registries (a few hundred milliseconds: run it in a thread)."""
    catalog = Catalog(part_choices("backbone"), part_choices("adapter"), budget_choices(), experiment_choices())
    from clinitui.config import overrides  # noqa: F401  (warm pydantic here, not on the event loop)

    return catalog


def compose(*, preset: str | None, backbone: str, adapter: str, budget: str, sets: list[str]) -> RunConfig:
    """The validated config; raises ``ConfigError`` naming the bad value."""
    budget = None if budget in ("", "auto") else budget
    module = _presets()
    if module is not None:
        return module.compose(preset=preset or None, backbone=backbone or None, adapter=adapter or None,
                              budget=budget, sets=sets, source="launch form")
    from clinitui.config.overrides import apply_overrides, validate
    from clinitui.errors import ConfigError

    data: dict = {}
    apply_overrides(data, [f'model.backbone="{backbone}"', f'model.adapter="{adapter}"'] + list(sets))
    if budget == "cpu":
        data.setdefault("budget", {}).update({"name": "cpu", "device": "cpu"})
    elif budget:
        raise ConfigError(f"unknown budget '{budget}' (choose from: {', '.join(FALLBACK_BUDGETS)})")
    return validate(data, "launch form")


def planner_available() -> bool:
    """True when the planner (``clinitui train --dry-run``) is installed."""
    try:
        # find_spec does not execute the module (the planner may import torch at the top)
        return importlib.util.find_spec("clinitui.engine.memory.planner") is not None
    except (ImportError, ValueError):
        return False
