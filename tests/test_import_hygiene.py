"""Layering: the CLI start path is torch-free; the engine never imports a front end."""

from __future__ import annotations

import subprocess
import sys


def imported_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_cli_module_and_help_do_not_import_torch():
    mods = imported_after("import clinitui.cli.app")
    assert not {"torch", "transformers", "sklearn", "textual"} & mods


def test_help_runs_without_torch():
    code = ("import sys\nfrom clinitui.cli.app import app\n"
            "try:\n    app(['eval', '--help'])\nexcept SystemExit:\n    pass\n"
            "print('TORCH' if 'torch' in sys.modules else 'CLEAN')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("CLEAN")


def test_engine_never_imports_front_ends():
    mods = imported_after("import clinitui.engine.recipes.train, clinitui.engine.train.loop, clinitui.engine.inference.apply, "
                          "clinitui.models.classifier, clinitui.worker")
    assert not {"textual", "typer", "rich"} & mods


def test_torch_free_modules():
    mods = imported_after("import clinitui.runs, clinitui.events, clinitui.launcher, clinitui.models.registry, "
                          "clinitui.data.readers, clinitui.config.overrides, clinitui.export.bundle, "
                          "clinitui.export.onnx_predict, clinitui.cli.runs_table")
    assert "torch" not in mods
