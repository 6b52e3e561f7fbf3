"""Periodic screen work that stops while the screen is hidden.

A console left open on a run shares the machine with the training. A screen covered by another,
or in a mode not shown, must not keep polling: its timers pause on ``ScreenSuspend`` and resume
on ``ScreenResume`` (Textual calls these handlers on every class of the screen's MRO, so a
screen's own ``on_screen_resume`` still runs too).
"""

from __future__ import annotations

from typing import Callable

from textual.timer import Timer


class PollsWhileShown:
    """Mix into a ``Screen``; call :meth:`poll` (from ``on_mount``) instead of ``set_interval``."""

    _polls: list[Timer]

    def poll(self, seconds: float, callback: Callable[[], object]) -> None:
        if "_polls" not in self.__dict__:
            self._polls = []
        self._polls.append(self.set_interval(seconds, callback))  # type: ignore[attr-defined]

    def on_screen_suspend(self) -> None:
        for timer in self.__dict__.get("_polls", ()):
            timer.pause()

    def on_screen_resume(self) -> None:
        for timer in self.__dict__.get("_polls", ()):
            timer.resume()
