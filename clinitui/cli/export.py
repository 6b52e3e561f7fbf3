"""``clinitui export``: hand a trained model to a pipeline that has no torch (ONNX + tokenizer + JSON)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from clinitui.cli.common import announce, boundary, print_json

Opt = typer.Option
Arg = typer.Argument


def export_command(
    run: Annotated[str, Arg(help="The run (name, unique prefix, `last` or folder) or a checkpoint/ folder.")],
    out: Annotated[Path, Opt("--out", "-o", help="Folder to write (new or empty).")],
    fmt: Annotated[str, Opt("--format", help="Export format: onnx.")] = "onnx",
    runs_root: Annotated[Optional[Path], Opt("--runs-root", help="Where run names are looked up [default: $CLINITUI_RUNS_ROOT or ~/.local/share/clinitui/runs].")] = None,
    json_out: Annotated[bool, Opt("--json", help="Print the export's manifest as JSON.")] = False,
) -> None:
    """Export a run for a pipeline without torch: model.onnx, tokenizer.json, export.json (run: `clinitui predict OUT`)."""
    with boundary():
        from clinitui.errors import ConfigError
        from clinitui.runs import resolve_checkpoint

        if fmt.lower() != "onnx":
            raise ConfigError(f"--format {fmt}: unknown; the only export format is onnx")
        checkpoint = announce(resolve_checkpoint(run, runs_root))
        from clinitui.export.onnx_export import export_onnx

        manifest = export_onnx(checkpoint, out)
        if json_out:
            print_json({"out": str(out), **manifest})
        else:
            sys.stderr.write(f"exported {checkpoint} to {out} (model.onnx, tokenizer.json, export.json); "
                             f"run it with: clinitui predict {out} --data FILE\n")
