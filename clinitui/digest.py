"""SHA-256 of a file, read in 1 MiB blocks: how every saved artefact (checkpoint weights, TF-IDF
arrays, pretrained backbone folders) is checked before it is loaded. Bottom layer, torch-free."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
