"""What the channels tell the notify path: inbound events, past tense, one frozen value each.

A simulator or a real gateway (through the signed routes of `api/routes/inbound.py`) produces
them; the notify service consumes them through the `InboundEvents` port. Every event names our
notification id and the provider's message id, the channel, and when it happened (aware UTC).

A gateway may send an event twice (Standard Webhooks retries) and a simulator's delivery may
race a withdrawal, so `InboundEvents.handle` must be idempotent: the same event seen twice
changes nothing the second time.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, TypeVar

from ownership.channels import Channel

log = logging.getLogger(__name__)


class ReverificationAnswer(StrEnum):
    # the person pressed «Да»: the number is theirs
    CONFIRMED = "confirmed"
    # the person pressed «Нет»: the number is no longer theirs
    DENIED = "denied"


class SmsError(StrEnum):
    """Why an SMS was not delivered, as in `sms_deliveries.error` (DESIGN §3)."""

    # the number is out of service: the only permanent error
    UNKNOWN_SUBSCRIBER = "unknown_subscriber"
    # the phone is off or out of coverage
    ABSENT_SUBSCRIBER = "absent_subscriber"
    # the operator's network failed
    NETWORK = "network"
    # the operator refused the message (spam filter, barred sender)
    REJECTED = "rejected"
    # the message's validity ran out before the phone could take it
    EXPIRED = "expired"
    OTHER = "other"

    @property
    def is_permanent(self) -> bool:
        return self is SmsError.UNKNOWN_SUBSCRIBER


@dataclass(frozen=True)
class MessageDelivered:
    """A social message reached the person's account (it shows there from now on)."""

    notification_id: str
    provider_id: str
    channel: Channel
    at: datetime


@dataclass(frozen=True)
class MessageRead:
    notification_id: str
    provider_id: str
    channel: Channel
    at: datetime


@dataclass(frozen=True)
class ReplyReceived:
    """The person answered a delivered message; forwarded to the client free of charge."""

    notification_id: str
    provider_id: str
    channel: Channel
    at: datetime
    text: str


@dataclass(frozen=True)
class ReverificationAnswered:
    """The person answered the «это ваш номер телефона?» prompt. Prompts report nothing else:
    no delivered or read event, so a prompt can never be taken for a billable delivery."""

    notification_id: str
    provider_id: str
    channel: Channel
    at: datetime
    answer: ReverificationAnswer
    # the account that answered, when the gateway names it: a Yes proves that account only, for
    # the batch (none: it speaks for every account bound to the number)
    account_id: str | None = None


@dataclass(frozen=True)
class ReverificationCodeEntered:
    """The person entered a code in the prompt that asked for the one sent by SMS. The code is
    checked against its keyed hash and kept nowhere."""

    notification_id: str
    provider_id: str
    channel: Channel
    at: datetime
    code: str = field(repr=False)  # out of every log line that shows the event
    account_id: str | None = None


class AnswerKindError(ValueError):
    """A report of an answer the notification did not ask for: a code for a Yes/No prompt, or a
    Yes or No for a prompt that asked for a code."""


@dataclass(frozen=True)
class SmsDelivered:
    notification_id: str
    provider_id: str
    channel: Channel
    at: datetime


@dataclass(frozen=True)
class SmsFailed:
    notification_id: str
    provider_id: str
    channel: Channel
    at: datetime
    error: SmsError


InboundEvent = (
    MessageDelivered
    | MessageRead
    | ReplyReceived
    | ReverificationAnswered
    | ReverificationCodeEntered
    | SmsDelivered
    | SmsFailed
)

E = TypeVar("E", bound=InboundEvent)


class InboundEvents(Protocol):
    """The notify service's side of the channels: it must be idempotent (see the module)."""

    def handle(self, event: InboundEvent) -> None: ...


class RecordingInboundEvents:
    """The recording fake: keeps every event in arrival order; safe across threads."""

    def __init__(self) -> None:
        self._events: list[InboundEvent] = []
        self._lock = threading.Lock()

    def handle(self, event: InboundEvent) -> None:
        with self._lock:
            self._events.append(event)

    @property
    def events(self) -> list[InboundEvent]:
        with self._lock:
            return list(self._events)

    def of_type(self, kind: type[E]) -> list[E]:
        return [event for event in self.events if isinstance(event, kind)]

    def clear(self) -> None:
        with self._lock:
            self._events.clear()


class LoggedInboundEvents:
    """Logs each event and drops it: the API's default until the notify service is wired in,
    so that a gateway's events are acknowledged and visible in the log but kept nowhere."""

    def handle(self, event: InboundEvent) -> None:
        log.info("inbound event with no notify service to take it: %r", event)
