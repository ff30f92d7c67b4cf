"""An SMS its gateway may hold: a hand-over whose answer was lost (a time-out, a 5xx after
sending) may have been taken, and delivered up to its `valid_until`, however long the gateway
stays down after. Once its validity runs out it is not handed over again, but its report is
awaited, as a confirmed hand-over's is, until the report time-out past its `valid_until`:
reported delivered meanwhile, it is delivered and billed once; else it ends `sms_failed`, "no
delivery report". One whose every hand-over surely never reached the gateway (the connection
refused) ends at its validity, as before. On SQLite and PostgreSQL, whichever path chose SMS."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from delivery.channels.ports import ChannelUnavailableError, SendResult, SmsMessage
from delivery.notify_core import SMS_VALIDITY_RAN_OUT
from ownership.channels import Channel
from tests.api.service import RECYCLED, VERIFIED_FRESH
from tests.delivery.conftest import Notifier
from tests.delivery.test_notify_edges import ProcessDied, history, told_everything
from tests.delivery.test_sms_given_back import billed
from tests.delivery.test_sms_validity import error_of_its_last_step

TTL = timedelta(minutes=10)
VALIDITY = timedelta(minutes=5)
A_MINUTE = timedelta(minutes=1)


def timed_out(sms: SmsMessage) -> SendResult:
    raise ChannelUnavailableError("no complete answer within 5 s")


def refused_connection(sms: SmsMessage) -> SendResult:
    raise ChannelUnavailableError("connection refused", never_sent=True)


Down = Callable[[SmsMessage], SendResult]


class Gateway:
    """The SMS gateway as the notifier's fake stands for it: it takes the first hand-over and
    its answer is lost, then stays down (each try answered by `down`), and it tells the
    `valid_until` of what it took."""

    def __init__(self, notifier: Notifier, monkeypatch: pytest.MonkeyPatch, down: Down) -> None:
        self.taken: list[SmsMessage] = []
        self.down = down
        monkeypatch.setattr(notifier.sms, "send", self.send)

    def send(self, sms: SmsMessage) -> SendResult:
        if not self.taken:
            self.taken.append(sms)
            raise ChannelUnavailableError("502 Bad Gateway, after it took the SMS")
        return self.down(sms)

    @property
    def valid_until(self) -> datetime:
        return self.taken[0].valid_until  # type: ignore[return-value]


def by_the_policy(notifier: Notifier, monkeypatch: pytest.MonkeyPatch, down: Down) -> Gateway:
    gateway = Gateway(notifier, monkeypatch, down)  # the dispatcher's hand-over at once
    notifier.notify(RECYCLED, ttl=timedelta(hours=24), sms_validity=VALIDITY)
    return gateway


def by_the_ttls_fallback(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch, down: Down
) -> Gateway:
    notifier.notify(VERIFIED_FRESH, ttl=TTL, sms_validity=VALIDITY)  # in VK
    notifier.clock.advance(TTL)
    gateway = Gateway(notifier, monkeypatch, down)
    notifier.service.sweep()  # the sweeper's hand-over at the TTL
    return gateway


def by_a_claim_a_crash_left(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch, down: Down
) -> Gateway:
    taken: list[SmsMessage] = []

    def taken_then_died(sms: SmsMessage) -> SendResult:
        taken.append(sms)
        raise ProcessDied  # the gateway took it; the process died before its answer

    monkeypatch.setattr(notifier.sms, "send", taken_then_died)
    notifier.service.accept(
        notifier.client_key, notifier.request(RECYCLED, ttl=TTL, sms_validity=VALIDITY)
    )
    with pytest.raises(ProcessDied):
        notifier.service.dispatch_due()
    gateway = Gateway(notifier, monkeypatch, down)
    gateway.taken += taken
    return gateway


Way = Callable[[Notifier, pytest.MonkeyPatch, Down], Gateway]
WAYS: list[Way] = [by_the_policy, by_the_ttls_fallback, by_a_claim_a_crash_left]


def the_notification(notifier: Notifier, gateway: Gateway) -> str:
    return gateway.taken[0].notification_id


def every_minute_until(notifier: Notifier, moment: datetime, step: timedelta = A_MINUTE) -> None:
    """The worker's jobs, a dispatch round and a sweep each `step`, up to `moment`."""
    while notifier.clock.now() + step <= moment:
        notifier.clock.advance(step)
        notifier.service.dispatch_due()
        notifier.service.sweep()
    notifier.clock.advance(moment - notifier.clock.now())
    notifier.service.dispatch_due()
    notifier.service.sweep()


@pytest.mark.parametrize("down", [timed_out, refused_connection], ids=["timed_out", "refused"])
@pytest.mark.parametrize("way", WAYS, ids=lambda way: way.__name__)
def test_an_sms_its_gateway_may_hold_is_delivered_and_billed_when_reported_past_its_validity(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch, way: Way, down: Down
) -> None:
    # whatever the tries after it met, the first hand-over may have reached the gateway
    gateway = way(notifier, monkeypatch, down)
    sent = the_notification(notifier, gateway)
    every_minute_until(notifier, gateway.valid_until + timedelta(minutes=30))
    waiting = history(notifier, sent)[-1]
    delivered_at = gateway.valid_until - timedelta(seconds=1)  # just in time, as reported

    reported = notifier.service.sms_delivered(sent, delivered_at, by=Channel.SMS)
    after_the_time_out = gateway.valid_until + notifier.service.sms_report_timeout * 2
    every_minute_until(notifier, after_the_time_out, step=timedelta(minutes=10))

    assert waiting == "sms_sent"
    assert reported and notifier.status(sent) == "sms_delivered"
    assert history(notifier, sent)[-2:] == ["sms_sent", "sms_delivered"]
    assert billed(notifier) == [sent]
    assert told_everything(notifier, sent)
    assert len(gateway.taken) == 1  # never handed over once its validity ran out


@pytest.mark.parametrize("way", WAYS, ids=lambda way: way.__name__)
def test_an_sms_its_gateway_may_hold_ends_with_no_report_at_the_time_out_past_its_validity(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch, way: Way
) -> None:
    gateway = way(notifier, monkeypatch, timed_out)
    sent = the_notification(notifier, gateway)
    timed_out_at = gateway.valid_until + notifier.service.sms_report_timeout
    every_minute_until(notifier, timed_out_at - timedelta(seconds=1))
    waited = notifier.status(sent)
    monkeypatch.undo()  # the gateway is back: too late to hand it over

    every_minute_until(notifier, timed_out_at)
    late = notifier.service.sms_delivered(sent, gateway.valid_until, by=Channel.SMS)

    assert waited == "sms_sent"
    assert notifier.status(sent) == "sms_failed"
    assert error_of_its_last_step(notifier, sent) == "no delivery report"
    assert not late and billed(notifier) == []
    assert history(notifier, sent).count("sms_sent") == 1
    assert told_everything(notifier, sent)
    assert notifier.sms.sent == []


def test_an_sms_its_gateway_never_took_still_ends_when_its_validity_runs_out(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every hand-over refused a connection: no report can come, so none is waited for
    monkeypatch.setattr(notifier.sms, "send", refused_connection)
    sent = notifier.notify(VERIFIED_FRESH, ttl=TTL, sms_validity=VALIDITY)
    notifier.clock.advance(TTL)
    notifier.service.sweep()  # no deadline told: tried until the service's validity ran out

    notifier.clock.advance(notifier.service.sms_validity)
    notifier.service.sweep()

    assert notifier.status(sent) == "sms_failed"
    assert error_of_its_last_step(notifier, sent) == SMS_VALIDITY_RAN_OUT
