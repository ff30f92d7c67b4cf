"""The notify path driven by hand on a virtual clock, on SQLite and PostgreSQL: each row of the
policy table, each re-verification outcome, the TTL with SMS fallback, the race between a late
receipt and the fallback, idempotent repeats, and billing equal to what was delivered."""

from __future__ import annotations

import json
import shutil
import threading
from datetime import timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, func, select, update

from delivery import records
from delivery.export import export_verifications
from delivery.notify import RequestConflictError
from delivery.ports import TemplateProblemError
from ownership.notifications import Fallback, NotificationRequestError, RequestProblem
from ownership.numbers import InvalidNumberError
from pipelines.cli import main
from pipelines.scoring import ScoreRequest, score
from tests.api.service import (
    ACCOUNT_ONLY,
    RECYCLED,
    SUSPICIOUS,
    UNSEEN,
    VERIFIED_ASLEEP,
    VERIFIED_FRESH,
    VERIFIED_OLDER,
)
from tests.delivery.conftest import Notifier
from tests.factories import AS_OF


def ledger(engine: Engine) -> list[tuple[str, str, Decimal]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                records.ledger.c.notification_id, records.ledger.c.channel, records.ledger.c.price
            ).order_by(records.ledger.c.id)
        ).all()
    return [(row[0], row[1], Decimal(row[2])) for row in rows]


def statuses(notifier: Notifier, notification_id: str) -> list[str]:
    found = notifier.service.notification(notifier.client_key, notification_id)
    assert found is not None
    return [step["status"] for step in found["history"]]


def test_a_fresh_verified_number_gets_it_in_vk_billed_once_as_social(
    notifier: Notifier, engine: Engine
) -> None:
    sent = notifier.notify(VERIFIED_FRESH, sensitive=True)

    assert notifier.vk.sent == [(sent, VERIFIED_FRESH, "Ваш заказ A-17 готов к выдаче")]
    assert notifier.service.delivered(sent, notifier.clock.now())
    assert not notifier.service.delivered(sent, notifier.clock.now())  # a repeated receipt
    assert notifier.service.read(sent, notifier.clock.now())
    assert statuses(notifier, sent) == ["accepted", "sent", "delivered", "read"]
    assert ledger(engine) == [(sent, "vk", Decimal("0.4500"))]  # a tenth of 4.50 RUB


def test_a_delivery_is_billed_in_its_month_in_utc_whatever_offset_its_report_has(
    notifier: Notifier, engine: Engine
) -> None:
    sent = notifier.notify(VERIFIED_FRESH)
    utc = notifier.clock.now()
    month_start = utc.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    first_next_month = (month_start + timedelta(days=32)).replace(day=1)
    # an hour before the month ends in UTC, already the next month in Moscow
    moment = first_next_month - timedelta(hours=1)

    notifier.service.delivered(sent, moment.astimezone(timezone(timedelta(hours=3))))

    with engine.connect() as connection:
        months = connection.execute(select(records.ledger.c.month)).scalars().all()
    assert months == [moment.strftime("%Y-%m")]


def test_an_owner_changed_number_goes_by_sms_even_when_regular(
    notifier: Notifier, engine: Engine
) -> None:
    sent = notifier.notify(RECYCLED)

    assert notifier.vk.sent == [] and [row[0] for row in notifier.sms.sent] == [sent]
    assert notifier.service.sms_delivered(sent, notifier.clock.now())
    assert statuses(notifier, sent) == ["accepted", "sms_sent", "sms_delivered"]
    assert ledger(engine) == [(sent, "sms", Decimal("4.5000"))]


@pytest.mark.parametrize("phone", [UNSEEN, ACCOUNT_ONLY])
def test_a_number_without_history_goes_by_sms(notifier: Notifier, phone: str) -> None:
    sent = notifier.notify(phone)

    assert notifier.status(sent) == "sms_sent"


def test_a_verified_number_with_an_older_proof_is_delivered_but_reverified_when_sensitive(
    notifier: Notifier,
) -> None:
    regular = notifier.notify(VERIFIED_OLDER, "o-1")
    sensitive = notifier.notify(VERIFIED_OLDER, "o-2", sensitive=True)

    assert notifier.status(regular) == "sent"
    assert notifier.status(sensitive) == "reverify_pending"


