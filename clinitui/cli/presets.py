"""``clinitui presets list`` and ``clinitui presets show NAME`` (torch-free)."""

from __future__ import annotations

from typing import Any, Optional

import typer
from typing_extensions import Annotated

from clinitui.cli.common import FullHelpGroup, boundary, print_json

Opt = typer.Option
Arg = typer.Argument

presets_app = typer.Typer(
    cls=FullHelpGroup, help="Budgets, backbones, adapters and experiments you can start from (TOML files).",
    no_args_is_help=True,
)
_ORDER = ("experiment", "backbone", "adapter", "budget", "sweep")


def _toml_value(value: Any) -> str:
    import tomli_w

    if value is None:
        return "(unset)"
    if value == {}:
        return "{}"
    return tomli_w.dumps({"v": value}).strip()[len("v = "):]


@presets_app.command("list")
def list_command(
    kind: Annotated[Optional[str], Opt(help="Only this kind: experiment, backbone, adapter or budget.")] = None,
    json_out: Annotated[bool, Opt("--json", help="JSON output.")] = False,
) -> None:
    """Every preset on the search path, by kind, with its description and where it comes from."""
    with boundary():
        from clinitui.config.presets import KINDS, catalogue, load_file, search_path
        from clinitui.errors import ConfigError, did_you_mean

        if kind is not None and kind.rstrip("s") not in KINDS:
            raise ConfigError(f"unknown kind '{kind}'{did_you_mean(kind, list(KINDS))}")
        rows = []
        for (k, name), (path, origin) in sorted(catalogue().items(), key=lambda kv: (_ORDER.index(kv[0][0]), kv[0][1])):
            if kind is not None and k != kind.rstrip("s"):
                continue
            try:
                description, error = load_file(path, k, origin).description, None
            except ConfigError as exc:  # one broken user file must not hide the others
                description, error = "", str(exc)
            rows.append({"kind": k, "name": name, "description": description, "origin": origin,
                         "path": str(path), "error": error})
        if json_out:
            print_json({"presets": rows, "search_path": [str(p) for p, _ in search_path()]})
            return
        from clinitui.fmt import aligned

        lines = aligned(None, [[row["name"], (f"INVALID: {row['error']}" if row["error"] else row["description"])
                                + ("" if row["origin"] == "packaged" else f" [{row['origin']}]")] for row in rows],
                        indent="  ")
        current = None
        for row, line in zip(rows, lines):
            if row["kind"] != current:
                current = row["kind"]
                typer.echo(f"{current}s:")
            typer.echo(line)
        typer.echo("\nshow one with `clinitui presets show NAME`; use with `clinitui train --preset NAME` "
                   "or --backbone/--adapter/--budget NAME; a sweep with `clinitui sweep --preset NAME`")


@presets_app.command("show")
def show_command(
    name: Annotated[str, Arg(help="Preset name (or kind/name, or an experiment .toml file).")],
    all_fields: Annotated[bool, Opt("--all", help="Every setting of the resolved run, defaults included.")] = False,
    json_out: Annotated[bool, Opt("--json", help="JSON output.")] = False,
) -> None:
    """A preset's resolved values, each with its description."""
    with boundary():
        from pathlib import Path

        from clinitui.config.presets import field_descriptions, find, flatten, load_file, preset_tables, resolve

        preset = load_file(Path(name), "experiment") if name.endswith(".toml") else find(name)
        if preset.kind == "sweep":  # a sweep spec, not a run: show the file itself
            if json_out:
                print_json({"name": preset.name, "kind": preset.kind, "path": str(preset.path), "origin": preset.origin,
                            "description": preset.description, "spec": preset.tables})
            else:
                typer.echo(f"{preset.name} (sweep preset, {preset.origin}: {preset.path}); run it with "
                           f"`clinitui sweep --preset {preset.name}`\n")
                typer.echo(preset.path.read_text(encoding="utf-8"))
            return
        config = resolve(preset)
        resolved = flatten(config.model_dump())
        touched = flatten(preset_tables(preset))
        keys = list(resolved) if all_fields else [k for k in resolved if k in touched or _under(k, touched)]
        descriptions = field_descriptions()
        if json_out:
            print_json({"name": preset.name, "kind": preset.kind, "path": str(preset.path), "origin": preset.origin,
                        "description": preset.description, "uses": preset.uses,
                        "values": {k: resolved[k] for k in keys}, "config": config.model_dump()})
            return
        typer.echo(f"{preset.name} ({preset.kind} preset, {preset.origin}: {preset.path})")
        if preset.description:
            typer.echo(preset.description)
        if preset.uses:
            typer.echo("uses: " + ", ".join(f"{k} {v}" for k, v in preset.uses.items()))
        typer.echo("")
        width = max((len(k) for k in keys), default=0)
        for key in keys:
            typer.echo(f"  {key:<{width}} = {_toml_value(resolved[key]):<14}  {_describe(key, descriptions)}")


def _under(key: str, touched: dict) -> bool:
    """True when ``key`` is a default inside an options table the preset set (shown with it)."""
    return any(key.startswith(t + ".") for t in touched)


def _describe(key: str, descriptions: dict[str, str]) -> str:
    if key in descriptions:
        return descriptions[key]
    parent = key.rsplit(".", 1)[0]
    if parent.endswith("_options"):
        return f"{parent.split('.')[-1].split('_')[0]} option (see `clinitui models`)"
    return ""
