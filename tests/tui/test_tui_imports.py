"""The console's start path is torch-free, and the engine never imports it."""

from __future__ import annotations

import subprocess
import sys


def modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_tui_screens_do_not_import_torch():
    mods = modules_after(
        "import clinitui.tui.app, clinitui.tui.screens.launch, clinitui.tui.screens.run, "
        "clinitui.tui.screens.runs, clinitui.tui.screens.compare, clinitui.tui.screens.evaluate, "
        "clinitui.tui.catalog, clinitui.tui.preview; "
        "clinitui.tui.catalog.load_catalog(); clinitui.tui.preview.demo_stats(100)"
    )
    assert not {"torch", "transformers", "sklearn", "numpy"} & mods


def test_first_screen_does_not_wait_for_pydantic():
    # the preset catalogue and validation load in a thread after the first frame
    mods = modules_after("import clinitui.tui.app, clinitui.tui.screens.launch")
    assert "pydantic" not in mods and "textual_plotext" not in mods


def test_cli_without_tui_does_not_import_textual():
    mods = modules_after("import clinitui.cli.app")
    assert "textual" not in mods
