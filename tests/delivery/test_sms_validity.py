"""A notification's own SMS validity: its SMS tells the gateway until when it is worth delivering
(its first claim for SMS plus the validity, the same at every hand-over; a code's until the
TTL ends), and the service hands it over no later than that (before the claim, no later than
the service's validity past the TTL). (With the SMS simulator, a phone back only after the
validity never gets it, and a report comes as late as the validity allows:
tests/delivery/test_end_to_end.py.)"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from delivery import records
from delivery.channels.http import HttpSmsGateway
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


def test_the_sms_tells_the_gateway_its_validity_from_its_claim(notifier: Notifier) -> None:
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


@pytest.mark.parametrize("sms_validity", [timedelta(hours=2), FIVE_MINUTES])
def test_a_codes_sms_is_worth_delivering_until_the_ttl_ends(
    notifier: Notifier, sms_validity: timedelta
) -> None:
    asked_at = notifier.clock.now()

    notifier.notify(
        SUSPICIOUS,
        ttl=TTL,
        sensitive=True,
        reverify=ReverifyMethod.SMS_CODE,
        sms_validity=sms_validity,
    )

    assert [sms.valid_until for sms in notifier.sms.codes] == [asked_at + TTL]


def test_the_sweeper_hands_over_no_sms_past_a_short_validity_and_ends_it_unreported(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = notifier.notify(VERIFIED_FRESH, ttl=TTL, sms_validity=FIVE_MINUTES)
    monkeypatch.setattr(notifier.sms, "send", down)
    notifier.clock.advance(TTL)
    notifier.service.sweep()  # the gateway is down (it may hold the SMS all the same): it waits
    notifier.clock.advance(FIVE_MINUTES)

    notifier.service.sweep()
    monkeypatch.undo()  # the gateway is back, five minutes late: too late for this one
    notifier.service.sweep()
    notifier.clock.advance(notifier.service.sms_report_timeout)  # and no report came
    notifier.service.sweep()

    assert notifier.status(sent) == "sms_failed"
    assert error_of_its_last_step(notifier, sent) == "no delivery report"
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


def test_a_no_after_the_services_validity_past_the_ttl_sends_no_sms(notifier: Notifier) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True, ttl=TTL, sms_validity=FIVE_MINUTES)
    notifier.clock.advance(TTL + notifier.service.sms_validity)

    notifier.service.answered(asked, False, notifier.clock.now())

    assert notifier.sms.sent == []
    assert history(notifier, asked)[-1] == "sms_failed"
    assert error_of_its_last_step(notifier, asked) == SMS_VALIDITY_RAN_OUT


def test_a_no_past_the_ttl_sends_an_sms_worth_its_own_validity_from_then(
    notifier: Notifier,
) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True, ttl=TTL, sms_validity=FIVE_MINUTES)
    notifier.clock.advance(TTL + FIVE_MINUTES)  # the prompt's answer reported late

    notifier.service.answered(asked, False, notifier.clock.now())

    assert [(sms.notification_id, sms.valid_until) for sms in notifier.sms.messages] == [
        (asked, notifier.clock.now() + FIVE_MINUTES)
    ]


def vk_down(provider_id: str) -> bool:
    raise ChannelUnavailableError("VK cannot be asked")


def test_a_short_validity_outlasts_the_wait_for_a_withdrawal(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = notifier.notify(VERIFIED_FRESH, ttl=TTL, sms_validity=FIVE_MINUTES)  # in VK
    monkeypatch.setattr(notifier.vk, "withdraw", vk_down)
    notifier.clock.advance(TTL)
    notifier.service.sweep()  # VK cannot be asked: it waits
    notifier.clock.advance(notifier.service.withdraw_timeout)

    notifier.service.sweep()  # it waited long enough: by SMS, without the withdrawal

    assert notifier.status(sent) == "sms_sent"
    assert [(sms.notification_id, sms.valid_until) for sms in notifier.sms.messages] == [
        (sent, notifier.clock.now() + FIVE_MINUTES)
    ]


def test_a_long_sweep_hands_over_no_sms_whose_validity_ran_out_meanwhile(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    waiting = [
        notifier.notify(VERIFIED_FRESH, f"r-{i}", ttl=TTL, sms_validity=FIVE_MINUTES)
        for i in range(8)
    ]
    handed: list[tuple[object, object]] = []
    take = notifier.sms.send

    def a_minute_each(sms: SmsMessage) -> SendResult:
        handed.append((notifier.clock.now(), sms.valid_until))
        notifier.clock.advance(timedelta(minutes=1))  # a slow gateway
        return take(sms)

    monkeypatch.setattr(notifier.sms, "send", a_minute_each)
    notifier.clock.advance(TTL)

    notifier.service.sweep()

    assert len(handed) == 5  # those handed over within the five minutes from their claim
    assert all(at < until for at, until in handed)  # type: ignore[operator]
    late = [sent for sent in waiting if notifier.status(sent) == "sms_failed"]
    assert len(late) == 3
    assert all(error_of_its_last_step(notifier, sent) == SMS_VALIDITY_RAN_OUT for sent in late)
    assert all(told_everything(notifier, sent) for sent in late)


def test_an_sms_handed_over_again_after_a_time_out_tells_the_same_valid_until(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    tried: list[SmsMessage] = []

    def timed_out(sms: SmsMessage) -> SendResult:
        tried.append(sms)
        raise ChannelUnavailableError("no answer within the deadline")

    monkeypatch.setattr(notifier.sms, "send", timed_out)
    sent = notifier.notify(RECYCLED, sms_validity=FIVE_MINUTES)  # the policy's SMS
    monkeypatch.undo()

    notifier.next_round()  # the dispatcher's next try, later

    assert notifier.status(sent) == "sms_sent"
    assert [sms.valid_until for sms in tried + notifier.sms.messages] == [
        tried[0].valid_until,
        tried[0].valid_until,
    ]


def refused_connection(sms: SmsMessage) -> SendResult:
    raise ChannelUnavailableError("connection refused", never_sent=True)


@pytest.mark.parametrize(
    ("phone", "ttl", "down_for"),
    [
        (RECYCLED, timedelta(hours=24), timedelta(hours=11)),  # the policy's SMS: dispatcher
        (VERIFIED_FRESH, timedelta(hours=1), timedelta(hours=5)),  # the TTL's: the sweeper
    ],
    ids=["dispatcher", "sweeper"],
)
def test_a_gateway_never_reached_fixes_no_deadline_for_the_sms(
    notifier: Notifier,
    monkeypatch: pytest.MonkeyPatch,
    phone: str,
    ttl: timedelta,
    down_for: timedelta,
) -> None:
    # a deadline is what the gateway was told: a claim it never saw leaves the next its own
    monkeypatch.setattr(notifier.sms, "send", refused_connection)
    sent = notifier.notify(phone, ttl=ttl)
    back = notifier.clock.now() + down_for
    while notifier.clock.now() < back:
        notifier.clock.advance(timedelta(minutes=10))
        notifier.service.dispatch_due()
        notifier.service.sweep()
    monkeypatch.undo()

    notifier.next_round()
    notifier.service.sweep()

    assert notifier.status(sent) == "sms_sent"
    (handed_over,) = notifier.sms.messages
    assert handed_over.valid_until == notifier.clock.now() + notifier.service.sms_validity


def test_a_deadline_a_timed_out_try_may_have_told_stays_after_a_refused_one(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the second try, at the same moment, computes the same deadline: it did not fix it
    tried: list[SmsMessage] = []
    answers = iter([False, True])  # timed out (the gateway may hold it), then refused

    def unavailable(sms: SmsMessage) -> SendResult:
        tried.append(sms)
        raise ChannelUnavailableError("the SMS gateway is down", never_sent=next(answers))

    notifier.notify(VERIFIED_FRESH, ttl=TTL)
    notifier.clock.advance(TTL)
    monkeypatch.setattr(notifier.sms, "send", unavailable)
    notifier.service.sweep()
    notifier.service.sweep()
    monkeypatch.undo()
    notifier.clock.advance(timedelta(minutes=3))

    notifier.service.sweep()

    assert [sms.valid_until for sms in notifier.sms.messages] == [tried[0].valid_until]


def test_a_claim_the_sweeper_took_over_is_not_given_back_by_the_dispatcher(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the dispatcher's call outlives the claim's time-out: the sweeper sends the SMS meanwhile
    take = notifier.sms.send
    calls: list[SmsMessage] = []

    def stalled_then_refused(sms: SmsMessage) -> SendResult:
        calls.append(sms)
        if len(calls) == 1:  # the dispatcher's
            notifier.clock.advance(notifier.service.claim_timeout + timedelta(seconds=1))
            notifier.service.sweep()  # takes the claim over, and the gateway takes the SMS
            raise ChannelUnavailableError("cannot connect", never_sent=True)
        return take(sms)

    monkeypatch.setattr(notifier.sms, "send", stalled_then_refused)
    sent = notifier.notify(RECYCLED, ttl=timedelta(hours=24))
    monkeypatch.undo()

    notifier.next_round()

    assert notifier.status(sent) == "sms_sent"
    assert [sms.valid_until for sms in notifier.sms.messages] == [calls[0].valid_until]


def test_a_claim_another_sweep_took_over_is_not_given_back_by_the_first(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the first sweep's call outlives the claim's time-out: another sweep sends the SMS
    take = notifier.sms.send
    calls: list[SmsMessage] = []

    def stalled_then_refused(sms: SmsMessage) -> SendResult:
        calls.append(sms)
        if len(calls) == 1:  # the first sweep's
            notifier.clock.advance(notifier.service.claim_timeout + timedelta(seconds=1))
            notifier.service.sweep()  # takes the claim over, and the gateway takes the SMS
            raise ChannelUnavailableError("cannot connect", never_sent=True)
        return take(sms)

    sent = notifier.notify(VERIFIED_FRESH, ttl=TTL)
    notifier.clock.advance(TTL)
    monkeypatch.setattr(notifier.sms, "send", stalled_then_refused)
    notifier.service.sweep()
    monkeypatch.undo()
    notifier.clock.advance(timedelta(minutes=3))

    notifier.service.sweep()

    assert notifier.status(sent) == "sms_sent"
    assert [sms.valid_until for sms in notifier.sms.messages] == [calls[0].valid_until]


def test_a_claim_another_sweep_handed_over_in_time_is_not_failed_by_the_first(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    # two fall back to SMS in one sweep; its first call outlives the claim's time-out, the
    # second sweep hands both over in time, and the first finds the other's deadline past
    first = notifier.notify(VERIFIED_FRESH, "r-1", ttl=TTL, sms_validity=FIVE_MINUTES)
    notifier.clock.advance(timedelta(seconds=1))
    second = notifier.notify(VERIFIED_FRESH, "r-2", ttl=TTL, sms_validity=FIVE_MINUTES)
    notifier.clock.advance(TTL + timedelta(seconds=1))
    take = notifier.sms.send
    calls: list[str] = []

    def stalls_on_the_first(sms: SmsMessage) -> SendResult:
        calls.append(sms.notification_id)
        if len(calls) == 1:
            notifier.clock.advance(notifier.service.claim_timeout + timedelta(seconds=1))
            notifier.service.sweep()  # takes both claims over: the gateway takes both SMS
            notifier.clock.advance(FIVE_MINUTES)  # and the first sweep's call goes on
        return take(sms)

    monkeypatch.setattr(notifier.sms, "send", stalls_on_the_first)
    notifier.service.sweep()
    monkeypatch.undo()

    (other,) = {first, second} - {calls[0]}
    assert notifier.status(other) == "sms_sent"
    told = [sms.valid_until for sms in notifier.sms.messages if sms.notification_id == other]
    assert told[-1] is not None
    assert notifier.service.sms_delivered(other, told[-1])  # as late as the gateway may


def test_an_sms_handed_over_after_a_crash_tells_the_valid_until_of_its_claim(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = notifier.notify(VERIFIED_FRESH, ttl=TTL, sms_validity=FIVE_MINUTES)  # in VK
    notifier.clock.advance(TTL)
    claimed_at = notifier.clock.now()

    def crash(sms: SmsMessage) -> SendResult:
        raise RuntimeError("the worker died between the claim and the hand-over")

    monkeypatch.setattr(notifier.sms, "send", crash)
    with pytest.raises(RuntimeError):
        notifier.service.sweep()  # claimed for SMS, never handed over
    monkeypatch.undo()
    notifier.clock.advance(notifier.service.claim_timeout)

    notifier.service.sweep()  # the claim a crash left, sent

    assert notifier.status(sent) == "sms_sent"
    assert [sms.valid_until for sms in notifier.sms.messages] == [claimed_at + FIVE_MINUTES]


def test_a_gateway_that_holds_a_key_to_its_first_body_takes_the_retry(
    notifier: Notifier,
) -> None:
    first_bodies: dict[str, bytes] = {}
    answers = iter([httpx.Response(503)])  # it took the SMS, but its answer was lost

    def gateway(request: httpx.Request) -> httpx.Response:
        key = request.headers["Idempotency-Key"]
        if first_bodies.setdefault(key, request.content) != request.content:
            # as the Idempotency-Key header's draft has it: another body under the same key
            return httpx.Response(422, json={"title": "the key was used with another body"})
        return next(answers, httpx.Response(200, json={"provider_id": "sms-1"}))

    notifier.service.sms = HttpSmsGateway(
        "https://sms.example/v1", "token", transport=httpx.MockTransport(gateway)
    )
    sent = notifier.notify(RECYCLED, sms_validity=FIVE_MINUTES)

    notifier.next_round()  # the dispatcher sends it again

    found = notifier.service.notification(notifier.client_key, sent)
    assert found is not None
    assert (found["status"], found["provider_id"]) == ("sms_sent", "sms-1")


def test_an_sms_waits_for_its_report_until_the_time_out_past_its_valid_until(
    notifier: Notifier,
) -> None:
    sent = notifier.notify(RECYCLED, sms_validity=FIVE_MINUTES)  # handed over; no report comes
    notifier.clock.advance(
        FIVE_MINUTES + notifier.service.sms_report_timeout - timedelta(seconds=1)
    )
    notifier.service.sweep()
    waited = notifier.status(sent)
    notifier.clock.advance(timedelta(seconds=1))

    notifier.service.sweep()

    assert waited == "sms_sent"
    assert notifier.status(sent) == "sms_failed"
    assert error_of_its_last_step(notifier, sent) == "no delivery report"


def test_an_sms_claimed_before_there_were_deadlines_waits_the_time_out_from_its_last_move(
    notifier: Notifier,
) -> None:
    sent = notifier.notify(RECYCLED)
    with notifier.service.engine.begin() as connection:  # as the release before left it
        connection.execute(
            update(records.notifications)
            .where(records.notifications.c.id == sent)
            .values(sms_valid_until=None)
        )
    notifier.clock.advance(notifier.service.sms_report_timeout)

    notifier.service.sweep()

    assert notifier.status(sent) == "sms_failed"
    assert error_of_its_last_step(notifier, sent) == "no delivery report"
