"""Start a time-budget search: in this process (``clinitui train --time-budget``), or detached.

``python -m clinitui.timebudget.run SEARCH`` is the detached form (the TUI's launch form): its own
session, stdin from /dev/null, output appended to ``search.log``, so the search outlives the TUI.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

from clinitui.timebudget import layout as L
from clinitui.timebudget.search import Search


def run_search(path: Path, *, should_stop: Callable[[], bool] = lambda: False,
               on_event: Callable[[dict], None] | None = None, started: float | None = None) -> str:
    """Run (or continue) the search in ``path`` in this process, holding its lock; returns its status.

    ``started`` (``time.monotonic()`` when the command began) makes the clock count the command's
    own start-up (reading the data, writing the directory) against the budget too."""
    from clinitui.rundir import RunLock

    lock = RunLock(Path(path))  # one search process per directory; the kernel frees it even after kill -9
    try:
        return Search(path, should_stop, on_event, started).run()
    finally:
        lock.release()


def start_detached(path: Path) -> int:
    """Run the search in its own session (the TUI's launch form); its output goes to search.log."""
    from clinitui.rundir import spawn_detached

    return spawn_detached(["-m", "clinitui.timebudget.run", str(path)], Path(path) / L.LOG_FILE)


def main(argv: list[str] | None = None) -> int:
    from clinitui.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, ClinituiError
    from clinitui.signals import StopFlag

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write("usage: python -m clinitui.timebudget.run SEARCH_DIR\n")
        return EXIT_BAD_INPUT
    stop = StopFlag()
    stop.install()
    try:
        status = run_search(Path(argv[0]), should_stop=stop,
                            on_event=lambda e: sys.stderr.write(f"{e['type']} {e.get('name', '')}\n"))
    except ClinituiError as exc:
        sys.stderr.write(f"clinitui: error: {exc}\n")
        return exc.exit_code
    sys.stderr.write(f"clinitui: time-budget search {status}\n")
    return 0 if status == "finished" else EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
