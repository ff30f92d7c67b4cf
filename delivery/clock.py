"""The clock port: the notify path reads time only through it, so tests and the demo can run
on a virtual clock (hours of TTLs and delivery delays in milliseconds)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from pipelines.settings import Settings


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class VirtualClock:
    """A clock that moves only when told to; safe to read and advance from several threads."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a virtual clock starts at an aware time")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, by: timedelta) -> datetime:
        if by < timedelta(0):
            raise ValueError("a clock does not go back")
        with self._lock:
            self._now += by
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            if moment.astimezone(UTC) < self._now:
                raise ValueError("a clock does not go back")
            self._now = moment.astimezone(UTC)


class ScaledClock:
    """Real time run faster, for the demo: `speed` virtual seconds pass each real second, from
    `start` (now, by default). At speed 60 a TTL of an hour runs out in a minute."""

    def __init__(self, speed: float, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("a clock runs forward")
        self._speed = speed
        self._start = (start or datetime.now(UTC)).astimezone(UTC)
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._origin) * self._speed)


class AnchoredClock:
    """Virtual time that reads `start` at the real moment `anchor` and runs `speed` times
    faster than real time: the same function of the wall clock in every process, so a restarted
    service goes on where the stopped one was (the demo's and the crash test's clock, which
    start where their history ends)."""

    def __init__(self, speed: float, anchor: datetime, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("a clock runs forward")
        if anchor.tzinfo is None or (start is not None and start.tzinfo is None):
            raise ValueError("an anchored clock takes aware times")
        self._speed = speed
        self._anchor = anchor.astimezone(UTC)
        self._start = (start or anchor).astimezone(UTC)

    def now(self) -> datetime:
        return self._start + (datetime.now(UTC) - self._anchor) * self._speed


def build_clock(settings: Settings, start: datetime | None = None) -> Clock:
    """The system clock, or a faster one for the demo (`OWNERSHIP_CLOCK_SPEED`)."""
    if settings.clock_speed == 1.0 and settings.clock_start is None:
        return SystemClock()
    if settings.clock_anchor is not None:
        return AnchoredClock(settings.clock_speed, settings.clock_anchor, settings.clock_start)
    return ScaledClock(settings.clock_speed, start)
