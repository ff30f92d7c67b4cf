"""A social network whose gateway cannot be connected to, on SQLite and PostgreSQL: the
request never left, so the network holds nothing of the notification, which goes by the other
network at once, or by SMS at its TTL without waiting to withdraw it. A network that may hold a
copy (its answer never came) is still the only one asked, and asked first, whichever dispatcher
read the notification when; one the number no longer uses is asked to withdraw it first."""

from __future__ import annotations

import copy
import socket
from collections.abc import Callable
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest

from delivery.channels.http import HttpSocialNetwork
from delivery.channels.ports import ChannelUnavailableError, SendResult, Sent, SocialMessage
from delivery.webhooks.events import NotificationStatusChanged
from ownership.channels import Channel
from ownership.live import LiveAnswers
from pipelines.snapshot import Snapshot
from tests.api.service import score_history
from tests.delivery.conftest import Notifier
from tests.delivery.fakes import RecordingSocial
from tests.factories import ANNA, History, days_ago, steady_owner

IN_VK_AND_OK = "+79234567823"  # Anna's, with an active account in each network
IN_VK_ONLY = "+79161112244"
IN_VK_PROVEN_LONG_AGO = "+79031112233"  # a sensitive notification asks first
UNSEEN = "+79990001122"  # no history: goes by SMS


def in_both_networks(vk_seen_days: float) -> History:
    history = steady_owner(History(), IN_VK_AND_OK, seen_days=vk_seen_days)
    history.register(IN_VK_AND_OK, days_ago(300), ANNA, product="ok", account="ok-1")
    history.account(IN_VK_AND_OK, "ok-1", last_seen=days_ago(1))
    steady_owner(history, IN_VK_PROVEN_LONG_AGO, until_days=45)
    return steady_owner(history, IN_VK_ONLY)


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return score_history(in_both_networks(1), tmp_path_factory.mktemp("unreachable"))


