"""A notification's life (DESIGN §7): its request's rules, its statuses and their transitions.

Pure: the notify service (delivery/) stores what this module decides.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

MIN_TTL = timedelta(seconds=15)
MAX_TTL = timedelta(hours=24)
DEFAULT_TTL = timedelta(hours=1)
# how long a notification's SMS stays worth delivering from its first claim for SMS, as its
# client may choose it: five minutes at least (a one-time code's SMS is worth five to ten; and
# a crash between the claim and the hand-over is recovered a minute after the claim, which
# must leave the SMS worth handing over), a week at most (the most OWNERSHIP_SMS_VALIDITY_SECONDS
# allows; a gateway keeps a message no longer)
MIN_SMS_VALIDITY = timedelta(minutes=5)
MAX_SMS_VALIDITY = timedelta(days=7)
MAX_ACTION_AGE = timedelta(days=3)
# the most days a client may be allowed between a user action and the notification answering
# it (DESIGN §7: 3 unless the client is allowed more); the notifications' retention exceeds it
ACTION_AGE_DAYS_MAX = 365
# how far ahead of the service's clock a client's may run: a time later than that is in the future
CLOCK_SKEW = timedelta(minutes=5)
FRESHNESS = timedelta(days=30)


class NotificationStatus(StrEnum):
    ACCEPTED = "accepted"
    REVERIFY_PENDING = "reverify_pending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    EXPIRED = "expired"
    SMS_SENT = "sms_sent"
    SMS_DELIVERED = "sms_delivered"
    SMS_FAILED = "sms_failed"
    FAILED = "failed"


S = NotificationStatus
# a notification in one of these has its outcome; only `delivered` may still become `read`
SETTLED: frozenset[NotificationStatus] = frozenset(
    {S.DELIVERED, S.READ, S.SMS_DELIVERED, S.SMS_FAILED, S.FAILED}
)
# still waiting for the social network or the person: the sweeper's business once past TTL
AWAITING: frozenset[NotificationStatus] = frozenset({S.ACCEPTED, S.REVERIFY_PENDING, S.SENT})
# the outcomes a client pays for
BILLABLE: frozenset[NotificationStatus] = frozenset({S.DELIVERED, S.SMS_DELIVERED})


class Fallback(StrEnum):
    SMS = "sms"
    NONE = "none"


class RequestProblem(StrEnum):
    # ttl below 15 s or above 24 h
    TTL_OUT_OF_RANGE = "TTL_OUT_OF_RANGE"
    # sms_validity below 300 s or above 7 days
    SMS_VALIDITY_OUT_OF_RANGE = "SMS_VALIDITY_OUT_OF_RANGE"
    # the user action is older than the client may answer (3 days unless allowed more)
    STALE_ACTION = "STALE_ACTION"
    # the user action is dated in the future
    ACTION_IN_FUTURE = "ACTION_IN_FUTURE"
    # a placeholder of the template has no value
    MISSING_PARAMS = "MISSING_PARAMS"
    # a value was given for no placeholder of the template
    UNKNOWN_PARAMS = "UNKNOWN_PARAMS"
    # the number's country is not in the country table, or has no SMS price at that time:
    # nothing delivered there could be billed
    COUNTRY_NOT_SERVED = "COUNTRY_NOT_SERVED"


class NotificationRequestError(ValueError):
    def __init__(self, problem: RequestProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem


SHOWN_DIGITS = 20  # an out-of-range duration longer than this is named, not written out


@dataclass(frozen=True)
class SecondsBound:
    """A request's duration in seconds (its `name`) and the bounds it must keep."""

    name: str
    least: timedelta
    most: timedelta
    problem: RequestProblem

    def check(self, duration: timedelta) -> timedelta:
        if not self.least <= duration <= self.most:
            raise self._out_of_range(int(duration.total_seconds()))
        return duration

    def of_seconds(self, seconds: int) -> timedelta:
        """The duration a client wrote in seconds, to `check` once the request is known to be
        no repeat: one too large for any duration is refused at once, with the bounds."""
        try:
            return timedelta(seconds=seconds)
        except OverflowError:
            raise self._out_of_range(seconds) from None

    def _out_of_range(self, seconds: int) -> NotificationRequestError:
        # a number of a hundred digits is not repeated back, digit by digit
        if abs(seconds) < 10**SHOWN_DIGITS:
            shown = f"{seconds} s"
        else:
            shown = "a number that large" if seconds > 0 else "a negative number that large"
        return NotificationRequestError(
            self.problem,
            f"{self.name} must be between {int(self.least.total_seconds())} s and "
            f"{int(self.most.total_seconds())} s, not {shown}",
        )


TTL_BOUND = SecondsBound("ttl", MIN_TTL, MAX_TTL, RequestProblem.TTL_OUT_OF_RANGE)
SMS_VALIDITY_BOUND = SecondsBound(
    "sms_validity", MIN_SMS_VALIDITY, MAX_SMS_VALIDITY, RequestProblem.SMS_VALIDITY_OUT_OF_RANGE
)


def sms_window(chosen: timedelta | None, service: timedelta) -> timedelta:
    """How long a notification's SMS stays worth delivering: the client's choice where it is
    shorter than the service's own window (OWNERSHIP_SMS_VALIDITY_SECONDS), which is also what
    a notification that chose none gets."""
    return service if chosen is None else min(chosen, service)


def sms_valid_until(claimed: datetime, window: timedelta) -> datetime:
    """The moment a notification's SMS stops being worth delivering: `window` from when it was
    first claimed for SMS, fixed then, so that every hand-over of it (a retry too) tells its
    gateway the same. (A re-verification code's SMS is worth delivering until the
    notification's TTL ends, when its prompt is taken back.)"""
    return claimed + window


def check_action_age(
    action_at: datetime, now: datetime, allowed: timedelta = MAX_ACTION_AGE
) -> None:
    """A notification answers a user action no older than `allowed` (anti-spam, DESIGN §7)."""
    if action_at > now + CLOCK_SKEW:
        raise NotificationRequestError(
            RequestProblem.ACTION_IN_FUTURE, f"action.at {action_at.isoformat()} is in the future"
        )
    if now - action_at > allowed:
        raise NotificationRequestError(
            RequestProblem.STALE_ACTION,
            f"action.at {action_at.isoformat()} is older than {_days(allowed)}: a "
            "notification must answer a recent user action",
        )


def _days(span: timedelta) -> str:
    return "1 day" if span.days == 1 else f"{span.days} days"


def check_params(placeholders: Collection[str], params: Collection[str]) -> None:
    """A notification gives a value for every placeholder of its template, and for no other."""
    missing = [name for name in placeholders if name not in params]
    if missing:
        raise NotificationRequestError(
            RequestProblem.MISSING_PARAMS, f"params lack {', '.join(sorted(missing))}"
        )
    unknown = [name for name in params if name not in placeholders]
    if unknown:
        raise NotificationRequestError(
            RequestProblem.UNKNOWN_PARAMS,
            f"the template has no placeholder {', '.join(sorted(unknown))}",
        )


@dataclass(frozen=True)
class Freshness:
    """The re-verification cycle: a confirmed number is fresh for F, then asked again."""

    confirmed_at: datetime
    period: timedelta = FRESHNESS

    @property
    def fresh_until(self) -> datetime:
        return self.confirmed_at + self.period

    def is_fresh(self, now: datetime) -> bool:
        return now < self.fresh_until
