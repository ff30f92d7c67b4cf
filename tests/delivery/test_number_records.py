"""One number's records on its holder's request, on SQLite and PostgreSQL: `show` prints what
the store holds about it and nothing of another number's; `erase` removes its notifications
that ended, with their history, codes and webhook events, and keeps, saying so, what is under
way, what a webhook still waits for, its re-verification answers and the bill."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, update

from delivery import records
from delivery.number_records import Erased, erase_number, held_about
from pipelines.cli import main
from store.tables_webhooks import DeliveryState, WebhookDeliveryRow
from tests.api.service import SUSPICIOUS, VERIFIED_FRESH
from tests.delivery.conftest import Notifier
from tests.delivery.test_forgetting import count, delivered_in_vk, kept
from tests.delivery.test_sms_code import ask_a_code, the_code
from tests.delivery.webhook_helpers import enqueue_status

# past the user action a client may answer by default (3 days): a repeat is refused as stale
PAST_REPEATS = timedelta(days=4)


def settle(engine: Engine, event_id: str, at: datetime) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(WebhookDeliveryRow)
            .where(WebhookDeliveryRow.event_id == event_id)
            .values(state=DeliveryState.DELIVERED.value, finished_at=at)
        )


def billed(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(records.ledger)) or 0)


def test_show_holds_the_numbers_notifications_answers_and_overlay_and_no_other_numbers(
    notifier: Notifier, engine: Engine
) -> None:
    delivered = delivered_in_vk(notifier, "r-1")
    asked = notifier.notify(SUSPICIOUS, "r-2", sensitive=True)
    assert notifier.service.answered(asked, confirmed=False, at=notifier.clock.now())

    held = held_about(engine, SUSPICIOUS)

    assert [item["id"] for item in held["notifications"]] == [asked]
    shown = held["notifications"][0]
    assert shown["client"] == "bank" and shown["text"]
    assert (shown["decision"], shown["number_status"]) == ("reverify", "suspicious")
    assert "callback_url" not in shown and "request_hash" not in shown
    assert [step["status"] for step in shown["history"]] == [
        "accepted",
        "reverify_pending",
        "sms_sent",
    ]
    assert [answer["result"] for answer in held["verifications"]] == ["denied"]
    assert held["overlay"]["denied_at"] is not None
    assert [item["id"] for item in held_about(engine, VERIFIED_FRESH)["notifications"]] == [
        delivered
    ]


def test_show_gives_the_replies_the_person_wrote_to_a_notification(
    notifier: Notifier, engine: Engine
) -> None:
    sent = delivered_in_vk(notifier, "r-1")
    at = notifier.clock.now().isoformat()
    enqueue_status(
        engine,
        notifier.client_key,
        notifier.clock.now(),
        event_type="notification.reply",
        notification_id=sent,
        text="Спасибо, получил",
        at=at,
        channel="vk",
    )

    (shown,) = held_about(engine, VERIFIED_FRESH)["notifications"]

    assert shown["replies"] == [{"text": "Спасибо, получил", "at": at, "channel": "vk"}]


def test_erase_removes_what_ended_and_keeps_what_is_under_way_the_answers_and_the_bill(
    notifier: Notifier, engine: Engine
) -> None:
    asked = ask_a_code(notifier)
    notifier.service.code_entered(asked, the_code(notifier), notifier.clock.now())
    notifier.service.delivered(asked, notifier.clock.now())
    told = enqueue_status(engine, notifier.client_key, notifier.clock.now(), notification_id=asked)
    settle(engine, told, notifier.clock.now())
    notifier.clock.advance(PAST_REPEATS)
    under_way = notifier.notify(SUSPICIOUS, "r-2", action_at=notifier.clock.now())
    other = delivered_in_vk(notifier, "r-3")
    bill = billed(engine)
    now = notifier.clock.now()

    assert erase_number(engine, SUSPICIOUS, now, dry_run=True) == Erased(
        notifications=1, history=4, codes=1, webhook_events=1, kept_under_way=1, answers_kept=1
    )
    assert kept(engine) == {asked, under_way, other}

    erased = erase_number(engine, SUSPICIOUS, now)

    assert erased.notifications == 1 and erased.kept_under_way == 1
    assert kept(engine) == {under_way, other}
    assert count(engine, WebhookDeliveryRow) == 0
    assert held_about(engine, SUSPICIOUS)["verifications"][0]["result"] == "confirmed"
    assert billed(engine) == bill  # the ledger holds no number, and the bill stands
    assert not notifier.service.read(asked, notifier.clock.now())  # a late report: nothing


def test_a_notification_a_webhook_still_waits_for_is_kept(
    notifier: Notifier, engine: Engine
) -> None:
    sent = delivered_in_vk(notifier, "r-1")
    enqueue_status(engine, notifier.client_key, notifier.clock.now(), notification_id=sent)
    notifier.clock.advance(PAST_REPEATS)

    erased = erase_number(engine, VERIFIED_FRESH, notifier.clock.now())

    assert (erased.notifications, erased.kept_for_webhooks) == (0, 1)
    assert kept(engine) == {sent}


def test_a_notification_whose_request_could_still_be_repeated_is_kept_so_none_is_sent_twice(
    notifier: Notifier, engine: Engine
) -> None:
    sent = delivered_in_vk(notifier, "r-1")

    erased = erase_number(engine, VERIFIED_FRESH, notifier.clock.now())

    assert (erased.notifications, erased.kept_repeatable) == (0, 1)
    again = notifier.service.accept(notifier.client_key, notifier.request(VERIFIED_FRESH, "r-1"))
    assert again.answer["id"] == sent and len(notifier.vk.sent) == 1
    notifier.clock.advance(PAST_REPEATS)
    assert erase_number(engine, VERIFIED_FRESH, notifier.clock.now()).notifications == 1


@pytest.fixture
def on_the_notifiers_store(
    notifier: Notifier, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Notifier:
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", database_url)
    monkeypatch.setenv("OWNERSHIP_CLOCK_ANCHOR", datetime.now(UTC).isoformat())
    monkeypatch.setenv("OWNERSHIP_CLOCK_START", (notifier.clock.now() + PAST_REPEATS).isoformat())
    return notifier


def test_the_commands_show_then_erase_one_number_as_written_by_a_person(
    on_the_notifiers_store: Notifier, capsys: pytest.CaptureFixture[str]
) -> None:
    notifier = on_the_notifiers_store
    sent = delivered_in_vk(notifier, "r-1")
    written = f"{VERIFIED_FRESH[:2]} {VERIFIED_FRESH[2:5]} {VERIFIED_FRESH[5:]}"

    assert main(["notifications", "show", written]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["phone"] == VERIFIED_FRESH
    assert [item["id"] for item in shown["notifications"]] == [sent]
    assert shown["notifications"][0]["created_at"].endswith("Z")

    assert main(["notifications", "erase", written]) == 0
    said = capsys.readouterr().out
    assert said.startswith("erased 1 notification of +")
    assert VERIFIED_FRESH not in said  # the number masked in what is printed, and logged
    assert notifier.service.notification(notifier.client_key, sent) is None


def test_a_number_that_is_none_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["notifications", "erase", "+7 not a number"]) == 2

    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("error:")
    assert "Traceback" not in captured.err


def test_a_number_written_as_its_holder_does_is_read_in_the_default_region(
    on_the_notifiers_store: Notifier,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    national = "8" + VERIFIED_FRESH[2:]  # +7 923… as «8 923…»
    assert main(["notifications", "show", national]) == 2
    assert "OWNERSHIP_DEFAULT_REGION" in capsys.readouterr().err

    monkeypatch.setenv("OWNERSHIP_DEFAULT_REGION", "RU")
    assert main(["notifications", "show", national]) == 0
    assert json.loads(capsys.readouterr().out)["phone"] == VERIFIED_FRESH
