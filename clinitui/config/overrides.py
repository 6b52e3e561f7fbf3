"""``--set key=value`` overrides on dotted paths, and TOML (de)serialisation of a RunConfig."""

from __future__ import annotations

import tomllib
from typing import Any

from pydantic import ValidationError

from clinitui.config.schema import RunConfig, Section
from clinitui.errors import ConfigError, did_you_mean


def parse_value(text: str) -> Any:
    """A TOML value (``3``, ``1e-4``, ``true``, ``"x"``, ``[1, 2]``), or the bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def set_path(data: dict, dotted: str, value: Any) -> None:
    """Set ``data[a][b][c] = value`` for ``a.b.c``, checking names against the schema."""
    parts = dotted.split(".")
    model: Any = RunConfig
    node = data
    for i, part in enumerate(parts):
        fields = getattr(model, "model_fields", None)
        if fields is not None:
            if part not in fields:
                where = ".".join(parts[:i]) or "the top level"
                raise ConfigError(f"unknown setting '{dotted}'{did_you_mean(part, list(fields))} in {where}")
            annotation = fields[part].annotation
            model = annotation if isinstance(annotation, type) and issubclass(annotation, Section) else None
        if i == len(parts) - 1:
            if fields is not None and _wants_str(fields[part].annotation) and isinstance(value, (int, float)):
                value = str(value)  # --set data.positive_label=1 means the label "1"
            node[part] = value
        else:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"setting '{dotted}': '{part}' is a value, not a table")


def _wants_str(annotation: Any) -> bool:
    import typing

    return annotation is str or str in typing.get_args(annotation)


def apply_overrides(data: dict, assignments: list[str]) -> dict:
    for item in assignments:
        if "=" not in item:
            raise ConfigError(f"--set '{item}': expected key=value, e.g. --set train.epochs=3")
        key, _, raw = item.partition("=")
        set_path(data, key.strip(), parse_value(raw.strip()))
    return data


def validate(data: dict, source: str = "configuration") -> RunConfig:
    try:
        return RunConfig(**data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            section = RunConfig
            for p in err["loc"][:-1]:
                section = section.model_fields[p].annotation
            valid = ", ".join(section.model_fields)
            raise ConfigError(f"{source}: unknown key '{loc}' (valid keys: {valid})") from None
        raise ConfigError(f"{source}: '{loc}': {err['msg']} (got {err.get('input')!r})") from None


def to_toml(config: RunConfig) -> str:
    import tomli_w

    data = config.model_dump(exclude_none=True)
    return "# Fully resolved clinitui run configuration (written before the run starts).\n" + tomli_w.dumps(data)


def from_toml(text: str, source: str) -> RunConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    return validate(data, source)


def config_digest(config: RunConfig) -> str:
    """A short digest of the resolved config (``run_started.config_digest``).

    ``tracking`` is left out: where a run is also recorded does not change the model it makes."""
    import hashlib
    import json

    blob = json.dumps(config.model_dump(exclude={"tracking"}), sort_keys=True).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()[:16]
