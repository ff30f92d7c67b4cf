"""The simulators' agenda: events drawn at send time, emitted when the clock reaches them.

An event the notify service could not take (its handler raised: the store down for a while) is
kept and handed over again later, as a gateway retries a report its receiver answered with a
5xx: after `RETRY_FIRST`, doubling up to `RETRY_MOST`, until it is taken or `GIVE_UP_AFTER`
has passed since it first failed. It keeps its own time (`at`), the report's, which the store
records, not the retry's. The back-off and the horizon also bound an event that fails for good
(a bug in its handler): tried a minute apart at most, and for a day.
"""

from __future__ import annotations

import heapq
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from time import monotonic

from delivery.clock import Clock
from delivery.events import InboundEvent, InboundEvents
from pipelines.logs import FailureStreaks, first_line

log = logging.getLogger(__name__)

# an event its handler could not take is tried again this long after, twice as long after each
# failure up to RETRY_MOST, and given up once the next try would be past GIVE_UP_AFTER since its
# first failure, as a gateway gives up a report its receiver keeps refusing
RETRY_FIRST = timedelta(seconds=1)
RETRY_MOST = timedelta(minutes=1)
GIVE_UP_AFTER = timedelta(hours=24)
# the doublings counted at most: far past RETRY_MOST, and a day of tries overflows no timedelta
_DOUBLINGS_MOST = 32
# the failures of every simulator's events, told as one source
SOURCE = "simulators' events"


def retry_in(tries: int) -> timedelta:
    """How long after its `tries`-th failure an event is handed over again."""
    return min(RETRY_FIRST * (1 << min(tries - 1, _DOUBLINGS_MOST)), RETRY_MOST)


class HandlerFailures:
    """How the simulators' events that fail in their handler are told, by the jobs' rule
    (`FailureStreaks`): the first of each kind with its traceback, more of it counted in a line
    a minute, and a line when kept events go through again. A store down for a minute would
    otherwise write a traceback for every report that fell due then."""

    def __init__(
        self, quiet: timedelta = timedelta(minutes=1), clock: Callable[[], float] = monotonic
    ) -> None:
        self.streaks = FailureStreaks(quiet, clock)

    def failed(self, error: Exception, *, kept: bool = True) -> None:
        """An event failed in its handler (`kept`: and waits for its next try), or a simulator
        failed to hand its events over."""
        telling = self.streaks.failed(SOURCE, error)
        if telling is None:
            return
        if telling.first:
            log.error(
                "a simulator's event failed in its handler; it is handed over again later"
                if kept
                else "a simulator failed to hand over its events",
                exc_info=error,
            )
        else:
            log.error(
                "simulators' events failed in their handler %d more times the same way, last: %s",
                telling.untold,
                first_line(error),
            )

    def went_through(self) -> None:
        """An event that had failed was taken: its handler works again."""
        tries = self.streaks.ended(SOURCE)
        if tries:
            log.info("simulators' events go through again after %d failed tries", tries)


FAILURES = HandlerFailures()


@dataclass(frozen=True)
class Kept:
    """An event whose handler could not take it yet: how often it failed, since when."""

    tries: int
    since: datetime


# when it is due, the order it was added in, its message's provider id, the event, and how it
# was kept (None: never handed over yet)
_Entry = tuple[datetime, int, str, InboundEvent, Kept | None]


class EventSchedule:
    """Future inbound events in time order, each tagged with its provider id so that a
    withdrawal can cancel the ones still pending, those kept after a failed handover among
    them. Safe to use from several threads; events are handed over outside the lock, so a
    handler may send again through the same simulator."""

    def __init__(self, clock: Clock, events: InboundEvents) -> None:
        self._clock = clock
        self._events = events
        self._heap: list[_Entry] = []
        self._sequence = 0
        self._cancelled: set[str] = set()
        self._lock = threading.RLock()

    @property
    def lock(self) -> threading.RLock:
        """Held by a simulator while it decides and schedules, so a withdrawal sees a whole
        send."""
        return self._lock

    def add(self, event: InboundEvent) -> None:
        self._push(event.at, event, None)

    def cancel(self, provider_id: str) -> None:
        """Drop every pending event of this message, a kept one too."""
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
        """Hand every event whose time has come to the port, earliest first; returns how many
        it took. One whose handler raises is kept for its next try, which is in the future
        (see the module), and those due behind it go on."""
        taken = 0
        failed: list[tuple[InboundEvent, Kept]] = []
        while (entry := self._pop_due(self._clock.now())) is not None:
            _, _, _, event, kept = entry
            try:
                self._events.handle(event)
            except Exception as error:
                FAILURES.failed(error)
                now = self._clock.now()
                failed.append((event, Kept(kept.tries + 1, kept.since) if kept else Kept(1, now)))
            else:
                taken += 1
                if kept is not None:
                    FAILURES.went_through()
        # kept only now, so that none is tried twice in one round however the clock runs
        for event, kept in failed:
            self._keep(event, kept)
        return taken

    def _keep(self, event: InboundEvent, kept: Kept) -> None:
        retry_at = self._clock.now() + retry_in(kept.tries)
        if retry_at - kept.since <= GIVE_UP_AFTER:
            self._push(retry_at, event, kept)
            return
        with self._lock:
            if event.provider_id in self._cancelled:
                return
        log.warning(
            "a simulator gave up on %s of notification %s (%s, at %s) after %d failed tries "
            "since %s: it is lost, as a gateway's report is past its retries",
            type(event).__name__,
            event.notification_id,
            event.provider_id,
            event.at.isoformat(),
            kept.tries,
            kept.since.isoformat(),
        )

    def _push(self, due: datetime, event: InboundEvent, kept: Kept | None) -> None:
        with self._lock:
            heapq.heappush(self._heap, (due, self._sequence, event.provider_id, event, kept))
            self._sequence += 1

    def _pop_due(self, now: datetime) -> _Entry | None:
        with self._lock:
            self._drop_cancelled_head()
            if not self._heap or self._heap[0][0] > now:
                return None
            return heapq.heappop(self._heap)

    def _drop_cancelled_head(self) -> None:
        while self._heap and self._heap[0][2] in self._cancelled:
            heapq.heappop(self._heap)


class Scheduled:
    """What every simulator offers its runner, over its `EventSchedule`."""

    _schedule: EventSchedule

    def run_due(self) -> int:
        """Emit every event whose time has come, in time order; returns how many were taken
        (one its handler failed is kept and tried again later)."""
        return self._schedule.run_due()

    def next_due(self) -> datetime | None:
        return self._schedule.next_due()

    def pending(self) -> int:
        return self._schedule.pending()
