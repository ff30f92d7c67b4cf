"""The notify service's ports for templates and webhooks (the channels' are in
delivery/channels/ports.py).

Adapters sit behind each: the template desk, the webhook outbox. Tests hand in recording fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Connection

if TYPE_CHECKING:
    from delivery.webhooks.events import WebhookEvent


class TemplateProblem(StrEnum):
    # this client has no template of that id
    TEMPLATE_NOT_FOUND = "TEMPLATE_NOT_FOUND"
    # the template waits for its moderation, or was rejected
    TEMPLATE_NOT_APPROVED = "TEMPLATE_NOT_APPROVED"
    # filled with these params, the message is too long for a channel
    MESSAGE_TOO_LONG = "MESSAGE_TOO_LONG"
    # filled with these params, the message's body is promotional
    PROMOTIONAL_PARAMS = "PROMOTIONAL_PARAMS"


class TemplateProblemError(LookupError):
    """The template cannot be used, for `problem`: unknown to this client, not approved, or with
    these params the message would break the moderation's rules."""

    def __init__(self, problem: TemplateProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem


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
