"""The SMS simulator: an operator's gateway as the notify path sees it.

Every accepted SMS gets a delivery report after a short delay (log-uniform between 1 and 20
seconds by default): `SmsDelivered`, or `SmsFailed` with an error by `failure_shares` (shares
of all SMS sent, by error; the defaults are illustrative, not published figures).

A permanent error (`unknown_subscriber`: the number is out of service, DESIGN §3) belongs to
the number, not to the message: a number is out of service with the error's share, decided by
a stable hash of the seed and the number; every SMS to it then fails with that error, and no
SMS to a number in service ever does. Its share of all SMS sent is its share of numbers when
every number gets as many SMS. The temporary errors are drawn for each SMS to a number in
service, at their shares divided by the share of numbers in service, so that they keep their
shares of all SMS sent.
Tests force a phone's outcome with `script_failure` / `script_delivery`.

An SMS's report delay is how long its phone takes to take it (off, or out of coverage, for a
while): one whose phone would take it only after its `valid_until` is never delivered, and
fails with `expired` at that moment, as a gateway reports a message whose validity period ran
out in its queue. The same goes for a temporary failure due after it; a number out of service
fails as it would have.

A re-verification code's SMS is sent and reported like any other, under its own id, which names
no notification; the phone keeps the last few codes it was delivered (`codes_delivered`), which
the social simulators' people read when a prompt asks for one.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import secrets
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from delivery.channels.curves import log_uniform
from delivery.channels.ports import SendResult, SmsKind, SmsMessage
from delivery.channels.schedule import EventSchedule, Scheduled
from delivery.clock import Clock
from delivery.events import InboundEvents, SmsDelivered, SmsError, SmsFailed
from ownership.channels import Channel

DEFAULT_FAILURE_SHARES: Mapping[SmsError, float] = MappingProxyType(
    {
        SmsError.ABSENT_SUBSCRIBER: 0.02,
        SmsError.NETWORK: 0.01,
        SmsError.EXPIRED: 0.005,
        SmsError.UNKNOWN_SUBSCRIBER: 0.005,
    }
)
# the codes of one notification a phone keeps, the latest last
CODES_KEPT = 3


@dataclass(frozen=True)
class SmsSimulatorSettings:
    report_delay: tuple[timedelta, timedelta] = (timedelta(seconds=1), timedelta(seconds=20))
    failure_shares: Mapping[SmsError, float] = field(default_factory=lambda: DEFAULT_FAILURE_SHARES)

    def __post_init__(self) -> None:
        shares = list(self.failure_shares.values())
        if any(share < 0 for share in shares) or sum(shares) > 1:
            raise ValueError("failure shares are shares and add up to 1 at most")


@dataclass(frozen=True)
class ScriptedReport:
    # None: delivered
    error: SmsError | None
    after: timedelta


class SmsSimulator(Scheduled):
    """An `SmsGateway` that runs on a clock; see the module."""

    channel = Channel.SMS

    def __init__(
        self,
        clock: Clock,
        events: InboundEvents,
        *,
        seed: int = 0,
        settings: SmsSimulatorSettings | None = None,
        run: str | None = None,
    ) -> None:
        self._clock = clock
        self._settings = settings or SmsSimulatorSettings()
        self._rng = random.Random(seed)
        self._seed = seed
        shares = self._settings.failure_shares.items()
        self._permanent = tuple((error, share) for error, share in shares if error.is_permanent)
        self._temporary = tuple((error, share) for error, share in shares if not error.is_permanent)
        self._in_service = 1 - sum(share for _, share in self._permanent)
        self._schedule = EventSchedule(clock, events)
        self._ids = itertools.count(1)
        # this run's mark in its ids (random unless given, to replay a run's events): the store
        # outlives the simulator's memory, and a restarted simulator counting from 1 again
        # would take an earlier run's id for one of its own (a withdrawal at the TTL would then
        # cancel, or find delivered, another message)
        self._run = run or secrets.token_hex(4)
        self._taken: dict[str, str] = {}  # notification id → provider id
        self._scripts: dict[str, ScriptedReport] = {}
        # phone → (delivered at, text) of the codes it was delivered
        self._codes: dict[tuple[str, str], deque[tuple[datetime, str]]] = {}
        self.sent: list[SmsMessage] = []

    def send(self, sms: SmsMessage) -> SendResult:
        with self._schedule.lock:
            # one SMS an id (docs/gateways.md): a repeated send gets the first one's id. A code
            # has an id of its own, so it is never taken for the notification's SMS
            taken = self._taken.get(sms.message_id)
            if taken is not None:
                return SendResult.accepted_as(taken)
            now = self._clock.now()
            provider_id = f"sms-{self._run}-{next(self._ids)}"
            self._taken[sms.message_id] = provider_id
            self.sent.append(sms)
            error, after = self._outcome(sms.phone)
            ids = (sms.message_id, provider_id, Channel.SMS)
            at = now + after
            if _outlived(sms, error, at):
                error, at = SmsError.EXPIRED, max(now, sms.valid_until or now)
            if sms.kind is SmsKind.CODE and error is None:
                key = (sms.phone, sms.notification_id)
                kept = self._codes.setdefault(key, deque(maxlen=CODES_KEPT))
                kept.append((at, sms.text))
            self._schedule.add(
                SmsDelivered(*ids, at=at) if error is None else SmsFailed(*ids, at=at, error=error)
            )
            return SendResult.accepted_as(provider_id)

    def codes_delivered(self, phone: str, notification_id: str) -> list[tuple[datetime, str]]:
        """The code SMS of the notification delivered to `phone` (or to be, at the time given),
        the latest last: what the person holding its SIM can read for that prompt."""
        with self._schedule.lock:
            return list(self._codes.get((phone, notification_id), ()))

    @property
    def notifications_sent(self) -> list[SmsMessage]:
        """The notifications' own SMS, without the re-verification codes."""
        return [sms for sms in self.sent if sms.kind is SmsKind.MESSAGE]

    def script_failure(
        self, phone: str, error: SmsError | str, after: timedelta = timedelta(seconds=5)
    ) -> None:
        self._scripts[phone] = ScriptedReport(SmsError(error), after)

    def script_delivery(self, phone: str, after: timedelta = timedelta(seconds=5)) -> None:
        self._scripts[phone] = ScriptedReport(None, after)

    def forget_scripts(self, phone: str) -> None:
        self._scripts.pop(phone, None)

    def _outcome(self, phone: str) -> tuple[SmsError | None, timedelta]:
        scripted = self._scripts.get(phone)
        if scripted is not None:
            return scripted.error, scripted.after
        low, high = (bound.total_seconds() for bound in self._settings.report_delay)
        after = timedelta(seconds=log_uniform(self._rng, low, high))
        # drawn even for a number out of service, so that which numbers are out of service
        # does not shift the draws of the SMS after it
        temporary = _by_share(self._temporary, self._rng.random() * self._in_service)
        permanent = _by_share(self._permanent, self._share_of_number(phone))
        return (permanent if permanent is not None else temporary), after

    def _share_of_number(self, phone: str) -> float:
        """The number's place in [0, 1), the same in every run of this seed: Python's own
        hash() of a string changes from one process to the next."""
        digest = hashlib.blake2b(f"{self._seed}|{phone}".encode(), digest_size=8).digest()
        return int.from_bytes(digest) / 2**64


def _outlived(sms: SmsMessage, error: SmsError | None, at: datetime) -> bool:
    """Whether the SMS's validity runs out before its phone could take it (or before a
    temporary failure): a number out of service is refused at once, whatever the validity."""
    if sms.valid_until is None or (error is not None and error.is_permanent):
        return False
    return at > sms.valid_until


def _by_share(shares: tuple[tuple[SmsError, float], ...], draw: float) -> SmsError | None:
    """The error whose slice of [0, 1) holds `draw`, the slices laid end to end; none past them."""
    for error, share in shares:
        if draw < share:
            return error
        draw -= share
    return None
