"""The sweep spec: what to vary, how many seeds, on which hardware -- checked before anything starts.

A spec is a TOML document (a file, a shipped preset in ``presets/sweeps/``, or built from the
shorthand flags of ``clinitui sweep``)::

    description = "Two backbones x three adapters, three seeds"
    seeds = 3                       # or a list: [42, 7, 13]; N means 42, 43, ... 42+N-1
    [base]                          # what every trial starts from (like `clinitui train` options)
    preset = "quickstart-cpu"       # optional experiment preset
    budget = "cpu"
    data = "notes.csv"              # relative to the spec file; default: the demo corpus
    set = { "train.epochs" = 2 }    # any setting
    [grid]                          # the product of these lists (a grid sweep)
    backbone = ["scratch-small", "scratch-moe"]
    adapter = ["grn", "adapter", "linear"]
    "train.lr" = [1e-3, 3e-4]
    [search]                        # or an Optuna search over ranges (a search sweep)
    n_trials = 20
    timeout_s = 3600
    space = { "train.lr" = { low = 1e-4, high = 1e-2, log = true } }
    [resources]
    slots = 2                       # CPU slots, or gpus = [0, 1] and per_gpu = 1
    backend = "local"               # or "ray" (address = "HOST:PORT")

Every error names the key and exits 2 before a directory exists (docs/sweeps.md).
"""

from __future__ import annotations

import itertools
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clinitui.errors import ConfigError, did_you_mean

TOP_KEYS = ("description", "seeds", "base", "grid", "search", "resources")
BASE_KEYS = ("preset", "backbone", "adapter", "budget", "data", "text_col", "label_col", "split_col", "set")
PART_KEYS = ("preset", "backbone", "adapter", "budget")  # grid keys that name presets, not settings
SEARCH_KEYS = ("n_trials", "timeout_s", "space", "sampler_seed", "pruner_warmup_epochs")
RESOURCE_KEYS = ("slots", "gpus", "per_gpu", "backend", "address")
FIRST_SEED = 42


@dataclass
class Trial:
    """One point of the sweep: its name (the run directory's), the settings that vary, and the seed."""

    name: str
    settings: dict[str, Any]
    seed: int


@dataclass
class SweepSpec:
    source: str
    description: str = ""
    seeds: list[int] = field(default_factory=lambda: [FIRST_SEED])
    base: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list] = field(default_factory=dict)
    search: dict[str, Any] | None = None
    resources: dict[str, Any] = field(default_factory=dict)

    @property
    def mode(self) -> str:
        return "search" if self.search is not None else "grid"

    def as_dict(self) -> dict:
        """The TOML document ``sweep.toml`` stores (paths already absolute)."""
        doc: dict[str, Any] = {"description": self.description, "seeds": self.seeds, "base": self.base,
                               "resources": self.resources}
        if self.grid:
            doc["grid"] = self.grid
        if self.search is not None:
            doc["search"] = self.search
        return doc


