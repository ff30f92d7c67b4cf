"""Each `notification.status` webhook carries `sequence`, its status's place in the
notification's history as `GET /v1/notifications/{id}` shows it, on SQLite and PostgreSQL: 1, 2,
3… in history order, whatever path the notification takes, however actors race to move it. A
claim given back is no entry and takes no number; a status the sweeper passes through takes one.
A client that gets the webhooks out of order keeps the status with the highest number."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, text

from delivery import records
from delivery.channels.ports import ChannelUnavailableError, SendResult, SmsMessage, SocialMessage
from delivery.notify_core import S
from delivery.webhooks.events import NotificationStatusChanged, WebhookEventType, webhook_of
from store.database import make_engine, upgrade
from tests.api.service import SUSPICIOUS, VERIFIED_FRESH
from tests.conftest import DATABASES, fresh_database
from tests.delivery.conftest import Notifier

A_CLIENT = (
    "insert into clients (name, consumer_key, secret_encrypted, webhook_secret_encrypted, "
    "allowed_cidrs, created_at) values ('bank', 'BankKey', 'sealed', 'sealed-hook', "
    "'[\"203.0.113.0/24\"]', '2026-11-27 12:00:00')"
)
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
READ = ("accepted", "sent", "delivered", "read")


def numbered(notifier: Notifier, notification_id: str) -> list[tuple[int, str]]:
    """(sequence, status) of each status webhook the client was sent, in the order sent."""
    told = []
    for queued in notifier.webhooks.events:
        if not isinstance(queued.event, NotificationStatusChanged):
            continue
        kind, data = webhook_of(queued.event)
        assert kind is WebhookEventType.NOTIFICATION_STATUS
        if data["notification_id"] == notification_id:
            told.append((data["sequence"], data["status"]))
    return told


def places(notifier: Notifier, notification_id: str) -> list[tuple[int, str]]:
    """(place, status) of each entry of the history the API shows after the 202's `accepted`."""
    found = notifier.service.notification(notifier.client_key, notification_id)
    assert found is not None
    return list(enumerate((step["status"] for step in found["history"]), start=1))[1:]


def told_details(notifier: Notifier, notification_id: str) -> list[tuple[str, object]]:
    """(status, detail) of each status webhook the client was sent for the notification."""
    told = (webhook_of(queued.event)[1] for queued in notifier.webhooks.events)
    return [
        (data["status"], data["detail"])
        for data in told
        if data.get("notification_id") == notification_id and "sequence" in data
    ]


def shown_details(notifier: Notifier, notification_id: str) -> list[tuple[str, object]]:
    """(status, detail) of each entry of the history the API shows after `accepted`."""
    found = notifier.service.notification(notifier.client_key, notification_id)
    assert found is not None
    return [(step["status"], step["detail"]) for step in found["history"]][1:]


def test_each_status_webhook_says_why_as_its_history_entry_does(notifier: Notifier) -> None:
    denied = notifier.notify(SUSPICIOUS, "r-denied", sensitive=True)
    notifier.service.answered(denied, False, notifier.clock.now())  # No: by SMS at once
    confirmed = notifier.notify(SUSPICIOUS, "r-confirmed", sensitive=True)
    notifier.service.answered(confirmed, True, notifier.clock.now())
    expired = notifier.notify(VERIFIED_FRESH, "r-expired", ttl=timedelta(seconds=30))
    notifier.clock.advance(timedelta(seconds=31))
    notifier.service.sweep()

    for notification in (denied, confirmed, expired):
        assert told_details(notifier, notification) == shown_details(notifier, notification)
    assert ("sms_sent", {"denied": True, "channel": "sms"}) in told_details(notifier, denied)


def test_a_message_delivered_and_read_is_told_2_3_4_after_its_accepted_1(
    notifier: Notifier,
) -> None:
    sent = notifier.notify(VERIFIED_FRESH)
    notifier.service.delivered(sent, notifier.clock.now())
    notifier.service.read(sent, notifier.clock.now())

    assert numbered(notifier, sent) == [(2, "sent"), (3, "delivered"), (4, "read")]
    assert numbered(notifier, sent) == places(notifier, sent)


def test_a_read_that_overtakes_its_delivery_report_numbers_both_and_the_late_report_none(
    notifier: Notifier,
) -> None:
    sent = notifier.notify(VERIFIED_FRESH)
    notifier.service.read(sent, notifier.clock.now())  # delivers it first
    notifier.service.delivered(sent, notifier.clock.now())  # late: changes nothing

    assert numbered(notifier, sent) == [(2, "sent"), (3, "delivered"), (4, "read")]
    assert numbered(notifier, sent) == places(notifier, sent)


def test_a_message_whose_ttl_ran_out_is_numbered_through_expiry_to_its_sms_report(
    notifier: Notifier,
) -> None:
    sent = notifier.notify(VERIFIED_FRESH, ttl=timedelta(seconds=30))
    notifier.clock.advance(timedelta(seconds=31))
    notifier.service.sweep()  # expired and claimed for SMS in one statement
    notifier.service.sms_delivered(sent, notifier.clock.now())

    assert numbered(notifier, sent) == [
        (2, "sent"),
        (3, "expired"),
        (4, "sms_sent"),
        (5, "sms_delivered"),
    ]
    assert numbered(notifier, sent) == places(notifier, sent)


