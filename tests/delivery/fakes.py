"""Recording fakes of the notify service's ports, for tests that drive it by hand."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection

from delivery.channels.ports import (
    Refusal,
    ReverificationPrompt,
    SendResult,
    Sent,
    SmsKind,
    SmsMessage,
    SocialMessage,
)
from delivery.ports import ClientEvent, TemplateProblem, TemplateProblemError
from ownership.channels import Channel
from ownership.notifications import check_params

_ids = itertools.count(1)


@dataclass
class RecordingSocial:
    """A social network that takes every message unless told to refuse a phone, and can be
    told that a message was delivered before its withdrawal."""

    network: Channel
    sent: list[tuple[str, str, str]] = field(default_factory=list)
    asked: list[tuple[str, str, str]] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # phones this network refuses
    delivered_already: set[str] = field(default_factory=set)  # provider ids past withdrawal

    # the provider ids issued for each notification and kind, to withdraw by notification id
    issued: dict[tuple[str, Sent], list[str]] = field(default_factory=dict)

    def send(self, message: SocialMessage) -> SendResult:
        if message.phone in self.refuse:
            return SendResult.refused(Refusal.NO_ACTIVE_ACCOUNT)
        self.sent.append((message.notification_id, message.phone, message.text))
        provider_id = f"{self.network.value}-{next(_ids)}"
        return self._issue(message.notification_id, Sent.MESSAGE, provider_id)

    def ask(self, prompt: ReverificationPrompt) -> SendResult:
        self.asked.append((prompt.notification_id, prompt.phone, prompt.text))
        provider_id = f"{self.network.value}-q{next(_ids)}"
        return self._issue(prompt.notification_id, Sent.PROMPT, provider_id)

    def withdraw(self, provider_id: str) -> bool:
        if provider_id in self.delivered_already:
            return False
        self.withdrawn.append(provider_id)
        return True

    def withdraw_by_notification(self, notification_id: str, kind: Sent) -> bool:
        # every copy it took (it does not de-duplicate): any one shown was shown
        issued = self.issued.get((notification_id, kind), [])
        return all([self.withdraw(provider_id) for provider_id in issued])

    def _issue(self, notification_id: str, kind: Sent, provider_id: str) -> SendResult:
        self.issued.setdefault((notification_id, kind), []).append(provider_id)
        return SendResult.accepted_as(provider_id)


@dataclass
class RecordingSms:
    """The notifications' SMS in `sent` (and whole, with their validity, in `messages`); the
    re-verification codes' apart, in `codes`."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)
    codes: list[SmsMessage] = field(default_factory=list)
    messages: list[SmsMessage] = field(default_factory=list)

    def send(self, sms: SmsMessage) -> SendResult:
        if sms.kind is SmsKind.CODE:
            self.codes.append(sms)
        else:
            self.sent.append((sms.notification_id, sms.phone, sms.text))
            self.messages.append(sms)
        return SendResult.accepted_as(f"sms-{next(_ids)}")


@dataclass(frozen=True)
class FixedTemplate:
    id: str
    text: str
    placeholders: tuple[str, ...]


@dataclass
class StaticTemplates:
    """Approved templates by id, filled by plain replacement; `pending` ones await moderation."""

    templates: dict[str, FixedTemplate]
    pending: set[str] = field(default_factory=set)

    def message(self, client_key: str, template_id: str, params: dict[str, str]) -> str:
        if template_id in self.pending:
            raise TemplateProblemError(
                TemplateProblem.TEMPLATE_NOT_APPROVED, f"{template_id} awaits moderation"
            )
        if template_id not in self.templates:
            raise TemplateProblemError(
                TemplateProblem.TEMPLATE_NOT_FOUND, f"no template {template_id}"
            )
        template = self.templates[template_id]
        check_params(template.placeholders, params)
        text = template.text
        for name, value in params.items():
            text = text.replace(f"#{name}#", value)
        return text


@dataclass
class RecordingWebhooks:
    events: list[ClientEvent] = field(default_factory=list)

    def enqueue(self, connection: Connection, events: list[ClientEvent], now: datetime) -> None:
        # as the outbox: an event whose id was queued already is that event
        queued = {event.event_id for event in self.events if event.event_id}
        self.events.extend(e for e in events if e.event_id is None or e.event_id not in queued)
