"""Give freed memory back to the operating system between the phases of a large stage.

Arrow's allocator (mimalloc) and glibc's ``malloc`` keep memory a program has freed for
reuse, so the resident size of a stage that builds and drops large tables climbs above
what it holds; the resident size is what a cluster's memory limit sees (issue 17).
"""

from __future__ import annotations

import ctypes

import pyarrow as pa


def release_memory() -> None:
    """Return the memory Arrow and ``malloc`` hold unused (``malloc_trim`` on glibc)."""
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass
