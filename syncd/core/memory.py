"""Giving memory back to the system when a long-running process goes idle."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import linecache


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None on a C library without it (macOS, musl)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None


def release_heap() -> None:
    """Drop the source lines cached for tracebacks and warnings, and return the C heap's
    free pages to the system.

    After a burst of work (a sync, a rules run) the allocator keeps the freed
    memory for reuse, so a process at rest holds its peak; ``malloc_trim(0)``
    hands back every whole free page. A no-op where the C library has no such call.
    No ``gc.collect()`` here: a full collection over every loaded module costs ~40 ms
    per sync, and reference counting has freed nearly everything already.
    """
    linecache.clearcache()  # whole source files, kept after one warning or logged traceback
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
