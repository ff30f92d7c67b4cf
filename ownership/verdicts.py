"""Statuses and reason codes of the ownership classification (DESIGN §4).

The bit of each reason is part of the serving snapshot's format: never renumber a member,
only append.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import IntEnum, StrEnum


class Status(StrEnum):
    UNKNOWN = "unknown"
    VERIFIED = "verified"
    SUSPICIOUS = "suspicious"
    OWNER_CHANGED = "owner_changed"


class StatusCode(IntEnum):
    """The compact form of `Status` stored in the serving snapshot."""

    UNKNOWN = 0
    VERIFIED = 1
    SUSPICIOUS = 2
    OWNER_CHANGED = 3


class Reason(StrEnum):
    # owner_changed: a registration after the bound holder's last proof, by a person whose
    # name, birth date or gender disagree with the previous registration's.
    PROFILE_MISMATCH = "PROFILE_MISMATCH"
    # owner_changed: an account holder unbound the number or said it is no longer theirs.
    NUMBER_CHANGE_REPORTED = "NUMBER_CHANGE_REPORTED"
    # owner_changed: SMS failed with `unknown_subscriber` (the number was out of service).
    SMS_PERMANENT_FAILURES = "SMS_PERMANENT_FAILURES"
    # owner_changed: the person answered No to "is this your number?".
    OWNER_DENIED = "OWNER_DENIED"
    # verified: a code was entered in VK or OK within the possession window W.
    RECENT_CODE_ENTRY = "RECENT_CODE_ENTRY"
    # verified: a re-verification was confirmed within the freshness window F.
    RECENT_CONFIRMATION = "RECENT_CONFIRMATION"
    # verified (supporting): SMS of the tenure were delivered at least once every W, in two
    # W-long periods at least, the last no more than W before the time of scoring.
    STEADY_SMS_DELIVERY = "STEADY_SMS_DELIVERY"
    # verified (supporting): registrations of the tenure at two moments or more (seconds apart)
    # describe one person: a person field given at two moments, and no field with two values.
    PROFILES_MATCH = "PROFILES_MATCH"
    # suspicious: codes were entered less often than once every W since registration (an
    # account's codes at one second count once).
    SPARSE_CODE_ENTRIES = "SPARSE_CODE_ENTRIES"
    # suspicious: the only codes entered are those that came with registrations.
    ONLY_REGISTRATION_CODE = "ONLY_REGISTRATION_CODE"
    # suspicious: no code in VK or OK within W and no confirmation within F.
    NO_RECENT_CODE = "NO_RECENT_CODE"
    # suspicious: more than W passed between two delivered SMS of the tenure, or after the last
    # one while SMS kept failing.
    SMS_GAP = "SMS_GAP"
    # unknown: no event of the number up to the time of scoring.
    NO_HISTORY = "NO_HISTORY"

    @property
    def bit(self) -> int:
        """This reason's bit in the reason mask shared by the SQL models and the snapshot."""
        return 1 << REASON_ORDER.index(self)


REASON_ORDER: tuple[Reason, ...] = tuple(Reason)


def reasons_from_mask(mask: int) -> tuple[Reason, ...]:
    """The reasons set in `mask`, in their canonical order."""
    return tuple(reason for reason in REASON_ORDER if mask & reason.bit)


def mask_from_reasons(reasons: tuple[Reason, ...] | list[Reason]) -> int:
    mask = 0
    for reason in reasons:
        mask |= reason.bit
    return mask


@dataclass(frozen=True)
class Evidence:
    """A reason together with the time of the event behind it."""

    reason: Reason
    at: datetime | None


@dataclass(frozen=True)
class Verdict:
    """What the classification says of one number."""

    status: Status
    risk_score: int
    evidence: tuple[Evidence, ...]
    # the first evidence of the current holder after the latest change (DESIGN §4); None for
    # a number without history, and for an owner_changed number no holder has shown on since
    owner_since: datetime | None
    last_code_at: datetime | None = None
    last_confirmed_at: datetime | None = None

    @property
    def last_proof_at(self) -> datetime | None:
        """The latest possession proof of the current holder: a code entry or a confirmation."""
        proofs = [moment for moment in (self.last_code_at, self.last_confirmed_at) if moment]
        return max(proofs) if proofs else None

    @property
    def has_history(self) -> bool:
        """Whether any event names the number: an unknown verdict stands on none."""
        return self.status is not Status.UNKNOWN

    def changed_since(self, moment: datetime, coverage_from: datetime | None) -> bool | None:
        """Whether the number changed hands after `moment` (CAMARA number recycling).

        None when there is no data to answer from: `moment` precedes the history's coverage,
        or the number has no history. A moment in the gap between the old holder's last and the
        new holder's first evidence answers True, as CAMARA does; an owner_changed number with
        no holder known since the change (no owner_since) is in that gap up to now.
        """
        if coverage_from is None or moment < coverage_from or not self.has_history:
            return None
        if self.owner_since is None:
            # no holder has shown since the change, so none can be vouched for; a verdict of
            # another status always names its holder's start, and lacking it says nothing
            return True if self.status is Status.OWNER_CHANGED else None
        return moment < self.owner_since

    def held_since(self, moment: datetime, coverage_from: datetime | None) -> bool | None:
        """Whether the current holder has held the number continuously since `moment` (tenure)."""
        changed = self.changed_since(moment, coverage_from)
        return None if changed is None else not changed


# how far a civil time runs ahead of UTC at most (UTC+14, the Line Islands): until a date has
# begun there, it is today nowhere on Earth
FARTHEST_ZONE_AHEAD = timedelta(hours=14)


def latest_today(now: datetime) -> date:
    """The latest date it is anywhere at `now` (UTC): a client's "today", whatever its zone, so
    that a date is in the future only once it is so everywhere (a bank in Kamchatka asks about
    its today from noon UTC the day before)."""
    return (now + FARTHEST_ZONE_AHEAD).date()


def whole_day_since(day: date) -> datetime:
    """A date asked about as a `since`: its last moment, so that "changed hands after D" means
    after the whole of D (CAMARA's reading, and the check's)."""
    return datetime.combine(day, time.max)


def is_whole_day(moment: datetime) -> bool:
    """Whether `moment` is a date's `whole_day_since` (no client writes a time so)."""
    return moment.time() == time.max


# the verdict of a number no event names: unknown, risk 500 (the batch's own figure)
NO_HISTORY_VERDICT = Verdict(Status.UNKNOWN, 500, (Evidence(Reason.NO_HISTORY, None),), None)
