"""When a failed webhook is tried again, and when it is given up: exponential back-off for a day."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# after the first failed attempt 5 s, then 30 s, 2 min, ... each wait about four times the last,
# the last one repeated; eleven attempts over a day when an endpoint stays down
DEFAULT_DELAYS = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
    timedelta(hours=8),
)


@dataclass(frozen=True)
class RetrySchedule:
    """Waits between attempts, and how long after its creation an event is still tried.

    `jitter` spreads each wait by up to that share either way, so the events that failed
    together (an endpoint down for a minute) do not all come back in the same second.
    """

    delays: tuple[timedelta, ...] = DEFAULT_DELAYS
    give_up_after: timedelta = timedelta(hours=24)
    jitter: float = 0.1
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.delays or any(delay <= timedelta(0) for delay in self.delays):
            raise ValueError("a retry schedule has positive delays")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter is a share below 1")

    def delay_after(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt (1 for the first), jitter included."""
        base = self.delays[min(attempts, len(self.delays)) - 1]
        if not self.jitter:
            return base
        return base * (1 + self.rng.uniform(-self.jitter, self.jitter))

    def next_attempt(
        self,
        *,
        created_at: datetime,
        attempts: int,
        failed_at: datetime,
        not_before: datetime | None = None,
    ) -> datetime | None:
        """When to try again after the `attempts`-th attempt failed at `failed_at`, and no
        sooner than `not_before` (an endpoint's Retry-After); None once that would be more
        than `give_up_after` past the event's creation."""
        moment = failed_at + self.delay_after(attempts)
        if not_before is not None:
            moment = max(moment, not_before)
        return moment if moment <= created_at + self.give_up_after else None