def _flatten(table: dict, prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": [..]}}`` (TOML's unquoted dotted keys) → ``{"train.lr": [..]}``."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and not _is_range(value) and not dotted.endswith("_options"):
            out.update(_flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def _is_range(value: dict) -> bool:
    return bool(set(value) & {"low", "high", "choices"})


def _check_setting(key: str, source: str, where: str) -> None:
    from clinitui.config.overrides import set_path

    try:
        set_path({}, key, None)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {where} '{key}': {exc}") from None


def parse(doc: dict, source: str, base_dir: Path | None = None) -> SweepSpec:
    """Check a spec document key by key and return it resolved; ConfigError names the bad key."""
    for key in doc:
        if key not in TOP_KEYS:
            raise ConfigError(f"{source}: unknown key '{key}'{did_you_mean(key, list(TOP_KEYS))} "
                              f"(valid keys: {', '.join(TOP_KEYS)})")
    spec = SweepSpec(source=source, description=str(doc.get("description", "")))
    spec.seeds = _seeds(doc.get("seeds", 1), source)
    spec.base = _base(doc.get("base", {}), source, base_dir)
    if "grid" in doc:
        spec.grid = _grid(doc["grid"], source)
    if "search" in doc:
        spec.search = _search(doc["search"], source)
    if not spec.grid and spec.search is None and len(spec.seeds) < 2:
        raise ConfigError(f"{source}: nothing to sweep; give a [grid] of lists or a [search] with a space")
    spec.resources = _resources(doc.get("resources", {}), source)
    checked: set[tuple[str, str]] = set()
    points = trials(spec) if spec.mode == "grid" else [Trial("check", {}, spec.seeds[0])]
    for trial in points:  # wrong types, values and model names, named by key, before anything starts
        config = trial_config(spec, trial)
        if (config.model.backbone, config.model.adapter) not in checked:
            _check_models(config, f"{source}: trial {trial.name}")
            checked.add((config.model.backbone, config.model.adapter))
    return spec


def _check_models(config, where: str) -> None:
    """Backbone and adapter must exist (registry, preset, HF id or folder), as `clinitui train` checks."""
    from clinitui.models import registry
    from clinitui.models.classifier import resolve_backbone

    try:
        resolve_backbone(config.model.backbone)
        registry.get("adapter", config.model.adapter)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _table(value: Any, key: str, source: str) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: '{key}' must be a table ([{key}]), got {type(value).__name__}")
    return value


def _seeds(value: Any, source: str) -> list[int]:
    if isinstance(value, bool) or not isinstance(value, (int, list)):
        raise ConfigError(f"{source}: 'seeds' must be a count (3) or a list of integers ([42, 7]), got {value!r}")
    if isinstance(value, int):
        if value < 1:
            raise ConfigError(f"{source}: 'seeds' must be at least 1, got {value}")
        return [FIRST_SEED + i for i in range(value)]
    if not value or not all(isinstance(s, int) and not isinstance(s, bool) for s in value):
        raise ConfigError(f"{source}: 'seeds' must be a non-empty list of integers, got {value!r}")
    return list(dict.fromkeys(value))


def _base(value: Any, source: str, base_dir: Path | None) -> dict:
    base = dict(_table(value, "base", source))
    for key in base:
        if key not in BASE_KEYS:
            raise ConfigError(f"{source}: unknown key 'base.{key}'{did_you_mean(key, list(BASE_KEYS))} "
                              f"(valid keys: {', '.join(BASE_KEYS)})")
        if key != "set" and not isinstance(base[key], str):
            raise ConfigError(f"{source}: 'base.{key}' must be a string, got {base[key]!r}")
    sets = base.get("set", {})
    if isinstance(sets, list):  # ["train.epochs=2", ...] as on the command line
        from clinitui.config.overrides import parse_value

        parsed = {}
        for item in sets:
            if not isinstance(item, str) or "=" not in item:
                raise ConfigError(f"{source}: 'base.set' item {item!r}: expected key=value, e.g. train.epochs=3")
            k, _, v = item.partition("=")
            parsed[k.strip()] = parse_value(v.strip())
        sets = parsed
    sets = _flatten(_table(sets, "base.set", source))
    for key in sets:
        _check_setting(key, source, "base.set")
    base["set"] = sets
    if base.get("data"):
        path = Path(base["data"]).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.is_file():
            raise ConfigError(f"{source}: 'base.data': {path} does not exist; give the notes file (CSV, TSV, JSONL, Parquet)")
        base["data"] = str(path.resolve())
    return base


def _grid(value: Any, source: str) -> dict[str, list]:
    grid = _flatten(_table(value, "grid", source))
    if not grid:
        raise ConfigError(f"{source}: [grid] is empty; list at least one setting, e.g. adapter = [\"grn\", \"linear\"]")
    for key, values in grid.items():
        if key not in PART_KEYS:
            _check_setting(key, source, "grid")
        if not isinstance(values, list):
            raise ConfigError(f"{source}: grid '{key}' must be a list of values, got {values!r}")
        if not values:
            raise ConfigError(f"{source}: grid '{key}' is empty; give at least one value")
        if key in PART_KEYS and not all(isinstance(v, str) for v in values):
            raise ConfigError(f"{source}: grid '{key}' must list preset or model names (strings), got {values!r}")
    return grid


def _search(value: Any, source: str) -> dict:
    search = dict(_table(value, "search", source))
    for key in search:
        if key not in SEARCH_KEYS:
            raise ConfigError(f"{source}: unknown key 'search.{key}'{did_you_mean(key, list(SEARCH_KEYS))} "
                              f"(valid keys: {', '.join(SEARCH_KEYS)})")
    for key in ("n_trials", "timeout_s", "sampler_seed", "pruner_warmup_epochs"):
        v = search.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0):
            raise ConfigError(f"{source}: 'search.{key}' must be a non-negative number, got {v!r}")
    if not search.get("n_trials") and not search.get("timeout_s"):
        raise ConfigError(f"{source}: [search] needs n_trials and/or timeout_s (a wall-time budget in seconds)")
    space = _flatten(_table(search.get("space", {}), "search.space", source))
    if not space:
        raise ConfigError(f"{source}: 'search.space' is empty; give ranges, e.g. \"train.lr\" = {{ low = 1e-4, high = 1e-2 }}")
    for key, rng in space.items():
        where = f"search.space '{key}'"
        if key not in PART_KEYS:
            _check_setting(key, source, "search.space")
        if not isinstance(rng, dict) or not _is_range(rng):
            raise ConfigError(f"{source}: {where} must be {{ low = .., high = .. }} or {{ choices = [..] }}")
        extra = set(rng) - {"low", "high", "log", "step", "choices"}
        if extra:
            raise ConfigError(f"{source}: {where}: unknown key '{sorted(extra)[0]}' (valid keys: low, high, log, step, choices)")
        if "choices" in rng:
            if not isinstance(rng["choices"], list) or not rng["choices"]:
                raise ConfigError(f"{source}: {where}: 'choices' must be a non-empty list")
            continue
        low, high = rng.get("low"), rng.get("high")
        if any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in (low, high)):
            raise ConfigError(f"{source}: {where}: low and high must both be numbers, got {low!r} and {high!r}")
        if low > high:
            raise ConfigError(f"{source}: {where}: low ({low}) is greater than high ({high})")
        if rng.get("log") and low <= 0:
            raise ConfigError(f"{source}: {where}: a log range needs low > 0, got {low}")
    search["space"] = space
    return search


