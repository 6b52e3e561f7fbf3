"""A directory tree that lists folders and data files only (CSV, TSV, JSONL, Parquet)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from textual.widgets import DirectoryTree

from clinitui.tui.preview import is_data_file


class DataFileTree(DirectoryTree):
    """Hidden files are left out: they are rarely datasets and often large caches."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [p for p in paths if not p.name.startswith(".") and (p.is_dir() or is_data_file(p))]
