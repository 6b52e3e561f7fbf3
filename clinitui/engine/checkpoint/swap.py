"""One atomic folder swap for every folder a run replaces while it runs.

The network checkpoint (engine/checkpoint/folder.py), the TF-IDF checkpoint (same module) and the
pretraining backbone folder (engine/recipes/pretrain.py) are rewritten at each new best or each
evaluation. A kill at any moment must leave a complete folder behind, so each is written the same way:

1. built in ``<dir>.new`` (files 0600, folders 0700), every file and the folder fsynced;
2. the previous ``<dir>`` renamed to ``<dir>.old``;
3. ``<dir>.new`` renamed to ``<dir>``, the parent folder fsynced;
4. ``<dir>.old`` removed.

A crash before step 2 leaves ``<dir>`` untouched (and a stale ``.new``, removed by the next write);
a crash between steps 2 and 3 leaves no ``<dir>`` but a complete ``<dir>.old``: readers use it
(:func:`current`) and the next write puts it back first (:func:`restore`); a crash after step 3
leaves the new ``<dir>`` complete. An ``OSError`` (a full disk) removes ``.new``, puts ``.old`` back
and is re-raised for the caller to word.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")


def new_path(directory: Path) -> Path:
    return directory.with_name(directory.name + ".new")


def old_path(directory: Path) -> Path:
    return directory.with_name(directory.name + ".old")


def current(directory: Path) -> Path:
    """The folder to read for ``directory``: itself, or ``<dir>.old`` left by a crash between the renames."""
    directory = Path(directory)
    old = old_path(directory)
    if not directory.exists() and old.is_dir():
        return old
    return directory


def restore(directory: Path) -> None:
    """Put ``<dir>.old`` back when a crash between the two renames left no ``<dir>``."""
    old = old_path(directory)
    if not directory.exists() and old.is_dir():
        os.replace(old, directory)


def write_folder(directory: Path, fill: Callable[[Path], T]) -> T:
    """Build ``directory`` afresh through ``fill(tmp)`` and swap it in atomically; returns what ``fill`` returns."""
    directory = Path(directory)
    tmp, old = new_path(directory), old_path(directory)
    try:
        restore(directory)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(mode=0o700)
        out = fill(tmp)
        _seal(tmp)
        if directory.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(directory, old)
        os.replace(tmp, directory)
        _fsync_dir(directory.parent)
        shutil.rmtree(old, ignore_errors=True)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not directory.exists() and old.exists():
            os.replace(old, directory)  # keep the previous good folder
        raise
    return out


def _seal(folder: Path) -> None:
    """Every file private and on disk, every folder private and on disk (sub-folders first)."""
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir():
            os.chmod(path, 0o700)
            _fsync_dir(path)
        else:
            os.chmod(path, 0o600)
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    _fsync_dir(folder)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
