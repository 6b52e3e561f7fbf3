"""Name → builder registries for backbones and adapters.

Adding a backbone or an adapter is one file in ``models/backbones/`` or ``models/adapters/``
that decorates its class with ``@register_backbone("name")`` / ``@register_adapter("name")``.
Modules in those folders are discovered automatically, so tests and front ends pick up a new
file without being edited.

This module is torch-free so that front ends can list names and descriptions cheaply:
``registry_names()`` reads the entry files' docstrings without importing them.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from clinitui.errors import ConfigError, did_you_mean


@dataclass(frozen=True)
class Entry:
    name: str
    cls: Any
    description: str


_REGISTRIES: dict[str, dict[str, Entry]] = {"backbone": {}, "adapter": {}}
_LOADED: set[str] = set()
_PACKAGES = {"backbone": "clinitui.models.backbones", "adapter": "clinitui.models.adapters"}


def _register(kind: str, name: str) -> Callable[[Any], Any]:
    def decorate(cls: Any) -> Any:
        table = _REGISTRIES[kind]
        if name in table and table[name].cls.__qualname__ != cls.__qualname__:
            raise ValueError(
                f"{kind} '{name}' is registered twice ({table[name].cls.__module__} and "
                f"{cls.__module__}); rename one of them"
            )
        doc = (cls.__doc__ or "").strip().splitlines()
        table[name] = Entry(name, cls, doc[0] if doc else "")
        cls.registry_name = name
        return cls

    return decorate


def register_backbone(name: str) -> Callable[[Any], Any]:
    return _register("backbone", name)


def register_adapter(name: str) -> Callable[[Any], Any]:
    return _register("adapter", name)


def _load(kind: str) -> None:
    if kind in _LOADED:
        return
    package = importlib.import_module(_PACKAGES[kind])
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{_PACKAGES[kind]}.{info.name}")
    _LOADED.add(kind)


def get(kind: str, name: str) -> Entry:
    """The registered entry, importing the entry files (and torch) on first use."""
    _load(kind)
    table = _REGISTRIES[kind]
    if name not in table:
        raise ConfigError(f"unknown {kind} '{name}'{did_you_mean(name, list(table))}")
    return table[name]


def entries(kind: str) -> dict[str, Entry]:
    _load(kind)
    return dict(_REGISTRIES[kind])


def registry_names(kind: str) -> dict[str, str]:
    """``{name: one-line description}`` without importing torch: parsed from the entry files.

    Each entry file registers with a literal ``@register_<kind>("name")`` decorator on a class
    whose docstring's first line is the description.
    """
    package_dir = Path(__file__).parent / (kind + "s")
    found: dict[str, str] = {}
    for path in sorted(package_dir.glob("*.py")):
        if path.name.startswith("_"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            for dec in node.decorator_list:
                if (
                    isinstance(dec, ast.Call)
                    and getattr(dec.func, "id", None) == f"register_{kind}"
                    and dec.args
                    and isinstance(dec.args[0], ast.Constant)
                ):
                    doc = (ast.get_docstring(node) or "").strip().splitlines()
                    found[dec.args[0].value] = doc[0] if doc else ""
    return found
