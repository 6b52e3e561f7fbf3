"""What every command shares: error → one line + exit code, consoles, JSON output."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Iterator

import typer
from typer.core import TyperGroup

from clinitui.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, ClinituiError


class FullHelpGroup(TyperGroup):
    """Every ``--help`` lists each command with its whole first paragraph, wrapped, never cut: click
    shortens it to one line (the width minus the longest name) ending in "...", which cut most of
    ours mid-sentence. Every Typer app of the CLI is built with ``cls=FullHelpGroup``."""

    def format_commands(self, ctx, formatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is None or cmd.hidden:
                continue
            rows.append((name, cmd.short_help or " ".join((cmd.help or "").partition("\n\n")[0].split())))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def err_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def print_json(payload: dict) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
    sys.stdout.flush()


@contextlib.contextmanager
def boundary() -> Iterator[None]:
    """Turn errors into one clear line on stderr and a documented exit code, never a traceback."""
    try:
        yield
    except ClinituiError as exc:
        sys.stderr.write(f"clinitui: error: {exc}\n")
        raise typer.Exit(exc.exit_code) from None
    except BrokenPipeError:  # `clinitui presets list | head`: the reader has what it wanted; no error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        raise typer.Exit(0) from None
    except KeyboardInterrupt:
        sys.stderr.write("clinitui: interrupted\n")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except typer.Exit:
        raise
    except Exception as exc:  # a bug: say so without dumping data-bearing messages
        sys.stderr.write(
            f"clinitui: internal error ({type(exc).__name__}); please report it. "
            "Set CLINITUI_DEBUG=1 to see the traceback.\n"
        )
        import os

        if os.environ.get("CLINITUI_DEBUG"):
            raise
        raise typer.Exit(EXIT_INTERNAL) from None


def announce(path, quiet: bool = False):
    """Say on stderr which run a name, prefix, ``last`` or folder resolved to (one line; none with
    ``--quiet``), and return ``path``: stdout stays for the command's own output (JSON stays JSON)."""
    if not quiet:
        from clinitui.names import using_line

        sys.stderr.write(using_line(path) + "\n")
    return path
