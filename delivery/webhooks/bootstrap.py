"""The webhook dispatcher built from settings, for a composition root (API lifespan, worker)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from delivery.clock import Clock
from delivery.webhooks.dispatcher import HttpWebhookSender, WebhookDispatcher, WebhookSender
from delivery.webhooks.retry import RetrySchedule
from pipelines.settings import Settings
from store.secrets import SecretCipher


def build_webhook_dispatcher(
    settings: Settings,
    engine: Engine,
    cipher: SecretCipher,
    clock: Clock,
    sender: WebhookSender | None = None,
    signing_clock: Clock | None = None,
) -> WebhookDispatcher:
    """Over HTTP unless a `sender` is given (the demo's or a test's recording one)."""
    return WebhookDispatcher(
        engine,
        cipher,
        sender
        or HttpWebhookSender.with_timeout(
            settings.webhook_timeout_seconds,
            private_callbacks=settings.callback_private_addresses,
        ),
        clock,
        schedule=RetrySchedule(give_up_after=timedelta(hours=settings.webhook_retry_hours)),
        lease=timedelta(seconds=settings.webhook_lease_seconds),
        concurrency=settings.webhook_concurrency,
        signing_clock=signing_clock,
    )
