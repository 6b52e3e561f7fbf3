"""``clinitui train --time-budget 30m``: run (or continue) a time-budget search and print its table.

A thin layer over clinitui/timebudget: progress lines on stderr while candidates run, the one
table on stdout at the end (``--json``: the ``budget.json`` document), exit 130 when stopped by a
signal (``clinitui train --resume SEARCH`` continues it). docs/time-budget.md.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

from clinitui.cli.common import print_json
from clinitui.fmt import fmt_duration


def start(config, budget_text: str, *, unlabeled: list[Path], runs_root: Optional[Path], run_dir: Optional[Path],
          detach: bool, json_out: bool, quiet: bool, started: float) -> None:
    from clinitui.runs import default_runs_root
    from clinitui.timebudget.create import create_search

    path = create_search(config, budget_text, unlabeled=unlabeled, root=runs_root or default_runs_root(),
                         explicit=run_dir)
    if not quiet and not detach:
        sys.stderr.write(f"time-budget search: {path}\n")
    _run(path, detach=detach, json_out=json_out, quiet=quiet, started=started)


def resume(path: Path, budget_text: Optional[str], *, detach: bool, json_out: bool, quiet: bool,
           started: float) -> None:
    """Continue the search in ``path``, counting the time it already spent; a new budget replaces the old."""
    from clinitui.errors import RunBusyError
    from clinitui.rundir import lock_holder
    from clinitui.timebudget import layout as L

    L.read_spec(path)
    holder = lock_holder(path)
    if holder is not None:
        raise RunBusyError(f"{path}: its search (process {holder}) is still running; nothing to resume")
    if budget_text is not None:
        from clinitui.fmt import parse_duration

        L.update_budget(path, parse_duration(budget_text))
    _run(path, detach=detach, json_out=json_out, quiet=quiet, started=started)


def _run(path: Path, *, detach: bool, json_out: bool, quiet: bool, started: float) -> None:
    from clinitui.signals import StopFlag
    from clinitui.timebudget import layout as L
    from clinitui.timebudget.run import run_search, start_detached
    from clinitui.timebudget.table import render

    if detach:
        pid = start_detached(path)
        if json_out:
            print_json({"search_dir": str(path), "pid": pid})
        else:
            sys.stderr.write(f"started time-budget search {pid}: {path}\nits table: {path / L.TABLE_FILE}; "
                             f"stop it with `clinitui runs stop` on its running trial or SIGTERM {pid}\n")
        return
    stop = StopFlag()
    stop.install()
    status = run_search(path, should_stop=stop, on_event=None if quiet else progress, started=started)
    doc = L.read_table(path)
    if json_out:
        print_json(doc)
    else:
        sys.stdout.write(render(doc))
    if status == "stopped":
        import typer

        from clinitui.errors import EXIT_INTERRUPTED

        sys.stderr.write(f"search stopped; continue it with `clinitui train --resume {path}`\n")
        raise typer.Exit(EXIT_INTERRUPTED)


def progress(event: dict) -> None:
    """One line per decision of the search (names, scores and times only)."""
    kind, name = event["type"], event.get("name", "")
    if kind == "search_started":
        line = (f"budget {fmt_duration(event['budget_s'])}" +
                (f", {fmt_duration(event['spent_s'])} already spent" if event.get("resumed") else ""))
    elif kind == "candidate_started":
        line = f"  start    {name} (estimate {fmt_duration(event.get('estimate_s'))})" + \
            (" resumed" if event.get("resumed") else "")
    elif kind == "candidate_skipped":
        line = f"  skip     {name}: {event.get('note')}"
    elif kind == "candidate_finished":
        score = event.get("val_score")
        line = f"  {event['status']:<8} {name} in {fmt_duration(event.get('wall_s'))}" + \
            (f", validation {score:.3f}" if score is not None else "") + \
            (f": {event['note']}" if event.get("note") else "")
    elif kind == "best":
        line = f"  kept     {name}: {event.get('reason')}"
    else:
        return
    sys.stderr.write(line + "\n")
