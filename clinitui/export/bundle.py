"""The export bundle's manifest (``export.json``): what a folder written by ``clinitui export`` holds.

Torch-free. The manifest carries everything the ONNX predict path needs beside the graph: label
names, the positive class, the maximum length, the padding id, and the checkpoint's temperature
and operating threshold when it has them (applied in numpy after the graph's probabilities).
"""

from __future__ import annotations

import json
from pathlib import Path

from clinitui.errors import CheckpointError

MANIFEST = "export.json"
MODEL = "model.onnx"
TOKENIZER = "tokenizer.json"
FORMAT = "clinitui-onnx-export"
FORMAT_VERSION = 1


def is_export(path: str | Path) -> bool:
    """True for a folder written by ``clinitui export`` (it has ``export.json``)."""
    p = Path(str(path)).expanduser()
    return p.is_dir() and (p / MANIFEST).is_file()


def read_manifest(path: Path) -> dict:
    """The manifest of an export folder, checked; one clear line if it is damaged."""
    path = Path(path)
    try:
        raw = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        raise CheckpointError(f"{path / MANIFEST}: not readable JSON; export the run again") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise CheckpointError(f"{path}: {MANIFEST} is not a clinitui ONNX export (no format '{FORMAT}')")
    if raw.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: export format {raw.get('format_version')} is not supported "
                              f"(this clinitui reads {FORMAT_VERSION}); export the run again")
    for name in (MODEL, TOKENIZER):
        if not (path / name).is_file():
            raise CheckpointError(f"{path}: no {name}; the export is incomplete, export the run again")
    try:
        labels = [str(x) for x in raw["label_names"]]
        int(raw["max_length"]), int(raw["pad_id"])
        if len(labels) < 2:
            raise ValueError
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(f"{path / MANIFEST}: fields are missing or invalid; export the run again") from None
    return raw


def agreement_line(manifest: dict) -> str | None:
    """The stderr line ``predict`` prints for a quantised export (None for a float one)."""
    q = manifest.get("quantization")
    if not isinstance(q, dict) or "agreement" not in q:
        return None
    return (f"{q.get('type', 'quantized')} export: its labels agree with the float model's on "
            f"{100 * float(q['agreement']):.1f}% of the export's {q.get('check_notes')} check notes "
            f"(largest probability difference {q.get('max_abs_diff')})")
