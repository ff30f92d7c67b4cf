"""An SMS whose gateway could not be asked (a time-out: it may hold the SMS; or no connection)
is given back to the dispatcher, which sends it by SMS again and by nothing else, whichever
path chose SMS: the policy, a No, a Yes whose message the network refused. Its delivery report
counts, it is told once and billed once, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from delivery import records
from delivery.channels.ports import ChannelUnavailableError, SendResult
from ownership.channels import Channel
from ownership.live import LiveAnswers
from ownership.notifications import Fallback
from tests.api.service import RECYCLED, SUSPICIOUS, VERIFIED_FRESH
from tests.delivery.conftest import Notifier


def answer_lost(call: Callable[[Any], SendResult]) -> Callable[[Any], SendResult]:
    """The gateway takes it; its answer never comes."""

    def taken(item: Any) -> SendResult:
        call(item)
        raise ChannelUnavailableError("no complete answer within 5 s")

    return taken


def cannot_connect(item: Any) -> SendResult:
    raise ChannelUnavailableError("cannot connect", never_sent=True)


def told(notifier: Notifier, notification_id: str) -> list[str]:
    found = notifier.service.notification(notifier.client_key, notification_id)
    assert found is not None
    return [step["status"] for step in found["history"]]


def billed(notifier: Notifier) -> list[str]:
    with notifier.service.engine.connect() as connection:
        return list(connection.scalars(select(records.ledger.c.notification_id)))


@pytest.mark.parametrize("answer", ["Yes, its message refused", "No"])
def test_an_answers_sms_whose_gateway_timed_out_is_delivered_reported_and_billed_once(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch, answer: str
) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True)  # OK asks
    notifier.ok.refuse.add(SUSPICIOUS)
    with monkeypatch.context() as sms_answer_lost:
        sms_answer_lost.setattr(notifier.sms, "send", answer_lost(notifier.sms.send))
        notifier.service.answered(asked, answer == "No", notifier.clock.now(), by=Channel.OK)
    notifier.service.dispatch_due()  # sends it again: the gateway takes one SMS a notification
    notifier.clock.advance(timedelta(seconds=30))

    assert notifier.service.sms_delivered(asked, notifier.clock.now(), by=Channel.SMS)
    notifier.clock.advance(timedelta(hours=3))
    notifier.service.sweep()
    assert told(notifier, asked)[-2:] == ["sms_sent", "sms_delivered"]
    assert told(notifier, asked).count("sms_sent") == 1
    assert billed(notifier) == [asked]


def test_a_nos_sms_goes_once_its_gateway_is_back_not_at_the_ttl(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True)
    with monkeypatch.context() as sms_down:
        sms_down.setattr(notifier.sms, "send", cannot_connect)
        notifier.service.answered(asked, False, notifier.clock.now(), by=Channel.OK)

    notifier.clock.advance(timedelta(minutes=1))
    notifier.service.dispatch_due()

    assert [row[0] for row in notifier.sms.sent] == [asked]


def test_an_sms_its_gateway_may_hold_is_not_sent_to_a_network_when_the_number_is_fine_again(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    accepted = notifier.service.accept(notifier.client_key, notifier.request(VERIFIED_FRESH))
    key, denied_at = int(VERIFIED_FRESH[1:]), notifier.clock.now().astimezone(UTC)
    notifier.service.overlay.learn(key, LiveAnswers(denied_at=denied_at.replace(tzinfo=None)))
    with monkeypatch.context() as sms_answer_lost:  # owner_changed: by SMS, which times out
        sms_answer_lost.setattr(notifier.sms, "send", answer_lost(notifier.sms.send))
        notifier.service.dispatch_due()
    notifier.clock.advance(timedelta(seconds=5))
    confirmed_at = notifier.clock.now().astimezone(UTC).replace(tzinfo=None)
    notifier.service.overlay.learn(key, LiveAnswers(confirmed_at=confirmed_at))  # a Yes

    notifier.service.dispatch_due()

    assert notifier.vk.sent == []
    assert {row[0] for row in notifier.sms.sent} == {accepted.answer["id"]}


def test_a_yes_given_after_the_ttl_sends_no_message_to_the_network(notifier: Notifier) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True)
    notifier.clock.advance(timedelta(hours=1, seconds=30))  # past the TTL, before a sweep

    notifier.service.answered(asked, True, notifier.clock.now(), by=Channel.OK)
    notifier.service.sweep()

    assert notifier.ok.sent == []
    assert [row[0] for row in notifier.sms.sent] == [asked]


def test_a_yes_given_before_the_ttl_but_told_after_it_sends_no_message_to_the_network(
    notifier: Notifier,
) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True)
    given_at = notifier.clock.now() + timedelta(minutes=59)  # before the TTL
    notifier.clock.advance(timedelta(hours=3))  # told hours later, before any sweep

    notifier.service.answered(asked, True, given_at, by=Channel.OK)
    notifier.service.sweep()

    assert notifier.ok.sent == []  # it would show hours after its TTL
    assert [row[0] for row in notifier.sms.sent] == [asked]


@pytest.mark.parametrize("fallback", [Fallback.SMS, Fallback.NONE])
def test_an_sms_given_back_and_still_waiting_at_the_ttl_is_sent_once_and_told_once(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch, fallback: Fallback
) -> None:
    with monkeypatch.context() as sms_down:  # the policy's SMS, for a recycled number
        sms_down.setattr(notifier.sms, "send", cannot_connect)
        sent = notifier.notify(RECYCLED, fallback=fallback)
    notifier.clock.advance(timedelta(hours=1, seconds=30))  # the TTL ran out meanwhile

    notifier.service.sweep()

    assert [row[0] for row in notifier.sms.sent] == [sent]
    assert told(notifier, sent) == ["accepted", "sms_sent"]
