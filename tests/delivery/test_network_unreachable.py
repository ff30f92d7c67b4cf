"""A social network whose gateway cannot be connected to, on SQLite and PostgreSQL: the
request never left, so the network holds nothing of the notification, which goes by the other
network at once, or by SMS at its TTL without waiting to withdraw it. A network that may hold a
copy (its answer never came) is still the only one asked, and asked first."""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path

import pytest

from delivery.channels.http import HttpSocialNetwork
from delivery.channels.ports import ChannelUnavailableError, SendResult, SocialMessage
from ownership.channels import Channel
from tests.api.service import score_history
from tests.delivery.conftest import Notifier
from tests.factories import ANNA, History, days_ago, steady_owner

IN_VK_AND_OK = "+79234567823"  # Anna's, with an active account in each network
IN_VK_ONLY = "+79161112244"


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    history = steady_owner(History(), IN_VK_AND_OK)
    history.register(IN_VK_AND_OK, days_ago(300), ANNA, product="ok", account="ok-1")
    history.account(IN_VK_AND_OK, "ok-1", last_seen=days_ago(1))
    steady_owner(history, IN_VK_ONLY)
    return score_history(history, tmp_path_factory.mktemp("unreachable"))


@pytest.fixture
def closed_gateway() -> HttpSocialNetwork:
    """VK's real HTTP adapter, pointed at a loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return HttpSocialNetwork(f"http://127.0.0.1:{port}", "token", Channel.VK, timeout=2.0)


def history(notifier: Notifier, notification_id: str) -> list[tuple[str, str | None]]:
    found = notifier.service.notification(notifier.client_key, notification_id)
    assert found is not None
    return [(step["status"], (step["detail"] or {}).get("channel")) for step in found["history"]]


def read_timeout(message: SocialMessage) -> SendResult:
    raise ChannelUnavailableError("no complete answer within 10 s")  # it may have taken it


def test_a_notification_goes_by_ok_while_vk_cannot_be_connected_to(
    notifier: Notifier, closed_gateway: HttpSocialNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(notifier.service.social, Channel.VK, closed_gateway)

    sent = notifier.notify(IN_VK_AND_OK)

    assert [row[0] for row in notifier.ok.sent] == [sent]
    assert history(notifier, sent) == [("accepted", None), ("sent", "vk"), ("sent", "ok")]


def test_a_number_only_in_vk_goes_by_sms_at_its_ttl_without_waiting_to_withdraw_it(
    notifier: Notifier, closed_gateway: HttpSocialNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(notifier.service.social, Channel.VK, closed_gateway)
    sent = notifier.notify(IN_VK_ONLY)
    assert notifier.sms.sent == []  # each round until the TTL tries VK again

    notifier.clock.advance(timedelta(hours=1, seconds=1))
    notifier.service.sweep()

    assert [row[0] for row in notifier.sms.sent] == [sent]
    assert [status for status, _ in history(notifier, sent)][-2:] == ["expired", "sms_sent"]


def test_a_network_whose_answer_never_came_is_the_only_one_asked_while_it_cannot_be_connected_to(
    notifier: Notifier, closed_gateway: HttpSocialNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notifier.vk, "send", read_timeout)
    sent = notifier.notify(IN_VK_AND_OK)
    monkeypatch.setitem(notifier.service.social, Channel.VK, closed_gateway)

    notifier.service.dispatch_due()

    assert notifier.ok.sent == []  # VK may show the first try: a copy in OK would be a second
    monkeypatch.undo()
    notifier.service.dispatch_due()
    assert [row[0] for row in notifier.vk.sent] == [sent]
    assert notifier.ok.sent == []


def test_a_network_whose_answer_never_came_is_asked_before_the_one_that_refused(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    notifier.vk.refuse.add(IN_VK_AND_OK)
    monkeypatch.setattr(notifier.ok, "send", read_timeout)
    sent = notifier.notify(IN_VK_AND_OK)
    notifier.vk.refuse.clear()  # VK would take it now
    monkeypatch.undo()

    notifier.service.dispatch_due()

    assert [row[0] for row in notifier.ok.sent] == [sent]  # OK may show the first try already
    assert notifier.vk.sent == []
