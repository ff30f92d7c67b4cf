"""The notifications' retention, on SQLite and PostgreSQL: a notification whose outcome is older
than the retention is forgotten with its history and SMS code, in batches; what is under way,
the bill, the batch's verification results, the overlay, and a notification whose webhook waits
stay; a repeat of a forgotten request is refused as stale, never sent again."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update

import delivery.forgetting
from delivery import records
from delivery.forgetting import Forgotten, StopAtOnce, forget_notifications_before
from delivery.ports import ClientEvent
from delivery.webhooks.outbox import OutboxWebhooks
from ownership.channels import Channel
from ownership.notifications import (
    ACTION_AGE_DAYS_MAX,
    Fallback,
    NotificationRequestError,
    RequestProblem,
)
from pipelines import analytics
from pipelines.reference import load_prices
from pipelines.settings import MIN_NOTIFICATION_RETENTION_DAYS
from store.tables_notifications import VerificationCodeRow
from store.tables_webhooks import DeliveryState, WebhookDeliveryRow
from tests.api.service import RECYCLED, VERIFIED_FRESH, VERIFIED_OLDER
from tests.delivery.conftest import Notifier
from tests.delivery.test_sms_code import ask_a_code, the_code
from tests.delivery.webhook_helpers import enqueue_status

RETENTION = timedelta(days=400)
CALLBACK = "https://bank.example/hooks/this-notification"
PAST_IT = RETENTION + timedelta(days=1)


def delivered_in_vk(notifier: Notifier, request_id: str, **overrides: object) -> str:
    sent = notifier.notify(VERIFIED_FRESH, request_id, **overrides)
    assert notifier.service.delivered(sent, notifier.clock.now())
    return sent


def kept(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(select(records.notifications.c.id)).scalars())


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(table)) or 0)


def test_a_notification_past_the_retention_is_forgotten_with_its_history_and_code(
    notifier: Notifier, engine: Engine
) -> None:
    asked = ask_a_code(notifier)
    notifier.service.code_entered(asked, the_code(notifier), notifier.clock.now())
    notifier.service.delivered(asked, notifier.clock.now())
    notifier.clock.advance(RETENTION - timedelta(hours=1))
    assert notifier.service.forget_past_retention(RETENTION) == Forgotten()

    notifier.clock.advance(timedelta(hours=2))
    forgotten = notifier.service.forget_past_retention(RETENTION)

    # accepted, reverify_pending, sent, delivered
    assert forgotten == Forgotten(notifications=1, history=4, codes=1)
    assert kept(engine) == set()
    assert count(engine, records.events) == count(engine, VerificationCodeRow) == 0
    # and a late report of it changes nothing
    assert not notifier.service.read(asked, notifier.clock.now())


def test_one_that_expired_without_fallback_has_its_outcome_and_is_forgotten(
    notifier: Notifier, engine: Engine
) -> None:
    expired = notifier.notify(VERIFIED_FRESH, fallback=Fallback.NONE)
    notifier.clock.advance(timedelta(hours=2))
    notifier.service.sweep()
    assert notifier.status(expired) == "expired"

    notifier.clock.advance(PAST_IT)

    assert notifier.service.forget_past_retention(RETENTION).notifications == 1
    assert kept(engine) == set()


def test_a_notification_under_way_is_kept_however_old(notifier: Notifier, engine: Engine) -> None:
    sent = notifier.notify(VERIFIED_FRESH, "s")
    asking = notifier.notify(VERIFIED_OLDER, "p", sensitive=True)
    by_sms = notifier.notify(RECYCLED, "m")
    accepted = notifier.service.accept(notifier.client_key, notifier.request(VERIFIED_FRESH, "a"))
    under_way = {accepted.answer["id"]: "accepted", sent: "sent"}
    under_way |= {asking: "reverify_pending", by_sms: "sms_sent"}
    assert {id_: notifier.status(id_) for id_ in under_way} == under_way

    notifier.clock.advance(RETENTION * 3)

    assert notifier.service.forget_past_retention(RETENTION) == Forgotten()
    assert kept(engine) == set(under_way)


def test_the_bill_of_every_month_is_the_same_after_forgetting(
    notifier: Notifier, engine: Engine
) -> None:
    for request_id in ("b-1", "b-2"):
        delivered_in_vk(notifier, request_id)
    month = notifier.clock.now().strftime("%Y-%m")
    with engine.connect() as connection:
        billed = records.billing_report(connection, notifier.client_key, month)
    assert [line["delivered"] for line in billed] == [2]

    notifier.clock.advance(PAST_IT)
    assert notifier.service.forget_past_retention(RETENTION).notifications == 2

    with engine.connect() as connection:
        assert records.billing_report(connection, notifier.client_key, month) == billed


def test_the_verification_results_and_the_overlay_are_not_forgotten(
    notifier: Notifier, engine: Engine
) -> None:
    asked = ask_a_code(notifier)
    notifier.service.code_entered(asked, the_code(notifier), notifier.clock.now())
    notifier.service.delivered(asked, notifier.clock.now())
    before = (count(engine, records.verifications), count(engine, records.overlay))
    assert before == (1, 1)

    notifier.clock.advance(PAST_IT)
    assert notifier.service.forget_past_retention(RETENTION).notifications == 1

    assert (count(engine, records.verifications), count(engine, records.overlay)) == before


def test_a_notification_whose_webhook_waits_is_kept_until_it_is_settled(
    notifier: Notifier, engine: Engine
) -> None:
    # the dispatcher reads the notification to keep its event at the callback_url it named
    waiting = delivered_in_vk(notifier, "w-1")
    event = enqueue_status(
        engine, notifier.client_key, notifier.clock.now(), notification_id=waiting
    )
    told = delivered_in_vk(notifier, "w-2")
    notifier.clock.advance(PAST_IT)

    # one a batch: the batch that keeps the first is not read again, the next one goes on
    forgotten = notifier.service.forget_past_retention(RETENTION, batch_size=1)

    assert forgotten == Forgotten(notifications=1, history=3, kept_for_webhooks=1)
    assert kept(engine) == {waiting} and told not in kept(engine)
    with engine.begin() as connection:
        connection.execute(
            update(WebhookDeliveryRow)
            .where(WebhookDeliveryRow.event_id == event)
            .values(state=DeliveryState.GIVEN_UP.value, finished_at=notifier.clock.now())
        )
    assert notifier.service.forget_past_retention(RETENTION).notifications == 1
    assert count(engine, WebhookDeliveryRow) == 1  # the outbox forgets it by its own retention


def pending_webhooks(engine: Engine) -> list[str]:
    """The notifications named by the webhook events waiting to be sent."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(WebhookDeliveryRow.payload["notification_id"].as_string()).where(
                    WebhookDeliveryRow.state == DeliveryState.PENDING.value
                )
            ).scalars()
        )


