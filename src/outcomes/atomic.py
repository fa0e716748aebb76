"""Atomic writing of result files and directories.

Every stage writes through these helpers so that a reader (a person, the next stage or
Snakemake) sees either the earlier complete output or this run's complete output, never
a mix or a truncated file — whether the writer finishes, fails (full disk, internal
error) or is killed.

A file is written to a hidden temporary sibling, flushed to disk and renamed onto its
final name: ``rename(2)`` within one directory is atomic (POSIX.1-2017, ``rename``). A
directory is built as a hidden temporary sibling and exchanged with the earlier one by
Linux ``renameat2(RENAME_EXCHANGE)`` (atomic); where the file system lacks it, by two
renames, between which the directory is briefly absent (never mixed).
"""

from __future__ import annotations

import ctypes
import errno
import glob
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _hidden_sibling(path: Path, kind: str) -> Path:
    return path.parent / f".{path.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write ``path`` to; rename it onto ``path`` on success.

    On any error (or interruption) the temporary file is removed and ``path`` keeps its
    earlier content. Writers must not infer the format from the temporary name's suffix.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(path)
    tmp = _hidden_sibling(path, "part")
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically (Linux renameat2); False where unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def remove_leftovers(path: str | Path) -> None:
    """Remove the hidden temporaries that a killed writer of ``path`` left next to it."""
    path = Path(path)
    if path.parent.is_dir():
        for kind in ("partial", "old", "part"):
            for left in path.parent.glob(f".{glob.escape(path.name)}.{kind}-*"):
                shutil.rmtree(left) if left.is_dir() else left.unlink(missing_ok=True)


@contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary directory; on success it replaces ``path`` as a whole.

    The earlier ``path`` (every file in it) is removed after the swap; on any error the
    temporary directory is removed and ``path`` is untouched. One writer per ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(path)
    tmp = _hidden_sibling(path, "partial")
    tmp.mkdir()
    try:
        yield tmp
        for root, _dirs, files in os.walk(tmp):
            for name in files:
                _fsync(Path(root) / name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if not path.exists():
        os.rename(tmp, path)
        return
    if _exchange(tmp, path):
        old = tmp  # after the exchange the temporary name holds the earlier directory
    else:
        old = _hidden_sibling(path, "old")
        os.rename(path, old)
        try:
            os.rename(tmp, path)
        except BaseException:
            os.rename(old, path)
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    shutil.rmtree(old, ignore_errors=True)
