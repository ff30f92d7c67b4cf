"""An endpoint that does not answer or asks to be left alone is waited for: by the events
queued after it was found so, and by the retries of events that were in flight then, on SQLite
and PostgreSQL."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, update

from delivery.clock import VirtualClock
from delivery.ports import ClientEvent
from delivery.webhooks import SendResult
from delivery.webhooks.endpoints import EndpointWait, endpoint_waits, remember_wait
from delivery.webhooks.events import NotificationReplied
from delivery.webhooks.fakes import RecordingWebhookSender, SentWebhook
from delivery.webhooks.outbox import OutboxWebhooks
from store.clients import IssuedCredentials, set_webhook_url
from store.database import session_factory
from store.secrets import SecretCipher
from store.tables_webhooks import WebhookDeliveryRow, WebhookEndpointWaitRow
from tests.delivery.webhook_helpers import (
    SHOP_HOOKS,
    START,
    delivery_row,
    dispatcher,
    enqueue_status,
    register_shop,
)

RATE_LIMITED = SendResult(429, "HTTP 429", retry_after=timedelta(minutes=5))
MOVED_HOOKS = "https://shop.example/v2/hooks"
TWO_DAYS = SendResult(503, "HTTP 503", retry_after=timedelta(days=2))


def move_webhook(engine: Engine, url: str) -> None:
    with session_factory(engine).begin() as session:
        set_webhook_url(session, "shop", url)


def no_answer(_sent: SentWebhook) -> SendResult:
    return SendResult(None, "no complete answer within 5 s")


def reply_queued(engine: Engine, client_key: str, at: datetime, n: int) -> str:
    """A reply the notify path queues, through its own port, for the client's registered URL."""
    reply = NotificationReplied(notification_id=f"ntf_{n}", text="Спасибо!", at=at)
    with engine.begin() as connection:
        OutboxWebhooks().enqueue(connection, [ClientEvent(client_key, None, reply, f"e{n}")], at)
    return f"e{n}"


def endpoint_answered_at_start(
    engine: Engine, cipher: SecretCipher, answer: SendResult
) -> tuple[IssuedCredentials, VirtualClock]:
    """The shop, whose endpoint gave `answer` to its event sent at START, and the clock."""
    shop = register_shop(engine, cipher)
    enqueue_status(engine, shop.key, START)
    clock = VirtualClock(START)
    dispatcher(engine, cipher, RecordingWebhookSender(lambda _: answer), clock).dispatch_due()
    return shop, clock


def test_events_queued_while_an_endpoint_asks_to_be_left_alone_wait_until_it_said(
    engine: Engine, cipher: SecretCipher
) -> None:
    # one event every 10 s for the 5 minutes the endpoint asked for, dispatched as they come
    shop = register_shop(engine, cipher)
    clock = VirtualClock(START)
    sender = RecordingWebhookSender(lambda _sent: RATE_LIMITED)
    hooks = dispatcher(engine, cipher, sender, clock)

    queued = []
    for n in range(30):
        queued.append(reply_queued(engine, shop.key, clock.now(), n))
        hooks.dispatch_all_due()
        clock.advance(timedelta(seconds=10))

    assert len(sender.sent) == 1
    assert {delivery_row(engine, event_id).next_attempt_at for event_id in queued} == {
        START + timedelta(minutes=5)
    }


