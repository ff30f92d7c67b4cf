"""The simulators' agenda: events drawn at send time, emitted when the clock reaches them."""

from __future__ import annotations

import heapq
import threading
from datetime import datetime

from delivery.clock import Clock
from delivery.events import InboundEvent, InboundEvents


class EventSchedule:
    """Future inbound events in time order, each tagged with its provider id so that a
    withdrawal can cancel the ones still pending. Safe to use from several threads; events are
    handed over outside the lock, so a handler may send again through the same simulator."""

    def __init__(self, clock: Clock, events: InboundEvents) -> None:
        self._clock = clock
        self._events = events
        self._heap: list[tuple[datetime, int, str, InboundEvent]] = []
        self._sequence = 0
        self._cancelled: set[str] = set()
        self._lock = threading.RLock()

    @property
    def lock(self) -> threading.RLock:
        """Held by a simulator while it decides and schedules, so a withdrawal sees a whole
        send."""
        return self._lock

    def add(self, event: InboundEvent) -> None:
        with self._lock:
            heapq.heappush(self._heap, (event.at, self._sequence, event.provider_id, event))
            self._sequence += 1

    def cancel(self, provider_id: str) -> None:
        """Drop every pending event of this message."""
        with self._lock:
            self._cancelled.add(provider_id)

    def next_due(self) -> datetime | None:
        with self._lock:
            self._drop_cancelled_head()
            return self._heap[0][0] if self._heap else None

    def pending(self) -> int:
        with self._lock:
            return sum(1 for entry in self._heap if entry[2] not in self._cancelled)

    def run_due(self) -> int:
        """Hand every event whose time has come to the port, earliest first; returns how many."""
        emitted = 0
        while (event := self._pop_due(self._clock.now())) is not None:
            self._events.handle(event)
            emitted += 1
        return emitted

    def _pop_due(self, now: datetime) -> InboundEvent | None:
        with self._lock:
            self._drop_cancelled_head()
            if not self._heap or self._heap[0][0] > now:
                return None
            return heapq.heappop(self._heap)[3]

    def _drop_cancelled_head(self) -> None:
        while self._heap and self._heap[0][2] in self._cancelled:
            heapq.heappop(self._heap)


class Scheduled:
    """What every simulator offers its runner, over its `EventSchedule`."""

    _schedule: EventSchedule

    def run_due(self) -> int:
        """Emit every event whose time has come, in time order; returns how many."""
        return self._schedule.run_due()

    def next_due(self) -> datetime | None:
        return self._schedule.next_due()

    def pending(self) -> int:
        return self._schedule.pending()
