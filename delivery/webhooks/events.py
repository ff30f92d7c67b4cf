"""What a client is told by webhook: events, and the type and payload each is sent as.

The notify and template services build these where the change happens and hand them to
`delivery.webhooks.enqueue_event` in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class WebhookEventType(StrEnum):
    NOTIFICATION_STATUS = "notification.status"  # a notification moved to a new status
    NOTIFICATION_REPLY = "notification.reply"  # the person replied to a notification
    # a template decided: refused by the automatic moderation, or judged by a moderator
    TEMPLATE_STATUS = "template.status"


@dataclass(frozen=True)
class NotificationStatusChanged:
    notification_id: str
    # accepted, reverify_pending, sent, delivered, read, expired, sms_sent, sms_delivered,
    # sms_failed, failed (DESIGN §7)
    status: str
    at: datetime
    # the status's place in the notification's history (1 for `accepted`), so a client that
    # gets the webhooks out of order keeps the highest
    sequence: int
    request_id: str | None = None
    channel: str | None = None
    # the number's reasons when the notification was accepted
    reasons: tuple[str, ...] = ()
    # why the step was taken, as its entry in `GET /v1/notifications/{id}` says: `denied`,
    # `confirmed`, an SMS's `error`, ...
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NotificationReplied:
    notification_id: str
    text: str
    at: datetime
    request_id: str | None = None
    channel: str | None = None


@dataclass(frozen=True)
class TemplateModerated:
    """A template was decided; `template` is what `GET /v1/message_template/{id}` answers for
    it (status, findings with their explanations, the moderator's note)."""

    template_id: str
    at: datetime
    template: Mapping[str, Any]


WebhookEvent = NotificationStatusChanged | NotificationReplied | TemplateModerated


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def webhook_of(event: WebhookEvent) -> tuple[WebhookEventType, dict[str, Any]]:
    """The type and the `data` of the webhook that tells a client of `event`."""
    match event:
        case NotificationStatusChanged():
            return WebhookEventType.NOTIFICATION_STATUS, {
                "notification_id": event.notification_id,
                "request_id": event.request_id,
                "status": event.status,
                "sequence": event.sequence,
                "at": utc_text(event.at),
                "channel": event.channel,
                "reasons": list(event.reasons),
                "detail": dict(event.detail),
            }
        case NotificationReplied():
            return WebhookEventType.NOTIFICATION_REPLY, {
                "notification_id": event.notification_id,
                "request_id": event.request_id,
                "text": event.text,
                "at": utc_text(event.at),
                "channel": event.channel,
            }
        case TemplateModerated():
            # `template_id`: the id under the name the first version of this webhook gave it
            return WebhookEventType.TEMPLATE_STATUS, {
                **event.template,
                "template_id": event.template_id,
                "at": utc_text(event.at),
            }
