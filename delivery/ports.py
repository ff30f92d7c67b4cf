"""The notify service's ports, as it needs them: channels, templates, webhooks.

Adapters sit behind each: the channel simulators and HTTP gateways (delivery/channels), the
template store, the webhook outbox. Tests hand in recording fakes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection

from ownership.channels import Channel


@dataclass(frozen=True)
class Sent:
    """The channel took the message; `provider_id` names it there."""

    provider_id: str


@dataclass(frozen=True)
class Refused:
    """The channel cannot carry the message (no active account, say), with its reason code."""

    reason: str


SendOutcome = Sent | Refused


class SocialChannel(Protocol):
    network: Channel

    def send(self, notification_id: str, phone: str, text: str, mobile_only: bool) -> SendOutcome:
        """Show `text` to the account bound to `phone`; delivery comes later as an event."""
        ...

    def ask(self, notification_id: str, phone: str, question: str) -> SendOutcome:
        """Ask the re-verification question; the answer comes later as an event."""
        ...

    def withdraw(self, provider_id: str) -> bool:
        """Take back a message not yet delivered: True if it will never show, False if it was
        delivered already."""
        ...


class SmsChannel(Protocol):
    def send(self, notification_id: str, phone: str, text: str) -> SendOutcome:
        """Send an SMS; its delivery report comes later as an event."""
        ...


class TemplateProblemError(LookupError):
    """The template cannot be used: unknown to this client, or not approved."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Templates(Protocol):
    def message(
        self, connection: Connection, client_key: str, template_id: str, params: dict[str, str]
    ) -> str:
        """The client's approved template filled with `params`: TemplateProblemError for an
        unknown or unapproved template, NotificationRequestError for missing or unknown
        params."""
        ...


@dataclass(frozen=True)
class WebhookEvent:
    client_key: str
    # the notification's callback_url; None: the client's default webhook URL, if any
    url: str | None
    event_type: str
    payload: dict[str, Any] = field(default_factory=dict)


class Webhooks(Protocol):
    def enqueue(self, connection: Connection, events: list[WebhookEvent], now: datetime) -> None:
        """Queue the events inside the caller's transaction (the transactional outbox)."""
        ...


class NoWebhooks:
    """Webhooks switched off (no outbox configured)."""

    def enqueue(self, connection: Connection, events: list[WebhookEvent], now: datetime) -> None:
        return None
