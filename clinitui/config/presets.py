"""Preset files: named, validated pieces of a run configuration (torch-free).

A preset is a TOML file whose tables are the run config's own tables (``[model]``, ``[train]``,
``[budget]`` ...), so the keys in files, ``--set`` and the TUI are one vocabulary. Four kinds,
one folder each (``presets/paper/`` holds the study's grid, which are experiments too):

* ``budgets/NAME.toml``     — ``[budget]``: what the hardware allows;
* ``backbones/NAME.toml``   — ``[model]`` backbone, pooling, freeze, dropout, backbone_options and
  ``[train]`` max_length;
* ``adapters/NAME.toml``    — ``[model]`` adapter, adapter_options, freeze and ``[train]`` lr;
* ``experiments/NAME.toml`` — ``uses = {backbone, adapter, budget}`` (preset names) plus any table.

Every file has a top-level ``description``. Unknown keys are rejected with the valid ones listed.
Presets are searched in the packaged folder (the repository's ``presets/``), then in the
folders of ``$CLINITUI_PRESETS_PATH``, then in ``$XDG_CONFIG_HOME/clinitui/presets`` (user
presets shadow packaged ones of the same kind and name).

Precedence when composing a run (the last word wins): schema defaults ← experiment preset (its
``uses`` parts, then its own tables) ← backbone / adapter / budget presets picked by flags ←
explicit flags ← ``--set``.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clinitui.config.overrides import apply_overrides, set_path, validate
from clinitui.config.preset_files import FOLDERS, catalogue, packaged_dir, search_path, user_dir  # noqa: F401
from clinitui.config.schema import RunConfig
from clinitui.errors import ConfigError, did_you_mean

KINDS = ("experiment", "backbone", "adapter", "budget", "sweep")
# What each kind may set: table → allowed keys ("*": every field of that table).
ALLOWED: dict[str, dict[str, Any]] = {
    "budget": {"budget": "*"},
    "backbone": {"model": ("backbone", "pooling", "freeze", "dropout", "backbone_options"), "train": ("max_length",)},
    "adapter": {"model": ("adapter", "adapter_options", "freeze"), "train": ("lr",)},
    "experiment": {"data": "*", "model": "*", "train": "*", "budget": "*"},
}
USES = ("backbone", "adapter", "budget")


@dataclass
class Preset:
    """One preset file, checked: ``tables`` holds its settings, ``uses`` its parts (experiments)."""

    name: str
    kind: str
    path: Path
    origin: str  # "packaged", "CLINITUI_PRESETS_PATH" or "user"
    description: str
    tables: dict[str, Any]
    uses: dict[str, str] = field(default_factory=dict)

    @property
    def qualified(self) -> str:
        return f"{self.path.parent.name}/{self.name}"


# -- reading and checking one file ----------------------------------------------------------------
def _schema_fields(table: str) -> list[str]:
    return list(RunConfig.model_fields[table].annotation.model_fields)


def _check_keys(doc: dict, kind: str, source: str) -> None:
    meta = ["description"] + (["uses"] if kind == "experiment" else [])
    allowed = ALLOWED[kind]
    for key, value in doc.items():
        if key in meta:
            continue
        if key not in allowed:
            valid = ", ".join(meta + [f"[{t}]" for t in allowed])
            hint = f"; a {kind} preset cannot set [{key}]" if key in RunConfig.model_fields else ""
            raise ConfigError(f"{source}: unknown key '{key}'{hint} (valid keys: {valid})")
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: '{key}' must be a table ([{key}]), got {type(value).__name__}")
        fields = _schema_fields(key)
        keys = fields if allowed[key] == "*" else list(allowed[key])
        if key == "budget":
            keys = [k for k in keys if k != "name"]  # a budget's name is its file name
        for sub in value:
            if sub not in keys:
                hint = f"; a {kind} preset cannot set it" if sub in fields else ""
                raise ConfigError(f"{source}: unknown key '{key}.{sub}'{hint} (valid keys: {', '.join(keys)})")
    if not isinstance(doc.get("description", ""), str):
        raise ConfigError(f"{source}: 'description' must be a string")
    uses = doc.get("uses", {})
    if not isinstance(uses, dict) or any(k not in USES or not isinstance(v, str) for k, v in uses.items()):
        raise ConfigError(f"{source}: 'uses' must be a table of preset names (valid keys: {', '.join(USES)})")


def load_file(path: Path, kind: str, origin: str = "file") -> Preset:
    """Read and validate one preset file; raises ConfigError naming the file and the fix."""
    path = Path(path)
    source = str(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read preset ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    if kind == "sweep":  # a sweep spec (clinitui/sweep/spec.py checks the rest when it is run)
        if not isinstance(doc.get("description", ""), str):
            raise ConfigError(f"{source}: 'description' must be a string")
        tables = {k: v for k, v in doc.items() if k != "description"}
        return Preset(path.stem, kind, path, origin, doc.get("description", "").strip(), tables)
    _check_keys(doc, kind, source)
    tables = {k: v for k, v in doc.items() if k not in ("description", "uses")}
    validate(copy.deepcopy(tables), source)  # types and ranges, with the schema's messages
    return Preset(path.stem, kind, path, origin, doc.get("description", "").strip(), tables, dict(doc.get("uses", {})))


def find(name: str, kind: str | None = None) -> Preset:
    """The preset called ``name`` (or ``folder/name``), of ``kind`` if given, read and checked."""
    if "/" in name and name.split("/", 1)[0] in (*FOLDERS, *KINDS):
        qualifier, name = name.split("/", 1)
        kind = FOLDERS.get(qualifier, qualifier)
    files = catalogue()
    matches = [(k, n) for (k, n) in files if n == name and (kind is None or k == kind)]
    if len(matches) == 1:
        path, origin = files[matches[0]]
        return load_file(path, matches[0][0], origin)
    if matches:
        names = ", ".join(f"{k}s/{n}" for k, n in matches)
        raise ConfigError(f"preset '{name}' is ambiguous; say which: {names}")
    pool = [n for (k, n) in files if kind is None or k == kind]
    what = f"{kind} preset" if kind else "preset"
    raise ConfigError(f"unknown {what} '{name}'{did_you_mean(name, pool)}; see `clinitui presets list`")


def find_optional(name: str, kind: str) -> Preset | None:
    entry = catalogue().get((kind, name))
    return load_file(entry[0], kind, entry[1]) if entry else None


# -- composing a run config -------------------------------------------------------------------------
def merge(base: dict, layer: dict) -> dict:
    """``layer`` over ``base``, tables merged key by key.

    When a layer changes ``model.backbone`` (or ``model.adapter``) without giving its options,
    the options of the old one are dropped: they belong to a different model. A budget preset
    (a ``[budget]`` with a new ``name``) replaces the whole table: a budget is one piece of hardware.
    """
    out = copy.deepcopy(base)
    for table, values in layer.items():
        if not isinstance(values, dict):
            out[table] = copy.deepcopy(values)
            continue
        if table == "budget" and "name" in values and values["name"] != out.get("budget", {}).get("name"):
            out.pop("budget", None)
        dst = out.setdefault(table, {})
        if table == "model":
            for part in ("backbone", "adapter"):
                if part in values and values[part] != dst.get(part) and f"{part}_options" not in values:
                    dst.pop(f"{part}_options", None)
        for key, value in values.items():
            if isinstance(value, dict) and isinstance(dst.get(key), dict):
                dst[key] = merge(dst[key], value)
            else:
                dst[key] = copy.deepcopy(value)
    return out


def preset_tables(preset: Preset) -> dict:
    """The settings a preset contributes (an experiment's ``uses`` parts first, then its own)."""
    if preset.kind == "budget":
        return {"budget": {**preset.tables.get("budget", {}), "name": preset.name}}
    if preset.kind != "experiment":
        return copy.deepcopy(preset.tables)
    data: dict = {}
    for part in USES:
        if part in preset.uses:
            data = merge(data, preset_tables(find(preset.uses[part], part)))
    data = merge(data, preset.tables)
    data["name"] = preset.name
    return data


def part_tables(kind: str, name: str) -> dict:
    """What ``--backbone NAME`` / ``--adapter NAME`` mean: the preset if one exists, else the raw name."""
    preset = find_optional(name, kind)
    if preset is not None:
        return preset_tables(preset)
    return {"model": {kind: name}}


def load_experiment(name_or_file: str) -> Preset:
    """``--preset``: an experiment preset by name, or a preset file by path."""
    path = Path(name_or_file).expanduser()
    if name_or_file.endswith(".toml") or path.is_file():
        if not path.is_file():
            raise ConfigError(f"preset file {path} does not exist")
        return load_file(path, "experiment")
    preset = find(name_or_file)
    if preset.kind == "sweep":
        raise ConfigError(f"'{preset.name}' is a sweep preset; run it with `clinitui sweep --preset {preset.name}`")
    if preset.kind != "experiment":
        raise ConfigError(f"'{preset.name}' is a {preset.kind} preset; pass it as --{preset.kind} {preset.name}")
    return preset


def compose(*, preset: str | None = None, backbone: str | None = None, adapter: str | None = None,
            budget: str | None = None, flags: dict[str, Any] | None = None, sets: list[str] | None = None,
            source: str = "options") -> RunConfig:
    """The run config from presets, flags and ``--set`` (see the module docstring for precedence)."""
    data: dict = {}
    if preset:
        data = preset_tables(load_experiment(preset))
    if backbone:
        data = merge(data, part_tables("backbone", backbone))
    if adapter:
        data = merge(data, part_tables("adapter", adapter))
    if budget:
        data = merge(data, preset_tables(find(budget, "budget")))
    for key, value in (flags or {}).items():
        if value is not None:
            set_path(data, key, value)
    apply_overrides(data, list(sets or []))
    return validate(data, source)


def resolve(preset: Preset) -> RunConfig:
    """A preset's settings over the defaults, validated (what ``presets show`` prints)."""
    return validate(preset_tables(preset), str(preset.path))


def flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 1}}`` → ``{"train.lr": 1}`` (option tables flattened too)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def field_descriptions() -> dict[str, str]:
    """``{"train.lr": "Peak learning rate of AdamW.", ...}`` for every schema field."""
    out = {"name": RunConfig.model_fields["name"].description or ""}
    for table in ("data", "model", "train", "budget"):
        for key, info in RunConfig.model_fields[table].annotation.model_fields.items():
            out[f"{table}.{key}"] = info.description or ""
    return out