def test_one_sweep_numbers_each_notification_after_its_own_history(notifier: Notifier) -> None:
    sent = notifier.notify(VERIFIED_FRESH, "r-sent", ttl=timedelta(seconds=30))
    confirmed = notifier.notify(SUSPICIOUS, "r-asked", sensitive=True, ttl=timedelta(seconds=30))
    notifier.service.answered(confirmed, True, notifier.clock.now())  # Yes: sent after the prompt
    notifier.clock.advance(timedelta(seconds=31))

    notifier.service.sweep()  # both in one batch, each passing `expired` on its way to SMS

    assert numbered(notifier, sent)[1:] == [(3, "expired"), (4, "sms_sent")]
    assert numbered(notifier, confirmed)[2:] == [(4, "expired"), (5, "sms_sent")]
    for notification in (sent, confirmed):
        assert numbered(notifier, notification) == places(notifier, notification)


def test_moves_that_record_several_entries_number_each_and_hand_back_the_last(
    notifier: Notifier, engine: Engine
) -> None:
    sent = notifier.notify(VERIFIED_FRESH, "r-1")
    asked = notifier.notify(SUSPICIOUS, "r-2", sensitive=True)
    notifier.service.answered(asked, True, notifier.clock.now())

    with engine.begin() as connection:
        moved = records.transition_many(
            connection,
            [sent, asked],
            (S.SENT,),
            S.SMS_SENT,
            notifier.clock.now(),
            passing=((S.EXPIRED, {}),),
        )

    # sent: accepted, sent, then expired 3 and sms_sent 4; asked: one entry more before
    assert moved == {sent: 4, asked: 5}


