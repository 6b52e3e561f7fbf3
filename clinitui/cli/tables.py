"""Every table a command prints on stdout: Rich's look at a terminal, aligned plain text elsewhere.

Off a terminal (a pipe, a file, cron's mail) Rich would still draw boxes and wrap each line at 80
columns (or ``$COLUMNS``), splitting an interval like ``0.886 [0.804, 0.974]`` across two lines.
There a reader, ``grep`` or a mail client wants one row per line, so the table is written as plain
columns (``clinitui.fmt.aligned``), never wrapped whatever the width; ``--json`` stays the format
for programs. Rich is imported only at a terminal.
"""

from __future__ import annotations

import shutil
import sys
from typing import Sequence


def on_terminal() -> bool:
    """True when stdout is a terminal a person reads (the rich look); False for pipes and files."""
    return sys.stdout.isatty()


def terminal_width() -> int:
    return shutil.get_terminal_size().columns


def print_heading(text: str) -> None:
    """A line above a table: bold at a terminal, plain otherwise (never read as Rich markup)."""
    if on_terminal():
        from rich.console import Console
        from rich.markup import escape

        Console(highlight=False).print(f"[bold]{escape(text)}[/bold]", soft_wrap=True)
    else:
        sys.stdout.write(text + "\n")


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[str] = (),
                boxed: bool = True, no_wrap: Sequence[str] = ()) -> None:
    """One table. ``right``: right-aligned columns (numbers). At a terminal only: ``boxed`` draws
    Rich's borders (else a borderless table with a bold header), and ``no_wrap`` columns are cut
    with an ellipsis instead of wrapped when the terminal is too narrow."""
    header, rows = list(header), [list(r) for r in rows]
    if not on_terminal():
        from clinitui.fmt import aligned

        # a cell with a line break (a terminal layout) is joined again: one row, one line
        flat = [[" ".join(c.split("\n")) for c in r] for r in rows]
        numbers = tuple(i for i, name in enumerate(header) if name in right)
        sys.stdout.write("\n".join(aligned(header, flat, numbers)) + "\n")
        sys.stdout.flush()
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(show_header=True) if boxed else Table(box=None, header_style="bold", pad_edge=False)
    for name in header:  # Text: a name or a cell with brackets is never read as Rich markup
        table.add_column(Text(name), justify="right" if name in right else "left", no_wrap=name in no_wrap,
                         overflow="ellipsis")
    for row in rows:
        table.add_row(*map(Text, row))
    Console(highlight=False).print(table)
