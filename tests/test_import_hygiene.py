"""Layering: the CLI start path is torch-free; the engine never imports a front end."""

from __future__ import annotations

import subprocess
import sys

import pytest


def imported_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_cli_module_and_help_do_not_import_torch():
    mods = imported_after("import clinitui.cli.app")
    assert not {"torch", "transformers", "sklearn", "textual"} & mods


HEAVY = ("torch", "transformers", "pandas", "sklearn", "matplotlib", "textual")


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["eval", "--help"], ["train", "--help"],
                                  ["runs", "--help"], ["predict", "--help"]])
def test_help_runs_without_heavy_imports(args):
    # the `clinitui` entry point as a user starts it; the last line lists what a help page pulled in
    code = ("import sys\nfrom clinitui.cli.app import main\n"
            f"sys.argv = ['clinitui', *{args!r}]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            f"print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})) or 'CLEAN')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "CLEAN"


def test_engine_never_imports_front_ends():
    mods = imported_after("import clinitui.engine.recipes.train, clinitui.engine.train.loop, clinitui.engine.inference.apply, "
                          "clinitui.models.classifier, clinitui.worker")
    assert not {"textual", "typer", "rich"} & mods


def test_torch_free_modules():
    mods = imported_after("import clinitui.runs, clinitui.events, clinitui.launcher, clinitui.models.registry, "
                          "clinitui.data.readers, clinitui.config.overrides, clinitui.export.bundle, "
                          "clinitui.export.onnx_predict, clinitui.cli.runs_table")
    assert "torch" not in mods
