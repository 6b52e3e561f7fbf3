"""Small commands: ``demo-data``, ``models`` (``runs`` lives in runs_cmd.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from typing_extensions import Annotated

from clinitui.cli.common import FullHelpGroup, boundary, print_json

Opt = typer.Option
Arg = typer.Argument

models_app = typer.Typer(cls=FullHelpGroup, help="Backbones and adapters you can choose.", no_args_is_help=False,
                         invoke_without_command=True)


def demo_data(
    out: Annotated[Path, Arg(help="CSV file to write (columns: text,label).")],
    n: Annotated[int, Opt(help="Number of notes.")] = 5400,
    seed: Annotated[int, Opt(help="Generator seed.")] = 0,
) -> None:
    """Write the built-in synthetic French PICU demo corpus to a CSV, to see the expected format."""
    with boundary():
        from clinitui.data.demo import write_demo_csv
        from clinitui.errors import ConfigError, RunDirectoryError

        if n < 10:
            raise ConfigError("--n must be at least 10")
        try:
            write_demo_csv(out, n=n, seed=seed)
        except OSError as exc:
            raise RunDirectoryError(f"{out}: cannot write ({exc.strerror}); choose another path") from None
        sys.stderr.write(f"wrote {n} synthetic notes to {out}\n")


@models_app.callback()
def models(ctx: typer.Context, json_out: Annotated[bool, Opt("--json", help="JSON output.")] = False) -> None:
    """List registered backbones and adapters with their descriptions."""
    if ctx.invoked_subcommand is not None:
        return
    from clinitui.models.registry import registry_names

    listing = {kind + "s": registry_names(kind) for kind in ("backbone", "adapter")}
    if json_out:
        print_json(listing)
        return
    from clinitui.fmt import aligned

    lines = iter(aligned(None, [[name, text] for entries in listing.values() for name, text in entries.items()],
                         indent="  "))  # one name column for both kinds
    for kind, entries in listing.items():
        typer.echo(f"{kind}:")
        for _ in entries:
            typer.echo(next(lines))
    typer.echo("\nA Hugging Face model id or a local folder also works as a backbone.")
