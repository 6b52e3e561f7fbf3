"""The resumable training state of a run: ``state/trainer.pt`` (plus the tokenizer saved beside it).

Written atomically (temp file, fsync, rename) so a kill at any moment leaves the last good state;
read with ``weights_only=True`` (tensors and plain containers, never arbitrary pickles). Training
and pretraining runs both keep their state here, and a resume reads it back.
"""

from __future__ import annotations

import os
from pathlib import Path

from clinitui.errors import ConfigError, DataError, RunDirectoryError

STATE_DIR = "state"
STATE_FILE = "trainer.pt"

# The keys of a resumable state (one dict, saved with torch.save): declared once, written and read by both loops (engine/train/step.py)
MODEL = "model"  # the network's state_dict
OPTIMIZER = "optimizer"
SCHEDULER = "scheduler"
SCALER = "scaler"  # the GradScaler's (disabled outside CUDA fp16, saved all the same)
RNG = "rng_torch"  # torch's CPU generator (dropout, masks) of the process, of rank 0 under torchrun
RNG_RANKS = "rng_torch_ranks"  # under torchrun only: every rank's generator, by rank
PROGRESS = "progress"  # the loop's progress dataclass (Progress / MLMProgress) as a dict


def state_file(path: Path) -> Path:
    """Where the run in ``path`` keeps its resumable state."""
    return Path(path) / STATE_DIR / STATE_FILE


def save_state(path: Path, state: dict) -> None:
    """Write the resumable training state atomically: temp file, fsync, rename."""
    import torch

    directory = path / STATE_DIR
    tmp = directory / (STATE_FILE + ".tmp")
    try:
        directory.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            torch.save(state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, directory / STATE_FILE)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RunDirectoryError(f"could not save training state in {directory} ({exc.strerror or exc}); "
                                "free disk space; the previous state and checkpoint are kept") from None


def load_state(path: Path, dataset_digest: str) -> dict:
    """The last saved training state of the run in ``path`` (tensors only: ``weights_only=True``)."""
    import torch

    from clinitui.events import read_events

    file = path / STATE_DIR / STATE_FILE
    if not file.is_file():
        raise ConfigError(f"{path}: no saved training state to resume from (the run stopped before its first "
                          "save); start it again")
    started = next((e for e in read_events(path) if e["type"] == "run_started"), {})
    if started.get("dataset_digest") not in (None, dataset_digest):
        raise DataError(f"{path}: the data file changed since this run started; resume needs the same data")
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ConfigError(f"{file}: unreadable training state ({type(exc).__name__}); start the run again") from None
