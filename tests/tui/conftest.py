"""Fixtures of the TUI tests: canned run directories, and a runs root at a fixed path for snapshots."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tui_canned import write_run

# name → (kind, live); the names sort the runs table the same way every time
CANNED = {
    "20231114-221320-scratch-transformer-grn": ("finished", False),
    "20231114-221321-camembert-bio-lora": ("oom", False),
    "20231114-221322-scratch-transformer-grn": ("failed", False),
    "20231114-221323-scratch-transformer-grn": ("crashed", False),
    "20231114-221324-scratch-transformer-grn": ("cpu", False),
    "20231114-221325-camembert-bio-grn": ("running", True),
}


@pytest.fixture
def fixed_root(request) -> Path:
    """A runs root whose path is the same on every run (the runs screen prints it)."""
    root = Path(tempfile.gettempdir()) / "clinitui-tui-snapshots" / request.node.name.split("[")[0]
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def canned_root(fixed_root) -> Path:
    for name, (kind, live) in CANNED.items():
        write_run(fixed_root, name, kind, live=live)
    return fixed_root


def run_named(root: Path, kind: str) -> Path:
    name = next(n for n, (k, _) in CANNED.items() if k == kind)
    return root / name
