"""The last event of a run that did not finish: one helper for every kind of run.

Training (engine/recipes/train.py), pretraining (engine/recipes/pretrain.py) and the TF-IDF model
(engine/recipes/tfidf.py) end the same way when something goes wrong (their scaffold,
engine/recipes/scaffold.py, calls :func:`record_failure`; the worker calls :func:`record_refused_input`
when the input is refused before a run starts), and front ends (the TUI, `runs`,
`train --json`) read that last event, so it must be written identically: ``stopped`` for a stop
request, ``run_failed`` with the error class, a message and an exit code for a ``ClinituiError``,
and for anything else a ``run_failed`` that names only the exception type and the stage (an
exception's arguments may quote note text), with its trace in ``worker.log``.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path

from clinitui.errors import ClinituiError, OutOfMemoryError, StopRequested


def record_failure(events, exc: BaseException, stage: str, *, log_dir: Path | None, oom_advice: str,
                   dist=None) -> BaseException:
    """Emit the final event for ``exc`` leaving a run at ``stage``; returns the exception to raise.

    Usage, in place of a chain of ``except`` clauses: ``raise record_failure(events, exc, ...)``.
    A CUDA out-of-memory error outside the backed-off code, or a lost peer under torchrun, is
    turned into the project's error (``oom_advice`` says what to change); the returned error then
    replaces ``exc`` without chaining (as ``raise err from None``). Anything else is returned as is,
    so its original traceback is kept. ``log_dir`` is where ``worker.log`` lives (None: stderr, as a
    torchrun rank other than 0 does).
    """
    if isinstance(exc, StopRequested):
        events.emit("stopped", message=str(exc), stage=stage)
        return exc
    if isinstance(exc, ClinituiError):
        return _failed(events, exc, stage)
    if dist is not None:
        from clinitui.engine.runtime import distributed

        if distributed.is_collective_failure(exc):
            return _replace(_failed(events, distributed.lost_peer(stage, dist), stage))
    if is_cuda_oom(exc):
        return _replace(_failed(events, OutOfMemoryError(f"out of GPU memory in {stage}; {oom_advice}"), stage))
    # A bug or an interrupt: the trace goes to worker.log (never note text: tracebacks hold
    # code and exception types; we log the type and location, not the exception's arguments).
    log_internal_error(log_dir, exc)
    kind = "interrupted" if isinstance(exc, KeyboardInterrupt) else "internal error"
    events.emit("run_failed", error=type(exc).__name__, message=f"{kind} in {stage} ({type(exc).__name__})",
                stage=stage)
    return exc


def record_refused_input(path: Path, exc: ClinituiError) -> None:
    """The only event of a detached run whose input ``prepare`` refused (clinitui/worker.py): ``run_failed``."""
    from clinitui.events import FILENAME, EventWriter

    events = EventWriter(Path(path) / FILENAME)
    try:
        _failed(events, exc, "prepare")
    finally:
        events.close()


def _failed(events, err: ClinituiError, stage: str) -> ClinituiError:
    events.emit("run_failed", error=type(err).__name__, message=str(err), stage=stage, exit_code=err.exit_code)
    return err


def _replace(err: BaseException) -> BaseException:
    err.__cause__, err.__suppress_context__ = None, True  # what `raise err from None` sets
    return err


def is_cuda_oom(exc: BaseException) -> bool:
    """Whether ``exc`` is torch's CUDA OOM (without importing torch when the run never did)."""
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(exc, torch.cuda.OutOfMemoryError)


def log_internal_error(path: Path | None, exc: BaseException) -> None:
    """Append the type and location of ``exc`` (not its message) to ``path/worker.log``."""
    frames = traceback.extract_tb(exc.__traceback__)
    lines = [f"internal error: {type(exc).__name__} (message withheld: it may quote data)"]
    lines += [f"  at {f.filename}:{f.lineno} in {f.name}" for f in frames[-8:]]
    if path is None:  # a rank other than 0 writes no file; torchrun sends its stderr to worker.log
        import sys

        sys.stderr.write("\n".join(lines) + "\n")
        return
    fd = os.open(path / "worker.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