def test_a_claim_given_back_while_its_network_is_down_takes_no_number(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(message: SocialMessage) -> SendResult:
        raise ChannelUnavailableError("vk is down")

    monkeypatch.setattr(notifier.vk, "send", down)
    sent = notifier.notify(VERIFIED_FRESH)
    for _ in range(3):  # claimed, given back, claimed again: told once
        notifier.service.dispatch_due()
    monkeypatch.undo()
    notifier.service.dispatch_due()
    notifier.service.delivered(sent, notifier.clock.now())

    assert numbered(notifier, sent) == [(2, "sent"), (3, "delivered")]
    assert numbered(notifier, sent) == places(notifier, sent)


def test_a_refused_claim_given_back_takes_no_number_before_the_sms(notifier: Notifier) -> None:
    notifier.vk.refuse.add(VERIFIED_FRESH)

    sent = notifier.notify(VERIFIED_FRESH)
    notifier.service.sms_failed(sent, "unknown_subscriber", notifier.clock.now())

    assert numbered(notifier, sent) == [(2, "sent"), (3, "sms_sent"), (4, "sms_failed")]
    assert numbered(notifier, sent) == places(notifier, sent)


def test_an_sms_claim_the_sweeper_gives_back_in_an_outage_takes_no_number(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(sms: SmsMessage) -> SendResult:
        raise ChannelUnavailableError("the SMS gateway is down")

    sent = notifier.notify(VERIFIED_FRESH, ttl=timedelta(minutes=10))
    monkeypatch.setattr(notifier.sms, "send", down)
    notifier.clock.advance(timedelta(minutes=11))
    for _ in range(3):  # claimed for SMS, given back to expired, claimed again untold
        notifier.service.sweep()
        notifier.clock.advance(timedelta(seconds=30))
    monkeypatch.undo()
    notifier.service.sweep()
    notifier.service.sms_delivered(sent, notifier.clock.now())

    assert numbered(notifier, sent) == [
        (2, "sent"),
        (3, "expired"),
        (4, "sms_sent"),
        (5, "sms_delivered"),
    ]
    assert numbered(notifier, sent) == places(notifier, sent)


def test_a_receipt_that_wins_the_race_with_the_sweeper_is_the_last_number(
    notifier: Notifier,
) -> None:
    sent = notifier.notify(VERIFIED_FRESH, ttl=timedelta(seconds=30))

    def withdraw_as_the_receipt_comes(provider_id: str) -> bool:
        arriving = threading.Thread(
            target=notifier.service.delivered, args=(sent, notifier.clock.now())
        )
        arriving.start()
        arriving.join(timeout=10)
        return False  # the network had shown it

    notifier.vk.withdraw = withdraw_as_the_receipt_comes  # type: ignore[method-assign]
    notifier.clock.advance(timedelta(seconds=31))
    notifier.service.sweep()  # finds the row moved since it asked: leaves it
    notifier.service.sweep()

    assert numbered(notifier, sent) == [(2, "sent"), (3, "delivered")]
    assert numbered(notifier, sent) == places(notifier, sent)


def test_reports_and_two_sweepers_racing_leave_no_gap_and_no_repeat(notifier: Notifier) -> None:
    sent = [
        notifier.notify(VERIFIED_FRESH, f"r-{number}", ttl=timedelta(seconds=30))
        for number in range(24)
    ]
    notifier.clock.advance(timedelta(seconds=31))
    at = notifier.clock.now()
    start = threading.Barrier(4)

    def sweeper() -> None:
        start.wait()
        while notifier.service.sweep(limit=5):
            pass

    def receipts() -> None:
        start.wait()
        for notification in sent:
            notifier.service.delivered(notification, at)

    def reads() -> None:
        start.wait()
        for notification in reversed(sent):
            notifier.service.read(notification, at)

    actors = [threading.Thread(target=act) for act in (sweeper, sweeper, receipts, reads)]
    for actor in actors:
        actor.start()
    for actor in actors:
        actor.join(timeout=120)

    for notification in sent:
        told = numbered(notifier, notification)
        assert told == places(notifier, notification)
        assert [number for number, _ in told] == list(range(2, len(told) + 2))


@pytest.mark.parametrize("kind", DATABASES)
def test_entries_another_writer_recorded_are_counted_in_the_next_place(
    kind: str, tmp_path: Path
) -> None:
    # a notification the release before accepted and sent (during a rolling upgrade), and one
    # kept from before this release: their entries are all the history holds, nothing else
    with fresh_database(kind, tmp_path) as url:
        upgrade(url)
        engine = make_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(text(A_CLIENT))
                for name, path in (("ntf_sent", READ[:2]), ("ntf_new", READ[:1])):
                    row = kept_before(name, path[-1])
                    connection.execute(insert(records.notifications).values(**row))
                    for status in path:
                        connection.execute(
                            insert(records.events).values(
                                notification_id=name, status=status, at=T0, detail={}
                            )
                        )
            later = T0 + timedelta(seconds=1)
            with engine.begin() as connection:
                delivered = records.transition(
                    connection, "ntf_sent", (S.SENT,), S.DELIVERED, later
                )
                swept = records.transition_many(
                    connection,
                    ["ntf_new"],
                    (S.ACCEPTED,),
                    S.SMS_SENT,
                    later,
                    passing=((S.EXPIRED, {}),),
                )
        finally:
            engine.dispose()

    assert delivered == 3
    assert swept == {"ntf_new": 3}  # expired 2, sms_sent 3


@pytest.mark.parametrize("kind", DATABASES)
def test_a_move_that_waited_for_another_counts_the_entry_that_one_recorded(
    kind: str, tmp_path: Path
) -> None:
    if kind != "postgresql":
        pytest.skip("SQLite lets one writer in at a time: no move waits inside another")
    later = T0 + timedelta(seconds=1)
    with fresh_database(kind, tmp_path) as url:
        upgrade(url)
        engine = make_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(text(A_CLIENT))
                connection.execute(insert(records.notifications).values(**kept_before("n", "sent")))
                for status in READ[:2]:
                    connection.execute(
                        insert(records.events).values(
                            notification_id="n", status=status, at=T0, detail={}
                        )
                    )
            read: list[int | None] = []

            def read_receipt() -> None:
                with engine.begin() as connection:
                    read.append(
                        records.transition(connection, "n", (S.SENT, S.DELIVERED), S.READ, later)
                    )

            with engine.connect() as delivering, delivering.begin():
                # a delivery report holds the row, its entry written, not yet committed
                records.transition(delivering, "n", (S.SENT,), S.DELIVERED, later)
                reader = threading.Thread(target=read_receipt)
                reader.start()
                waiting_for_a_lock(engine)
            reader.join(timeout=30)
        finally:
            engine.dispose()

    assert read == [4]  # accepted, sent, delivered, read


def waiting_for_a_lock(engine: Engine, seconds: float = 30) -> None:
    """Return once some session of the database waits for a lock (PostgreSQL)."""
    deadline = time.monotonic() + seconds
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            waiting = connection.execute(
                text("select count(*) from pg_locks where not granted")
            ).scalar_one()
            connection.rollback()
            if waiting:
                return
            time.sleep(0.01)
    raise AssertionError("no session waited for a lock")


def kept_before(name: str, status: str) -> dict[str, object]:
    """A notification's row as another writer wrote it."""
    return {
        "id": name,
        "client_key": "BankKey",
        "request_id": name,
        "request_hash": "-",
        "phone": VERIFIED_FRESH,
        "country": "7",
        "template_id": "tpl_order",
        "text": "Ваш заказ A-17 готов к выдаче",
        "action_type": "order",
        "action_at": T0,
        "sensitive": False,
        "mobile_only": False,
        "fallback": "sms",
        "callback_url": None,
        "decision": "deliver",
        "policy_case": "VERIFIED_FRESH",
        "number_status": "verified",
        "reasons": [],
        "status": status,
        "channel": None,
        "provider_id": None,
        "created_at": T0,
        "expires_at": T0 + timedelta(hours=1),
        "updated_at": T0,
        "answer": {},
    }
