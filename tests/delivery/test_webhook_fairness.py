"""One client's backlog of webhooks (an endpoint that hangs, a burst) holds no other client's
back: a batch takes a few events of each client with events due, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, event, select, update

from delivery.clock import VirtualClock
from delivery.webhooks import SendResult, enqueue
from delivery.webhooks.fakes import RecordingWebhookSender, SentWebhook
from delivery.webhooks.outbox import claim_due, record_delivered
from store.clients import register_client, set_webhook_url
from store.database import make_engine, session_factory
from store.secrets import SecretCipher
from store.tables_webhooks import WebhookDeliveryRow
from tests.delivery.webhook_helpers import (
    SHOP_HOOKS,
    START,
    CountingSender,
    delivery_row,
    dispatcher,
    enqueue_status,
    notification_calling_back,
    register_shop,
)

BANK_HOOKS = "https://bank.example/hooks"
SHOP_BACKLOG = 100


OK = SendResult(200)
V2_HOOKS = "https://shop.example/v2/hooks"


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


def due_later(engine: Engine, event_id: str, at: datetime) -> None:
    table = WebhookDeliveryRow
    with engine.begin() as connection:
        connection.execute(
            update(table).where(table.event_id == event_id).values(next_attempt_at=at)
        )


def move_webhooks(engine: Engine, url: str) -> None:
    with session_factory(engine).begin() as session:
        set_webhook_url(session, "shop", url)


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


def asking_to_wait(minutes: int) -> RecordingWebhookSender:
    return RecordingWebhookSender(
        lambda _sent: SendResult(429, "HTTP 429", retry_after=timedelta(minutes=minutes))
    )


def test_an_event_held_back_past_its_retry_window_is_given_up_with_no_attempt_counted(
    engine: Engine, cipher: SecretCipher
) -> None:
    # the endpoint asks for 10 minutes; the event's window ends in 1: it cannot be sent in it
    shop = register_shop(engine, cipher)
    (young,) = enqueue_many(engine, shop.key, SHOP_HOOKS, 1)
    (old,) = enqueue_many(
        engine, shop.key, SHOP_HOOKS, 1, at=START - timedelta(hours=23, minutes=59)
    )
    sender = asking_to_wait(minutes=10)

    dispatcher(engine, cipher, sender, VirtualClock(START), concurrency=1).dispatch_due(limit=2)

    row = delivery_row(engine, old)
    assert (row.state, row.attempts) == ("given_up", 0)
    assert [sent.event_id for sent in sender.sent] == [young]


def test_a_due_event_whose_window_ends_before_its_endpoints_wait_is_given_up_unsent(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    enqueue_many(engine, shop.key, SHOP_HOOKS, 1)
    (last,) = enqueue_many(
        engine, shop.key, SHOP_HOOKS, 1, at=START - timedelta(hours=23, minutes=59)
    )
    due_later(engine, last, START + timedelta(seconds=1))  # due, but after the first
    sender = asking_to_wait(minutes=10)
    clock = VirtualClock(START + timedelta(seconds=1))

    dispatcher(engine, cipher, sender, clock).dispatch_all_due(limit=1)

    assert delivery_row(engine, last).state == "given_up"
    assert len(sender.sent) == 1  # the endpoint asked to be left alone, and was


def test_a_callback_urls_failure_puts_off_only_the_events_its_notifications_named(
    engine: Engine, cipher: SecretCipher
) -> None:
    # the shop moved its webhooks to the v2 URL; a notification named the old one as its own
    shop = register_shop(engine, cipher)
    notification_calling_back(engine, shop.key, SHOP_HOOKS)
    named = enqueue_status(engine, shop.key, START)  # ntf_1's, to the old URL
    moved = enqueue_many(engine, shop.key, SHOP_HOOKS, 3, at=START + timedelta(seconds=1))
    move_webhooks(engine, V2_HOOKS)
    sender = RecordingWebhookSender(lambda sent: hanging(sent) if sent.url == SHOP_HOOKS else OK)
    hooks = dispatcher(engine, cipher, sender, VirtualClock(START + timedelta(seconds=1)))

    hooks.dispatch_due(limit=1)  # the named one, found hanging
    hooks.dispatch_due(limit=10)

    assert {delivery_row(engine, event_id).state for event_id in moved} == {"delivered"}
    assert delivery_row(engine, named).state == "pending"


def test_a_registered_url_found_down_puts_off_the_events_that_would_follow_it_there(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    first = enqueue_status(engine, shop.key, START, url=V2_HOOKS, notification_id="ntf_2")
    queued_before = enqueue_many(engine, shop.key, SHOP_HOOKS, 3, at=START + timedelta(seconds=1))
    move_webhooks(engine, V2_HOOKS)
    clock = VirtualClock(START + timedelta(seconds=1))

    dispatcher(engine, cipher, RecordingWebhookSender(hanging), clock).dispatch_due(limit=1)

    assert delivery_row(engine, first).attempts == 1
    waiting = {delivery_row(engine, event_id).next_attempt_at for event_id in queued_before}
    assert waiting == {clock.now() + timedelta(seconds=5)}


def test_an_endpoint_whose_failing_event_was_given_up_is_still_waited_for(
    engine: Engine, cipher: SecretCipher
) -> None:
    # the event that found it asking to wait was at the end of its window, and is given up
    shop = register_shop(engine, cipher)
    (last,) = enqueue_many(engine, shop.key, SHOP_HOOKS, 1, at=START - timedelta(hours=24))
    others = enqueue_many(engine, shop.key, SHOP_HOOKS, 12)
    sender = asking_to_wait(minutes=10)

    dispatcher(engine, cipher, sender, VirtualClock(START), concurrency=1).dispatch_due(limit=3)

    assert len(sender.sent) == 1 and delivery_row(engine, last).state == "given_up"
    rows = [delivery_row(engine, event_id) for event_id in others]
    assert {(row.attempts, row.next_attempt_at) for row in rows} == {
        (0, START + timedelta(minutes=10))
    }


def test_a_wait_an_endpoint_asked_for_holds_its_backlog_though_another_send_timed_out(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    sent_together = enqueue_many(engine, shop.key, SHOP_HOOKS, 2)
    rest = enqueue_many(engine, shop.key, SHOP_HOOKS, 5, at=START + timedelta(seconds=1))
    both_sent = threading.Barrier(2, timeout=30)

    def answer(sent: SentWebhook) -> SendResult:
        both_sent.wait()  # the two are out at once, before either answer comes
        if sent.event_id == sent_together[0]:
            return hanging(sent)
        return SendResult(429, "HTTP 429", retry_after=timedelta(hours=1))

    clock = VirtualClock(START + timedelta(seconds=1))
    hooks = dispatcher(engine, cipher, RecordingWebhookSender(answer), clock, concurrency=2)
    hooks.dispatch_due(limit=2)

    assert {delivery_row(engine, event_id).next_attempt_at for event_id in rest} == {
        clock.now() + timedelta(hours=1)
    }


def test_an_endpoint_asking_for_days_is_called_once_whatever_its_backlog(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    ids = enqueue_many(engine, shop.key, SHOP_HOOKS, 300)
    sender = RecordingWebhookSender(
        lambda _sent: SendResult(503, "HTTP 503", retry_after=timedelta(days=2))
    )

    dispatcher(engine, cipher, sender, VirtualClock(START), concurrency=1).dispatch_all_due()

    assert len(sender.sent) == 1
    assert {delivery_row(engine, event_id).state for event_id in ids} == {"given_up"}


def test_a_rate_limit_that_let_some_events_through_holds_the_rest_of_the_backlog(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    enqueue_many(engine, shop.key, SHOP_HOOKS, 60)
    let_through = iter(range(3))

    def rate_limited(_sent: SentWebhook) -> SendResult:
        if next(let_through, None) is not None:
            return OK
        return SendResult(429, "HTTP 429", retry_after=timedelta(minutes=1))

    sender = RecordingWebhookSender(rate_limited)
    clock = VirtualClock(START)

    dispatcher(engine, cipher, sender, clock, concurrency=1).dispatch_all_due(limit=10)

    assert len(sender.sent) == 4  # three taken, then one asked to wait
    assert due_at(engine, shop.key) == {START + timedelta(minutes=1)}


def test_fresh_events_wait_for_their_own_first_retry_not_an_old_events_long_back_off(
    engine: Engine, cipher: SecretCipher
) -> None:
    # the endpoint restarts for an instant; the event sent first is on its eighth attempt
    shop = register_shop(engine, cipher)
    (old,) = enqueue_many(engine, shop.key, SHOP_HOOKS, 1, at=START - timedelta(hours=12))
    with engine.begin() as connection:
        table = WebhookDeliveryRow
        connection.execute(update(table).where(table.event_id == old).values(attempts=7))
    fresh = enqueue_many(engine, shop.key, SHOP_HOOKS, 10, at=START)
    sender = RecordingWebhookSender(lambda _sent: SendResult(None, "connection refused"))

    dispatcher(engine, cipher, sender, VirtualClock(START), concurrency=1).dispatch_due(limit=5)

    assert len(sender.sent) == 1 and sender.sent[0].event_id == old
    assert {delivery_row(engine, event_id).next_attempt_at for event_id in fresh} == {
        START + timedelta(seconds=5)
    }


def set_attempts(engine: Engine, event_ids: list[str], attempts: int) -> None:
    table = WebhookDeliveryRow
    with engine.begin() as connection:
        connection.execute(
            update(table).where(table.event_id.in_(event_ids)).values(attempts=attempts)
        )


def test_a_batch_of_old_events_holds_the_fresh_backlog_only_a_first_step(
    engine: Engine, cipher: SecretCipher
) -> None:
    # after an earlier outage, the batch is old events on their eighth attempt
    shop = register_shop(engine, cipher)
    old = enqueue_many(engine, shop.key, SHOP_HOOKS, 5, at=START - timedelta(hours=10))
    set_attempts(engine, old, 7)
    fresh = enqueue_many(engine, shop.key, SHOP_HOOKS, 10)
    sender = RecordingWebhookSender(hanging)

    dispatcher(engine, cipher, sender, VirtualClock(START), concurrency=1).dispatch_due(limit=5)

    assert {delivery_row(engine, event_id).next_attempt_at for event_id in fresh} == {
        START + timedelta(seconds=5)
    }


def test_an_event_whose_window_ends_within_a_first_step_is_tried_at_its_end_not_given_up(
    engine: Engine, cipher: SecretCipher
) -> None:
    # the endpoint timed out, asking for no wait: the event keeps its last chance
    shop = register_shop(engine, cipher)
    enqueue_many(engine, shop.key, SHOP_HOOKS, 1)
    (near,) = enqueue_many(
        engine, shop.key, SHOP_HOOKS, 1, at=START - timedelta(hours=24) + timedelta(seconds=3)
    )
    sender = RecordingWebhookSender(hanging)

    dispatcher(engine, cipher, sender, VirtualClock(START), concurrency=1).dispatch_due(limit=2)

    row = delivery_row(engine, near)
    assert (row.state, row.attempts) == ("pending", 0)
    assert row.next_attempt_at == START + timedelta(seconds=3)


def test_a_retry_already_scheduled_inside_a_retry_after_waits_for_it_too(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    enqueue_many(engine, shop.key, SHOP_HOOKS, 1)
    (scheduled,) = enqueue_many(engine, shop.key, SHOP_HOOKS, 1)
    due_later(engine, scheduled, START + timedelta(seconds=10))  # its retry, not yet due

    hooks = dispatcher(engine, cipher, asking_to_wait(minutes=2), VirtualClock(START))
    hooks.dispatch_due(limit=1)

    assert delivery_row(engine, scheduled).next_attempt_at == START + timedelta(minutes=2)


def test_an_event_another_dispatcher_is_sending_is_not_given_up_by_a_retry_after(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    (old,) = enqueue_many(
        engine, shop.key, SHOP_HOOKS, 1, at=START - timedelta(hours=23, minutes=58)
    )
    with engine.begin() as connection:  # another dispatcher has it out, under its lease
        (sending,) = claim_due(
            connection, now=START, lease=timedelta(minutes=5), limit=1, per_client=1
        )
    enqueue_many(engine, shop.key, SHOP_HOOKS, 1)

    dispatcher(engine, cipher, asking_to_wait(minutes=10), VirtualClock(START)).dispatch_due()
    with engine.begin() as connection:
        taken = record_delivered(connection, sending, now=START, status_code=200)

    assert sending.event_id == old and taken
    assert delivery_row(engine, old).state == "delivered"


def test_due_events_whose_window_ends_within_a_first_step_wait_for_its_end(
    engine: Engine, cipher: SecretCipher
) -> None:
    # the endpoint hangs, asking for no wait: they keep their last chance, and call it no more
    shop = register_shop(engine, cipher)
    enqueue_many(engine, shop.key, SHOP_HOOKS, 1, at=START - timedelta(hours=1))
    near = enqueue_many(
        engine, shop.key, SHOP_HOOKS, 3, at=START - timedelta(hours=24) + timedelta(seconds=3)
    )
    for event_id in near:  # due after the first, which is claimed first
        due_later(engine, event_id, START)
    sender = RecordingWebhookSender(hanging)

    dispatcher(engine, cipher, sender, VirtualClock(START)).dispatch_all_due(limit=1)

    assert len(sender.sent) == 1
    assert {delivery_row(engine, event_id).next_attempt_at for event_id in near} == {
        START + timedelta(seconds=3)
    }


def test_an_event_claimed_while_the_put_off_reads_it_keeps_its_claim(
    engine: Engine, cipher: SecretCipher, database_url: str
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite takes one writer at a time: the claim waits for the put-off")
    shop = register_shop(engine, cipher)
    enqueue_many(engine, shop.key, SHOP_HOOKS, 1, at=START - timedelta(hours=1))
    (last,) = enqueue_many(
        engine, shop.key, SHOP_HOOKS, 1, at=START - timedelta(hours=24) + timedelta(seconds=2)
    )
    due_later(engine, last, START)
    other = make_engine(database_url)
    claimed: list[str] = []

    def claim_meanwhile(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not claimed and statement.lstrip().upper().startswith("SELECT WEBHOOK_DELIVERIES.ID"):
            with other.begin() as connection:  # another dispatcher, between read and write
                found = claim_due(
                    connection, now=START, lease=timedelta(minutes=5), limit=1, per_client=1
                )
                claimed.extend(delivery.event_id for delivery in found)

    event.listen(engine, "after_cursor_execute", claim_meanwhile)
    try:
        dispatcher(
            engine, cipher, RecordingWebhookSender(hanging), VirtualClock(START)
        ).dispatch_due(limit=1)
    finally:
        event.remove(engine, "after_cursor_execute", claim_meanwhile)
        other.dispose()

    assert claimed == [last]
    assert delivery_row(engine, last).next_attempt_at == START + timedelta(minutes=5)
