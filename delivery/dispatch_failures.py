"""How a notification's failed dispatch is told, once and then in counts."""

from __future__ import annotations

import logging
import threading

from pipelines.logs import first_line

log = logging.getLogger("delivery.dispatching")


class DispatchFailures:
    """How a notification's failed dispatch is told. Tried again every few seconds until its
    TTL, a notification whose dispatch keeps failing (an adapter's bug, a row the store
    refuses) would write a traceback each time, 720 an hour: its first failure is logged with
    the traceback, and the repeats counted and told in one line every `every` tries."""

    def __init__(self, every: int = 60, size: int = 10_000) -> None:
        self.every = every
        self.size = size  # notifications followed at most: then they are all forgotten
        self._tries: dict[str, int] = {}
        self._lock = threading.Lock()

    def failed(self, notification_id: str, error: Exception) -> None:
        with self._lock:
            if notification_id not in self._tries and len(self._tries) >= self.size:
                self._tries.clear()
            tries = self._tries[notification_id] = self._tries.get(notification_id, 0) + 1
        if tries == 1:
            log.error("could not dispatch %s", notification_id, exc_info=error)
        elif tries % self.every == 0:
            log.error(
                "could not dispatch %s: %d tries failed, the last with %s",
                notification_id,
                tries,
                first_line(error),
            )

    def carried(self, notification_id: str) -> None:
        with self._lock:
            self._tries.pop(notification_id, None)