def test_a_number_whose_account_is_asleep_goes_by_sms(notifier: Notifier) -> None:
    sent = notifier.notify(VERIFIED_ASLEEP)

    found = notifier.service.notification(notifier.client_key, sent)
    assert found is not None
    assert (found["policy_case"], found["status"]) == ("NO_ACTIVE_ACCOUNT", "sms_sent")
    assert notifier.vk.sent == []


def test_mobile_only_without_the_app_goes_by_sms(notifier: Notifier) -> None:
    sent = notifier.notify(SUSPICIOUS, mobile_only=True)

    assert notifier.status(sent) == "sms_sent"
    assert notifier.ok.sent == []


def test_a_suspicious_number_is_delivered_when_regular(notifier: Notifier) -> None:
    sent = notifier.notify(SUSPICIOUS)

    assert [row[0] for row in notifier.ok.sent] == [sent]


def test_a_confirmed_reverification_delivers_and_keeps_the_number_fresh(
    notifier: Notifier, engine: Engine
) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True)
    assert notifier.ok.asked == [
        (asked, SUSPICIOUS, "+790* *** ** 33 — это ваш номер телефона? Да / Нет")
    ]
    assert notifier.status(asked) == "reverify_pending"

    assert notifier.service.answered(asked, confirmed=True, at=notifier.clock.now())
    assert notifier.status(asked) == "sent"
    # fresh for 30 days: the next sensitive notification is delivered without asking
    notifier.clock.advance(timedelta(days=29))
    again = notifier.notify(SUSPICIOUS, "r-2", sensitive=True, action_at=notifier.clock.now())
    assert notifier.status(again) == "sent"
    # then asked again
    notifier.clock.advance(timedelta(days=2))
    later = notifier.notify(SUSPICIOUS, "r-3", sensitive=True, action_at=notifier.clock.now())
    assert notifier.status(later) == "reverify_pending"
    with engine.connect() as connection:
        results = connection.execute(select(records.verifications.c.result)).scalars().all()
    assert results == ["confirmed"]


def test_a_denial_sends_it_by_sms_and_makes_the_number_owner_changed_at_once(
    notifier: Notifier,
) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True)

    assert notifier.service.answered(asked, confirmed=False, at=notifier.clock.now())

    assert statuses(notifier, asked) == ["accepted", "reverify_pending", "sms_sent"]
    regular = notifier.notify(SUSPICIOUS, "r-2")
    assert notifier.status(regular) == "sms_sent"  # every notify sees the denial before the batch


def test_a_notification_accepted_before_a_denial_and_sent_after_it_goes_by_sms(
    notifier: Notifier,
) -> None:
    """Accepted for VK while the dispatcher was away (a deploy, a backlog); the person then
    said No to another notification's prompt: it must not reach the disowned account."""
    asked = notifier.notify(SUSPICIOUS, sensitive=True)
    waiting = notifier.service.accept(notifier.client_key, notifier.request(SUSPICIOUS, "r-2"))
    assert waiting.answer["action"] == "deliver"
    notifier.clock.advance(timedelta(seconds=5))

    assert notifier.service.answered(asked, confirmed=False, at=notifier.clock.now())
    notifier.service.dispatch_due()

    waiting_id = str(waiting.answer["id"])
    assert statuses(notifier, waiting_id) == ["accepted", "sms_sent"]
    assert all(row[0] != waiting_id for row in notifier.ok.sent + notifier.vk.sent)


