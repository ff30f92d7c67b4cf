"""The social-network simulator: whom it delivers to, when, and what it reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from delivery.channels.accounts import Account, AccountDirectory
from delivery.channels.ports import (
    Refusal,
    ReverificationPrompt,
    Sent,
    SocialMessage,
    UnknownMessageError,
)
from delivery.channels.social_simulator import SocialNetworkSimulator, SocialSimulatorSettings
from delivery.clock import VirtualClock
from delivery.events import (
    InboundEvent,
    MessageDelivered,
    MessageRead,
    RecordingInboundEvents,
    ReplyReceived,
    ReverificationAnswer,
    ReverificationAnswered,
)
from ownership.channels import Channel

START = datetime(2026, 6, 2, 9, 0, tzinfo=UTC)
WITH_APP = "+79234567823"  # VK, seen yesterday, mobile app
WEB_ONLY = "+79031112233"  # VK, seen 2 days ago, browser only
DORMANT = "+79161234567"  # VK, last seen 30 days ago
TWO_ACCOUNTS = "+79035550011"  # vk-4 dormant, vk-5 active
OK_ONLY = "+79269998877"  # bound in OK only
ACCOUNTS = AccountDirectory(
    [
        Account(Channel.VK, "vk-1", WITH_APP, START - timedelta(days=1), mobile_app=True),
        Account(Channel.VK, "vk-2", WEB_ONLY, START - timedelta(days=2), mobile_app=False),
        Account(Channel.VK, "vk-3", DORMANT, START - timedelta(days=30), mobile_app=True),
        Account(Channel.VK, "vk-4", TWO_ACCOUNTS, START - timedelta(days=40), mobile_app=True),
        Account(Channel.VK, "vk-5", TWO_ACCOUNTS, START - timedelta(hours=1), mobile_app=True),
        Account(Channel.OK, "ok-1", OK_ONLY, START - timedelta(days=1), mobile_app=True),
    ]
)


class World:
    def __init__(
        self,
        seed: int = 0,
        settings: SocialSimulatorSettings | None = None,
        run: str | None = None,
    ) -> None:
        self.clock = VirtualClock(START)
        self.inbound = RecordingInboundEvents()
        self.vk = SocialNetworkSimulator(
            Channel.VK, ACCOUNTS, self.clock, self.inbound, seed=seed, settings=settings, run=run
        )

    def after(self, delay: timedelta) -> int:
        self.clock.advance(delay)
        return self.vk.run_due()


def message(
    phone: str = WITH_APP,
    notification: str = "n-1",
    mobile_only: bool = False,
    account_ids: tuple[str, ...] = (),
) -> SocialMessage:
    return SocialMessage(
        notification, phone, "Ваш заказ 42 готов к выдаче", mobile_only, account_ids
    )


@pytest.fixture
def world() -> World:
    return World()


def test_an_active_account_gets_the_message(world: World) -> None:
    result = world.vk.send(message())
    assert result.accepted and result.provider_id and result.refusal is None


def test_a_send_repeated_for_a_notification_is_the_first_message_not_a_second(
    world: World,
) -> None:
    first = world.vk.send(message())
    again = world.vk.send(message())  # after a time-out, say
    prompt = world.vk.ask(ReverificationPrompt("n-1", WITH_APP))

    assert again.provider_id == first.provider_id
    assert prompt.provider_id != first.provider_id  # a prompt is a message of its own
    assert len(world.vk.sent) == 2
    world.after(timedelta(days=2))
    delivered = [e for e in world.inbound.events if isinstance(e, MessageDelivered)]
    assert len(delivered) <= 1


def test_what_it_holds_for_a_notification_is_withdrawn_by_the_notifications_id(
    world: World,
) -> None:
    world.vk.send(message(notification="n-1"))
    world.vk.ask(ReverificationPrompt("n-2", WITH_APP))

    assert world.vk.withdraw_by_notification("n-1", Sent.MESSAGE) is True
    assert world.vk.withdraw_by_notification("n-2", Sent.PROMPT) is True
    assert world.vk.withdraw_by_notification("n-1", Sent.PROMPT) is True  # none: none to show
    world.after(timedelta(days=2))
    assert world.inbound.events == []  # neither the message nor the prompt showed


@pytest.mark.parametrize(
    ("phone", "kwargs", "refusal"),
    [
        (DORMANT, {}, Refusal.NO_ACTIVE_ACCOUNT),
        (OK_ONLY, {}, Refusal.NO_ACCOUNT),
        ("+79990000000", {}, Refusal.NO_ACCOUNT),
        (WEB_ONLY, {"mobile_only": True}, Refusal.NO_MOBILE_APP),
        (WITH_APP, {"account_ids": ("vk-9",)}, Refusal.UNKNOWN_ACCOUNT),
        (TWO_ACCOUNTS, {"account_ids": ("vk-4",)}, Refusal.NO_ACTIVE_ACCOUNT),
    ],
)
def test_messages_no_active_account_can_take_are_refused(
    world: World, phone: str, kwargs: dict[str, Any], refusal: Refusal
) -> None:
    result = world.vk.send(message(phone, **kwargs))
    assert not result.accepted and result.refusal is refusal
    assert world.vk.pending() == 0 and world.vk.sent == []


def test_activity_is_judged_at_the_send_time_with_a_window_of_seven_days() -> None:
    world = World()
    assert world.vk.send(message(WEB_ONLY, mobile_only=False)).accepted
    world.clock.advance(timedelta(days=5, minutes=1))  # now 7 days and a minute since seen
    later = message(WEB_ONLY, notification="n-2")
    assert world.vk.send(later).refusal is Refusal.NO_ACTIVE_ACCOUNT
    wider = World(settings=SocialSimulatorSettings(activity=timedelta(days=30, hours=1)))
    assert wider.vk.send(message(DORMANT)).accepted


def test_mobile_only_goes_to_an_active_account_with_the_app(world: World) -> None:
    assert world.vk.send(message(WITH_APP, mobile_only=True)).accepted
    assert world.vk.send(message(TWO_ACCOUNTS, mobile_only=True)).accepted


def test_a_scripted_delivery_is_reported_when_its_time_comes(world: World) -> None:
    world.vk.script_delivery(WITH_APP, timedelta(seconds=30), read_after=timedelta(minutes=5))
    result = world.vk.send(message())
    assert world.after(timedelta(seconds=29)) == 0
    assert world.after(timedelta(seconds=1)) == 1
    assert world.after(timedelta(minutes=10)) == 1
    delivered, read = world.inbound.events
    assert delivered == MessageDelivered(
        "n-1", str(result.provider_id), Channel.VK, START + timedelta(seconds=30)
    )
    assert read == MessageRead(
        "n-1", str(result.provider_id), Channel.VK, START + timedelta(minutes=5)
    )


def test_events_come_out_in_time_order_across_messages(world: World) -> None:
    world.vk.script_delivery(WITH_APP, timedelta(minutes=3))
    world.vk.send(message(WITH_APP, "late"))
    world.vk.script_delivery(WITH_APP, timedelta(minutes=1))
    world.vk.send(message(WITH_APP, "early"))
    world.after(timedelta(hours=1))
    assert [e.notification_id for e in world.inbound.events] == ["early", "late"]


def test_withdrawing_before_delivery_cancels_it_for_good(world: World) -> None:
    world.vk.script_delivery(WITH_APP, timedelta(minutes=2), read_after=timedelta(minutes=3))
    provider_id = str(world.vk.send(message()).provider_id)
    world.after(timedelta(minutes=1))
    assert world.vk.withdraw(provider_id) is True
    assert world.vk.withdraw(provider_id) is True  # asking again changes nothing
    world.after(timedelta(days=2))
    assert world.inbound.events == [] and world.vk.pending() == 0


def test_a_withdrawal_that_loses_the_race_with_delivery_returns_false(world: World) -> None:
    world.vk.script_delivery(WITH_APP, timedelta(minutes=1))
    provider_id = str(world.vk.send(message()).provider_id)
    world.clock.advance(timedelta(minutes=1))  # delivered, but not yet reported
    assert world.vk.withdraw(provider_id) is False
    world.vk.run_due()
    assert world.inbound.of_type(MessageDelivered) != []


def test_withdrawing_after_the_report_returns_false_and_the_delivery_stands(world: World) -> None:
    world.vk.script_delivery(WITH_APP, timedelta(seconds=5), read_after=timedelta(minutes=1))
    provider_id = str(world.vk.send(message()).provider_id)
    world.after(timedelta(seconds=10))
    assert world.vk.withdraw(provider_id) is False
    world.after(timedelta(minutes=1))
    assert [type(e) for e in world.inbound.events] == [MessageDelivered, MessageRead]


def test_an_unknown_provider_id_cannot_be_withdrawn(world: World) -> None:
    with pytest.raises(UnknownMessageError):
        world.vk.withdraw("vk-404")


def test_a_restarted_simulator_never_takes_an_earlier_runs_message_for_its_own(
    world: World,
) -> None:
    # the store keeps the earlier run's ids; the simulator's memory of them is gone
    earlier = world.vk.send(message(notification="n-1"))
    restarted = World()
    later = restarted.vk.send(message(notification="n-2"))

    assert later.provider_id != earlier.provider_id
    with pytest.raises(UnknownMessageError):  # so the sweeper withdraws nothing of n-2's
        restarted.vk.withdraw(str(earlier.provider_id))


def test_a_scripted_reply_follows_the_read(world: World) -> None:
    world.vk.script_delivery(WITH_APP, timedelta(seconds=5), read_after=timedelta(minutes=1))
    world.vk.script_reply(WITH_APP, "Спасибо!", after=timedelta(seconds=30))
    world.vk.send(message())
    world.after(timedelta(hours=1))
    reply = world.inbound.of_type(ReplyReceived)
    assert [(r.text, r.at) for r in reply] == [("Спасибо!", START + timedelta(minutes=1))]


def test_a_message_never_delivered_gets_no_reply(world: World) -> None:
    world.vk.script_delivery(WITH_APP, None)
    world.vk.script_reply(WITH_APP, "Спасибо!", after=timedelta(seconds=30))
    world.vk.send(message())
    world.after(timedelta(days=3))
    assert world.inbound.events == []


def test_the_prompt_shows_the_masked_number() -> None:
    prompt = ReverificationPrompt("n-1", WITH_APP)
    assert prompt.text == "+792* *** ** 23 — это ваш номер телефона? Да / Нет"


@pytest.mark.parametrize("answer", ["confirmed", "denied"])
def test_a_scripted_answer_arrives_after_its_delay(world: World, answer: str) -> None:
    world.vk.script_answer(WITH_APP, answer, after=timedelta(minutes=2))
    result = world.vk.ask(ReverificationPrompt("n-1", WITH_APP))
    assert world.after(timedelta(minutes=1)) == 0
    world.after(timedelta(minutes=1))
    assert world.inbound.events == [
        ReverificationAnswered(
            "n-1",
            str(result.provider_id),
            Channel.VK,
            START + timedelta(minutes=2),
            ReverificationAnswer(answer),
        )
    ]


def test_a_prompt_withdrawn_before_its_answer_is_never_answered(world: World) -> None:
    world.vk.script_answer(WITH_APP, "confirmed", after=timedelta(minutes=2))
    provider_id = str(world.vk.ask(ReverificationPrompt("n-1", WITH_APP)).provider_id)
    world.clock.advance(timedelta(minutes=1))
    assert world.vk.withdraw(provider_id) is True
    world.after(timedelta(hours=1))
    assert world.inbound.events == []


def test_a_prompt_is_refused_where_a_message_would_be(world: World) -> None:
    assert world.vk.ask(ReverificationPrompt("n-1", DORMANT)).refusal is Refusal.NO_ACTIVE_ACCOUNT


def test_answers_follow_their_shares() -> None:
    settings = SocialSimulatorSettings(confirmed_share=0.6, denied_share=0.2)
    world = World(seed=3, settings=settings)
    asked = 2_000
    for number in range(asked):
        world.vk.ask(ReverificationPrompt(f"n-{number}", WITH_APP))
    world.after(timedelta(days=2))
    answers = [e.answer for e in world.inbound.of_type(ReverificationAnswered)]
    read_share = 0.85
    assert answers.count(ReverificationAnswer.CONFIRMED) / asked == pytest.approx(
        read_share * 0.6, abs=0.04
    )
    assert answers.count(ReverificationAnswer.DENIED) / asked == pytest.approx(
        read_share * 0.2, abs=0.03
    )
    assert len(world.inbound.events) == len(answers)  # prompts report nothing but answers


def test_the_simulator_reproduces_the_published_curve_end_to_end() -> None:
    world = World(seed=11, settings=SocialSimulatorSettings(reply_share=0.0))
    sent = 20_000
    for number in range(sent):
        world.vk.send(message(WITH_APP, f"n-{number}"))
    world.after(timedelta(minutes=1))
    assert len(world.inbound.of_type(MessageDelivered)) / sent == pytest.approx(0.42, abs=0.015)
    world.after(timedelta(hours=24) - timedelta(minutes=1))
    delivered = len(world.inbound.of_type(MessageDelivered))
    read = len(world.inbound.of_type(MessageRead))
    assert delivered / sent == pytest.approx(0.90, abs=0.015)
    assert read / sent == pytest.approx(0.85, abs=0.015)


def test_the_same_seed_gives_the_same_events() -> None:
    def run(seed: int) -> list[object]:
        world = World(seed=seed, run="replayed")  # the ids' mark too
        for number in range(200):
            world.vk.send(message(WITH_APP, f"n-{number}"))
            world.vk.ask(ReverificationPrompt(f"p-{number}", WITH_APP))
        world.after(timedelta(days=2))
        return list(world.inbound.events)

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_a_handler_may_send_again_while_events_are_handed_over(world: World) -> None:
    class SendsOnAnswer(RecordingInboundEvents):
        def handle(self, event: InboundEvent) -> None:
            super().handle(event)
            if isinstance(event, ReverificationAnswered):
                world.vk.send(message(WITH_APP, "after-answer"))

    world.inbound = SendsOnAnswer()
    world.vk = SocialNetworkSimulator(Channel.VK, ACCOUNTS, world.clock, world.inbound)
    world.vk.script_answer(WITH_APP, "confirmed", after=timedelta(seconds=10))
    world.vk.script_delivery(WITH_APP, timedelta(0))
    world.vk.ask(ReverificationPrompt("n-1", WITH_APP))
    world.after(timedelta(seconds=10))
    assert [type(e) for e in world.inbound.events] == [ReverificationAnswered, MessageDelivered]
