"""A dispatcher goes through a round's notifications as it read them, and another actor may
move one meanwhile (a second worker, the person's answer), on SQLite and PostgreSQL: a claim
holds only while the notification is as read, so a copy left in a network is never overlooked,
whether the stale read would have sent it by another network or by SMS."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from delivery.channels.ports import (
    ChannelUnavailableError,
    Refusal,
    ReverificationPrompt,
    SendResult,
    Sent,
    SocialMessage,
)
from delivery.dispatching import TRY_AGAIN_AFTER
from delivery.notify import NotifyService
from ownership.channels import Channel
from ownership.live import LiveAnswers
from tests.api.service import SUSPICIOUS, VERIFIED_FRESH
from tests.delivery.conftest import Notifier
from tests.delivery.fakes import RecordingSocial


def idempotent(network: RecordingSocial, monkeypatch: pytest.MonkeyPatch) -> None:
    """As the gateway contract has it (docs/gateways.md): a repeat gets the first answer."""
    send, ask = network.send, network.ask

    def repeated_send(message: SocialMessage) -> SendResult:
        issued = network.issued.get((message.notification_id, Sent.MESSAGE))
        return SendResult.accepted_as(issued[0]) if issued else send(message)

    def repeated_ask(prompt: ReverificationPrompt) -> SendResult:
        issued = network.issued.get((prompt.notification_id, Sent.PROMPT))
        return SendResult.accepted_as(issued[0]) if issued else ask(prompt)

    monkeypatch.setattr(network, "send", repeated_send)
    monkeypatch.setattr(network, "ask", repeated_ask)


def answer_lost(call: Callable[[Any], SendResult]) -> Callable[[Any], SendResult]:
    """The network takes it; its answer never comes."""

    def taken(item: Any) -> SendResult:
        call(item)
        raise ChannelUnavailableError("no complete answer within 5 s")

    return taken


def reading_before(
    service: NotifyService, meanwhile: Callable[[dict[str, Any]], None]
) -> NotifyService:
    """A second dispatcher over the same store and channels, for which `meanwhile` happens
    between its read of a notification and its work on it."""
    stale = copy.copy(service)
    work_on = stale._dispatch

    def late(row: dict[str, Any], down: set[Channel]) -> int:
        meanwhile(row)
        return work_on(row, down)

    stale._dispatch = late  # type: ignore[method-assign]
    return stale


def messages_shown(notifier: Notifier) -> int:
    """Messages the networks took and did not give back, and SMS sent."""
    shown = len(notifier.sms.sent)
    for network in (notifier.vk, notifier.ok):
        for (_, kind), issued in network.issued.items():
            if kind is Sent.MESSAGE:
                shown += len(set(issued) - set(network.withdrawn))
    return shown


def test_a_yes_given_meanwhile_is_not_overlooked_by_a_dispatcher_that_read_the_prompt(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    idempotent(notifier.ok, monkeypatch)
    with monkeypatch.context() as prompt_answer_lost:  # OK asks; its answer never comes
        prompt_answer_lost.setattr(notifier.ok, "ask", answer_lost(notifier.ok.ask))
        asked = notifier.notify(SUSPICIOUS, sensitive=True)

    def yes_in_ok(row: dict[str, Any]) -> None:
        # the person says Yes; OK takes the message, whose answer never comes
        with monkeypatch.context() as message_answer_lost:
            message_answer_lost.setattr(notifier.ok, "send", answer_lost(notifier.ok.send))
            notifier.service.answered(asked, True, notifier.clock.now(), by=Channel.OK)

    notifier.clock.advance(TRY_AGAIN_AFTER)  # the prompt's claim, given back, is due again
    reading_before(notifier.service, yes_in_ok).dispatch_due()
    notifier.service.delivered(asked, notifier.clock.now(), by=Channel.OK)
    notifier.clock.advance(timedelta(hours=1, seconds=1))
    notifier.service.sweep()

    assert notifier.sms.sent == []
    assert notifier.status(asked) == "delivered"
    assert messages_shown(notifier) == 1


def test_a_copy_left_in_vk_meanwhile_is_withdrawn_before_a_stale_read_sends_an_sms(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    def vk_takes_it_then_a_no(row: dict[str, Any]) -> None:
        # another worker sends it to VK, whose answer never comes; then the person's No for
        # the number (another notification's prompt) makes it owner_changed
        with monkeypatch.context() as vk_answer_lost:
            vk_answer_lost.setattr(notifier.vk, "send", answer_lost(notifier.vk.send))
            notifier.service.dispatch_due()
        denied_at = notifier.clock.now().replace(tzinfo=None)
        notifier.service.overlay.learn(int(row["phone"][1:]), LiveAnswers(denied_at=denied_at))

    accepted = notifier.service.accept(notifier.client_key, notifier.request(VERIFIED_FRESH))
    reading_before(notifier.service, vk_takes_it_then_a_no).dispatch_due()
    notifier.next_round()  # reads it again, as it is

    (copy_in_vk,) = notifier.vk.issued[accepted.answer["id"], Sent.MESSAGE]
    assert notifier.vk.withdrawn == [copy_in_vk]
    assert [row[0] for row in notifier.sms.sent] == [accepted.answer["id"]]
    assert messages_shown(notifier) == 1


NETWORK_ANSWERS: dict[str, Callable[[SendResult], SendResult]] = {
    "taken": lambda taken: taken,
    "refused": lambda taken: SendResult.refused(Refusal.NO_ACTIVE_ACCOUNT),
    "timed out": lambda taken: _raise(ChannelUnavailableError("read timeout")),
    "never reached": lambda taken: _raise(ChannelUnavailableError("refused", never_sent=True)),
}


def _raise(error: Exception) -> SendResult:
    raise error


@pytest.mark.parametrize("answer", NETWORK_ANSWERS)
@pytest.mark.parametrize(
    ("phone", "network", "call"), [(VERIFIED_FRESH, "vk", "send"), (SUSPICIOUS, "ok", "ask")]
)
def test_a_network_call_outliving_its_claims_take_over_moves_nothing_the_sweeper_did(
    notifier: Notifier,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    phone: str,
    network: str,
    call: str,
) -> None:
    # the sweeper takes over a claim past its TTL by moving it on (to SMS): nothing claims a
    # notification for a network after its TTL, so the call's give-back finds no claim left
    channel = getattr(notifier, network)
    real = getattr(channel, call)

    def outlives_its_claim(item: Any) -> SendResult:
        taken = real(item)
        notifier.clock.advance(notifier.service.claim_timeout + timedelta(seconds=11))
        notifier.service.sweep()  # takes the claim over: withdrawn, and sent by SMS
        return NETWORK_ANSWERS[answer](taken)

    accepted = notifier.service.accept(
        notifier.client_key,
        notifier.request(phone, ttl=timedelta(minutes=10), sensitive=call == "ask"),
    )
    sent = str(accepted.answer["id"])
    monkeypatch.setattr(channel, call, outlives_its_claim)
    notifier.clock.advance(timedelta(minutes=9, seconds=50))
    notifier.service.dispatch_due()  # claimed ten seconds before the TTL
    monkeypatch.undo()
    notifier.clock.advance(TRY_AGAIN_AFTER)
    notifier.service.dispatch_due()
    notifier.service.sweep()

    assert notifier.status(sent) == "sms_sent"
    assert [row[0] for row in notifier.sms.sent] == [sent]
    assert messages_shown(notifier) == 1
