"""Where preset files live and which exist, read without pydantic (the console lists them at start-up).

The search path and the catalogue of ``clinitui.config.presets`` (which re-exports these names);
nothing here opens a preset file.
"""

from __future__ import annotations

import os
from pathlib import Path

FOLDERS = {"budgets": "budget", "backbones": "backbone", "adapters": "adapter", "experiments": "experiment",
           "paper": "experiment", "sweeps": "sweep"}


# -- where presets live ---------------------------------------------------------------------------
def packaged_dir() -> Path | None:
    """The shipped presets: ``clinitui/presets`` if a build copied them there, else the checkout's.

    A wheel carries a copy made by ``setup.py`` at build time; an editable install (``pip install
    -e .``) reads the repository's top-level ``presets/`` next to ``pyproject.toml``.
    """
    package = Path(__file__).resolve().parents[1]
    inside = package / "presets"
    if inside.is_dir():
        return inside
    checkout = package.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "presets").is_dir():
        return checkout / "presets"
    return None


def user_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "clinitui" / "presets"


def search_path() -> list[tuple[Path, str]]:
    """(folder, origin) pairs, lowest priority first."""
    roots: list[tuple[Path, str]] = []
    shipped = packaged_dir()
    if shipped is not None:
        roots.append((shipped, "packaged"))
    for extra in filter(None, os.environ.get("CLINITUI_PRESETS_PATH", "").split(os.pathsep)):
        roots.append((Path(extra).expanduser(), "CLINITUI_PRESETS_PATH"))
    roots.append((user_dir(), "user"))
    return roots


# -- the catalogue ----------------------------------------------------------------------------------
def catalogue() -> dict[tuple[str, str], tuple[Path, str]]:
    """Every preset file on the search path, keyed by (kind, name), unread; later folders win."""
    found: dict[tuple[str, str], tuple[Path, str]] = {}
    for root, origin in search_path():
        for folder, kind in FOLDERS.items():
            if (root / folder).is_dir():
                for path in sorted((root / folder).glob("*.toml")):
                    found[(kind, path.stem)] = (path, origin)
    return found
