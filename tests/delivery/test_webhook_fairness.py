"""One client's backlog of webhooks (an endpoint that hangs, a burst) holds no other client's
back: a batch takes a few events of each client with events due, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import Engine

from delivery.clock import VirtualClock
from delivery.webhooks import SendResult, enqueue
from delivery.webhooks.fakes import RecordingWebhookSender
from store.clients import register_client
from store.database import session_factory
from store.secrets import SecretCipher
from tests.delivery.webhook_helpers import (
    START,
    CountingSender,
    delivery_row,
    dispatcher,
    register_shop,
)

BANK_HOOKS = "https://bank.example/hooks"
SHOP_BACKLOG = 100


def enqueue_many(engine: Engine, client_key: str, url: str, count: int) -> list[str]:
    with session_factory(engine).begin() as session:
        return [
            enqueue(
                session,
                client_key=client_key,
                url=url,
                event_type="notification.status",
                payload={"notification_id": f"ntf_{client_key}_{n}", "status": "sent"},
                now=START,
            )
            for n in range(count)
        ]


def register_bank(engine: Engine, cipher: SecretCipher) -> str:
    with session_factory(engine).begin() as session:
        bank = register_client(session, "bank", ["203.0.113.0/24"], cipher, webhook_url=BANK_HOOKS)
    return bank.key


def test_a_client_with_a_backlog_does_not_fill_a_batch_another_client_has_events_due_in(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    enqueue_many(engine, shop.key, "https://shop.example/hooks", SHOP_BACKLOG)  # due first
    banks = enqueue_many(engine, register_bank(engine, cipher), BANK_HOOKS, 5)
    sender = RecordingWebhookSender()

    dispatcher(engine, cipher, sender, VirtualClock(START)).dispatch_due(limit=SHOP_BACKLOG)

    assert {sent.event_id for sent in sender.sent} >= set(banks)
    assert {delivery_row(engine, event_id).state for event_id in banks} == {"delivered"}


def test_one_clients_hanging_endpoint_takes_no_more_than_its_share_of_a_batch(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    enqueue_many(engine, shop.key, "https://shop.example/hooks", SHOP_BACKLOG)
    banks = enqueue_many(engine, register_bank(engine, cipher), BANK_HOOKS, 5)
    sender = RecordingWebhookSender(lambda _sent: SendResult(None, "no complete answer"))

    attempted = dispatcher(engine, cipher, sender, VirtualClock(START)).dispatch_due(limit=100)

    # two clients with events due: each may take half of the batch, the bank needs five
    tried = Counter(sent.url for sent in sender.sent)
    assert tried == {"https://shop.example/hooks": 50, BANK_HOOKS: 5}
    assert attempted == 55 and len(banks) == 5


def test_a_client_alone_takes_the_whole_batch(engine: Engine, cipher: SecretCipher) -> None:
    # the bank's burst, with no other client waiting: no share holds it back
    shop = register_shop(engine, cipher)
    enqueue_many(engine, shop.key, "https://shop.example/hooks", 250)
    sender = RecordingWebhookSender()

    assert dispatcher(engine, cipher, sender, VirtualClock(START)).dispatch_due(limit=100) == 100


def test_a_clients_backlog_is_still_sent_whole_in_one_run(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    ids = enqueue_many(engine, shop.key, "https://shop.example/hooks", 250)
    sender = RecordingWebhookSender()

    assert dispatcher(engine, cipher, sender, VirtualClock(START)).dispatch_all_due() == 250

    assert Counter(sent.event_id for sent in sender.sent) == Counter(ids)


def test_two_dispatchers_taking_each_clients_share_still_send_each_event_once(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    ids = enqueue_many(engine, shop.key, "https://shop.example/hooks", 120)
    ids += enqueue_many(engine, register_bank(engine, cipher), BANK_HOOKS, 80)
    sender = CountingSender()
    clock = VirtualClock(START)
    workers = [
        threading.Thread(target=dispatcher(engine, cipher, sender, clock).dispatch_all_due)
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)

    assert sender.counted == Counter(ids)
