"""What a gateway's report may say, on SQLite and PostgreSQL: a delivery is never dated before
its notification was accepted (so never billed in a month before it existed), an answer
names the account that gave it, so that the batch reads a Yes as that account's proof only, a
report about another message than the one carrying the notification moves and bills nothing,
and neither does an SMS delivery dated after the SMS's validity."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from delivery import records
from delivery.channels.ports import Sent
from delivery.events import (
    MessageDelivered,
    MessageRead,
    ReverificationAnswer,
    ReverificationAnswered,
    SmsDelivered,
)
from ownership.channels import Channel
from tests.api.service import RECYCLED, SUSPICIOUS, VERIFIED_FRESH
from tests.delivery.conftest import Notifier

# a gateway whose clock is two months behind, or a report replayed from long ago
MONTHS_EARLY = timedelta(days=60)


def billed(engine: Engine) -> list[tuple[str, str]]:
    """(month, delivered_at as ISO text) of every ledger entry."""
    with engine.connect() as connection:
        rows = connection.execute(select(records.ledger.c.month, records.ledger.c.delivered_at))
        return [(row.month, row.delivered_at.isoformat()) for row in rows]


def delivered_at(notifier: Notifier, notification_id: str, status: str) -> str:
    found = notifier.service.notification(notifier.client_key, notification_id)
    assert found is not None
    at: datetime = next(step["at"] for step in found["history"] if step["status"] == status)
    return at.isoformat()


def test_a_delivery_reported_before_the_notification_existed_is_billed_from_its_acceptance(
    notifier: Notifier, engine: Engine
) -> None:
    accepted_at = notifier.clock.now()
    sent = notifier.notify(VERIFIED_FRESH)

    assert notifier.service.delivered(sent, accepted_at - MONTHS_EARLY, Channel.VK)

    assert billed(engine) == [(f"{accepted_at:%Y-%m}", accepted_at.isoformat())]
    assert delivered_at(notifier, sent, "delivered") == accepted_at.isoformat()


def test_an_sms_delivery_reported_before_the_notification_existed_is_billed_from_its_acceptance(
    notifier: Notifier, engine: Engine
) -> None:
    accepted_at = notifier.clock.now()
    sent = notifier.notify(RECYCLED)  # owner_changed: by SMS at once

    assert notifier.service.sms_delivered(sent, accepted_at - MONTHS_EARLY)

    assert billed(engine) == [(f"{accepted_at:%Y-%m}", accepted_at.isoformat())]


def test_a_delivery_dated_back_by_its_report_goes_no_further_back_than_the_acceptance(
    notifier: Notifier, engine: Engine
) -> None:
    accepted_at = notifier.clock.now()
    sent = notifier.notify(VERIFIED_FRESH)
    notifier.clock.advance(timedelta(minutes=5))
    notifier.service.read(sent, notifier.clock.now())  # the read came first: delivered now

    notifier.service.delivered(sent, accepted_at - MONTHS_EARLY, Channel.VK)

    assert billed(engine) == [(f"{accepted_at:%Y-%m}", accepted_at.isoformat())]


def test_an_answer_keeps_the_account_the_gateway_says_gave_it(
    notifier: Notifier, engine: Engine
) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True)  # asked in OK, where it is active
    assert [row[0] for row in notifier.ok.asked] == [asked]

    notifier.service.handle(
        ReverificationAnswered(
            asked, "ok-q", Channel.OK, notifier.clock.now(), ReverificationAnswer.CONFIRMED, "ok-3"
        )
    )

    with engine.connect() as connection:
        kept = connection.execute(
            select(records.verifications.c.result, records.verifications.c.account_id)
        ).all()
    assert [tuple(row) for row in kept] == [("confirmed", "ok-3")]


def carrying(engine: Engine, notification_id: str) -> str:
    """The id of the channel's message now carrying the notification, as the store keeps it."""
    with engine.connect() as connection:
        row = records.fetch(connection, notification_id)
    assert row is not None and row["provider_id"]
    return str(row["provider_id"])


def test_a_delivery_reported_of_a_message_the_notification_never_went_as_moves_nothing(
    notifier: Notifier, engine: Engine
) -> None:
    sent = notifier.notify(VERIFIED_FRESH)
    now = notifier.clock.now()

    notifier.service.handle(MessageDelivered(sent, "vk-never-sent", Channel.VK, now))

    assert notifier.status(sent) == "sent"
    assert billed(engine) == []
    notifier.service.handle(MessageDelivered(sent, carrying(engine, sent), Channel.VK, now))
    assert notifier.status(sent) == "delivered"
    assert len(billed(engine)) == 1


@pytest.mark.parametrize("report", [MessageDelivered, MessageRead])
def test_a_report_refused_is_said_once_in_the_log(
    notifier: Notifier, caplog: pytest.LogCaptureFixture, report: type[MessageDelivered]
) -> None:
    sent = notifier.notify(VERIFIED_FRESH)

    with caplog.at_level(logging.WARNING, logger="delivery.following"):
        notifier.service.handle(report(sent, "vk-never-sent", Channel.VK, notifier.clock.now()))

    assert [record.getMessage() for record in caplog.records].count(
        f"a report on {sent} named the message 'vk-never-sent', which is not the one carrying "
        "it: ignored"
    ) == 1


def test_a_read_reported_of_the_prompt_a_yes_answered_does_not_deliver_the_message(
    notifier: Notifier, engine: Engine
) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True)  # asked in OK, where it is active
    prompt = notifier.ok.issued[asked, Sent.PROMPT][0]
    now = notifier.clock.now()
    yes = ReverificationAnswer.CONFIRMED
    notifier.service.handle(ReverificationAnswered(asked, prompt, Channel.OK, now, yes, "ok-3"))
    assert notifier.status(asked) == "sent"

    notifier.service.handle(MessageRead(asked, prompt, Channel.OK, now))

    assert notifier.status(asked) == "sent"
    assert billed(engine) == []


def test_an_sms_delivery_dated_after_its_validity_moves_and_bills_nothing(
    notifier: Notifier, engine: Engine
) -> None:
    sent = notifier.notify(RECYCLED)  # owner_changed: by SMS at once
    valid_until = notifier.sms.messages[0].valid_until
    assert valid_until is not None
    provider_id = carrying(engine, sent)

    late = SmsDelivered(sent, provider_id, Channel.SMS, valid_until + timedelta(seconds=1))
    notifier.service.handle(late)

    assert notifier.status(sent) == "sms_sent"
    assert billed(engine) == []
    notifier.service.handle(SmsDelivered(sent, provider_id, Channel.SMS, valid_until))
    assert notifier.status(sent) == "sms_delivered"