def _resources(value: Any, source: str) -> dict:
    res = dict(_table(value, "resources", source))
    for key in res:
        if key not in RESOURCE_KEYS:
            raise ConfigError(f"{source}: unknown key 'resources.{key}'{did_you_mean(key, list(RESOURCE_KEYS))} "
                              f"(valid keys: {', '.join(RESOURCE_KEYS)})")
    for key in ("slots", "per_gpu"):
        v = res.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ConfigError(f"{source}: 'resources.{key}' must be a positive integer, got {v!r}")
    if "gpus" in res:
        res["gpus"] = parse_gpus(res["gpus"], f"{source}: 'resources.gpus'")
    if res.get("backend", "local") not in ("local", "ray"):
        raise ConfigError(f"{source}: 'resources.backend' must be 'local' or 'ray', got {res['backend']!r}")
    return res


def parse_gpus(value: Any, where: str) -> list[int]:
    """``"0,1"`` or ``[0, 1]`` → ``[0, 1]``."""
    items = value.split(",") if isinstance(value, str) else value
    try:
        gpus = [int(str(g).strip()) for g in items if str(g).strip()]
    except (TypeError, ValueError):
        raise ConfigError(f"{where} must list GPU indices, e.g. 0,1; got {value!r}") from None
    if not gpus or any(g < 0 for g in gpus):
        raise ConfigError(f"{where} must list GPU indices, e.g. 0,1; got {value!r}")
    return gpus


