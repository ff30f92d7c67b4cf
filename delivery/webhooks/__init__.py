"""Webhooks to clients (DESIGN §7, §8): Standard Webhooks signatures, a transactional outbox,
and a dispatcher that retries with exponential back-off for a day.

The notify service calls `enqueue_event(session, …)` (or `enqueue`) in the transaction of each
change it reports;
a scheduled job (`delivery.scheduler`) runs `WebhookDispatcher.dispatch_due` every second.
"""

from delivery.webhooks.dispatcher import (
    HttpWebhookSender,
    SendResult,
    WebhookDispatcher,
    WebhookSender,
    webhook_body,
)
from delivery.webhooks.events import (
    NotificationReplied,
    NotificationStatusChanged,
    TemplateModerated,
    WebhookEvent,
    WebhookEventType,
    webhook_of,
)
from delivery.webhooks.outbox import enqueue, enqueue_event
from delivery.webhooks.retry import RetrySchedule
from delivery.webhooks.signing import generate_webhook_secret, sign

__all__ = [
    "HttpWebhookSender",
    "NotificationReplied",
    "NotificationStatusChanged",
    "RetrySchedule",
    "SendResult",
    "TemplateModerated",
    "WebhookDispatcher",
    "WebhookEvent",
    "WebhookEventType",
    "WebhookSender",
    "enqueue",
    "enqueue_event",
    "generate_webhook_secret",
    "sign",
    "webhook_body",
    "webhook_of",
]