def test_a_message_a_network_holds_undelivered_is_withdrawn_and_sent_by_sms_after_a_no(
    notifier: Notifier, engine: Engine
) -> None:
    """Sent to the account before the person said No to another notification's prompt: left
    there, it would reach the disowned account once delivered, and be billed."""
    regular = notifier.notify(SUSPICIOUS, "r-1")
    asked = notifier.notify(SUSPICIOUS, "r-2", sensitive=True)
    assert notifier.status(regular) == "sent"
    notifier.clock.advance(timedelta(seconds=5))

    assert notifier.service.answered(asked, confirmed=False, at=notifier.clock.now())
    assert notifier.service.sweep() == 1

    assert statuses(notifier, regular) == ["accepted", "sent", "expired", "sms_sent"]
    found = notifier.service.notification(notifier.client_key, regular)
    assert found is not None
    assert found["history"][2]["detail"] == {"denied": True}
    assert len(notifier.ok.withdrawn + notifier.vk.withdrawn) == 1
    assert not notifier.service.delivered(regular, notifier.clock.now())  # too late now
    assert ledger(engine) == []


def test_a_prompt_a_no_to_another_ended_is_not_kept_as_unanswered(
    notifier: Notifier, engine: Engine
) -> None:
    first = notifier.notify(SUSPICIOUS, "r-1", sensitive=True)
    second = notifier.notify(SUSPICIOUS, "r-2", sensitive=True)

    assert notifier.service.answered(first, confirmed=False, at=notifier.clock.now())
    notifier.service.sweep()

    assert statuses(notifier, second) == ["accepted", "reverify_pending", "expired", "sms_sent"]
    with engine.connect() as connection:
        results = connection.execute(select(records.verifications.c.result)).scalars().all()
    assert results == ["denied"]  # not a `no_answer` for a TTL the person never had


def test_a_late_no_dated_before_a_message_was_sent_still_says_why_it_was_withdrawn(
    notifier: Notifier,
) -> None:
    asked = notifier.notify(SUSPICIOUS, "r-1", sensitive=True)
    said_no_at = notifier.clock.now()
    notifier.clock.advance(timedelta(minutes=10))
    regular = notifier.notify(SUSPICIOUS, "r-2")
    notifier.clock.advance(timedelta(minutes=10))

    assert notifier.service.answered(asked, confirmed=False, at=said_no_at)  # reported late
    notifier.service.sweep()

    found = notifier.service.notification(notifier.client_key, regular)
    assert found is not None
    assert [(step["status"], step["detail"]) for step in found["history"][2:3]] == [
        ("expired", {"denied": True})
    ]


def test_a_no_reported_hours_late_still_sends_the_withdrawn_message_by_sms(
    notifier: Notifier,
) -> None:
    """Said long ago, reported now (a gateway retrying its report): the SMS of the message it
    withdraws is worth delivering from now, not from when the No was said."""
    asked = notifier.notify(SUSPICIOUS, "r-1", sensitive=True)
    said_no_at = notifier.clock.now() + timedelta(minutes=1)
    notifier.clock.advance(timedelta(hours=10, minutes=30))
    regular = notifier.notify(SUSPICIOUS, "r-2")
    notifier.clock.advance(timedelta(minutes=1))

    assert notifier.service.answered(asked, confirmed=False, at=said_no_at)
    notifier.service.sweep()

    assert statuses(notifier, regular) == ["accepted", "sent", "expired", "sms_sent"]
    assert [row[0] for row in notifier.sms.sent][-1] == regular


def test_a_message_whose_ttl_ran_out_before_a_no_expired_for_its_ttl(notifier: Notifier) -> None:
    regular = notifier.notify(SUSPICIOUS, "r-1", ttl=timedelta(minutes=1))
    asked = notifier.notify(SUSPICIOUS, "r-2", sensitive=True)
    notifier.clock.advance(timedelta(minutes=2))  # not swept yet

    assert notifier.service.answered(asked, confirmed=False, at=notifier.clock.now())
    notifier.service.sweep()

    found = notifier.service.notification(notifier.client_key, regular)
    assert found is not None
    assert found["history"][2]["detail"] == {"ttl_ran_out": True}


def test_a_yes_leaves_the_numbers_other_messages_where_they_are(notifier: Notifier) -> None:
    regular = notifier.notify(SUSPICIOUS, "r-1")
    asked = notifier.notify(SUSPICIOUS, "r-2", sensitive=True)

    assert notifier.service.answered(asked, confirmed=True, at=notifier.clock.now())
    notifier.service.sweep()

    assert statuses(notifier, regular) == ["accepted", "sent"]


