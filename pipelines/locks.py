"""A lock file held while a block runs, so that one process at a time does what it guards."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class LockHeldError(Exception):
    """Another process holds the lock."""


@contextmanager
def held_alone(lock: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file `lock` (made if need be) while the block runs, or
    raise `LockHeldError` at once. The file stays after: removed, a process that had it open
    would lock a file no other process sees. OSError if it cannot be made or opened."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise LockHeldError(str(lock)) from error
        yield