def test_events_queued_while_an_endpoint_does_not_answer_wait_a_first_step(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    enqueue_status(engine, shop.key, START)
    clock = VirtualClock(START)
    sender = RecordingWebhookSender(no_answer)
    hooks = dispatcher(engine, cipher, sender, clock)
    hooks.dispatch_due()

    clock.advance(timedelta(seconds=2))
    later = enqueue_status(engine, shop.key, clock.now())
    hooks.dispatch_all_due()

    assert len(sender.sent) == 1
    row = delivery_row(engine, later)
    assert (row.state, row.attempts) == ("pending", 0)
    assert row.next_attempt_at == START + timedelta(seconds=5)


def test_an_event_queued_once_the_wait_is_over_is_sent(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop, clock = endpoint_answered_at_start(engine, cipher, RATE_LIMITED)

    clock.advance(timedelta(minutes=5, seconds=1))
    event_id = enqueue_status(engine, shop.key, clock.now())
    dispatcher(engine, cipher, RecordingWebhookSender(), clock).dispatch_all_due()

    assert delivery_row(engine, event_id).state == "delivered"


def test_another_clients_events_to_the_same_url_do_not_wait(
    engine: Engine, cipher: SecretCipher
) -> None:
    _, clock = endpoint_answered_at_start(engine, cipher, RATE_LIMITED)
    bank = register_shop(engine, cipher, name="bank")

    event_id = enqueue_status(engine, bank.key, START)
    dispatcher(engine, cipher, RecordingWebhookSender(), clock).dispatch_all_due()

    assert delivery_row(engine, event_id).state == "delivered"


def test_an_event_queued_for_the_old_url_waits_for_the_new_url_it_goes_to(
    engine: Engine, cipher: SecretCipher
) -> None:
    # the notify path reads the registered URL from a cache up to a minute old
    shop = register_shop(engine, cipher)
    move_webhook(engine, MOVED_HOOKS)
    enqueue_status(engine, shop.key, START, url=MOVED_HOOKS)
    clock = VirtualClock(START)
    sender = RecordingWebhookSender(lambda _: RATE_LIMITED)
    hooks = dispatcher(engine, cipher, sender, clock)
    hooks.dispatch_due()

    stale = enqueue_status(engine, shop.key, START + timedelta(seconds=10), url=SHOP_HOOKS)
    clock.advance(timedelta(seconds=10))
    hooks.dispatch_all_due()

    assert len(sender.sent) == 1
    assert delivery_row(engine, stale).next_attempt_at == START + timedelta(minutes=5)


def test_a_wait_the_old_url_asked_for_does_not_hold_events_sent_to_the_new_one(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop, clock = endpoint_answered_at_start(engine, cipher, TWO_DAYS)
    move_webhook(engine, MOVED_HOOKS)

    stale = enqueue_status(engine, shop.key, START + timedelta(seconds=10), url=SHOP_HOOKS)
    clock.advance(timedelta(seconds=10))
    sender = RecordingWebhookSender()
    dispatcher(engine, cipher, sender, clock).dispatch_all_due()

    assert [sent.url for sent in sender.sent] == [MOVED_HOOKS]
    assert delivery_row(engine, stale).state == "delivered"


def test_an_event_queued_while_its_endpoint_asked_to_wait_past_its_window_is_given_up_unsent(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    enqueue_status(engine, shop.key, START)
    sender = RecordingWebhookSender(lambda _: TWO_DAYS)
    clock = VirtualClock(START)
    hooks = dispatcher(engine, cipher, sender, clock)
    hooks.dispatch_due()

    clock.advance(timedelta(minutes=1))
    event_id = reply_queued(engine, shop.key, clock.now(), 1)
    hooks.dispatch_all_due()

    row = delivery_row(engine, event_id)
    assert (row.state, row.attempts) == ("given_up", 0)
    assert "past the event's retry window" in (row.last_error or "")
    assert len(sender.sent) == 1


def test_an_event_the_schedule_gives_up_is_not_said_to_be_given_up_for_a_wait(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    event_id = enqueue_status(engine, shop.key, START)
    clock = VirtualClock(START)
    hooks = dispatcher(engine, cipher, RecordingWebhookSender(no_answer), clock)

    while delivery_row(engine, event_id).state == "pending":
        hooks.dispatch_all_due()
        clock.advance(timedelta(minutes=30))

    assert delivery_row(engine, event_id).last_error == "no complete answer within 5 s"


def test_an_event_failing_in_the_batch_that_found_its_endpoint_asking_to_wait_waits_too(
    engine: Engine, cipher: SecretCipher
) -> None:
    # both out at once: one answered 429 with a Retry-After, the other a 500 of its own
    shop = register_shop(engine, cipher)
    limited, failing = (enqueue_status(engine, shop.key, START) for _ in range(2))
    both_out = threading.Barrier(2, timeout=30)

    def answer(sent: SentWebhook) -> SendResult:
        both_out.wait()
        if sent.event_id == limited:
            return SendResult(429, "HTTP 429", retry_after=timedelta(hours=1))
        return SendResult(500, "HTTP 500")

    sender = RecordingWebhookSender(answer)
    dispatcher(engine, cipher, sender, VirtualClock(START), concurrency=2).dispatch_due()

    assert delivery_row(engine, failing).next_attempt_at == START + timedelta(hours=1)


def test_an_event_in_flight_when_another_dispatcher_found_its_endpoint_asking_to_wait_waits_too(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    first = enqueue_status(engine, shop.key, START)
    second = enqueue_status(engine, shop.key, START + timedelta(seconds=1))
    clock = VirtualClock(START + timedelta(seconds=1))
    other = dispatcher(
        engine,
        cipher,
        RecordingWebhookSender(lambda _: SendResult(429, "", retry_after=timedelta(hours=1))),
        clock,
    )

    def meanwhile(sent: SentWebhook) -> SendResult:
        # while this attempt is out, another dispatcher takes the next event and is told to wait
        assert sent.event_id == first
        assert other.dispatch_due() == 1
        return SendResult(None, "no complete answer within 5 s")

    dispatcher(engine, cipher, RecordingWebhookSender(meanwhile), clock).dispatch_due(limit=1)

    assert delivery_row(engine, first).next_attempt_at == clock.now() + timedelta(hours=1)
    assert delivery_row(engine, second).next_attempt_at == clock.now() + timedelta(hours=1)


def test_a_shorter_wait_found_later_does_not_cut_a_recorded_one_short(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    asked = EndpointWait(START + timedelta(hours=1), START + timedelta(hours=1))
    step = EndpointWait(START + timedelta(seconds=5))
    longer = EndpointWait(START + timedelta(hours=2))

    with engine.begin() as connection:
        remember_wait(connection, client_key=shop.key, url=SHOP_HOOKS, wait=asked)
        remember_wait(connection, client_key=shop.key, url=SHOP_HOOKS, wait=step)
        kept = endpoint_waits(connection, [(shop.key, SHOP_HOOKS)], now=START)
        remember_wait(connection, client_key=shop.key, url=SHOP_HOOKS, wait=longer)
        replaced = endpoint_waits(connection, [(shop.key, SHOP_HOOKS)], now=START)

    assert kept == {(shop.key, SHOP_HOOKS): asked}
    # the longer wait, and still the part the endpoint asked for
    assert replaced == {
        (shop.key, SHOP_HOOKS): EndpointWait(START + timedelta(hours=2), START + timedelta(hours=1))
    }


def test_an_endpoint_of_any_length_has_its_wait_recorded(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    url = "https://shop.example/hooks?" + "п" * 2_000  # 4 kB in UTF-8
    wait = EndpointWait(START + timedelta(minutes=1), START + timedelta(minutes=1))

    with engine.begin() as connection:
        remember_wait(connection, client_key=shop.key, url=url, wait=wait)
        found = endpoint_waits(connection, [(shop.key, url), (shop.key, SHOP_HOOKS)], now=START)

    assert found == {(shop.key, url): wait}


def test_waits_are_forgotten_once_over(engine: Engine, cipher: SecretCipher) -> None:
    shop = register_shop(engine, cipher)
    enqueue_status(engine, shop.key, START)
    clock = VirtualClock(START)
    hooks = dispatcher(engine, cipher, RecordingWebhookSender(lambda _: RATE_LIMITED), clock)
    hooks.dispatch_due()

    def waits() -> int:
        with engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(WebhookEndpointWaitRow)) or 0

    hooks.forget_settled(timedelta(days=30))
    assert waits() == 1
    clock.advance(timedelta(minutes=5))
    hooks.forget_settled(timedelta(days=30))
    assert waits() == 0


def test_an_event_kept_for_its_windows_end_is_tried_there(
    engine: Engine, cipher: SecretCipher
) -> None:
    # the endpoint hangs, asking for no wait: the event whose window ends first keeps its chance
    shop = register_shop(engine, cipher)
    enqueue_status(engine, shop.key, START)
    near = enqueue_status(engine, shop.key, START - timedelta(hours=24) + timedelta(seconds=3))
    clock = VirtualClock(START)
    sender = RecordingWebhookSender(no_answer)
    hooks = dispatcher(engine, cipher, sender, clock, concurrency=1)
    hooks.dispatch_due(limit=2)  # sent in turn: the first queued, then `near` held back

    clock.advance(timedelta(seconds=3))
    hooks.dispatch_all_due()

    assert [sent.event_id for sent in sender.sent][-1] == near
    assert (delivery_row(engine, near).state, delivery_row(engine, near).attempts) == (
        "given_up",
        1,
    )


def test_setting_the_webhook_url_again_forgets_the_clients_waits(
    engine: Engine, cipher: SecretCipher
) -> None:
    # an endpoint that asked for days by mistake, fixed: the operator sets its URL again
    shop, clock = endpoint_answered_at_start(engine, cipher, TWO_DAYS)
    move_webhook(engine, SHOP_HOOKS)

    clock.advance(timedelta(minutes=1))
    event_id = enqueue_status(engine, shop.key, clock.now())
    dispatcher(engine, cipher, RecordingWebhookSender(), clock).dispatch_all_due()

    assert delivery_row(engine, event_id).state == "delivered"


def found_down_with_events_ending_in_3_s(
    engine: Engine, cipher: SecretCipher, count: int
) -> tuple[list[str], VirtualClock]:
    """A client's endpoint found down at START, with `count` retries due then whose windows end
    3 s later (within the first step), so they wait for it; their ids, and the clock."""
    shop = register_shop(engine, cipher)
    first = enqueue_status(engine, shop.key, START)
    ending = [
        enqueue_status(engine, shop.key, START - timedelta(hours=24) + timedelta(seconds=3))
        for _ in range(count)
    ]
    with engine.begin() as connection:  # retries due with the first, which is claimed first
        table = WebhookDeliveryRow
        connection.execute(
            update(table).where(table.event_id.in_(ending)).values(next_attempt_at=START)
        )
        # a moment before them: among events due at one time a claim takes any (PostgreSQL)
        connection.execute(
            update(table)
            .where(table.event_id == first)
            .values(next_attempt_at=START - timedelta(milliseconds=1))
        )
    clock = VirtualClock(START)
    dispatcher(engine, cipher, RecordingWebhookSender(no_answer), clock).dispatch_due(limit=1)
    return ending, clock


def test_an_endpoint_down_all_along_is_called_once_a_batch_for_events_at_their_windows_end(
    engine: Engine, cipher: SecretCipher
) -> None:
    ending, clock = found_down_with_events_ending_in_3_s(engine, cipher, 6)
    # sent at once at their windows' end, they would all be out before the first timed out
    first_out, another_out = threading.Event(), threading.Event()

    def slow_to_fail(sent: SentWebhook) -> SendResult:
        if first_out.is_set():
            another_out.set()
        else:
            first_out.set()
            another_out.wait(1)  # the first fails once another is out, or after a second
        return no_answer(sent)

    sender = RecordingWebhookSender(slow_to_fail)
    clock.advance(timedelta(seconds=3))
    dispatcher(engine, cipher, sender, clock, concurrency=8).dispatch_all_due()

    assert len(sender.sent) == 1
    assert sorted(delivery_row(engine, event_id).attempts for event_id in ending) == [0] * 5 + [1]
    assert {delivery_row(engine, event_id).state for event_id in ending} == {"given_up"}


def test_an_event_at_its_windows_end_is_not_sent_inside_a_short_retry_after(
    engine: Engine, cipher: SecretCipher
) -> None:
    # asked for 3 s, waited for 5 (the first step): at 2 s the event's window ends
    shop = register_shop(engine, cipher)
    enqueue_status(engine, shop.key, START)
    near = enqueue_status(engine, shop.key, START - timedelta(hours=24) + timedelta(seconds=2))
    three_seconds = SendResult(429, "HTTP 429", retry_after=timedelta(seconds=3))
    clock = VirtualClock(START)
    sender = RecordingWebhookSender(lambda _: three_seconds)
    hooks = dispatcher(engine, cipher, sender, clock, concurrency=1)
    hooks.dispatch_due(limit=2)

    clock.advance(timedelta(seconds=2))
    hooks.dispatch_all_due()

    assert len(sender.sent) == 1
    row = delivery_row(engine, near)
    assert (row.state, row.attempts) == ("given_up", 0)


def test_clearing_the_webhook_url_keeps_the_waits_of_the_url_its_events_stay_at(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop, _ = endpoint_answered_at_start(engine, cipher, RATE_LIMITED)
    with session_factory(engine).begin() as session:
        set_webhook_url(session, "shop", None)

    with engine.connect() as connection:
        kept = endpoint_waits(connection, [(shop.key, SHOP_HOOKS)], now=START)

    assert kept == {
        (shop.key, SHOP_HOOKS): EndpointWait(
            START + timedelta(minutes=5), START + timedelta(minutes=5)
        )
    }


def test_events_at_their_windows_end_all_go_once_the_endpoint_is_back(
    engine: Engine, cipher: SecretCipher
) -> None:
    ending, clock = found_down_with_events_ending_in_3_s(engine, cipher, 20)

    clock.advance(timedelta(seconds=3))  # their windows end, the endpoint is back
    dispatcher(engine, cipher, RecordingWebhookSender(), clock).dispatch_all_due(limit=10)

    assert {delivery_row(engine, event_id).state for event_id in ending} == {"delivered"}


def test_an_event_held_back_for_its_endpoints_wait_keeps_the_time_of_its_last_attempt(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    event_id = enqueue_status(engine, shop.key, START)
    clock = VirtualClock(START)
    sender = RecordingWebhookSender(lambda _: SendResult(500, "HTTP 500"))
    hooks = dispatcher(engine, cipher, sender, clock)
    hooks.dispatch_due()  # a failure of its own: tried again after a first step
    an_hour = EndpointWait(START + timedelta(hours=1), START + timedelta(hours=1), "HTTP 429")
    with engine.begin() as connection:  # meanwhile another dispatcher was told to wait an hour
        remember_wait(connection, client_key=shop.key, url=SHOP_HOOKS, wait=an_hour)

    clock.set(delivery_row(engine, event_id).next_attempt_at)
    hooks.dispatch_all_due()

    row = delivery_row(engine, event_id)
    assert len(sender.sent) == 1
    assert (row.attempts, row.last_attempt_at) == (1, START)
    assert row.next_attempt_at == START + timedelta(hours=1)


def test_an_event_its_batch_did_not_send_to_an_endpoint_found_down_shows_no_attempt(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    sent, held_back = (enqueue_status(engine, shop.key, START) for _ in range(2))
    clock = VirtualClock(START)
    sender = RecordingWebhookSender(no_answer)
    dispatcher(engine, cipher, sender, clock, concurrency=1).dispatch_due()

    assert [webhook.event_id for webhook in sender.sent] == [sent]
    attempted, not_attempted = delivery_row(engine, sent), delivery_row(engine, held_back)
    assert (attempted.attempts, attempted.last_attempt_at) == (1, START)
    assert (not_attempted.attempts, not_attempted.last_attempt_at) == (0, None)


def test_an_attempt_records_when_it_started_not_when_its_batch_was_settled(
    engine: Engine, cipher: SecretCipher
) -> None:
    shop = register_shop(engine, cipher)
    delivered, failed = (enqueue_status(engine, shop.key, START) for _ in range(2))
    clock = VirtualClock(START)

    def slow(sent: SentWebhook) -> SendResult:
        clock.advance(timedelta(seconds=2))  # the batch settles after its sends
        return SendResult(200) if sent.event_id == delivered else SendResult(500, "HTTP 500")

    dispatcher(engine, cipher, RecordingWebhookSender(slow), clock, concurrency=1).dispatch_due()

    for event_id, state in ((delivered, "delivered"), (failed, "pending")):
        row = delivery_row(engine, event_id)
        assert (row.state, row.attempts, row.last_attempt_at) == (state, 1, START)


def test_the_log_names_a_waited_for_endpoint_without_the_token_in_its_query(
    engine: Engine, cipher: SecretCipher, caplog: pytest.LogCaptureFixture
) -> None:
    shop = register_shop(engine, cipher)
    move_webhook(engine, "https://shop.example/hooks?token=s3cret")
    for n in range(3):
        reply_queued(engine, shop.key, START, n)
    sender = RecordingWebhookSender(lambda _sent: RATE_LIMITED)

    with caplog.at_level(logging.WARNING, logger="delivery.webhooks.dispatcher"):
        # one event a batch: the endpoint's other two are put off, which is logged
        dispatcher(engine, cipher, sender, VirtualClock(START)).dispatch_due(limit=1)

    assert "webhook endpoint https://shop.example/hooks?… of client" in caplog.text
    assert "s3cret" not in caplog.text
