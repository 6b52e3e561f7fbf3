"""What every command shares: error → one line + exit code, consoles, JSON output."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Iterator

import typer

from clinitui.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, ClinituiError


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
        from clinitui.runs import using_line

        sys.stderr.write(using_line(path) + "\n")
    return path