@pytest.fixture(scope="module")
def vk_gone_quiet(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """A later batch's: the VK account of the number in both networks is no longer active."""
    scores = score_history(in_both_networks(200), tmp_path_factory.mktemp("quiet"))
    return Snapshot(scores / "snapshot.bin")


def nothing_listens() -> str:
    """The URL of a loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def closed(network: Channel) -> HttpSocialNetwork:
    """The network's real HTTP adapter, pointed at a port nothing listens on."""
    return HttpSocialNetwork(nothing_listens(), "token", network, timeout=2.0)


@pytest.fixture
def closed_gateway() -> HttpSocialNetwork:
    return closed(Channel.VK)


def history(notifier: Notifier, notification_id: str) -> list[tuple[str, str | None]]:
    found = notifier.service.notification(notifier.client_key, notification_id)
    assert found is not None
    return [(step["status"], (step["detail"] or {}).get("channel")) for step in found["history"]]


def read_timeout(message: SocialMessage) -> SendResult:
    raise ChannelUnavailableError("no complete answer within 10 s")  # it may have taken it


def taken_but_unanswered(network: RecordingSocial) -> Callable[[SocialMessage], SendResult]:
    """`network.send` that takes the message, whose answer then never comes."""

    def send(message: SocialMessage) -> SendResult:
        network.sent.append((message.notification_id, message.phone, message.text))
        network.issued.setdefault((message.notification_id, Sent.MESSAGE), []).append("vk-0")
        raise ChannelUnavailableError("no complete answer within 10 s")

    return send


def times_shown(notifier: Notifier) -> int:
    """Copies taken by the networks and not withdrawn, and SMS sent."""
    social = [notifier.vk, notifier.ok]
    taken = sum(len(network.sent) - len(set(network.withdrawn)) for network in social)
    return taken + len(notifier.sms.sent)


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


def test_notifications_waiting_for_a_network_hold_up_none_behind_them(
    notifier: Notifier, closed_gateway: HttpSocialNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    # more wait for VK than a round reads: the SMS behind them went only at their TTL
    monkeypatch.setitem(notifier.service.social, Channel.VK, closed_gateway)
    waiting = [
        notifier.service.accept(notifier.client_key, notifier.request(IN_VK_ONLY, f"r-{n}"))
        for n in range(3)
    ]
    notifier.clock.advance(timedelta(seconds=1))
    by_sms = notifier.service.accept(notifier.client_key, notifier.request(UNSEEN, "r-sms"))

    notifier.service.dispatch_due(limit=3)
    assert notifier.sms.sent == []  # the round read the three waiting for VK
    notifier.service.dispatch_due(limit=3)

    assert [row[0] for row in notifier.sms.sent] == [by_sms.answer["id"]]
    monkeypatch.undo()  # VK back: those waiting go once they are due again
    notifier.next_round()
    assert sorted(row[0] for row in notifier.vk.sent) == sorted(a.answer["id"] for a in waiting)


def test_a_network_whose_answer_never_came_is_the_only_one_asked_while_it_cannot_be_connected_to(
    notifier: Notifier, closed_gateway: HttpSocialNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notifier.vk, "send", read_timeout)
    sent = notifier.notify(IN_VK_AND_OK)
    monkeypatch.setitem(notifier.service.social, Channel.VK, closed_gateway)

    notifier.next_round()

    assert notifier.ok.sent == []  # VK may show the first try: a copy in OK would be a second
    monkeypatch.undo()
    notifier.next_round()
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

    notifier.next_round()

    assert [row[0] for row in notifier.ok.sent] == [sent]  # OK may show the first try already
    assert notifier.vk.sent == []


@pytest.mark.parametrize("phone", [IN_VK_AND_OK, IN_VK_ONLY])
def test_a_copy_another_dispatcher_left_in_vk_meanwhile_is_not_overlooked(
    notifier: Notifier,
    closed_gateway: HttpSocialNetwork,
    monkeypatch: pytest.MonkeyPatch,
    phone: str,
) -> None:
    # worker B reads the notification; before B reaches it, worker A sends it to VK, which
    # takes it but whose answer never comes; then VK's gateway refuses connections
    worker_a = notifier.service
    worker_b = copy.copy(worker_a)  # the same store and gateways: a second worker
    reads_then = worker_b._dispatch

    def meanwhile(row: dict[str, Any], down: set[Channel]) -> int:
        with monkeypatch.context() as vk_answers_lost:
            vk_answers_lost.setattr(notifier.vk, "send", taken_but_unanswered(notifier.vk))
            worker_a.dispatch_due()
        monkeypatch.setitem(worker_a.social, Channel.VK, closed_gateway)
        return reads_then(row, down)

    monkeypatch.setattr(worker_b, "_dispatch", meanwhile)
    accepted = worker_a.accept(notifier.client_key, notifier.request(phone))
    worker_b.dispatch_due()
    notifier.clock.advance(timedelta(hours=1, seconds=1))
    monkeypatch.undo()  # VK answers again: asked to withdraw its copy at the TTL
    worker_a.sweep()

    assert notifier.ok.sent == []
    assert notifier.vk.withdrawn == ["vk-0"]
    assert [row[0] for row in notifier.sms.sent] == [accepted.answer["id"]]
    assert times_shown(notifier) == 1


@pytest.mark.parametrize("ok_gateway", ["takes it", "cannot be connected to"])
def test_a_copy_in_a_network_the_number_no_longer_uses_is_withdrawn_before_it_goes_elsewhere(
    notifier: Notifier,
    vk_gone_quiet: Snapshot,
    monkeypatch: pytest.MonkeyPatch,
    ok_gateway: str,
) -> None:
    with monkeypatch.context() as vk_answer_lost:
        vk_answer_lost.setattr(notifier.vk, "send", taken_but_unanswered(notifier.vk))
        notifier.notify(IN_VK_AND_OK)
    monkeypatch.setattr(notifier.service, "snapshots", lambda: vk_gone_quiet)
    if ok_gateway == "cannot be connected to":
        monkeypatch.setitem(notifier.service.social, Channel.OK, closed(Channel.OK))

    notifier.service.dispatch_due()
    notifier.clock.advance(timedelta(hours=1, seconds=1))
    notifier.service.sweep()

    assert set(notifier.vk.withdrawn) == {"vk-0"}  # asked again at the TTL: no harm
    assert times_shown(notifier) == 1


def test_a_network_that_refused_holds_nothing_to_withdraw_at_the_ttl(
    notifier: Notifier, closed_gateway: HttpSocialNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    notifier.vk.refuse.add(IN_VK_AND_OK)
    monkeypatch.setitem(notifier.service.social, Channel.OK, closed(Channel.OK))
    sent = notifier.notify(IN_VK_AND_OK)
    monkeypatch.setitem(notifier.service.social, Channel.VK, closed_gateway)

    notifier.clock.advance(timedelta(hours=1, seconds=1))
    notifier.service.sweep()

    assert [row[0] for row in notifier.sms.sent] == [sent]


def test_a_yes_whose_message_vk_could_not_be_connected_for_goes_by_sms_at_the_ttl_at_once(
    notifier: Notifier, closed_gateway: HttpSocialNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = notifier.notify(IN_VK_PROVEN_LONG_AGO, sensitive=True)
    assert [row[0] for row in notifier.vk.asked] == [asked]
    monkeypatch.setitem(notifier.service.social, Channel.VK, closed_gateway)

    notifier.service.answered(asked, True, notifier.clock.now(), by=Channel.VK)
    notifier.service.dispatch_due()
    notifier.clock.advance(timedelta(hours=1, seconds=1))
    notifier.service.sweep()

    assert [row[0] for row in notifier.sms.sent] == [asked]  # not five minutes later


@pytest.mark.parametrize("first", ["VK's answer", "VK's delivery report"])
def test_the_clients_last_sent_names_the_network_that_took_it(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch, first: str
) -> None:
    notifier.vk.refuse.add(IN_VK_AND_OK)
    with monkeypatch.context() as ok_times_out:  # OK's answer never comes
        ok_times_out.setattr(notifier.ok, "send", read_timeout)
        sent = notifier.notify(IN_VK_AND_OK)
    notifier.vk.refuse.clear()
    notifier.ok.refuse.add(IN_VK_AND_OK)
    if first == "VK's delivery report":
        monkeypatch.setattr(notifier.vk, "send", reported_before_answered(notifier))

    notifier.next_round()  # OK, asked first, refuses: VK takes it

    assert [row[0] for row in notifier.vk.sent] == [sent]
    sents = [channel for status, channel in history(notifier, sent) if status == "sent"]
    assert sents[-1] == "vk"
    told = [
        (e.event.status, e.event.channel, e.event.sequence)
        for e in notifier.webhooks.events
        if isinstance(e.event, NotificationStatusChanged) and e.event.notification_id == sent
    ]
    last_sent = [(channel, sequence) for status, channel, sequence in told if status == "sent"][-1]
    assert last_sent[0] == "vk"
    assert [sequence for _, _, sequence in told] == list(range(2, len(told) + 2))


def reported_before_answered(notifier: Notifier) -> Callable[[SocialMessage], SendResult]:
    """VK's send, whose delivery report comes in before its answer."""
    send = notifier.vk.send

    def send_reported_first(message: SocialMessage) -> SendResult:
        taken = send(message)
        notifier.service.delivered(message.notification_id, notifier.clock.now(), Channel.VK)
        return taken

    return send_reported_first


def shown_in_vk_after_ok_was_told(notifier: Notifier, monkeypatch: pytest.MonkeyPatch) -> str:
    """A notification the client was last told went to OK, that VK took without answering
    (it may hold a copy) and shows before it is withdrawn."""
    notifier.vk.refuse.add(IN_VK_AND_OK)
    with monkeypatch.context() as ok_times_out:  # told: sent vk, then sent ok
        ok_times_out.setattr(notifier.ok, "send", read_timeout)
        sent = notifier.notify(IN_VK_AND_OK)
    notifier.vk.refuse.clear()
    notifier.ok.refuse.add(IN_VK_AND_OK)
    with monkeypatch.context() as vk_taken_unanswered:  # VK takes it; its answer never comes
        vk_taken_unanswered.setattr(notifier.vk, "send", taken_but_unanswered(notifier.vk))
        notifier.next_round()
    notifier.vk.delivered_already.add("vk-0")  # and shows it before the withdrawal
    return sent


def told_with_sequence(notifier: Notifier, sent: str) -> list[tuple[str, str | None, int]]:
    return [
        (e.event.status, e.event.channel, e.event.sequence)
        for e in notifier.webhooks.events
        if isinstance(e.event, NotificationStatusChanged) and e.event.notification_id == sent
    ]


def test_a_message_shown_before_its_withdrawal_names_its_network_in_the_last_sent(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = shown_in_vk_after_ok_was_told(notifier, monkeypatch)
    notifier.clock.advance(timedelta(hours=1, minutes=1))

    notifier.service.sweep()

    assert history(notifier, sent)[-2:] == [("sent", "vk"), ("delivered", None)]
    told = told_with_sequence(notifier, sent)
    assert told[-2:] == [("sent", "vk", len(told)), ("delivered", "vk", len(told) + 1)]


def test_a_message_shown_before_the_dispatcher_withdrew_it_names_its_network_in_the_last_sent(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = shown_in_vk_after_ok_was_told(notifier, monkeypatch)
    denied_at = notifier.clock.now().astimezone(UTC).replace(tzinfo=None)
    key = int(IN_VK_AND_OK[1:])  # a No: the number goes by SMS, once VK's copy is withdrawn
    notifier.service.overlay.learn(key, LiveAnswers(denied_at=denied_at))

    notifier.next_round()

    assert notifier.sms.sent == []
    assert history(notifier, sent)[-2:] == [("sent", "vk"), ("delivered", None)]
    told = told_with_sequence(notifier, sent)
    assert told[-2:] == [("sent", "vk", len(told)), ("delivered", "vk", len(told) + 1)]