def test_an_answer_a_gateway_dates_ahead_of_the_service_is_kept_as_given_now(
    notifier: Notifier, engine: Engine
) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True)
    now = notifier.clock.now()

    assert notifier.service.answered(asked, confirmed=True, at=now + timedelta(minutes=4))

    with engine.connect() as connection:
        kept = connection.execute(select(records.verifications.c.ts)).scalar_one()
    assert kept == now


def test_a_no_reported_after_a_notification_was_accepted_but_dated_before_it_counts_too(
    notifier: Notifier,
) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True)
    notifier.clock.advance(timedelta(seconds=2))
    said_no_at = notifier.clock.now()
    notifier.clock.advance(timedelta(seconds=2))
    waiting = notifier.service.accept(notifier.client_key, notifier.request(SUSPICIOUS, "r-2"))
    assert waiting.answer["action"] == "deliver"  # the No not reported yet
    notifier.clock.advance(timedelta(seconds=5))

    assert notifier.service.answered(asked, confirmed=False, at=said_no_at)
    notifier.service.dispatch_due()

    waiting_id = str(waiting.answer["id"])
    assert statuses(notifier, waiting_id) == ["accepted", "sms_sent"]
    assert all(row[0] != waiting_id for row in notifier.ok.sent + notifier.vk.sent)


def test_no_answer_within_the_ttl_sends_it_by_sms(notifier: Notifier) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True, ttl=timedelta(minutes=10))

    notifier.clock.advance(timedelta(minutes=11))
    notifier.service.sweep()

    assert statuses(notifier, asked) == ["accepted", "reverify_pending", "expired", "sms_sent"]


def test_a_notification_not_delivered_within_its_ttl_is_withdrawn_and_sent_by_sms(
    notifier: Notifier,
) -> None:
    sent = notifier.notify(VERIFIED_FRESH, ttl=timedelta(seconds=30))

    notifier.clock.advance(timedelta(seconds=31))
    assert notifier.service.sweep() == 1

    assert len(notifier.vk.withdrawn) == 1
    assert statuses(notifier, sent) == ["accepted", "sent", "expired", "sms_sent"]
    assert not notifier.service.delivered(sent, notifier.clock.now())  # a receipt too late


def test_without_fallback_an_undelivered_notification_expires(notifier: Notifier) -> None:
    sent = notifier.notify(VERIFIED_FRESH, ttl=timedelta(seconds=30), fallback=Fallback.NONE)

    notifier.clock.advance(timedelta(minutes=1))
    notifier.service.sweep()

    assert notifier.status(sent) == "expired"
    assert notifier.sms.sent == []


def test_a_receipt_racing_the_withdrawal_ends_in_one_billed_delivery(
    notifier: Notifier, engine: Engine
) -> None:
    sent = notifier.notify(VERIFIED_FRESH, ttl=timedelta(seconds=30))
    found = notifier.service.notification(notifier.client_key, sent)
    assert found is not None
    notifier.vk.delivered_already.add(found["provider_id"])  # shown just before the TTL ran out

    notifier.clock.advance(timedelta(seconds=31))
    notifier.service.sweep()
    late = notifier.service.delivered(sent, notifier.clock.now())  # its receipt, late

    assert not late
    assert notifier.status(sent) == "delivered"
    assert notifier.sms.sent == []
    assert [row[0] for row in ledger(engine)] == [sent]


def test_a_receipt_that_comes_while_the_sweeper_asks_for_the_withdrawal_is_taken_at_once(
    notifier: Notifier, engine: Engine
) -> None:
    # a slow gateway must not hold the receipts that race the withdrawal: no row is locked
    # while the network is asked
    sent = notifier.notify(VERIFIED_FRESH, ttl=timedelta(seconds=30))
    found = notifier.service.notification(notifier.client_key, sent)
    assert found is not None
    shown = notifier.clock.now() + timedelta(seconds=29)
    receipts: list[bool] = []

    def receipt() -> None:
        receipts.append(notifier.service.delivered(sent, shown))

    def withdraw_as_the_receipt_comes(provider_id: str) -> bool:
        arriving = threading.Thread(target=receipt)
        arriving.start()
        arriving.join(timeout=10)
        return False  # the network had shown it

    notifier.vk.withdraw = withdraw_as_the_receipt_comes  # type: ignore[method-assign]
    notifier.clock.advance(timedelta(seconds=31))
    notifier.service.sweep()

    assert receipts == [True]  # taken while the network was asked, not after the sweep
    assert statuses(notifier, sent) == ["accepted", "sent", "delivered"]
    assert [row[0] for row in ledger(engine)] == [sent]
    assert notifier.sms.sent == []


