"""The sweeper reads what a social network holds and what goes by SMS in batches of their own:
notifications waiting for a network that cannot be asked to withdraw them hold up no SMS, and
SMS waiting for their gateway hold up no withdrawal. A sweep that could only wait says it
moved nothing, so that sweeping until the backlog is gone ends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, update

from delivery import records
from delivery.channels.ports import ChannelUnavailableError, SendResult, SmsMessage
from ownership.notifications import Fallback
from tests.api.service import RECYCLED, VERIFIED_FRESH
from tests.delivery.conftest import Notifier

TTL = timedelta(minutes=10)


def unreachable(provider_id: str) -> bool:
    raise ChannelUnavailableError("no answer within the deadline")


def sms_down(sms: SmsMessage) -> SendResult:
    raise ChannelUnavailableError("cannot connect", never_sent=True)


def test_messages_waiting_for_their_network_hold_up_no_later_sms(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    # in VK, which cannot be asked to withdraw them at their TTL
    in_vk = [notifier.notify(VERIFIED_FRESH, f"vk-{n}", ttl=TTL) for n in range(2)]
    notifier.clock.advance(timedelta(minutes=1))
    with monkeypatch.context() as gateway_down:  # the policy's SMS, given back
        gateway_down.setattr(notifier.sms, "send", sms_down)
        by_sms = notifier.notify(RECYCLED, "sms", ttl=TTL)
    monkeypatch.setattr(notifier.vk, "withdraw", unreachable)
    notifier.clock.advance(TTL + timedelta(seconds=30))  # both TTLs ran out, VK's first

    notifier.service.sweep(limit=2)

    assert [row[0] for row in notifier.sms.sent] == [by_sms]
    assert [notifier.status(sent) for sent in in_vk] == ["sent", "sent"]


def test_sms_waiting_for_their_gateway_hold_up_no_later_withdrawal(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notifier.sms, "send", sms_down)
    for n in range(2):  # by SMS, which cannot be reached
        notifier.notify(RECYCLED, f"sms-{n}", ttl=TTL)
    notifier.clock.advance(timedelta(minutes=1))
    in_vk = notifier.notify(VERIFIED_FRESH, "vk", ttl=TTL)
    notifier.clock.advance(TTL + timedelta(seconds=30))

    notifier.service.sweep(limit=2)

    assert len(notifier.vk.withdrawn) == 1
    assert notifier.status(in_vk) == "sms_sent"  # its SMS waits for the gateway, as the others


@pytest.mark.parametrize("waiting_for", ["their network", "the SMS gateway"])
def test_a_sweep_that_could_only_wait_moved_nothing(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch, waiting_for: str
) -> None:
    if waiting_for == "their network":
        for n in range(3):
            notifier.notify(VERIFIED_FRESH, f"r-{n}", ttl=TTL)
        monkeypatch.setattr(notifier.vk, "withdraw", unreachable)
    else:
        monkeypatch.setattr(notifier.sms, "send", sms_down)
        for n in range(3):
            notifier.notify(RECYCLED, f"r-{n}", ttl=TTL)
    notifier.clock.advance(TTL + timedelta(seconds=30))
    notifier.service.sweep()  # the SMS given back are taken again, and given back again
    notifier.clock.advance(notifier.service.claim_timeout)

    assert notifier.service.sweep(limit=2) == 0


def test_a_sweep_takes_half_its_batch_from_each_side_when_both_have_more(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as gateway_down:  # four SMS given back, four messages in VK
        gateway_down.setattr(notifier.sms, "send", sms_down)
        by_sms = [notifier.notify(RECYCLED, f"sms-{n}", ttl=TTL) for n in range(4)]
        in_vk = [notifier.notify(VERIFIED_FRESH, f"vk-{n}", ttl=TTL) for n in range(4)]
    notifier.clock.advance(TTL + timedelta(seconds=30))

    moved = notifier.service.sweep(limit=4)  # no more than 4 move, on SQLite under its lock

    assert moved == 4
    assert len(notifier.vk.withdrawn) == 2
    sent = {row[0] for row in notifier.sms.sent}
    assert (len(sent & set(by_sms)), len(sent & set(in_vk))) == (2, 2)


def test_sms_waiting_for_their_gateway_hold_up_no_notification_that_goes_without(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    # taken, and no report comes by its five minutes' validity; it expires after those below
    unreported = notifier.notify(
        RECYCLED, "unreported", ttl=2 * TTL, sms_validity=timedelta(minutes=5)
    )
    monkeypatch.setattr(notifier.sms, "send", sms_down)
    for n in range(2):  # given back, and still waiting for their gateway
        notifier.notify(RECYCLED, f"sms-{n}", ttl=TTL)
    quiet = notifier.service.accept(  # never dispatched: it expires, with no fallback
        notifier.client_key,
        notifier.request(RECYCLED, "quiet", ttl=2 * TTL, fallback=Fallback.NONE),
    )
    notifier.clock.advance(notifier.service.sms_report_timeout + timedelta(minutes=6))

    for _ in range(3):  # the SMS given back are due again at each
        notifier.service.sweep(limit=2)
        notifier.clock.advance(notifier.service.claim_timeout)

    assert notifier.status(str(quiet.answer["id"])) == "expired"
    assert notifier.status(unreported) == "sms_failed"


def test_a_notification_on_a_channel_of_another_release_is_swept_all_the_same(
    notifier: Notifier, engine: Engine
) -> None:
    accepted = notifier.service.accept(notifier.client_key, notifier.request(RECYCLED, ttl=TTL))
    unknown = str(accepted.answer["id"])
    with engine.begin() as connection:  # a channel this release does not know
        connection.execute(
            update(records.notifications)
            .where(records.notifications.c.id == unknown)
            .values(channel="telegram")
        )
    notifier.clock.advance(TTL + timedelta(minutes=1))

    notifier.service.sweep()

    assert notifier.status(unknown) == "sms_sent"
    assert [row[0] for row in notifier.sms.sent] == [unknown]
