"""The serving snapshot behind the API: mapped once, swapped when a new one is published.

Every worker maps the same file, so the page cache holds one copy for all of them. A new
snapshot is published by rename (pipelines.publish), so the path names either the old file or
the new one. A worker looks at the path at most once per `check_interval` and maps the new file
when the path names another one. A request that already holds the old snapshot keeps reading
it: the old mapping stays valid after the rename, and is released with its last reader.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pipelines.snapshot import Snapshot, SnapshotError

log = logging.getLogger(__name__)


class SnapshotUnavailableError(Exception):
    """No snapshot has been published where the service looks for one."""


class SnapshotSource:
    def __init__(
        self,
        path: Path,
        check_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.check_interval = check_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._identity: tuple[int, int, int] | None = None
        # a damaged file is not opened again, nor its refusal logged every second, until it
        # changes (its status change time too: a repair in place may keep size and mtime)
        self._refused: tuple[int, int, int, int] | None = None
        self._failing: tuple[int, int, int] | None = None
        self._checked_at = float("-inf")
        self.swaps = 0

    def current(self) -> Snapshot:
        """The newest readable snapshot; raises SnapshotUnavailableError when there is none."""
        if self._clock() - self._checked_at >= self.check_interval:
            self.refresh()
        snapshot = self._snapshot
        if snapshot is None:
            raise SnapshotUnavailableError(f"no serving snapshot at {self.path} yet")
        return snapshot

    def _kept(self) -> str:
        """What serving goes on with, for a snapshot file that could not be mapped."""
        if self._snapshot is None:
            return "no snapshot served yet (checks answer 503)"
        return "keeping the current snapshot"

    def refresh(self) -> bool:
        """Map the file at `path` if it is not the one mapped now; True when it swapped."""
        with self._lock:
            self._checked_at = self._clock()
            try:
                stat = os.stat(self.path)
            except FileNotFoundError:
                return False
            identity = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            if identity == self._identity or (*identity, stat.st_ctime_ns) == self._refused:
                return False
            try:
                snapshot = Snapshot(self.path)
            except SnapshotError as error:
                # a broken file never replaces a good one; a new or changed file is tried
                log.error("%s: %s", self._kept(), error)
                self._refused = (*identity, stat.st_ctime_ns)
                return False
            except OSError as error:  # no descriptor left, a permission: the next check tries
                if identity != self._failing:  # said once a file, not every second
                    log.error("%s: %s", self._kept(), error)
                self._failing = identity
                return False
            # the file opened, which may be newer than the one stat'ed: its own identity
            self._snapshot, self._identity = snapshot, snapshot.identity
            self.swaps += 1
            log.info("serving snapshot as of %s: %s numbers", snapshot.as_of, f"{snapshot.count:,}")
            return True
