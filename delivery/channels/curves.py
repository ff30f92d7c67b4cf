"""How long channels take: the delay distributions the simulators draw from.

The social networks' published figures (DESIGN §7 and §11, from the product brief): of the
notifications sent, 42 % are delivered within a minute, 60 % within an hour and 90 % within
24 hours; the other 10 % are never delivered (the account is not opened in time). 85 % are read
within 24 hours. **The read figure is taken as a share of the notifications sent**, with the
24 hours counted from sending: the figures read as one funnel over one base (90 % delivered,
85 % read), so 85/90 = 94.4 % of the delivered ones are read within the day.

The delivery curve is piecewise log-uniform through the published points: its cumulative share
is linear in log-time between knots, (1 s, 0), (60 s, 0.42), (3,600 s, 0.60), (86,400 s, 0.90),
and flat after the last. Log-uniform because delays span five orders of magnitude: uniform
pieces would bunch each piece's deliveries at its end. The first knot (1 s) is the fastest
delivery assumed; it is not published.

A delivered message is read within the day with probability read_share / delivered_share(24 h),
at a log-uniform time between `min_read_delay` after delivery and 24 h after sending (both ends
clamped so the read never precedes the delivery); the others are never read.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import timedelta

MINUTE = 60.0
HOUR = 3_600.0
DAY = 86_400.0


@dataclass(frozen=True)
class PiecewiseLogUniform:
    """A delay (seconds) whose cumulative share is linear in log-time between `knots`
    (seconds, cumulative share), both increasing; past the last share it never happens."""

    knots: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if len(self.knots) < 2 or self.knots[0][1] != 0.0:
            raise ValueError("a curve needs two knots or more, the first at share 0")
        for (t0, p0), (t1, p1) in zip(self.knots, self.knots[1:], strict=False):
            if not (0 < t0 < t1 and 0 <= p0 <= p1 <= 1):
                raise ValueError(f"knots must increase: {self.knots}")

    @property
    def final_share(self) -> float:
        return self.knots[-1][1]

    def share_within(self, seconds: float) -> float:
        """The cumulative share at `seconds` (the curve itself)."""
        if seconds < self.knots[0][0]:
            return 0.0
        for (t0, p0), (t1, p1) in zip(self.knots, self.knots[1:], strict=False):
            if seconds <= t1:
                return p0 + (p1 - p0) * math.log(seconds / t0) / math.log(t1 / t0)
        return self.final_share

    def draw(self, rng: random.Random) -> float | None:
        """Seconds until it happens, or None for never."""
        return self.at_share(rng.random())

    def at_share(self, u: float) -> float | None:
        """The inverse of the curve: the delay at cumulative share `u` in [0, 1)."""
        if u >= self.final_share:
            return None
        shares = [p for _, p in self.knots]
        index = min(bisect_right(shares, u), len(shares) - 1)
        (t0, p0), (t1, p1) = self.knots[index - 1], self.knots[index]
        fraction = (u - p0) / (p1 - p0) if p1 > p0 else 0.0
        return math.exp(math.log(t0) + fraction * math.log(t1 / t0))


def log_uniform(rng: random.Random, low: float, high: float) -> float:
    """A draw whose log is uniform between log(low) and log(high) (seconds, 0 < low <= high)."""
    if high <= low:
        return low
    return math.exp(rng.uniform(math.log(low), math.log(high)))


PUBLISHED_DELIVERY = PiecewiseLogUniform(
    ((1.0, 0.0), (MINUTE, 0.42), (HOUR, 0.60), (DAY, 0.90)),
)


@dataclass(frozen=True)
class SocialOutcome:
    """When a message sent now is delivered and read, counted from sending; None: never."""

    delivered_after: timedelta | None
    read_after: timedelta | None


@dataclass(frozen=True)
class SocialCurve:
    delivery: PiecewiseLogUniform = field(default_factory=lambda: PUBLISHED_DELIVERY)
    # of the messages sent, the share read within `read_horizon` of sending
    read_share: float = 0.85
    read_horizon: timedelta = timedelta(hours=24)
    min_read_delay: timedelta = timedelta(seconds=2)

    def __post_init__(self) -> None:
        if not 0 <= self.read_share <= self.delivered_within(self.read_horizon):
            raise ValueError("more messages cannot be read than are delivered by the horizon")

    def delivered_within(self, after: timedelta) -> float:
        return self.delivery.share_within(after.total_seconds())

    def draw(self, rng: random.Random) -> SocialOutcome:
        delivered = self.delivery.draw(rng)
        if delivered is None:
            return SocialOutcome(None, None)
        horizon = self.read_horizon.total_seconds()
        read_given_delivered = self.read_share / self.delivered_within(self.read_horizon)
        read: float | None = None
        if delivered <= horizon and rng.random() < read_given_delivered:
            soonest = self.min_read_delay.total_seconds()
            read = delivered + log_uniform(rng, soonest, max(horizon - delivered, soonest))
        return SocialOutcome(
            timedelta(seconds=delivered), None if read is None else timedelta(seconds=read)
        )
