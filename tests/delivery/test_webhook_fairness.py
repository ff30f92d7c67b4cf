"""One client's backlog of webhooks (an endpoint that hangs, a burst) holds no other client's
back: a batch takes a few events of each client with events due, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta

from cryptography.fernet import Fernet
from sqlalchemy import Engine, select

from delivery.clock import VirtualClock
from delivery.webhooks import SendResult, enqueue
from delivery.webhooks.fakes import RecordingWebhookSender, SentWebhook
from store.clients import register_client
from store.database import session_factory
from store.secrets import SecretCipher
from store.tables_webhooks import WebhookDeliveryRow
from tests.delivery.webhook_helpers import (
    SHOP_HOOKS,
    START,
    CountingSender,
    delivery_row,
    dispatcher,
    register_shop,
)

BANK_HOOKS = "https://bank.example/hooks"
SHOP_BACKLOG = 100


OK = SendResult(200)


def hanging(_sent: SentWebhook) -> SendResult:
    return SendResult(None, "no complete answer within 5 s")


def enqueue_many(
    engine: Engine, client_key: str, url: str, count: int, at: datetime = START
) -> list[str]:
    with session_factory(engine).begin() as session:
        return [
            enqueue(
                session,
                client_key=client_key,
                url=url,
                event_type="notification.status",
                payload={"notification_id": f"ntf_{client_key}_{n}", "status": "sent"},
                now=at,
            )
            for n in range(count)
        ]


def due_at(engine: Engine, client_key: str) -> set[datetime]:
    """When the client's pending events are due next."""
    table = WebhookDeliveryRow
    with engine.connect() as connection:
        return set(
            connection.scalars(
                select(table.next_attempt_at).where(
                    table.client_key == client_key, table.state == "pending"
                )
            )
        )


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
    enqueue_many(engine, shop.key, SHOP_HOOKS, SHOP_BACKLOG)
    banks = enqueue_many(engine, register_bank(engine, cipher), BANK_HOOKS, 5)
    sender = RecordingWebhookSender(lambda sent: hanging(sent) if sent.url == SHOP_HOOKS else OK)

    attempted = dispatcher(engine, cipher, sender, VirtualClock(START)).dispatch_due(limit=100)

    # two clients with events due: each may take half of the batch, the bank needs five
    assert attempted == 55
    assert {delivery_row(engine, event_id).state for event_id in banks} == {"delivered"}


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


def test_a_hanging_endpoints_backlog_waits_with_it_so_another_clients_events_go_next(
    engine: Engine, cipher: SecretCipher
) -> None:
    # the shop's backlog alone fills the earliest due events a claim looks at, many times over
    shop = register_shop(engine, cipher)
    enqueue_many(engine, shop.key, SHOP_HOOKS, 300)
    clock = VirtualClock(START + timedelta(seconds=1))
    banks = enqueue_many(engine, register_bank(engine, cipher), BANK_HOOKS, 5, at=clock.now())
    sender = RecordingWebhookSender(lambda sent: hanging(sent) if sent.url == SHOP_HOOKS else OK)
    hooks = dispatcher(engine, cipher, sender, clock)

    assert hooks.dispatch_due(limit=20) == 20  # the shop's earliest, found hanging
    hooks.dispatch_due(limit=20)

    assert {delivery_row(engine, event_id).state for event_id in banks} == {"delivered"}
    # its other events wait for the shop's next attempt, 5 s after it failed
    assert due_at(engine, shop.key) == {clock.now() + timedelta(seconds=5)}


def test_an_endpoint_that_failed_an_event_is_not_called_again_in_the_batch(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    ids = enqueue_many(engine, shop.key, SHOP_HOOKS, 10)
    sender = RecordingWebhookSender(hanging)
    clock = VirtualClock(START)

    attempted = dispatcher(engine, cipher, sender, clock, concurrency=1).dispatch_due(limit=10)

    assert attempted == 10 and len(sender.sent) == 1
    skipped = [
        delivery_row(engine, event_id) for event_id in ids if event_id != sender.sent[0].event_id
    ]
    assert {row.last_error for row in skipped} == {
        "not sent: the endpoint failed another event of this batch (no complete answer within 5 s)"
    }
    # no attempt is counted for them: they wait with the endpoint, for its next attempt
    assert {(row.attempts, row.next_attempt_at) for row in skipped} == {
        (0, START + timedelta(seconds=5))
    }


def test_an_endpoints_retry_after_holds_its_whole_backlog(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    enqueue_many(engine, shop.key, SHOP_HOOKS, 30)
    sender = RecordingWebhookSender(
        lambda _sent: SendResult(429, "HTTP 429", retry_after=timedelta(minutes=10))
    )
    clock = VirtualClock(START)

    dispatcher(engine, cipher, sender, clock).dispatch_all_due(limit=10)

    assert len(sender.sent) <= 8  # the batch's first sends, at once, before the 429 came
    assert due_at(engine, shop.key) == {START + timedelta(minutes=10)}


def test_an_endpoint_that_answered_an_event_of_the_batch_keeps_its_backlog_due(
    engine: Engine, cipher: SecretCipher
) -> None:
    # it took one event and timed out on the next: a slow moment, not an endpoint that is down
    shop = register_shop(engine, cipher)
    ids = enqueue_many(engine, shop.key, SHOP_HOOKS, 12)
    answers = iter([OK, SendResult(None, "no complete answer within 5 s")])
    sender = RecordingWebhookSender(lambda _sent: next(answers))
    clock = VirtualClock(START)

    dispatcher(engine, cipher, sender, clock, concurrency=1).dispatch_due(limit=2)

    untried = [delivery_row(engine, event_id) for event_id in ids[2:]]
    assert {(row.attempts, row.next_attempt_at) for row in untried} == {(0, START)}


def test_events_whose_secret_cannot_be_opened_put_off_none_of_their_endpoints_others(
    engine: Engine, cipher: SecretCipher
) -> None:
    # nothing was sent, so nothing is known of the endpoint: each event fails on its own
    shop = register_shop(engine, cipher)
    ids = enqueue_many(engine, shop.key, SHOP_HOOKS, 12)
    sender = RecordingWebhookSender()
    retired = SecretCipher([Fernet.generate_key().decode()])

    dispatcher(engine, retired, sender, VirtualClock(START)).dispatch_due(limit=2)

    rows = [delivery_row(engine, event_id) for event_id in ids]
    assert (
        sorted((row.attempts, row.next_attempt_at) for row in rows)
        == [(0, START)] * 10 + [(1, START + timedelta(seconds=5))] * 2
    )
    assert sender.sent == []
