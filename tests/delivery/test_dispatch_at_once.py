"""A dispatch round carries its notifications at once, each on a thread of its own, so a worker
is not held to one gateway round trip a notification; each is still carried once, on SQLite
and PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from delivery.channels.ports import ChannelUnavailableError, SendResult, SocialMessage
from tests.api.service import VERIFIED_FRESH
from tests.delivery.conftest import Notifier


def test_a_round_waits_for_its_gateways_answers_at_once(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_flight = threading.Barrier(4, timeout=10)
    send = notifier.vk.send

    def answers_once_four_are_in_flight(message: SocialMessage) -> SendResult:
        try:
            in_flight.wait()
        except threading.BrokenBarrierError:
            raise ChannelUnavailableError("no answer: the calls came one at a time") from None
        return send(message)

    monkeypatch.setattr(notifier.vk, "send", answers_once_four_are_in_flight)
    notifier.service.dispatch_concurrency = 4
    accepted = [
        notifier.service.accept(notifier.client_key, notifier.request(VERIFIED_FRESH, f"r-{n}"))
        for n in range(4)
    ]

    assert notifier.service.dispatch_due() == 4

    ids = {str(one.answer["id"]) for one in accepted}
    assert sorted(row[0] for row in notifier.vk.sent) == sorted(ids)
    assert {notifier.status(notification) for notification in ids} == {"sent"}


def test_many_notifications_at_once_are_each_carried_once(notifier: Notifier) -> None:
    notifier.service.dispatch_concurrency = 8
    ids = [
        str(
            notifier.service.accept(
                notifier.client_key, notifier.request(VERIFIED_FRESH, f"r-{n}")
            ).answer["id"]
        )
        for n in range(40)
    ]

    assert notifier.service.dispatch_due() == 40
    assert notifier.service.dispatch_due() == 0

    assert sorted(row[0] for row in notifier.vk.sent) == sorted(ids)
    for notification in ids:
        found = notifier.service.notification(notifier.client_key, notification)
        assert found is not None
        assert [step["status"] for step in found["history"]] == ["accepted", "sent"]


@pytest.mark.parametrize("threads", [1, 4])
def test_one_notifications_failure_is_logged_and_the_others_go_on(
    notifier: Notifier,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    threads: int,
) -> None:
    send = notifier.vk.send

    def fails_for_some(message: SocialMessage) -> SendResult:
        if "odd" in message.text:
            raise RuntimeError("the adapter's bug")
        return send(message)

    monkeypatch.setattr(notifier.vk, "send", fails_for_some)
    notifier.service.dispatch_concurrency = threads
    ids = [
        str(
            notifier.service.accept(
                notifier.client_key,
                notifier.request(
                    VERIFIED_FRESH, f"r-{n}", params={"order": "odd" if n % 2 else "even"}
                ),
            ).answer["id"]
        )
        for n in range(6)
    ]

    notifier.service.dispatch_due()

    assert sorted(row[0] for row in notifier.vk.sent) == sorted(ids[0::2])
    failed = [record for record in caplog.records if record.getMessage().startswith("could not")]
    assert sorted(record.getMessage() for record in failed) == sorted(
        f"could not dispatch {notification}" for notification in ids[1::2]
    )
