"""The operator's console (``clinitui`` / ``clinitui tui``): a Textual front end over run directories.

Importing this package is cheap and torch-free; ``run_tui`` imports Textual when called.
"""

from __future__ import annotations

from pathlib import Path


def run_tui(runs_root: Path | None = None, open_run: Path | None = None) -> None:
    """Open the console; returns when the operator quits (workers keep running)."""
    from clinitui.tui.app import ClinituiApp

    ClinituiApp(runs_root, open_run).run()


def run_label(session, runs_root: Path | None = None) -> None:
    """Open the labelling screen on a prepared session (clinitui/labeling/session.py)."""
    from clinitui.tui.screens.label import LabelApp

    LabelApp(session, runs_root).run()
