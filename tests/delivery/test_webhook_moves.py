"""A client whose webhook URL the operator changes gets its undelivered events at the new one;
those its notifications named a callback_url for stay with that URL."""

from __future__ import annotations

from sqlalchemy import Engine

from delivery.clock import VirtualClock
from delivery.webhooks import SendResult
from delivery.webhooks.fakes import RecordingWebhookSender
from store.clients import set_webhook_url
from store.database import session_factory
from store.secrets import SecretCipher
from tests.delivery.webhook_helpers import (
    SHOP_HOOKS,
    START,
    delivery_row,
    dispatcher,
    enqueue_status,
    loopback_sender,
    notification_calling_back,
    receiving,
    register_shop,
)

MOVED_HOOKS = "https://shop.example/v2/hooks"
NAMED_CALLBACK = "https://orders.shop.example/callback"


def move_webhook(engine: Engine, url: str | None) -> None:
    with session_factory(engine).begin() as session:
        set_webhook_url(session, "shop", url)


def test_events_waiting_for_the_old_webhook_url_go_to_the_new_one(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    event_id = enqueue_status(engine, shop.key, START, url=SHOP_HOOKS)
    move_webhook(engine, MOVED_HOOKS)
    sender = RecordingWebhookSender()

    dispatcher(engine, cipher, sender, VirtualClock(START)).dispatch_due()

    assert [(sent.url, sent.event_id) for sent in sender.sent] == [(MOVED_HOOKS, event_id)]
    assert (delivery_row(engine, event_id).url, delivery_row(engine, event_id).state) == (
        MOVED_HOOKS,
        "delivered",
    )


def test_an_event_failing_at_the_old_url_is_retried_at_the_new_one(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    event_id = enqueue_status(engine, shop.key, START, url=SHOP_HOOKS)
    clock = VirtualClock(START)
    sender = RecordingWebhookSender(
        lambda sent: SendResult(200 if sent.url == MOVED_HOOKS else 503)
    )
    send = dispatcher(engine, cipher, sender, clock).dispatch_due
    send()  # the old endpoint is gone; the client tells the operator, who moves it

    move_webhook(engine, MOVED_HOOKS)
    clock.set(delivery_row(engine, event_id).next_attempt_at)
    send()

    assert [sent.url for sent in sender.sent] == [SHOP_HOOKS, MOVED_HOOKS]
    assert delivery_row(engine, event_id).state == "delivered"


def test_events_for_a_callback_url_a_notification_named_stay_with_it(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    notification_calling_back(engine, shop.key, NAMED_CALLBACK)
    event_id = enqueue_status(engine, shop.key, START, url=NAMED_CALLBACK)
    move_webhook(engine, MOVED_HOOKS)
    sender = RecordingWebhookSender()

    dispatcher(engine, cipher, sender, VirtualClock(START)).dispatch_due()

    assert [(sent.url, sent.named_by_client) for sent in sender.sent] == [(NAMED_CALLBACK, True)]
    assert delivery_row(engine, event_id).url == NAMED_CALLBACK


def test_events_of_a_client_whose_webhook_url_was_cleared_keep_the_url_they_had(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    enqueue_status(engine, shop.key, START, url=SHOP_HOOKS)
    move_webhook(engine, None)
    sender = RecordingWebhookSender()

    dispatcher(engine, cipher, sender, VirtualClock(START)).dispatch_due()

    assert [sent.url for sent in sender.sent] == [SHOP_HOOKS]


def test_a_webhook_url_moved_onto_the_operators_own_network_is_posted_to(
    engine: Engine, cipher: SecretCipher
) -> None:
    # the URL the event follows came from the operator, so it may be a private address
    shop = register_shop(engine, cipher)
    event_id = enqueue_status(engine, shop.key, START, url=SHOP_HOOKS)
    with receiving() as receiver:
        move_webhook(engine, receiver.url)
        sender = loopback_sender(2.0)
        try:
            dispatcher(engine, cipher, sender, VirtualClock(START)).dispatch_due()
        finally:
            sender.close()

    assert [hook.headers["webhook-id"] for hook in receiver.received] == [event_id]
