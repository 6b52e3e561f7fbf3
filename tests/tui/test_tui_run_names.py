"""The command palette opens a run by a prefix of its name, as `clinitui runs show` does."""

from __future__ import annotations

import asyncio

from clinitui.tui.app import ClinituiApp
from clinitui.tui.screens.run import RunScreen


def test_palette_opens_a_run_by_name_prefix(canned_root):
    async def scenario() -> None:
        app = ClinituiApp(canned_root, planner=False)
        async with app.run_test(size=(100, 34)) as pilot:
            await pilot.press("ctrl+p")
            await pilot.pause(0.2)
            await pilot.press(*"open 20231114-221321")
            await pilot.pause(1.0)  # the palette searches in the background
            await pilot.press("enter")
            for _ in range(30):
                await pilot.pause(0.1)
                if isinstance(app.screen, RunScreen):
                    break
            assert isinstance(app.screen, RunScreen)
            assert app.screen.run_dir.name == "20231114-221321-camembert-bio-lora"

    asyncio.run(scenario())
