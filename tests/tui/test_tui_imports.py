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


HEAVY = ("torch", "transformers", "pandas", "sklearn", "matplotlib")

FIRST_SCREEN = r"""
import json, sys
from pathlib import Path
import clinitui.tui.app
from clinitui.tui.app import ClinituiApp

class Probe(ClinituiApp):
    CSS_PATH = str(Path(clinitui.tui.app.__file__).with_name("app.tcss"))  # this class has no file

    def on_ready(self):  # the first screen, the launch form, is on the terminal
        self.seen = {"ready": sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)}
        self.set_interval(0.05, self.filled)

    def filled(self):  # the catalogue thread has filled the form and the checks have run
        if self.screen.catalog_loaded:
            self.seen["filled"] = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
            self.seen["backbones"] = len(self.screen.backbones)
            self.exit()

HEAVY = set(sys.argv[2].split(","))
app = Probe(sys.argv[1], planner=False)
app.run(headless=True, size=(80, 24))
print(json.dumps(app.seen))
"""


def first_screen(tmp_path) -> dict:
    import json
    import os

    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "CLINITUI_RUNS_ROOT": str(tmp_path / "runs")}
    out = subprocess.run([sys.executable, "-c", FIRST_SCREEN, str(tmp_path / "runs"), ",".join(HEAVY)],
                         capture_output=True, text=True, check=True, env=env, timeout=60)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_first_screen_imports_no_heavy_library(tmp_path):
    # a fresh process: nothing imported by an earlier test can hide an import on the start path
    cold = first_screen(tmp_path)  # no catalogue cache yet: the thread reads presets and registries
    warm = first_screen(tmp_path)  # the cache it wrote fills the first frame
    for seen in (cold, warm):
        assert seen["ready"] == [] and seen["filled"] == [], seen
    assert warm["backbones"] == cold["backbones"] > 1


def test_catalog_cache_follows_the_preset_files(tmp_path, monkeypatch):
    from clinitui.tui import catalog

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert catalog.cached_catalog() is None
    first = catalog.load_catalog()
    assert catalog.cached_catalog() == first
    mine = tmp_path / "config" / "clinitui" / "presets" / "budgets" / "mine.toml"
    mine.parent.mkdir(parents=True)
    mine.write_text('description = "My card."\n[budget]\ndevice = "cpu"\n', encoding="utf-8")
    assert catalog.cached_catalog() is None  # a new preset file: the cache no longer describes the folders
