"""Snapshot tests of every screen, fed from canned events.jsonl files (tests/tui/tui_canned.py).

Regenerate after an intended change with ``pytest tests/tui --snapshot-update`` and review the SVGs.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from textual.widgets import Input

from clinitui.tui.app import ClinituiApp
from conftest import run_named

SIZE = (80, 24)


async def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("the screen did not get its data in time")
        await asyncio.sleep(0.05)


def run_screen_loaded(kind: str):
    """A ``run_before`` that waits until the run screen has folded its whole event file."""

    async def ready(pilot) -> None:
        screen = pilot.app.screen
        await wait_for(lambda: screen.events_applied > 0 and (screen.state.final is not None or kind == "running"
                                                              or screen.state.status == "crashed")
                       and screen._timer is None)  # no redraw pending
        await pilot.pause()

    return ready


@pytest.mark.parametrize("kind, tab", [
    ("running", "1"),   # live GPU run: loss and LR charts mid-training
    ("finished", "3"),  # metrics per epoch, test row, baseline, confusion matrix
    ("failed", "4"),    # the event log with the error
    ("oom", "2"),       # GPU memory against the 2 GiB budget line, after an OOM backoff
    ("cpu", "2"),       # CPU-only run: host RSS, no budget
    ("crashed", "4"),   # worker gone without a final event
])
def test_run_screen(snap_compare, canned_root, kind, tab):
    app = ClinituiApp(canned_root, open_run=run_named(canned_root, kind), planner=False)

    async def before(pilot) -> None:
        await run_screen_loaded(kind)(pilot)
        await pilot.press(tab)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_runs_screen(snap_compare, canned_root):
    app = ClinituiApp(canned_root, planner=False, mode="runs")

    async def before(pilot) -> None:
        await wait_for(lambda: getattr(pilot.app.screen, "listed", 0) > 0)
        await pilot.press("down", "down")  # the crashed run: its log tail shows below the table
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 30), run_before=before)


@pytest.mark.parametrize("tab", ["1", "2"])
def test_compare_screen(snap_compare, canned_root, tab):
    app = ClinituiApp(canned_root, planner=False, mode="runs")

    async def before(pilot) -> None:
        await wait_for(lambda: getattr(pilot.app.screen, "listed", 0) > 0)
        # rows are newest first: running, cpu, crashed, failed, oom, finished
        await pilot.press("down", "space", "down", "down", "down", "space", "down", "space", "c")
        await wait_for(lambda: getattr(pilot.app.screen, "loaded", False))
        await pilot.press(tab)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_stop_confirmation(snap_compare, canned_root):
    app = ClinituiApp(canned_root, open_run=run_named(canned_root, "running"), planner=False)

    async def before(pilot) -> None:
        await run_screen_loaded("running")(pilot)
        await pilot.press("s")  # asks first; the test never answers yes (the pid is the test's own)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_launch_screen(snap_compare, fixed_root):
    app = ClinituiApp(fixed_root, planner=False)

    async def before(pilot) -> None:
        await wait_for(lambda: pilot.app.screen.preview_ok, timeout=20)  # the demo corpus is counted
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False  # a blinking cursor would make the picture depend on timing
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=before)
