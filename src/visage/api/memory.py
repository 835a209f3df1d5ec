"""Giving memory back to the OS after bursts of large requests (glibc; a no-op elsewhere).

glibc raises its mmap threshold each time a large mmapped block is freed (up to 32 MiB), so after
the first few large bodies every later one is carved out of the heap and its pages stay with the
process: RSS grew to the largest burst seen and stayed there (issue 15 #5). A fixed threshold
keeps large buffers (bodies, decoded images) in their own mappings, returned on free, and
``malloc_trim`` hands back free heap pages once a burst is over.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from functools import lru_cache

log = logging.getLogger("visage.api")

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Blocks of at least this size are mmapped, and unmapped when freed: request bodies, decoded photos.
#: Not lower: every smaller temporary of a normal request would then cost fresh, zero-filled pages
#: (measured: glibc's 128 KiB start value, kept fixed, made each /v1/embed 40% slower).
MMAP_THRESHOLD_BYTES = 4 * 1024 * 1024
#: Free heap kept at the top of an arena before free() gives it back by itself (the rest is
#: returned by :func:`release_memory` after a burst), so steady traffic reuses its pages.
TRIM_THRESHOLD_BYTES = 64 * 1024 * 1024


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt  # noqa: B018 - glibc (musl has no mallopt/malloc_trim)
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def tune_allocator() -> bool:
    """Fix glibc's mmap and trim thresholds for this process; True when they applied."""
    libc = _libc()
    if libc is None:
        return False
    ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    ok = bool(libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)) and ok
    if not ok:
        log.warning("mallopt(M_MMAP_THRESHOLD) refused; memory may not be given back after bursts")
    return ok


def release_memory() -> None:
    """Return free heap pages to the OS (``malloc_trim(0)``); blocking, call it off the event loop."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