def test_a_delivery_found_at_the_withdrawal_takes_the_time_its_late_receipt_reports(
    notifier: Notifier, engine: Engine
) -> None:
    sent = notifier.notify(VERIFIED_FRESH, ttl=timedelta(seconds=30))
    found = notifier.service.notification(notifier.client_key, sent)
    assert found is not None
    notifier.vk.delivered_already.add(found["provider_id"])
    shown = notifier.clock.now() + timedelta(seconds=29)  # just before the TTL ran out

    notifier.clock.advance(timedelta(seconds=31))
    notifier.service.sweep()  # finds it delivered, at its own time
    notifier.service.delivered(sent, shown)  # the network's receipt, late
    notifier.service.delivered(sent, shown - timedelta(seconds=20))  # a second one changes nothing

    found = notifier.service.notification(notifier.client_key, sent)
    assert found is not None
    assert [step["status"] for step in found["history"]] == ["accepted", "sent", "delivered"]
    assert found["history"][-1]["at"] == shown
    with engine.connect() as connection:
        billed = connection.execute(select(records.ledger.c.delivered_at)).scalars().all()
    assert billed == [shown]


def test_an_sms_without_a_report_in_time_fails_unbilled(notifier: Notifier, engine: Engine) -> None:
    sent = notifier.notify(RECYCLED)

    # past its validity, by when the gateway reports it, and the report time-out past that
    notifier.clock.advance(notifier.service.sms_validity + notifier.service.sms_report_timeout)
    notifier.service.sweep()

    assert notifier.status(sent) == "sms_failed"
    assert ledger(engine) == []


def test_a_repeated_request_gets_the_first_answer_and_sends_nothing(
    notifier: Notifier, engine: Engine
) -> None:
    first = notifier.service.accept(notifier.client_key, notifier.request(VERIFIED_FRESH))
    notifier.service.dispatch_due()
    again = notifier.service.accept(notifier.client_key, notifier.request(VERIFIED_FRESH))
    notifier.service.dispatch_due()

    assert again.repeated and again.answer == first.answer
    assert len(notifier.vk.sent) == 1
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(records.notifications)) == 1
    with pytest.raises(RequestConflictError):
        notifier.service.accept(
            notifier.client_key, notifier.request(VERIFIED_FRESH, params={"order": "B-2"})
        )


def test_a_number_holding_a_control_character_is_refused_not_read_without_it(
    notifier: Notifier,
) -> None:
    with pytest.raises(InvalidNumberError, match="control character"):
        notifier.service.accept(notifier.client_key, notifier.request("+7923\x004567823"))


def test_a_repeat_that_writes_the_number_otherwise_is_the_same_request(
    notifier: Notifier, engine: Engine
) -> None:
    first = notifier.service.accept(notifier.client_key, notifier.request("+7 923 456-78-23"))
    again = notifier.service.accept(notifier.client_key, notifier.request(VERIFIED_FRESH))

    assert again.repeated and again.answer == first.answer
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(records.notifications)) == 1


