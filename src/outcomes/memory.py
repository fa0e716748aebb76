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


#: glibc ``mallopt`` parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


def keep_large_blocks(size: int = 32 * 2**20, keep_free: int | None = None) -> None:
    """Let glibc's ``malloc`` serve blocks up to ``size`` bytes from its heap (32 MiB at
    most: glibc's limit) and keep up to ``keep_free`` bytes (default twice ``size``) free
    at the heap's top, for a phase that allocates and frees the same
    blocks over and over (a bootstrap per completed data set): each block mapped and
    unmapped anew is zero-filled page by page (system time; 10 of 48 s CPU of a mediation
    job at n = 20,000). glibc raises its threshold so by itself only after freeing a larger
    mapped block. No effect on any value; nothing on another C library."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, int(size))
        libc.mallopt(M_TRIM_THRESHOLD, 2 * int(size) if keep_free is None else int(keep_free))
    except (OSError, AttributeError):  # not glibc
        pass
