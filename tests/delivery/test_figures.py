"""What an operator watches of the notify path, read from the store: notifications under way,
those the sweeper has let run past their TTL, and webhooks the clients have not yet had."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from delivery.channels.ports import ChannelUnavailableError, SendResult, SmsMessage
from delivery.clock import VirtualClock
from delivery.figures import SWEEP_GRACE, notify_figures
from delivery.webhooks.fakes import RecordingWebhookSender
from ownership.notifications import Fallback
from store.secrets import SecretCipher
from tests.api.service import RECYCLED, VERIFIED_FRESH
from tests.delivery.conftest import Notifier
from tests.delivery.webhook_helpers import START, dispatcher, enqueue_status, register_shop

TTL = timedelta(minutes=10)


def test_notifications_under_way_are_counted_by_status_and_settled_ones_left_out(
    notifier: Notifier, engine: Engine
) -> None:
    delivered = notifier.notify(VERIFIED_FRESH, "r-1", ttl=TTL)
    notifier.service.delivered(delivered, notifier.clock.now())
    notifier.notify(VERIFIED_FRESH, "r-2", ttl=TTL)  # sent, awaiting delivery
    notifier.service.accept(notifier.client_key, notifier.request(RECYCLED, "r-3", ttl=TTL))

    figures = notify_figures(engine, notifier.clock.now())

    assert figures.under_way["sent"] == 1
    assert figures.under_way["accepted"] == 1
    assert sum(figures.under_way.values()) == 2
    assert figures.overdue == 0


def test_notifications_left_past_their_ttl_show_the_sweeper_is_behind(
    notifier: Notifier, engine: Engine
) -> None:
    notifier.notify(VERIFIED_FRESH, "r-1", ttl=TTL)
    expiry = notifier.clock.now() + TTL

    assert notify_figures(engine, expiry + SWEEP_GRACE).overdue == 0  # within the grace
    assert notify_figures(engine, expiry + SWEEP_GRACE + timedelta(seconds=1)).overdue == 1


def test_the_webhook_backlog_and_the_age_of_its_oldest_event(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    enqueue_status(engine, shop.key, START)
    enqueue_status(engine, shop.key, START + timedelta(minutes=1))

    now = START + timedelta(minutes=10)
    figures = notify_figures(engine, now)
    assert (figures.webhooks_pending, figures.oldest_webhook_seconds) == (2, 600.0)

    dispatcher(engine, cipher, RecordingWebhookSender(), VirtualClock(now)).dispatch_due()
    figures = notify_figures(engine, now)
    assert (figures.webhooks_pending, figures.oldest_webhook_seconds) == (0, None)


def test_a_fallback_sms_the_gateway_could_not_take_is_under_way_and_then_overdue(
    notifier: Notifier, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    notifier.notify(VERIFIED_FRESH, "r-1", ttl=TTL)  # falls back to SMS at its TTL
    notifier.notify(VERIFIED_FRESH, "r-2", ttl=TTL, fallback=Fallback.NONE)  # expires for good

    def down(sms: SmsMessage) -> SendResult:
        raise ChannelUnavailableError("the SMS gateway is down")

    monkeypatch.setattr(notifier.sms, "send", down)
    notifier.clock.advance(TTL + timedelta(seconds=1))
    notifier.service.sweep()

    figures = notify_figures(engine, notifier.clock.now())
    assert figures.under_way["expired"] == 1  # the one whose SMS waits; not the other
    assert sum(figures.under_way.values()) == 1
    later = notify_figures(engine, notifier.clock.now() + SWEEP_GRACE)
    assert later.overdue == 1