def test_a_request_stored_with_its_number_as_written_is_still_known_by_its_repeat(
    notifier: Notifier, engine: Engine
) -> None:
    messy = notifier.request("+7 923 456-78-23")
    first = notifier.service.accept(notifier.client_key, messy)
    # as a request taken before numbers were compared as numbers was stored
    with engine.begin() as connection:
        connection.execute(
            update(records.notifications).values(request_hash=messy.fingerprint_with(messy.phone))
        )

    again = notifier.service.accept(notifier.client_key, notifier.request("+7 923 456-78-23"))

    assert again.repeated and again.answer == first.answer


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"ttl": timedelta(seconds=5)}, RequestProblem.TTL_OUT_OF_RANGE),
        ({"ttl": timedelta(hours=25)}, RequestProblem.TTL_OUT_OF_RANGE),
        ({"action_at": "4 days ago"}, RequestProblem.STALE_ACTION),
        ({"params": {}}, RequestProblem.MISSING_PARAMS),
        ({"params": {"order": "1", "x": "2"}}, RequestProblem.UNKNOWN_PARAMS),
    ],
)
def test_bad_requests_are_refused_with_their_problem(
    notifier: Notifier, overrides: dict[str, object], problem: RequestProblem
) -> None:
    if overrides.get("action_at") == "4 days ago":
        overrides = {"action_at": notifier.clock.now() - timedelta(days=4)}
    with pytest.raises(NotificationRequestError) as refused:
        notifier.service.accept(
            notifier.client_key, notifier.request(VERIFIED_FRESH, "r-1", **overrides)
        )
    assert refused.value.problem is problem


def test_a_garbage_phone_or_an_unknown_template_is_refused(notifier: Notifier) -> None:
    with pytest.raises(InvalidNumberError):
        notifier.service.accept(notifier.client_key, notifier.request("garbage"))
    with pytest.raises(TemplateProblemError):
        notifier.service.accept(
            notifier.client_key, notifier.request(VERIFIED_FRESH, template_id="tpl_none")
        )


def test_billing_equals_the_delivered_notifications_in_the_api_and_the_cli(
    notifier: Notifier,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    social = notifier.notify(VERIFIED_FRESH, "b-1")
    by_sms = notifier.notify(RECYCLED, "b-2")
    never = notifier.notify(RECYCLED, "b-3")
    now = notifier.clock.now()
    assert notifier.service.delivered(social, now)
    assert notifier.service.sms_delivered(by_sms, now)
    assert notifier.service.sms_failed(never, "unknown_subscriber", now)
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", engine.url.render_as_string(hide_password=False))

    assert main(["billing", "--client", "bank", "--month", now.strftime("%Y-%m")]) == 0

    report = json.loads(capsys.readouterr().out)
    assert report["delivered"] == 2
    assert report["total"] == "4.9500"
    assert [(line["channel"], line["price"], line["delivered"]) for line in report["lines"]] == [
        ("sms", "4.5000", 1),
        ("vk", "0.4500", 1),
    ]
    assert main(["billing", "--client", "nobody", "--month", "2026-06"]) == 2


def test_two_sweepers_at_once_send_each_fallback_once(notifier: Notifier) -> None:
    sent = [
        notifier.notify(VERIFIED_FRESH, f"s-{number}", ttl=timedelta(seconds=30))
        for number in range(40)
    ]
    notifier.clock.advance(timedelta(minutes=1))

    def sweep_until_done() -> None:
        while notifier.service.sweep(limit=7):
            pass

    sweepers = [threading.Thread(target=sweep_until_done) for _ in range(2)]
    for sweeper in sweepers:
        sweeper.start()
    for sweeper in sweepers:
        sweeper.join()

    assert sorted(row[0] for row in notifier.sms.sent) == sorted(sent)
    assert {notifier.status(notification) for notification in sent} == {"sms_sent"}


def test_a_denial_reaches_the_next_batch_run_through_the_verifications_input(
    notifier: Notifier, engine: Engine, scored: Path, tmp_path: Path
) -> None:
    asked = notifier.notify(SUSPICIOUS, "v-1", sensitive=True)
    notifier.service.answered(asked, confirmed=False, at=notifier.clock.now())
    history = tmp_path / "history"
    shutil.copytree(scored.parent / "events", history)

    export_verifications(engine, history)
    rescored = tmp_path / "rescored"
    score(ScoreRequest(history, rescored, as_of=AS_OF + timedelta(days=2)))

    scores = pq.read_table(rescored / "scores.parquet").to_pylist()
    denied = [(row["status"], row["reasons"]) for row in scores if row["phone"] == SUSPICIOUS]
    assert denied == [("owner_changed", ["OWNER_DENIED"])]
