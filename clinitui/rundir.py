"""Run-directory primitives every layer may use: private atomic writes, the run lock, the worker's pid.

The engine writes run directories through these; the front ends read them through ``runs.py``
(listing, status, runs by name), which the engine never imports.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from clinitui.errors import RunDirectoryError


def write_private(path: Path, text: str) -> None:
    """Write ``text`` atomically to ``path`` with mode 0600 (temp file + fsync + rename).

    The temp file is named after this process: two processes may write the same file at once (the
    launcher and the worker it just started both write ``worker.pid``), and with one shared temp name
    the first rename took the other's file away. The last rename wins; a failed write leaves no temp file.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def new_private_dir(root: Path, explicit: Path | None, kind: str, *, taken: str, unwritable: str,
                    inner: str | None = None) -> Path:
    """A fresh private (0700) directory: ``explicit`` (must be new or empty) or ``<root>/<stamp>-<kind>``
    (``-1``, ``-2`` … when that name is taken), with an ``inner`` subfolder. ``taken`` and ``unwritable``
    end the one-line errors (what to do instead)."""
    try:
        if explicit is not None:
            path = Path(explicit)
            if path.exists() and any(path.iterdir()):
                raise RunDirectoryError(f"{path}: already exists and is not empty; {taken}")
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        else:
            Path(root).mkdir(parents=True, exist_ok=True, mode=0o700)
            stem = f"{datetime.now():%Y%m%d-%H%M%S}-{kind}"
            for n in range(1000):
                path = Path(root) / (stem if n == 0 else f"{stem}-{n}")
                try:
                    path.mkdir(mode=0o700)
                    break
                except FileExistsError:
                    continue
        os.chmod(path, 0o700)
        if inner:
            (path / inner).mkdir(mode=0o700, exist_ok=True)
        return path
    except PermissionError:
        raise RunDirectoryError(f"{explicit or root}: permission denied; {unwritable}") from None


def spawn_detached(argv: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    """Start ``python argv…`` in its own session (it outlives the terminal and an SSH drop), stdin from
    /dev/null, stdout and stderr appended to ``log`` (0600) — never a pipe nobody reads; its pid."""
    import subprocess
    import sys

    log_fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        proc = subprocess.Popen([sys.executable, *argv], stdin=subprocess.DEVNULL, stdout=log_fd, stderr=log_fd,
                                start_new_session=True, close_fds=True, cwd=os.getcwd(),
                                env=env if env is not None else {**os.environ, "PYTHONUNBUFFERED": "1"})
    finally:
        os.close(log_fd)
    return proc.pid


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_pid(run_dir: Path) -> int | None:
    """The pid in ``<run>/worker.pid``, or None."""
    try:
        return int((run_dir / "worker.pid").read_text().strip())
    except (OSError, ValueError):
        return None


class RunLock:
    """An exclusive ``flock`` on ``<run>/lock``, held for the life of the process.

    The kernel drops it when the holder dies — even by ``kill -9`` — so a stale lock from a dead
    process never blocks anyone; the pid written inside only serves the error message.
    """

    def __init__(self, run_dir: Path) -> None:
        import fcntl

        from clinitui.errors import RunBusyError

        self.path = Path(run_dir) / "lock"
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(self._fd, 32).decode(errors="replace").strip() or "?"
            os.close(self._fd)
            raise RunBusyError(f"{run_dir}: in use by process {holder}; wait for it to end or stop it with "
                               f"`clinitui runs stop {run_dir}`") from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode())

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


def lock_holder(run_dir: Path) -> int | None:
    """The pid holding ``<run>/lock``, or None if nobody does (a stale lock counts as free)."""
    import fcntl

    path = Path(run_dir) / "lock"
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            return int(os.read(fd, 32).decode().strip() or 0) or -1
        except ValueError:
            return -1
    finally:
        os.close(fd)
    return None
