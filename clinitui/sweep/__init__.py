"""Sweeps: many trials, each an ordinary run directory, queued on the hardware at hand (docs/sweeps.md).

A sweep directory holds ``sweep.toml`` (the resolved spec), ``sweep.jsonl`` (an append-only
journal of what the scheduler decided) and ``trials/<name>/`` (run directories). The local
scheduler (``scheduler.py``) and the Ray backend (``ray_backend.py``) both start a trial the same
way -- the detached worker of ``clinitui train --detach`` -- so a trial behaves the same wherever it
runs, and resuming a sweep is resuming its unfinished runs. Nothing here imports torch at import time.
"""
