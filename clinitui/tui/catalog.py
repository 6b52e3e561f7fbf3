"""What the launch form can offer, and how its choices become a config: presets and registries.

Backbones and adapters are the preset names of ``clinitui.config.presets`` (when that module is
installed) followed by the registry names no preset shadows; budgets are ``auto`` plus the budget
presets, or ``auto`` / ``cpu`` without presets. A config is composed exactly as
``clinitui train --preset P --backbone B --adapter A --budget X --set ...`` composes it.
Nothing here imports torch. What the form lists is cached on disk (``cache_path()``), keyed by the
files it is read from, so the console draws its first screen with every choice filled without
importing pydantic or reading a preset; a change to any of those files reads them all again.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
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
    lr: float | None  # None: auto, chosen from what trains when the run starts
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
    """Reads the preset files and the registries (a few hundred milliseconds: run it in a thread), or
    the cache they left when none of them changed since; then imports pydantic for the form's checks."""
    key = _fingerprint()
    catalog = _read_cache(key)
    if catalog is None:
        catalog = Catalog(part_choices("backbone"), part_choices("adapter"), budget_choices(), experiment_choices())
        _write_cache(key, catalog)
    from clinitui.config import overrides  # noqa: F401  (warm pydantic here, not on the event loop)

    return catalog


# -- the on-disk cache of what the form lists -------------------------------------------------------
CACHE_FORMAT = 1


def cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "clinitui" / "launch-catalog.json"


def cached_catalog() -> Catalog | None:
    """The catalogue as last read, if no file it comes from changed since (a millisecond or two), else None."""
    try:
        return _read_cache(_fingerprint())
    except OSError:
        return None


def _fingerprint() -> str:
    """Changes when a preset file, a registry entry file, the schema or the version changes."""
    from clinitui import __version__
    from clinitui.config.preset_files import catalogue

    package = Path(__file__).resolve().parents[1]
    paths = [path for path, _ in catalogue().values()]
    for kind in ("backbones", "adapters"):  # what registry_names parses
        paths += sorted((package / "models" / kind).glob("*.py"))
    paths += [package / "config" / "schema.py", package / "config" / "presets.py"]
    digest = hashlib.sha256(f"{CACHE_FORMAT} {__version__}\n".encode())
    for path in paths:
        st = path.stat()
        digest.update(f"{path}\0{st.st_mtime_ns}\0{st.st_size}\n".encode())
    return digest.hexdigest()


def _read_cache(key: str) -> Catalog | None:
    try:
        data = json.loads(cache_path().read_text(encoding="utf-8"))
        return Catalog(**data["catalog"]) if data.get("key") == key else None
    except (OSError, ValueError, KeyError, TypeError):  # absent, unreadable or from another version
        return None


def _write_cache(key: str, catalog: Catalog) -> None:
    """Atomic; a cache that cannot be written (read-only home) only costs the next start its speed."""
    path = cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"key": key, "catalog": asdict(catalog)}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


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