# -- trials -----------------------------------------------------------------------------------------
def _slug(value: Any) -> str:
    text = Path(value).stem if isinstance(value, str) and "/" in value else str(value)
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-")[:40] or "x"


def trial_name(index: int, settings: dict, seed: int) -> str:
    parts = [_slug(v) for v in settings.values()]
    return "-".join([f"{index:03d}", *parts, f"s{seed}"])


def trials(spec: SweepSpec) -> list[Trial]:
    """A grid's trials in a fixed order (settings in spec order, seeds innermost)."""
    keys = list(spec.grid)
    out = []
    for values in itertools.product(*(spec.grid[k] for k in keys)):
        settings = dict(zip(keys, values))
        for seed in spec.seeds:
            out.append(Trial(trial_name(len(out), settings, seed), settings, seed))
    return out


def threads_per_trial(spec: SweepSpec, slots: int) -> int:
    import os

    return max(1, (os.cpu_count() or 1) // max(1, slots))


def trial_config(spec: SweepSpec, trial: Trial, threads: int | None = None):
    """The run config of one trial: base ← the trial's settings ← its seed (baseline off: computed once)."""
    from clinitui.config.presets import compose

    part = {k: trial.settings.get(k, spec.base.get(k)) for k in PART_KEYS}
    flags: dict[str, Any] = {"train.threads": threads}
    flags.update({"data.path": spec.base.get("data"), "data.text_col": spec.base.get("text_col"),
                  "data.label_col": spec.base.get("label_col"), "data.split_col": spec.base.get("split_col")})
    flags.update(spec.base.get("set", {}))
    flags.update({k: v for k, v in trial.settings.items() if k not in PART_KEYS})
    flags.update({"train.seed": trial.seed, "train.baseline": False})
    return compose(preset=part["preset"], backbone=part["backbone"], adapter=part["adapter"], budget=part["budget"],
                   flags=flags, source=f"{spec.source}: trial {trial.name}")


# -- where specs come from ----------------------------------------------------------------------------
def load_file(path: Path) -> SweepSpec:
    path = Path(path).expanduser()
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the sweep spec ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse(doc, str(path), path.parent)


def load_preset(name: str) -> SweepSpec:
    """A shipped or user sweep preset (``presets/sweeps/NAME.toml``, listed by `clinitui presets list`)."""
    from clinitui.config.presets import find

    return load_file(find(name, "sweep").path)


def from_shorthand(*, data: Path | None, backbones: list[str], adapters: list[str], budget: str | None,
                   preset: str | None, seeds: int | None, sets: list[str], grids: list[str]) -> SweepSpec:
    """``--backbones a,b --adapters x,y --seeds 3 --set k=v --grid key=v1,v2`` as a spec."""
    from clinitui.config.overrides import parse_value

    grid: dict[str, list] = {}
    if backbones:
        grid["backbone"] = backbones
    if adapters:
        grid["adapter"] = adapters
    for item in grids:
        if "=" not in item:
            raise ConfigError(f"--grid '{item}': expected key=v1,v2, e.g. --grid train.lr=1e-3,3e-4")
        key, _, raw = item.partition("=")
        grid[key.strip()] = [parse_value(v.strip()) for v in raw.split(",") if v.strip()]
    base: dict[str, Any] = {"set": list(sets)}
    if data is not None:
        base["data"] = str(data)
    if budget:
        base["budget"] = budget
    if preset:
        base["preset"] = preset
    doc: dict[str, Any] = {"base": base, "seeds": seeds or 1}
    if grid:
        doc["grid"] = grid
    elif not seeds or seeds < 2:
        raise ConfigError("nothing to sweep: give --backbones, --adapters, --grid key=v1,v2 or --seeds N "
                          "(or a SPEC.toml / --preset)")
    return parse(doc, "options", Path.cwd())
