"""Hand freed heap memory back to the operating system between chunks of a long ``predict``.

glibc keeps what Python, numpy and torch free in its arenas; batches of ever-different shapes leave
it fragmented, and a PyTorch predict of 100,000 notes grew to 2 GB of resident memory although each
chunk needed the same (docs/performance.md, "Predict at scale"). ``malloc_trim(0)`` after a chunk
returns it: resident memory stays at the chunk's level. Elsewhere than glibc, a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_trim = None


def trim() -> None:
    """Return the heap's free pages to the OS (glibc's malloc_trim); nothing on other platforms."""
    global _trim
    if _trim is None:
        _trim = False
        if sys.platform.startswith("linux"):
            try:
                _trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
            except (OSError, AttributeError):
                _trim = False
    if _trim:
        _trim(0)
