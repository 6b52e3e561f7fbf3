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
    quantize: Annotated[Optional[str], Opt("--quantize", help="int8: dynamic int8 quantisation (faster on CPU); "
                                                              "export.json records its label agreement with the float model.")] = None,
) -> None:
    """Export a run for a pipeline without torch: model.onnx, tokenizer.json, export.json, and a blend's tfidf/ (run: `clinitui predict OUT`)."""
    with boundary():
        from clinitui.errors import ConfigError
        from clinitui.names import resolve_checkpoint

        if fmt.lower() != "onnx":
            raise ConfigError(f"--format {fmt}: unknown; the only export format is onnx")
        checkpoint = announce(resolve_checkpoint(run, runs_root))
        from clinitui.export.onnx_export import export_onnx

        manifest = export_onnx(checkpoint, out, quantize=quantize)
        files = written_files(out)
        if json_out:
            print_json({"out": str(out), **manifest, "files": [name for name, _ in files]})
        else:
            from clinitui.fmt import aligned, fmt_bytes

            listing = aligned(None, [[name, fmt_bytes(size)] for name, size in files], right=(1,), indent="  ")
            from clinitui.export.bundle import agreement_line

            said = agreement_line(manifest)
            sys.stderr.write(f"exported {checkpoint} to {out}:\n" + "\n".join(listing) + "\n" +
                             (said + "\n" if said else "") + f"run it with: clinitui predict {out} --data FILE\n")


def written_files(out: Path) -> list[tuple[str, int]]:
    """What is on disk under the export folder (relative names, sizes), read back after writing, so the
    list is the folder's and never a second description of it (a blend's ``tfidf/`` included)."""
    return [(p.relative_to(out).as_posix(), p.stat().st_size) for p in sorted(Path(out).rglob("*")) if p.is_file()]
