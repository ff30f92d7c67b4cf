"""The webhooks the service sends to a client (README, "Webhooks to clients"), for the OpenAPI
document's `webhooks` alone: no route of the service answers them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response

from api.webhook_schemas import (
    NotificationReplyWebhook,
    NotificationStatusWebhook,
    TemplateStatusWebhook,
)

router = APIRouter(tags=["webhooks"])

DELIVERY = """Sent signed the [Standard Webhooks](https://www.standardwebhooks.com) way to the
client's `--webhook-url` ({to_whom}): `webhook-id` is the event
id, the same on every retry (drop repeats by it); `webhook-timestamp` is when this attempt was
signed, in seconds since the epoch; `webhook-signature` is `v1,` and the base64 of HMAC-SHA256
over `id.timestamp.body` under the client's `webhook_secret`, and, while a renewed secret's
overlap lasts, one such signature for each secret, space-separated, the new one first. Verify
it with any Standard Webhooks library (Python: `standardwebhooks.Webhook(secret).verify(body,
headers)`).

Answer 2xx within OWNERSHIP_WEBHOOK_TIMEOUT_SECONDS (5) for the whole exchange. Anything else is
retried after 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, then every 8 h, each with ±10 %
jitter, until OWNERSHIP_WEBHOOK_RETRY_HOURS (24) after the event, then given up. 410 Gone stops
the retries of the event; 429 or 503 with `Retry-After` holds the endpoint's events back until
the time it asks for."""
TO_NOTIFICATION = "or to the notification's own `callback_url`"
TO_CLIENT = "a template has no callback of its own"

WebhookId = Annotated[
    str, Header(alias="webhook-id", description="The event id, the same on every retry.")
]
WebhookTimestamp = Annotated[
    str,
    Header(
        alias="webhook-timestamp",
        description="When this attempt was signed, in seconds since the epoch.",
        pattern="^[0-9]+$",
    ),
]
WebhookSignature = Annotated[
    str,
    Header(
        alias="webhook-signature",
        description="`v1,<base64 HMAC-SHA256 over id.timestamp.body>`, one per secret, "
        "space-separated while a renewed secret's overlap lasts.",
    ),
]
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds, or an HTTP date: no attempt to this endpoint before then.",
        "schema": {"type": "string"},
    }
}
ANSWERS: dict[int | str, dict[str, object]] = {
    200: {"description": "Taken (any 2xx): the event is not sent again."},
    410: {"description": "Gone: the event is not tried again (given up, and logged)."},
    429: {"description": "Too many: this endpoint's events wait", "headers": RETRY_AFTER},
    503: {"description": "Unavailable: this endpoint's events wait", "headers": RETRY_AFTER},
    "default": {"description": "Anything else, or no answer in time: retried with back-off."},
}


@router.post(
    "notification.status",
    response_class=Response,
    responses=ANSWERS,
    summary="A notification moved to a new status",
    description=DELIVERY.format(to_whom=TO_NOTIFICATION),
)
def notification_status(
    body: NotificationStatusWebhook,
    webhook_id: WebhookId,
    webhook_timestamp: WebhookTimestamp,
    webhook_signature: WebhookSignature,
) -> None: ...


@router.post(
    "notification.reply",
    response_class=Response,
    responses=ANSWERS,
    summary="The person replied to a notification in the social network",
    description=DELIVERY.format(to_whom=TO_NOTIFICATION),
)
def notification_reply(
    body: NotificationReplyWebhook,
    webhook_id: WebhookId,
    webhook_timestamp: WebhookTimestamp,
    webhook_signature: WebhookSignature,
) -> None: ...


@router.post(
    "template.status",
    response_class=Response,
    responses=ANSWERS,
    summary="A template was decided: rejected at submission by the automatic moderation, or "
    "approved or rejected by a moderator",
    description=DELIVERY.format(to_whom=TO_CLIENT),
)
def template_status(
    body: TemplateStatusWebhook,
    webhook_id: WebhookId,
    webhook_timestamp: WebhookTimestamp,
    webhook_signature: WebhookSignature,
) -> None: ...
