"""``clinitui eval`` and ``clinitui predict`` over a saved checkpoint."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from clinitui.cli.common import announce, boundary, print_json

Opt = typer.Option
Arg = typer.Argument
RootOpt = Annotated[Optional[Path], Opt("--runs-root", help="Where run names are looked up [default: "
                                                            "$CLINITUI_RUNS_ROOT or ~/.local/share/clinitui/runs].")]


def eval_command(
    checkpoint: Annotated[str, Arg(help="A run (name, unique prefix, `last` or folder) or a checkpoint/ folder.")],
    data: Annotated[Path, Opt("--data", "-d", help="Labelled CSV, TSV, JSONL or Parquet file.")],
    split: Annotated[str, Opt(help="With --split-col: which rows to score (train, dev, test, all).")] = "test",
    text_col: Annotated[str, Opt(help="Column with the note text.")] = "text",
    label_col: Annotated[str, Opt(help="Column with the label.")] = "label",
    split_col: Annotated[Optional[str], Opt(help="Column with the split; default: score every row.")] = None,
    delimiter: Annotated[Optional[str], Opt(help="CSV separator: comma, semicolon, tab or pipe [default: from the header row].")] = None,
    encoding: Annotated[Optional[str], Opt(help="Text encoding, e.g. cp1252 [default: UTF-8, else Windows-1252].")] = None,
    json_out: Annotated[bool, Opt("--json", help="Print the metrics as JSON on stdout.")] = False,
    bootstrap: Annotated[int, Opt("--bootstrap", min=0, help="Bootstrap resamples for the 95% intervals (0 = none).")] = 1000,
    threshold_rule: Annotated[Optional[str], Opt("--threshold-rule", help="Binary: choose the threshold again on the file's dev rows (needs --split-col): f1, youden, sensitivity:0.95, specificity:0.90 or a number.")] = None,
    compare: Annotated[Optional[str], Opt("--compare", help="A second checkpoint (run name, unique prefix, `last` or folder): paired comparison on the same notes (ΔF1, ΔAUC, McNemar).")] = None,
    group_col: Annotated[Optional[str], Opt("--group-col", help="Column with a subgroup (ward, site, age band): metrics per group.")] = None,
    id_col: Annotated[Optional[str], Opt("--id-col", help="Column with a note/patient id: list the ids (never the text) of the most confident errors.")] = None,
    runs_root: RootOpt = None,
) -> None:
    """Score a saved checkpoint on a labelled file: metrics with 95% intervals, calibration, operating point."""
    with boundary():
        from clinitui.describe import describe_checkpoint
        from clinitui.engine.inference.apply import evaluate
        from clinitui.names import resolve_checkpoint

        ckpt = resolve_checkpoint(checkpoint, runs_root)
        other = resolve_checkpoint(compare, runs_root) if compare is not None else None
        for path in (ckpt, other) if other is not None else (ckpt,):
            announce(path)  # once both resolved: a refused --compare is the only line
        metrics = evaluate(ckpt, data, text_col=text_col, label_col=label_col,
                           split_col=split_col, split=split, n_boot=bootstrap, threshold_rule=threshold_rule,
                           compare=other,
                           group_col=group_col, id_col=id_col, delimiter=delimiter, encoding=encoding)
        description = describe_checkpoint(ckpt)
        metrics["model"] = description.as_json() if description else None  # what computed these predictions
        for warning in metrics.get("warnings") or []:  # metrics the file leaves undefined (null)
            sys.stderr.write(f"warning: {warning}\n")
        if json_out:
            print_json(metrics)
        else:
            from clinitui.cli.report import print_assessment, print_metrics

            if description is not None:
                typer.echo(f"model: {description.sentence()}")
            print_metrics(metrics, metrics["labels"], title=f"{Path(data).name} [{metrics['split']}]")
            print_assessment(metrics)


def predict_command(
    checkpoint: Annotated[str, Arg(help="A run (name, unique prefix, `last` or folder), a checkpoint/ folder, "
                                        "or a folder written by `clinitui export`.")],
    data: Annotated[Path, Opt("--data", "-d", help="CSV, TSV, JSONL or Parquet file (labels not needed).")],
    out: Annotated[Optional[Path], Opt("--out", "-o", help="Write a CSV here; default: JSON lines on stdout.")] = None,
    text_col: Annotated[str, Opt(help="Column with the note text.")] = "text",
    delimiter: Annotated[Optional[str], Opt(help="CSV separator: comma, semicolon, tab or pipe [default: from the header row].")] = None,
    encoding: Annotated[Optional[str], Opt(help="Text encoding, e.g. cp1252 [default: UTF-8, else Windows-1252].")] = None,
    chunk_rows: Annotated[Optional[int], Opt("--chunk-rows", min=1, help="Notes read, predicted and written at a time (memory is bounded by this, not the file) [default: 4096].")] = None,
    runs_root: RootOpt = None,
) -> None:
    """Predict a label and class probabilities for every note (row order kept; note text not repeated).

    The file is streamed: read, predicted and written a chunk at a time (docs/operator.md)."""
    with boundary():
        from clinitui.cli.predict_out import write_predictions

        predictions = _predictions(checkpoint, data, text_col, runs_root, delimiter=delimiter, encoding=encoding,
                                   chunk_rows=chunk_rows)
        for line in [*predictions.source.warnings, *predictions.notes]:
            sys.stderr.write(line + "\n")
        sys.stderr.write(predictions.said + "\n")  # which rule and threshold chose the labels (the `threshold` column)
        n = write_predictions(predictions, out)
        if out is not None:
            sys.stderr.write(f"wrote {n} predictions to {out}\n")


def _predictions(checkpoint: str, data: Path, text_col: str, runs_root: Optional[Path], **read):
    """An ONNX export runs on onnxruntime (torch never imported); anything else is a PyTorch checkpoint."""
    from clinitui.export.bundle import is_export
    from clinitui.names import resolve_checkpoint

    if is_export(checkpoint):
        from clinitui.export.onnx_predict import predict_export

        return predict_export(Path(checkpoint), data, text_col=text_col, **read)
    from clinitui.engine.inference.apply import predict

    return predict(announce(resolve_checkpoint(checkpoint, runs_root)), data, text_col=text_col, **read)