class OutboxOnceLetGo:
    """The outbox, enqueuing an event only once let go: a transaction held after its reads."""

    def __init__(self) -> None:
        self.outbox = OutboxWebhooks()
        self.reading_done = threading.Event()
        self.let_go = threading.Event()

    def enqueue(self, connection: Any, events: list[ClientEvent], now: datetime) -> None:
        self.reading_done.set()
        assert self.let_go.wait(10)
        self.outbox.enqueue(connection, events, now)


def running(target: Any) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(value=target()))
    thread.start()
    return thread, result


def test_a_reply_being_forwarded_keeps_its_notification_from_the_retention(
    notifier: Notifier, engine: Engine
) -> None:
    replied = delivered_in_vk(notifier, "r-1", callback_url=CALLBACK)
    notifier.clock.advance(PAST_IT)
    outbox = OutboxOnceLetGo()
    notifier.service.webhooks = outbox
    reply, answer = running(
        lambda: notifier.service.replied(replied, "СТОП", notifier.clock.now(), Channel.VK)
    )
    assert outbox.reading_done.wait(10)

    # the retention runs while the reply's webhook is on its way to the outbox
    purge, forgotten = running(lambda: notifier.service.forget_past_retention(RETENTION))
    time.sleep(0.3)
    outbox.let_go.set()
    reply.join(10)
    purge.join(10)

    assert answer["value"] is True
    assert forgotten["value"].notifications == 0
    assert kept(engine) == {replied}
    assert pending_webhooks(engine) == [replied]


