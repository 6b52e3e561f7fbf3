"""Exception hierarchy shared by every layer, and the exit codes front ends map them to.

The engine raises these; the CLI prints ``str(error)`` as one line and exits with
``error.exit_code``; the TUI shows it as a notification. Messages never contain note text.
"""

from __future__ import annotations

# Exit codes (documented in README.md, "Exit codes").
EXIT_OK = 0
EXIT_INTERNAL = 1  # a bug: unexpected exception (traceback goes to worker.log, never to the user)
EXIT_BAD_INPUT = 2  # bad data, configuration, checkpoint or command line
EXIT_OUT_OF_MEMORY = 3  # did not fit, even at micro-batch 1
EXIT_TRAINING_FAILED = 4  # the run started but could not go on (e.g. loss became NaN)
EXIT_IO = 5  # the run directory could not be written (disk full, permissions)
EXIT_BUSY = 6  # another live process holds the run directory
EXIT_NOT_BETTER = 7  # `promote --if-better`: the candidate is worse than the deployed model (nothing changed)
EXIT_INTERRUPTED = 130  # stopped by SIGINT / SIGTERM / the TUI's Stop, state saved


class ClinituiError(Exception):
    """Base class: an error the user can act on. ``str()`` is the one line shown."""

    exit_code = EXIT_INTERNAL


class ConfigError(ClinituiError):
    """Bad configuration, preset, option or command-line value."""

    exit_code = EXIT_BAD_INPUT


class DataError(ClinituiError):
    """Unreadable or unusable dataset."""

    exit_code = EXIT_BAD_INPUT


class CheckpointError(ClinituiError):
    """A checkpoint folder that is missing, incomplete, tampered with or not clinitui's."""

    exit_code = EXIT_BAD_INPUT


class ModelNotFoundError(ClinituiError):
    """Pre-trained weights that are not on this (offline) machine."""

    exit_code = EXIT_BAD_INPUT


class OutOfMemoryError(ClinituiError):
    """The run does not fit in the memory budget."""

    exit_code = EXIT_OUT_OF_MEMORY


class TrainingFailedError(ClinituiError):
    """Training started but cannot continue (non-finite loss, ...)."""

    exit_code = EXIT_TRAINING_FAILED


class DistributedError(TrainingFailedError):
    """A multi-process run lost a process: a rank died or a collective timed out."""


class RunDirectoryError(ClinituiError):
    """The run directory could not be created or written."""

    exit_code = EXIT_IO


class RunBusyError(ClinituiError):
    """Another live process holds this run directory."""

    exit_code = EXIT_BUSY


class StopRequested(ClinituiError):
    """Raised inside the training loop when a graceful stop was asked for."""

    exit_code = EXIT_INTERRUPTED


def did_you_mean(name: str, choices: list[str]) -> str:
    """A ' (did you mean X?)' suffix, or the list of valid choices."""
    import difflib

    close = difflib.get_close_matches(name, choices, n=1)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" (choose from: {', '.join(sorted(choices))})"
