"""Graceful stop on SIGINT/SIGTERM, shared by the in-process CLI run and the detached worker."""

from __future__ import annotations

import signal
import sys


class StopFlag:
    """First SIGINT/SIGTERM asks the loop to stop after the current step; a second one exits at once."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def install(self) -> None:
        def handler(signum, frame):
            if self.requested:
                raise KeyboardInterrupt
            self.requested = True
            sys.stderr.write("clinitui: stopping after the current step (signal again to quit now)\n")

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
