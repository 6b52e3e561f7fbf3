"""The operator's console: a Textual app over the run directories (never trains in-process).

Modes: ``launch`` (the first screen) and ``runs``; a run screen is pushed on top of either.
Every binding of the active screen is also a command-palette entry (ctrl+p).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen


def _launch_screen() -> Screen:
    from clinitui.tui.screens.launch import LaunchScreen

    return LaunchScreen()


def _runs_screen() -> Screen:
    from clinitui.tui.screens.runs import RunsScreen  # imported on first use: keeps startup short

    return RunsScreen()


def _run_names():
    from clinitui.tui.run_commands import RunNames

    return RunNames


class ClinituiApp(App):
    """``ClinituiApp(runs_root).run()``; quitting leaves every worker running."""

    TITLE = "clinitui"
    CSS_PATH = "app.tcss"
    MODES = {"launch": _launch_screen, "runs": _runs_screen}
    DEFAULT_MODE = "launch"
    COMMANDS = App.COMMANDS | {_run_names}  # "open <run name>" in the command palette
    BINDINGS = [
        Binding("ctrl+r", "switch_mode('runs')", "Runs", priority=True),
        Binding("ctrl+n", "switch_mode('launch')", "New run", priority=True),
        Binding("ctrl+w", "open_sweep", "Sweeps", priority=True, show=False),  # in the palette; footers unchanged
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, runs_root: Path | None = None, open_run: Path | None = None, planner: bool = True,
                 mode: str = "launch") -> None:
        """``open_run``: a run directory to show first (over the runs screen, where escape leads);
        ``mode``: the first screen, ``launch`` or ``runs``; ``planner=False`` skips the memory-plan
        subprocess (snapshot tests: the plan depends on the machine's memory)."""
        # read by App.__init__; a run opened directly does not need the launch form underneath
        self.DEFAULT_MODE = "runs" if open_run is not None else mode
        super().__init__()
        from clinitui.runs import default_runs_root

        self.runs_root = Path(runs_root) if runs_root else default_runs_root()
        self.open_run = Path(open_run) if open_run else None
        self.planner = planner

    def on_mount(self) -> None:
        from clinitui.tui.processes import reap

        self.set_interval(2.0, reap)  # workers we started and that exited must not linger as zombies
        if self.open_run is not None:
            from clinitui.tui.screens.run import RunScreen

            self.push_screen(RunScreen(self.open_run))

    def show_launch_form(self) -> None:
        """Bring the launch form forward: pop back to it when it lies under the current screen, else switch to it."""
        from clinitui.tui.screens.launch import LaunchScreen

        stack = self.screen_stack
        under = [i for i, screen in enumerate(stack) if isinstance(screen, LaunchScreen)]
        if self.current_mode == "launch" and under:  # launched from the form: it is under this screen
            for _ in range(len(stack) - 1 - under[-1]):
                self.pop_screen()
        else:
            self.switch_mode("launch")

    def action_open_sweep(self) -> None:
        from clinitui.tui.screens.sweep import SweepScreen  # imported on first use

        self.push_screen(SweepScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Runs", "List every run under the runs root (ctrl+r)", partial(self.switch_mode, "runs"))
        yield SystemCommand("New run", "Open the launch form (ctrl+n)", partial(self.switch_mode, "launch"))
        yield SystemCommand("Sweeps", "The latest sweep: trials, leaderboard; n launches one (ctrl+w)",
                            self.action_open_sweep)
        seen: set[str] = set()
        for key, active in screen.active_bindings.items():
            binding = active.binding
            # the screen's own actions; widget bindings (cursor moves in an input ...) would be noise
            if not binding.description or binding.action in seen or not isinstance(active.node, Screen):
                continue
            seen.add(binding.action)
            yield SystemCommand(binding.description, f"{binding.description} ({key})",
                                partial(active.node.run_action, binding.action))
