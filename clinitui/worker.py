"""The detached training worker: ``python -m clinitui.worker RUN_DIR``.

Reads ``RUN_DIR/run.toml``, trains, and records everything in the run directory. Its exit code
is the documented one (errors.py); its stdout/stderr go to ``worker.log``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from clinitui.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, ClinituiError


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    resume = "--resume" in argv
    argv = [a for a in argv if a != "--resume"]
    if len(argv) != 1:
        sys.stderr.write("usage: python -m clinitui.worker RUN_DIR [--resume]\n")
        return EXIT_BAD_INPUT
    path = Path(argv[0])
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    from clinitui.signals import StopFlag
    from clinitui.config.overrides import from_toml
    from clinitui.engine.runtime import distributed
    from clinitui.engine.checkpoint.state import state_file
    from clinitui.engine.recipes.dispatch import recipe_for
    from clinitui.engine.recipes.failure import record_refused_input
    from clinitui.errors import StopRequested
    from clinitui.rundir import write_private

    stop = StopFlag()
    stop.install()
    dist = distributed.from_env()  # under torchrun: rank 0 alone writes in the run directory
    main = dist is None or dist.main
    if main:
        write_private(path / "worker.pid", f"{os.getpid()}\n")
    if distributed.restart_count() > 0 and state_file(path).is_file():
        resume = True  # torchrun --max-restarts started the group again: go on from the last saved state
    try:
        config = from_toml((path / "run.toml").read_text(encoding="utf-8"), str(path / "run.toml"))
        recipe = recipe_for(config)  # training, pretraining or the TF-IDF model: same contract
        prepared = recipe.prepare(config)
    except ClinituiError as exc:
        if not main:
            return exc.exit_code
        record_refused_input(path, exc)  # bad input found before training: the TUI and `runs` show why
        (path / "worker.pid").unlink(missing_ok=True)
        sys.stderr.write(f"clinitui: error: {exc}\n")
        return exc.exit_code
    done = _exit_now if dist is not None else (lambda code: code)
    try:
        from clinitui.tracking import listeners

        tracking = listeners(config, path) if main else []  # MLflow / TensorBoard (--log-to): rank 0 alone
        recipe.execute(prepared, path, listeners=tracking, should_stop=stop, resume=resume)
    except StopRequested as exc:
        sys.stderr.write(f"clinitui: error: {exc}\n")
        # under torchrun a non-zero exit would count as a failure (and --max-restarts would restart it)
        return done(0 if dist is not None else exc.exit_code)
    except ClinituiError as exc:
        sys.stderr.write(f"clinitui: error: {exc}\n")
        return done(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("clinitui: interrupted\n")
        return done(EXIT_INTERRUPTED)
    except Exception as exc:
        sys.stderr.write(f"clinitui: internal error ({type(exc).__name__}); details above in this log\n")
        return done(EXIT_INTERNAL)
    sys.stderr.write("clinitui: run finished\n")
    return done(0)


def _exit_now(code: int) -> int:
    """Leave a torchrun worker at once, everything written (events are flushed per line).

    Freeing the traceback of a stop raised inside DDP training destroyed the gloo process group
    while its worker thread waited for the GIL that the destructor held: the rank hung at exit
    (seen with torch 2.13). Nothing is left to clean up that the kernel does not.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