def test_a_reply_to_a_notification_being_forgotten_is_not_forwarded(
    notifier: Notifier, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    replied = delivered_in_vk(notifier, "r-1", callback_url=CALLBACK)
    notifier.clock.advance(PAST_IT)
    notifier.service.webhooks = OutboxWebhooks()
    checked, let_go = threading.Event(), threading.Event()
    check = delivery.forgetting._with_webhooks_waiting

    def checked_then_held(connection: Any, ids: list[str]) -> set[str]:
        found = check(connection, ids)
        checked.set()
        assert let_go.wait(10)
        return found

    monkeypatch.setattr(delivery.forgetting, "_with_webhooks_waiting", checked_then_held)
    purge, forgotten = running(lambda: notifier.service.forget_past_retention(RETENTION))
    assert checked.wait(10)

    # the reply comes once the retention found no webhook of it waiting
    reply, answer = running(
        lambda: notifier.service.replied(replied, "СТОП", notifier.clock.now(), Channel.VK)
    )
    time.sleep(0.3)
    let_go.set()
    purge.join(10)
    reply.join(10)

    assert forgotten["value"].notifications == 1
    assert answer["value"] is False
    assert kept(engine) == set() and pending_webhooks(engine) == []


def test_the_saving_against_sms_compares_the_bills_of_the_notifications_kept(
    notifier: Notifier, database_url: str
) -> None:
    # the ledger keeps every bill; the notifications past the retention are gone, and with
    # them what they would have cost by SMS
    for n in range(3):
        delivered_in_vk(notifier, f"old-{n}")
    notifier.clock.advance(PAST_IT)
    delivered_in_vk(notifier, "new")
    assert notifier.service.forget_past_retention(RETENTION).notifications == 3

    total = analytics.billed_against_sms(database_url, load_prices()).total.row(0, named=True)

    assert (total["notifications"], total["delivered"]) == (1, 1)
    assert total["saving_share"] == pytest.approx(0.9)  # delivered in VK at a tenth of an SMS


def test_a_repeat_of_a_forgotten_request_is_refused_as_stale_and_not_sent_again(
    notifier: Notifier, engine: Engine
) -> None:
    # the client allowed the oldest user actions, and the shortest retention allowed
    allowed = timedelta(days=ACTION_AGE_DAYS_MAX)
    retention = timedelta(days=MIN_NOTIFICATION_RETENTION_DAYS)
    request = notifier.request(VERIFIED_FRESH, "once", action_at=notifier.clock.now())
    first = notifier.service.accept(notifier.client_key, request, allowed)
    notifier.service.dispatch_due()
    notifier.service.delivered(str(first.answer["id"]), notifier.clock.now())
    assert notifier.service.accept(notifier.client_key, request, allowed).repeated

    notifier.clock.advance(retention + timedelta(seconds=1))
    assert notifier.service.forget_past_retention(retention).notifications == 1

    with pytest.raises(NotificationRequestError) as refused:
        notifier.service.accept(notifier.client_key, request, allowed)
    assert refused.value.problem is RequestProblem.STALE_ACTION
    assert kept(engine) == set()
    assert len(notifier.vk.sent) == 1


def test_a_dry_run_counts_what_would_be_forgotten_and_forgets_nothing(
    notifier: Notifier, engine: Engine
) -> None:
    ids = {delivered_in_vk(notifier, f"d-{n}") for n in range(3)}
    notifier.clock.advance(PAST_IT)

    counted = notifier.service.forget_past_retention(RETENTION, batch_size=2, dry_run=True)

    assert counted == Forgotten(notifications=3, history=9)
    assert kept(engine) == ids
    assert notifier.service.forget_past_retention(RETENTION, batch_size=2) == counted


class StopsDuringTheFirstBatch(threading.Event):
    """A process told to stop while its first batch is in hand."""

    def is_set(self) -> bool:
        stopping = super().is_set()
        self.set()
        return stopping


def test_a_process_stopping_ends_after_the_batch_in_hand(
    notifier: Notifier, engine: Engine
) -> None:
    for n in range(3):
        delivered_in_vk(notifier, f"s-{n}")
    notifier.clock.advance(PAST_IT)
    before = notifier.clock.now() - RETENTION

    stopped = forget_notifications_before(
        engine, before, batch_size=2, stopping=StopsDuringTheFirstBatch()
    )

    assert stopped.notifications == 2 and len(kept(engine)) == 1
    assert forget_notifications_before(engine, before).notifications == 1


def test_a_store_whose_notifications_are_all_forgotten_says_it_keeps_their_bills(
    notifier: Notifier, database_url: str
) -> None:
    for n in range(2):
        delivered_in_vk(notifier, f"old-{n}")
    notifier.clock.advance(PAST_IT)
    assert notifier.service.forget_past_retention(RETENTION).notifications == 2

    with pytest.raises(analytics.AnalyticsInputError) as refused:
        analytics.billed_against_sms(database_url, load_prices())

    assert "keeps 2 bills but none of the notifications billed" in str(refused.value)
    assert "OWNERSHIP_NOTIFICATION_RETENTION_DAYS" in str(refused.value)


def test_an_hour_with_nothing_to_forget_waits_for_no_writer(
    notifier: Notifier, engine: Engine
) -> None:
    # SQLite has one writer: a retention that took the write lock every hour for nothing
    # would hold up acceptances and reports, and wait for them
    delivered_in_vk(notifier, "recent")
    with engine.begin() as writer:
        records.hold_until_moved(writer)
        writer.execute(
            update(records.notifications).values(updated_at=records.notifications.c.updated_at)
        )

        forgotten = notifier.service.forget_past_retention(RETENTION)

    assert forgotten == Forgotten()
    assert len(kept(engine)) == 1


def test_a_second_press_stops_at_once_and_any_later_one_is_let_go() -> None:
    at_once = StopAtOnce()

    with pytest.raises(KeyboardInterrupt):
        at_once.press()
    at_once.press()  # a third, while the run says what it did: nothing stops that


def test_a_press_as_a_batch_commits_waits_until_it_is_counted() -> None:
    at_once, counted = StopAtOnce(), []

    with pytest.raises(KeyboardInterrupt), at_once.committing():
        at_once.press()
        counted.append("the batch")

    assert counted == ["the batch"]
    at_once.press()  # and the run, stopped, says what it did
