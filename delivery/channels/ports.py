"""The channel ports (DESIGN §7): each of VK, OK and SMS sits behind one, with a simulator
(`social_simulator.py`, `sms_simulator.py`) and an HTTP adapter for a real gateway (`http.py`).

Sending only hands a message over: what happens next (delivered, read, replied, answered,
failed) comes back later as an inbound event (`delivery/events.py`). A refusal is an answer,
not an error; a gateway that cannot be reached raises `ChannelUnavailableError`, and the caller
may try again (with the same notification id, which the gateway de-duplicates on), or, when the
request never left, try another channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from ownership.channels import Channel
from ownership.codes import ReverifyMethod
from ownership.numbers import mask

PROMPT_ANSWERS = ("Да", "Нет")


class Refusal(StrEnum):
    """Why a channel would not take a message."""

    # no account of this network is bound to the number
    NO_ACCOUNT = "NO_ACCOUNT"
    # the accounts bound to the number were not seen within the activity window (A = 7 days)
    NO_ACTIVE_ACCOUNT = "NO_ACTIVE_ACCOUNT"
    # mobile_only, and no active account bound to the number uses the mobile app
    NO_MOBILE_APP = "NO_MOBILE_APP"
    # the message named accounts, and none of them is bound to the number in this network
    UNKNOWN_ACCOUNT = "UNKNOWN_ACCOUNT"
    # the gateway refused the message for a reason of its own (its text says which)
    REJECTED = "REJECTED"


@dataclass(frozen=True)
class SendResult:
    """Accepted with the provider's message id, or refused with a reason."""

    provider_id: str | None
    refusal: Refusal | None = None
    detail: str = ""

    def __post_init__(self) -> None:
        if (self.provider_id is None) == (self.refusal is None):
            raise ValueError("a send result is either accepted (provider_id) or refused")

    @property
    def accepted(self) -> bool:
        return self.provider_id is not None

    @classmethod
    def accepted_as(cls, provider_id: str) -> SendResult:
        return cls(provider_id=provider_id)

    @classmethod
    def refused(cls, refusal: Refusal, detail: str = "") -> SendResult:
        return cls(provider_id=None, refusal=refusal, detail=detail)


@dataclass(frozen=True)
class SocialMessage:
    """A notification for the person's VK or OK account."""

    notification_id: str
    # E.164
    phone: str
    text: str
    # show it only in the mobile app (the person must have an active account with the app)
    mobile_only: bool = False
    # the accounts to deliver to, when the caller knows them; empty: any bound to the phone
    account_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReverificationPrompt:
    """«+792* *** ** 23 — это ваш номер телефона? Да / Нет», asked in the social network; or,
    with `method` SMS_CODE, a field for the code just sent to the number by SMS."""

    notification_id: str
    phone: str
    mobile_only: bool = False
    account_ids: tuple[str, ...] = ()
    method: ReverifyMethod = ReverifyMethod.PROMPT

    @property
    def expects_code(self) -> bool:
        return self.method is ReverifyMethod.SMS_CODE

    @property
    def question(self) -> str:
        if self.expects_code:
            return f"Введите код из SMS, отправленного на {mask(self.phone)}"
        return f"{mask(self.phone)} — это ваш номер телефона?"

    @property
    def answers(self) -> tuple[str, ...]:
        return () if self.expects_code else PROMPT_ANSWERS

    @property
    def text(self) -> str:
        if self.expects_code:
            return self.question
        return f"{self.question} {' / '.join(self.answers)}"


class SmsKind(StrEnum):
    # the notification itself
    MESSAGE = "message"
    # a re-verification code: the service's own cost, never billed, never the notification's SMS
    CODE = "code"


@dataclass(frozen=True)
class SmsMessage:
    """An SMS: a notification sent by SMS, or a re-verification code (`kind` CODE, the
    `issued`th code drawn for the notification). `valid_until` (aware UTC): the moment it stops
    being worth delivering, which the gateway is told (its validity period): a phone that
    cannot take it before then never gets it, and it is reported failed, `expired`; None, the
    gateway's own validity."""

    notification_id: str
    phone: str
    text: str
    kind: SmsKind = SmsKind.MESSAGE
    issued: int = 0
    valid_until: datetime | None = None

    def __post_init__(self) -> None:
        if self.valid_until is not None and self.valid_until.utcoffset() is None:
            raise ValueError("an SMS's valid_until is an aware time")
        if self.valid_until is not None:
            object.__setattr__(self, "valid_until", self.valid_until.astimezone(UTC))

    @property
    def message_id(self) -> str:
        """The id the SMS gateway takes it by, and reports it by: the notification's for its own
        SMS; `<notification id>:code:<n>` for a code, so that the gateway takes it apart from
        the notification's SMS (it takes one SMS an id) and its reports, naming no
        notification, never move or bill one."""
        if self.kind is SmsKind.CODE:
            return f"{self.notification_id}:code:{self.issued}"
        return self.notification_id


class ChannelUnavailableError(Exception):
    """The channel could not be asked (network, time-out, a gateway's 5xx or an answer that
    breaks the contract): nothing is known about the message, and sending again is safe.
    `never_sent`: the request never left (no connection could be made), so the channel holds
    nothing of it, and another channel may carry the message at once."""

    def __init__(self, message: str, *, never_sent: bool = False) -> None:
        super().__init__(message)
        self.never_sent = never_sent


class UnknownMessageError(LookupError):
    """A provider id the channel never issued."""


class Sent(StrEnum):
    """What a network takes for a notification, at most one of each (docs/gateways.md)."""

    MESSAGE = "message"  # the notification itself
    PROMPT = "prompt"  # the re-verification question


class SocialNetwork(Protocol):
    """One social network (VK or OK)."""

    @property
    def network(self) -> Channel: ...

    def send(self, message: SocialMessage) -> SendResult: ...

    def withdraw(self, provider_id: str) -> bool:
        """True: withdrawn before delivery, so it will never show. False: it was already
        delivered (its `MessageDelivered` is or will be reported, and stands)."""
        ...

    def withdraw_by_notification(self, notification_id: str, kind: Sent) -> bool:
        """Take back the notification's message (or its prompt) when the send's answer never
        came, so its id is unknown. True: it will never show (withdrawn, or never taken);
        False: it was already shown."""
        ...

    def ask(self, prompt: ReverificationPrompt) -> SendResult:
        """Ask the re-verification question; the answer comes as `ReverificationAnswered`."""
        ...


class SmsGateway(Protocol):
    def send(self, sms: SmsMessage) -> SendResult: ...
