"""The notify service's ports for templates and webhooks (the channels' are in
delivery/channels/ports.py).

Adapters sit behind each: the template desk, the webhook outbox. Tests hand in recording fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Connection

if TYPE_CHECKING:
    from delivery.webhooks.events import WebhookEvent


class TemplateProblemError(LookupError):
    """The template cannot be used: unknown to this client (TEMPLATE_NOT_FOUND), not approved
    (TEMPLATE_NOT_APPROVED), or with these params the message would break the moderation's
    rules: too long for a channel (MESSAGE_TOO_LONG) or promotional in the body
    (PROMOTIONAL_PARAMS)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Templates(Protocol):
    def message(self, client_key: str, template_id: str, params: dict[str, str]) -> str:
        """The client's approved template filled with `params`: TemplateProblemError for an
        unknown or unapproved template or for params that make the message too long or
        promotional, NotificationRequestError for missing or unknown params."""
        ...


@dataclass(frozen=True)
class ClientEvent:
    """Something to tell a client by webhook."""

    client_key: str
    # the notification's callback_url; None: the client's default webhook URL, if any
    url: str | None
    event: WebhookEvent
    # an id that makes the event once-only: enqueued again, it is the same event and is not
    # queued twice (a reply a gateway reports twice). None: a new id.
    event_id: str | None = None


class Webhooks(Protocol):
    def enqueue(self, connection: Connection, events: list[ClientEvent], now: datetime) -> None:
        """Queue the events inside the caller's transaction (the transactional outbox)."""
        ...


class NoWebhooks:
    """Webhooks switched off (no outbox configured)."""

    def enqueue(self, connection: Connection, events: list[ClientEvent], now: datetime) -> None:
        return None
