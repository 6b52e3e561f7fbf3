"""Ask the planner for the form's memory plan: ``clinitui train --dry-run --json`` in a subprocess.

A subprocess, not an import: planning may build the model on torch's meta device, and the TUI
process stays torch-free. Only used when ``catalog.planner_available()``.
"""

from __future__ import annotations

import asyncio
import json
import sys

from clinitui.tui.form import cli_args
from clinitui.tui.launch_values import LaunchValues

TIMEOUT_S = 60.0


def plan_command(values: LaunchValues) -> list[str]:
    return [sys.executable, "-m", "clinitui", "train", "--dry-run", "--json", *cli_args(values)]


async def run_dry_run(cmd: list[str]) -> tuple[dict | None, str | None, bool]:
    """(plan, None, False) when it fits; (None, the planner's one-line reason, blocking) otherwise.

    ``blocking`` is True for exit code 2 (does not fit the budget, or bad input): the worker would
    refuse the same config, so Start stays disabled.
    """
    proc = await asyncio.create_subprocess_exec(*cmd, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT_S)
    except asyncio.TimeoutError:
        _kill(proc)
        await proc.wait()
        return None, "the planner took too long; the worker plans again when it starts", False
    except asyncio.CancelledError:  # the form changed: a newer plan replaces this one
        _kill(proc)
        await proc.wait()
        raise
    lines = [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
    if proc.returncode == 0:
        try:
            return json.loads(out), None, False
        except json.JSONDecodeError:
            return None, "the planner printed no JSON plan", False
    reason = lines[-1] if lines else f"planning failed (exit code {proc.returncode})"
    return None, reason.removeprefix("clinitui: error: "), proc.returncode == 2


def _kill(proc) -> None:
    """Kill the planner; it may have exited meanwhile (the form changed just as it finished)."""
    try:
        proc.kill()
    except ProcessLookupError:
        pass
