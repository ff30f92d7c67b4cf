"""A notification's own SMS validity: its SMS tells the gateway until when it is worth delivering
(the hand-over plus the validity; a code's no later than the TTL), and the service hands it
over no later than the validity past the TTL. (With the SMS simulator, a phone back only after
the validity never gets it: tests/delivery/test_end_to_end.py.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from delivery.channels.ports import ChannelUnavailableError, SendResult, SmsMessage
from delivery.notify_core import SMS_VALIDITY_RAN_OUT
from ownership.codes import ReverifyMethod
from tests.api.service import RECYCLED, SUSPICIOUS, VERIFIED_FRESH
from tests.delivery.conftest import Notifier
from tests.delivery.test_notify_edges import history, told_everything

TTL = timedelta(minutes=10)
FIVE_MINUTES = timedelta(minutes=5)


def down(sms: SmsMessage) -> SendResult:
    raise ChannelUnavailableError("the SMS gateway is down")


def error_of_its_last_step(notifier: Notifier, notification_id: str) -> object:
    found = notifier.service.notification(notifier.client_key, notification_id)
    assert found is not None
    return found["history"][-1]["detail"].get("error")


def test_the_sms_tells_the_gateway_its_validity_from_the_hand_over(notifier: Notifier) -> None:
    handed_over = notifier.clock.now()

    sent = notifier.notify(RECYCLED, sms_validity=FIVE_MINUTES)  # the policy's SMS, at once

    assert [(sms.notification_id, sms.valid_until) for sms in notifier.sms.messages] == [
        (sent, handed_over + FIVE_MINUTES)
    ]


def test_an_sms_without_a_validity_of_its_own_gets_the_services(notifier: Notifier) -> None:
    handed_over = notifier.clock.now()

    notifier.notify(RECYCLED)

    assert notifier.sms.messages[0].valid_until == handed_over + notifier.service.sms_validity


def test_a_validity_longer_than_the_services_own_gets_the_services(notifier: Notifier) -> None:
    handed_over = notifier.clock.now()

    notifier.notify(RECYCLED, sms_validity=timedelta(days=7))

    assert notifier.sms.messages[0].valid_until == handed_over + notifier.service.sms_validity


def test_the_fallback_sms_counts_its_validity_from_its_hand_over_at_the_ttl(
    notifier: Notifier,
) -> None:
    sent = notifier.notify(VERIFIED_FRESH, ttl=TTL, sms_validity=FIVE_MINUTES)  # in VK
    notifier.clock.advance(TTL)

    notifier.service.sweep()

    assert [(sms.notification_id, sms.valid_until) for sms in notifier.sms.messages] == [
        (sent, notifier.clock.now() + FIVE_MINUTES)
    ]


def test_a_codes_sms_is_worth_no_more_than_the_ttl(notifier: Notifier) -> None:
    asked_at = notifier.clock.now()

    notifier.notify(
        SUSPICIOUS,
        ttl=TTL,
        sensitive=True,
        reverify=ReverifyMethod.SMS_CODE,
        sms_validity=timedelta(hours=2),
    )

    assert [sms.valid_until for sms in notifier.sms.codes] == [asked_at + TTL]


def test_a_codes_sms_is_worth_no_more_than_its_validity_either(notifier: Notifier) -> None:
    asked_at = notifier.clock.now()

    notifier.notify(
        SUSPICIOUS,
        ttl=TTL,
        sensitive=True,
        reverify=ReverifyMethod.SMS_CODE,
        sms_validity=timedelta(minutes=1),
    )

    assert [sms.valid_until for sms in notifier.sms.codes] == [asked_at + timedelta(minutes=1)]


def test_the_sweeper_fails_an_sms_not_handed_over_within_a_short_validity(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = notifier.notify(VERIFIED_FRESH, ttl=TTL, sms_validity=FIVE_MINUTES)
    monkeypatch.setattr(notifier.sms, "send", down)
    notifier.clock.advance(TTL)
    notifier.service.sweep()  # the gateway is down: it waits
    notifier.clock.advance(FIVE_MINUTES)

    notifier.service.sweep()
    monkeypatch.undo()  # the gateway is back, five minutes late: too late for this one
    notifier.service.sweep()

    assert notifier.status(sent) == "sms_failed"
    assert error_of_its_last_step(notifier, sent) == SMS_VALIDITY_RAN_OUT
    assert notifier.sms.sent == []
    assert told_everything(notifier, sent)


def test_the_sweeper_hands_over_an_sms_whose_short_validity_still_runs(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = notifier.notify(VERIFIED_FRESH, ttl=TTL, sms_validity=FIVE_MINUTES)
    monkeypatch.setattr(notifier.sms, "send", down)
    notifier.clock.advance(TTL)
    notifier.service.sweep()
    notifier.clock.advance(FIVE_MINUTES - timedelta(seconds=1))
    monkeypatch.undo()

    notifier.service.sweep()

    assert notifier.status(sent) == "sms_sent"
    assert [row[0] for row in notifier.sms.sent] == [sent]


def test_a_no_after_a_short_validity_sends_no_sms(notifier: Notifier) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True, ttl=TTL, sms_validity=FIVE_MINUTES)
    notifier.clock.advance(TTL + FIVE_MINUTES)

    notifier.service.answered(asked, False, notifier.clock.now())

    assert notifier.sms.sent == []
    assert history(notifier, asked)[-1] == "sms_failed"
    assert error_of_its_last_step(notifier, asked) == SMS_VALIDITY_RAN_OUT
