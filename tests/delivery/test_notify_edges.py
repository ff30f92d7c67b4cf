"""The notify path at its edges, on SQLite and PostgreSQL: a second worker holding a stale read,
answers that come late, early or twice, receipts that come before the network's own answer, a
crash between the claim and the channel's answer, networks that refuse or cannot be reached.
Throughout, every entry of a notification's history reaches the client as exactly one webhook,
in order, and the status shown is the history's last."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select

from delivery import records
from delivery.channels.ports import (
    ChannelUnavailableError,
    Refusal,
    ReverificationPrompt,
    SendResult,
    Sent,
    SmsMessage,
    SocialMessage,
)
from delivery.events import (
    MessageDelivered,
    ReplyReceived,
    ReverificationAnswer,
    ReverificationAnswered,
    SmsDelivered,
)
from delivery.notify import Accepted
from delivery.notify_core import S
from delivery.webhooks.events import NotificationReplied, NotificationStatusChanged
from ownership.channels import Channel
from ownership.notifications import Fallback
from ownership.prices import Price, PriceTable
from tests.api.service import RECYCLED, SUSPICIOUS, VERIFIED_FRESH
from tests.delivery.conftest import Notifier
from tests.delivery.fakes import RecordingSocial


class ProcessDied(BaseException):
    """The worker's process ends while the channel is being called."""


def history(notifier: Notifier, notification_id: str) -> list[str]:
    found = notifier.service.notification(notifier.client_key, notification_id)
    assert found is not None
    return [step["status"] for step in found["history"]]


def told(notifier: Notifier, notification_id: str) -> list[str]:
    """The statuses the client heard of by webhook, in order."""
    return [
        sent.event.status
        for sent in notifier.webhooks.events
        if isinstance(sent.event, NotificationStatusChanged)
        and sent.event.notification_id == notification_id
    ]


def told_everything(notifier: Notifier, notification_id: str) -> bool:
    """Each history entry after the 202's `accepted` reached the client once, in order."""
    return told(notifier, notification_id) == history(notifier, notification_id)[1:]


def replies(notifier: Notifier) -> list[NotificationReplied]:
    """The person's replies forwarded to the client, in order."""
    return [e.event for e in notifier.webhooks.events if isinstance(e.event, NotificationReplied)]


def answer_lost(monkeypatch: pytest.MonkeyPatch, channel: object, method: str = "send") -> None:
    """The channel takes what it is given, but its answer never comes back (a time-out)."""
    taken_by = getattr(channel, method)

    def taken_but_timed_out(item: Any) -> SendResult:
        taken_by(item)
        raise ChannelUnavailableError("read timeout")

    monkeypatch.setattr(channel, method, taken_but_timed_out)


def shown_but_answer_lost(monkeypatch: pytest.MonkeyPatch, network: RecordingSocial) -> None:
    """The network takes the message and shows it at once, but its answer never comes back."""
    taken_by = network.send

    def shown_but_timed_out(message: SocialMessage) -> SendResult:
        result = taken_by(message)
        assert result.provider_id is not None
        network.delivered_already.add(result.provider_id)
        raise ChannelUnavailableError("read timeout")

    monkeypatch.setattr(network, "send", shown_but_timed_out)


def verification_results(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(records.verifications.c.result).order_by(records.verifications.c.id)
            ).scalars()
        )


def test_a_worker_with_a_stale_read_does_not_ask_the_person_again(notifier: Notifier) -> None:
    accepted = notifier.service.accept(
        notifier.client_key, notifier.request(SUSPICIOUS, sensitive=True)
    )
    asked = str(accepted.answer["id"])
    with notifier.service.engine.connect() as connection:
        read_before_the_claim = records.fetch(connection, asked)
    assert read_before_the_claim is not None

    notifier.service.dispatch_due()  # the first worker asks
    # the second worker read the notification while it was still accepted
    assert notifier.service._dispatch(read_before_the_claim, set()) == 0

    assert [row[0] for row in notifier.ok.asked] == [asked]
    assert history(notifier, asked) == ["accepted", "reverify_pending"]
    assert told_everything(notifier, asked)


def test_a_denial_that_comes_after_the_ttl_still_makes_the_number_owner_changed(
    notifier: Notifier, engine: Engine
) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True, ttl=timedelta(minutes=10))
    found = notifier.service.notification(notifier.client_key, asked)
    assert found is not None
    notifier.ok.delivered_already.add(found["provider_id"])  # answered: cannot be withdrawn

    notifier.clock.advance(timedelta(minutes=11))
    notifier.service.sweep()  # the sweeper goes first: the notification goes by SMS
    taken = notifier.service.answered(asked, confirmed=False, at=notifier.clock.now())
    repeated = notifier.service.answered(asked, confirmed=False, at=notifier.clock.now())

    assert (taken, repeated) == (True, False)
    assert history(notifier, asked) == ["accepted", "reverify_pending", "expired", "sms_sent"]
    assert verification_results(engine) == ["denied"]  # and no `no_answer`: the person answered
    regular = notifier.notify(SUSPICIOUS, "r-2")
    assert notifier.status(regular) == "sms_sent"  # owner_changed for every client at once


def test_no_answer_within_the_ttl_is_kept_for_the_batch(notifier: Notifier, engine: Engine) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True, ttl=timedelta(minutes=10))

    notifier.clock.advance(timedelta(minutes=11))
    notifier.service.sweep()

    assert verification_results(engine) == ["no_answer"]
    with engine.connect() as connection:
        kept = connection.execute(select(records.verifications)).mappings().one()
    assert (kept["phone"], kept["method"], kept["notification_id"]) == (SUSPICIOUS, "prompt", asked)
    assert told_everything(notifier, asked)


def test_a_notification_no_network_takes_fails_and_the_client_is_told(
    notifier: Notifier,
) -> None:
    notifier.vk.refuse.add(VERIFIED_FRESH)
    notifier.ok.refuse.add(VERIFIED_FRESH)

    sent = notifier.notify(VERIFIED_FRESH, fallback=Fallback.NONE)

    assert history(notifier, sent) == ["accepted", "sent", "failed"]
    assert told_everything(notifier, sent)
    found = notifier.service.notification(notifier.client_key, sent)
    assert found is not None
    assert found["history"][-1]["detail"]["refused_by"] == {"vk": "NO_ACTIVE_ACCOUNT"}


def test_a_refusal_is_followed_by_where_the_notification_went(notifier: Notifier) -> None:
    notifier.vk.refuse.add(VERIFIED_FRESH)

    sent = notifier.notify(VERIFIED_FRESH)

    assert history(notifier, sent) == ["accepted", "sent", "sms_sent"]
    assert told_everything(notifier, sent)


def test_a_network_down_for_a_while_is_told_once(notifier: Notifier) -> None:
    def down(message: SocialMessage) -> SendResult:
        raise ChannelUnavailableError("vk is down")

    real_send = notifier.vk.send
    notifier.vk.send = down  # type: ignore[method-assign]
    sent = notifier.notify(VERIFIED_FRESH)
    for _ in range(3):  # the next rounds find it down too
        notifier.next_round()
    notifier.vk.send = real_send  # type: ignore[method-assign]
    notifier.next_round()

    assert history(notifier, sent) == ["accepted", "sent"]
    assert told_everything(notifier, sent)
    assert [row[0] for row in notifier.vk.sent] == [sent]


@pytest.mark.parametrize("sensitive", [False, True], ids=["delivery", "prompt"])
def test_a_crash_while_the_network_is_called_loses_no_webhook(
    notifier: Notifier, engine: Engine, monkeypatch: pytest.MonkeyPatch, sensitive: bool
) -> None:
    phone = VERIFIED_FRESH if not sensitive else SUSPICIOUS
    network = notifier.vk if not sensitive else notifier.ok

    def dies(message: SocialMessage | ReverificationPrompt) -> SendResult:
        raise ProcessDied

    monkeypatch.setattr(network, "ask" if sensitive else "send", dies)
    accepted = notifier.service.accept(
        notifier.client_key, notifier.request(phone, sensitive=sensitive)
    )
    sent = str(accepted.answer["id"])
    with pytest.raises(ProcessDied):
        notifier.service.dispatch_due()
    monkeypatch.undo()

    # the next process: the claim is finished at the TTL, and the client hears all of it
    notifier.clock.advance(timedelta(hours=2))
    notifier.service.sweep()

    claimed = "reverify_pending" if sensitive else "sent"
    assert history(notifier, sent) == ["accepted", claimed, "expired", "sms_sent"]
    assert told_everything(notifier, sent)
    assert verification_results(engine) == []  # the person may never have been asked


def test_a_receipt_before_the_network_answers_follows_the_sent_status(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_send = notifier.vk.send

    def send_and_deliver_at_once(message: SocialMessage) -> SendResult:
        taken = real_send(message)
        assert notifier.service.delivered(message.notification_id, notifier.clock.now())
        return taken

    monkeypatch.setattr(notifier.vk, "send", send_and_deliver_at_once)
    sent = notifier.notify(VERIFIED_FRESH)

    assert history(notifier, sent) == ["accepted", "sent", "delivered"]
    assert told_everything(notifier, sent)


def test_an_sms_receipt_before_the_gateway_answers_follows_the_sms_sent_status(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_send = notifier.sms.send

    def send_and_deliver_at_once(sms: SmsMessage) -> SendResult:
        taken = real_send(sms)
        assert notifier.service.sms_delivered(sms.notification_id, notifier.clock.now())
        return taken

    monkeypatch.setattr(notifier.sms, "send", send_and_deliver_at_once)
    sent = notifier.notify(RECYCLED)

    assert history(notifier, sent) == ["accepted", "sms_sent", "sms_delivered"]
    assert told_everything(notifier, sent)


def test_a_yes_before_the_network_answers_sends_the_message_and_keeps_its_id(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_ask = notifier.ok.ask

    def ask_and_answer_at_once(prompt: ReverificationPrompt) -> SendResult:
        taken = real_ask(prompt)
        assert notifier.service.answered(prompt.notification_id, True, notifier.clock.now())
        notifier.ok.delivered_already.add(str(taken.provider_id))  # answered: stays shown
        return taken

    monkeypatch.setattr(notifier.ok, "ask", ask_and_answer_at_once)
    asked = notifier.notify(SUSPICIOUS, sensitive=True)
    monkeypatch.undo()

    assert history(notifier, asked) == ["accepted", "reverify_pending", "sent"]
    assert told_everything(notifier, asked)
    # the message is not delivered within the TTL: it, not the prompt, is taken back
    notifier.clock.advance(timedelta(hours=2))
    notifier.service.sweep()
    message_id = notifier.ok.withdrawn
    assert len(message_id) == 1 and not message_id[0].startswith("ok-q")
    assert history(notifier, asked)[-2:] == ["expired", "sms_sent"]


def test_a_network_answering_after_the_ttl_ran_out_has_its_message_taken_back(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_send = notifier.vk.send

    def slow_send(message: SocialMessage) -> SendResult:
        taken = real_send(message)
        notifier.clock.advance(timedelta(minutes=61))  # meanwhile the TTL runs out: a sweep
        notifier.service.sweep()
        return taken

    monkeypatch.setattr(notifier.vk, "send", slow_send)
    sent = notifier.notify(VERIFIED_FRESH)

    assert history(notifier, sent) == ["accepted", "sent", "expired", "sms_sent"]
    assert told_everything(notifier, sent)
    # shown once, by SMS: the message is taken back (by the sweeper, and again when its id
    # comes; a withdrawal repeats harmlessly)
    assert set(notifier.vk.withdrawn) == set(notifier.vk.issued[sent, Sent.MESSAGE])


def test_a_yes_the_network_refuses_goes_by_sms_at_once(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True)

    def refuses(message: SocialMessage) -> SendResult:
        return SendResult.refused(Refusal.NO_ACTIVE_ACCOUNT)

    monkeypatch.setattr(notifier.ok, "send", refuses)
    assert notifier.service.answered(asked, confirmed=True, at=notifier.clock.now())

    assert history(notifier, asked) == ["accepted", "reverify_pending", "sent", "sms_sent"]
    assert told_everything(notifier, asked)


def test_a_yes_whose_network_times_out_is_sent_there_again_not_by_sms(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True)
    answer_lost(monkeypatch, notifier.ok)  # the network may have it: SMS now could show it twice
    assert notifier.service.answered(asked, confirmed=True, at=notifier.clock.now())
    monkeypatch.undo()
    notifier.service.dispatch_due()  # sent again in the network, which takes it once

    assert notifier.sms.sent == []
    assert len(notifier.ok.asked) == 1
    assert history(notifier, asked) == ["accepted", "reverify_pending", "sent"]
    assert told_everything(notifier, asked)
    assert notifier.service.delivered(asked, notifier.clock.now())


def test_a_yes_meeting_the_ttl_has_its_message_taken_back(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True, ttl=timedelta(minutes=10))
    real_send = notifier.ok.send

    def slow_send(message: SocialMessage) -> SendResult:
        taken = real_send(message)
        notifier.clock.advance(timedelta(minutes=3))  # the TTL runs out and the call outlives
        notifier.service.sweep()  # the claim's grace: the sweeper sends the SMS
        return taken

    monkeypatch.setattr(notifier.ok, "send", slow_send)
    notifier.clock.advance(timedelta(minutes=9))
    assert notifier.service.answered(asked, confirmed=True, at=notifier.clock.now())

    assert [row[0] for row in notifier.sms.sent] == [asked]
    # shown once, by SMS: the message is taken back (by the sweeper, and again when its id
    # comes; a withdrawal repeats harmlessly), the answered prompt is left alone
    assert set(notifier.ok.withdrawn) == set(notifier.ok.issued[asked, Sent.MESSAGE])


def test_a_claim_whose_network_is_still_answering_is_not_swept(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    accepted = notifier.service.accept(
        notifier.client_key, notifier.request(VERIFIED_FRESH, ttl=timedelta(minutes=10))
    )
    sent = str(accepted.answer["id"])
    real_send = notifier.vk.send

    def slow_send(message: SocialMessage) -> SendResult:
        taken = real_send(message)
        notifier.vk.delivered_already.add(str(taken.provider_id))  # shown at once
        notifier.clock.advance(timedelta(seconds=30))  # the TTL runs out during the call
        notifier.service.sweep()
        return taken

    monkeypatch.setattr(notifier.vk, "send", slow_send)
    notifier.clock.advance(timedelta(minutes=9, seconds=50))
    notifier.service.dispatch_due()  # claimed 10 s before the TTL

    assert notifier.sms.sent == []
    assert notifier.service.delivered(sent, notifier.clock.now())
    assert history(notifier, sent) == ["accepted", "sent", "delivered"]


def test_a_refusal_and_an_sms_outage_are_told_once(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    notifier.vk.refuse.add(VERIFIED_FRESH)

    def down(sms: SmsMessage) -> SendResult:
        raise ChannelUnavailableError("the SMS gateway is down")

    monkeypatch.setattr(notifier.sms, "send", down)
    sent = notifier.notify(VERIFIED_FRESH)
    for _ in range(5):
        notifier.next_round()
    monkeypatch.undo()
    notifier.next_round()

    assert told(notifier, sent) == ["sent", "sms_sent"]
    assert told_everything(notifier, sent)
    assert [row[0] for row in notifier.sms.sent] == [sent]


def test_the_sweeper_tells_an_sms_outage_once(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = notifier.notify(VERIFIED_FRESH, ttl=timedelta(minutes=10))

    def down(sms: SmsMessage) -> SendResult:
        raise ChannelUnavailableError("the SMS gateway is down")

    monkeypatch.setattr(notifier.sms, "send", down)
    notifier.clock.advance(timedelta(minutes=11))
    for _ in range(5):
        notifier.service.sweep()
        notifier.clock.advance(timedelta(seconds=30))
    monkeypatch.undo()
    notifier.service.sweep()

    assert told(notifier, sent) == ["sent", "expired", "sms_sent"]
    assert told_everything(notifier, sent)
    assert [row[0] for row in notifier.sms.sent] == [sent]


def test_a_yes_to_a_prompt_given_back_after_a_timeout_delivers_without_asking_again(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer_lost(monkeypatch, notifier.ok, "ask")
    asked = notifier.notify(SUSPICIOUS, sensitive=True)
    monkeypatch.undo()

    assert notifier.service.answered(asked, confirmed=True, at=notifier.clock.now())
    notifier.service.dispatch_due()

    assert len(notifier.ok.asked) == 1
    assert [row[0] for row in notifier.ok.sent] == [asked]
    assert history(notifier, asked) == ["accepted", "reverify_pending", "sent"]


def test_a_no_while_the_sms_gateway_is_down_is_not_also_no_answer(
    notifier: Notifier, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True, ttl=timedelta(minutes=10))

    def down(sms: SmsMessage) -> SendResult:
        raise ChannelUnavailableError("the SMS gateway is down")

    monkeypatch.setattr(notifier.sms, "send", down)
    assert notifier.service.answered(asked, confirmed=False, at=notifier.clock.now())
    monkeypatch.undo()
    notifier.clock.advance(timedelta(minutes=11))
    notifier.service.sweep()

    assert verification_results(engine) == ["denied"]
    assert history(notifier, asked)[-1] == "sms_sent"
    assert [row[0] for row in notifier.sms.sent] == [asked]


def test_a_prompt_takes_one_answer_even_from_two_reports_at_once(
    notifier: Notifier, engine: Engine
) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True)
    with engine.begin() as connection:  # as the first report's transaction would
        first = records.record_verification(
            connection, SUSPICIOUS, notifier.clock.now(), "prompt", "denied", None, asked
        )
    # the second report read the notification before the first was kept
    with engine.begin() as connection:
        second = records.record_verification(
            connection, SUSPICIOUS, notifier.clock.now(), "prompt", "confirmed", None, asked
        )

    assert (first, second) == (True, False)
    assert verification_results(engine) == ["denied"]


def test_a_read_that_overtakes_its_delivery_report_delivers_and_reads_the_message(
    notifier: Notifier, engine: Engine
) -> None:
    sent = notifier.notify(VERIFIED_FRESH)
    now = notifier.clock.now()
    notifier.clock.advance(timedelta(seconds=30))

    assert notifier.service.read(sent, now + timedelta(seconds=20))
    assert not notifier.service.delivered(sent, now + timedelta(seconds=10))  # its report, late

    assert history(notifier, sent) == ["accepted", "sent", "delivered", "read"]
    found = notifier.service.notification(notifier.client_key, sent)
    assert found is not None
    assert found["history"][2]["at"] == now + timedelta(seconds=10)  # dated by its own report
    assert told_everything(notifier, sent)
    with engine.connect() as connection:
        assert connection.execute(select(records.ledger.c.channel)).scalars().all() == ["vk"]


def test_a_read_whose_delivery_report_lands_at_the_same_moment_is_kept(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The two reports reach two processes at once: the read finds the message not yet
    delivered, and the delivery report delivers it before the read can."""
    sent = notifier.notify(VERIFIED_FRESH)
    now = notifier.clock.now()
    follow = notifier.service._follow
    raced: list[bool] = []

    def delivered_meanwhile(*args: Any, **kwargs: Any) -> bool:
        moved = follow(*args, **kwargs)
        if not raced:  # the read's first try, which found it `sent`
            raced.append(False)
            raced[0] = notifier.service.delivered(sent, now + timedelta(seconds=10))
        return moved

    monkeypatch.setattr(notifier.service, "_follow", delivered_meanwhile)

    assert notifier.service.read(sent, now + timedelta(seconds=11))

    assert raced == [True]
    assert history(notifier, sent) == ["accepted", "sent", "delivered", "read"]


def test_a_receipt_while_the_message_is_given_back_after_a_timeout_stands(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer_lost(monkeypatch, notifier.vk)
    sent = notifier.notify(VERIFIED_FRESH)  # the network has it; we heard nothing
    monkeypatch.undo()
    now = notifier.clock.now()

    assert notifier.service.delivered(sent, now + timedelta(seconds=3), Channel.VK)
    assert notifier.service.read(sent, now + timedelta(seconds=9), Channel.VK)
    notifier.service.dispatch_due()  # nothing left to send

    assert history(notifier, sent) == ["accepted", "sent", "delivered", "read"]
    assert len(notifier.vk.sent) == 1


def test_a_report_from_another_network_than_the_notifications_changes_nothing(
    notifier: Notifier, engine: Engine
) -> None:
    sent = notifier.notify(VERIFIED_FRESH)  # went by VK
    now = notifier.clock.now()

    notifier.service.handle(MessageDelivered(sent, "ok-1", Channel.OK, now))
    notifier.service.handle(ReplyReceived(sent, "ok-1", Channel.OK, now, "Спасибо"))
    notifier.service.handle(SmsDelivered(sent, "sms-1", Channel.SMS, now))

    assert history(notifier, sent) == ["accepted", "sent"]
    assert replies(notifier) == []
    with engine.connect() as connection:
        assert connection.execute(select(records.ledger.c.channel)).scalars().all() == []
    (carrying,) = notifier.vk.issued[sent, Sent.MESSAGE]
    notifier.service.handle(MessageDelivered(sent, carrying, Channel.VK, now))
    assert history(notifier, sent) == ["accepted", "sent", "delivered"]


def test_a_reply_the_gateway_reports_twice_reaches_the_client_once(notifier: Notifier) -> None:
    sent = notifier.notify(VERIFIED_FRESH)
    now = notifier.clock.now()
    notifier.service.delivered(sent, now)
    reply = ReplyReceived(sent, "vk-1", Channel.VK, now + timedelta(seconds=30), "Спасибо!")
    another = ReplyReceived(sent, "vk-1", Channel.VK, now + timedelta(seconds=40), "Спасибо!")

    for event in (reply, reply, another):
        notifier.service.handle(event)

    assert [event.at for event in replies(notifier)] == [reply.at, another.at]  # said again


def test_a_message_the_network_took_while_its_send_timed_out_is_taken_back_at_the_ttl(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer_lost(monkeypatch, notifier.vk)
    sent = notifier.notify(VERIFIED_FRESH)  # given back, its id never came
    notifier.service.dispatch_due()  # timed out again before the TTL

    notifier.clock.advance(timedelta(hours=1, seconds=1))
    notifier.service.sweep()

    assert notifier.vk.withdrawn == notifier.vk.issued[sent, Sent.MESSAGE]  # every copy
    assert [row[0] for row in notifier.sms.sent] == [sent]
    assert history(notifier, sent) == ["accepted", "sent", "expired", "sms_sent"]


def test_a_message_shown_while_its_send_timed_out_is_delivered_at_the_ttl_not_sent_by_sms(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch, engine: Engine
) -> None:
    shown_but_answer_lost(monkeypatch, notifier.vk)
    sent = notifier.notify(VERIFIED_FRESH)
    monkeypatch.setattr(notifier.vk, "send", _unavailable)

    notifier.clock.advance(timedelta(hours=1, seconds=1))
    notifier.service.sweep()

    assert notifier.sms.sent == []
    assert history(notifier, sent) == ["accepted", "sent", "delivered"]
    with engine.connect() as connection:
        assert connection.execute(select(records.ledger.c.channel)).scalars().all() == ["vk"]


def _unavailable(message: SocialMessage) -> SendResult:
    raise ChannelUnavailableError("gateway down")


def test_a_no_from_the_asking_network_after_the_ttl_still_counts(
    notifier: Notifier, engine: Engine
) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True, ttl=timedelta(minutes=10))
    found = notifier.service.notification(notifier.client_key, asked)
    assert found is not None
    notifier.clock.advance(timedelta(minutes=11))
    notifier.service.sweep()  # by SMS now: the notification's channel is SMS's
    network = Channel.OK if notifier.ok.asked else Channel.VK

    answer = ReverificationAnswered(
        asked, found["provider_id"], network, notifier.clock.now(), ReverificationAnswer.DENIED
    )
    notifier.service.handle(answer)
    other = Channel.VK if network is Channel.OK else Channel.OK
    yes_elsewhere = ReverificationAnswered(
        asked, "x", other, notifier.clock.now(), ReverificationAnswer.CONFIRMED
    )
    notifier.service.handle(yes_elsewhere)  # never asked there: ignored

    assert verification_results(engine) == ["no_answer", "denied"]
    assert notifier.status(notifier.notify(SUSPICIOUS, "r-2")) == "sms_sent"  # owner_changed


def test_an_sms_report_while_its_timed_out_send_is_given_back_stands(
    notifier: Notifier, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: dict[str, str] = {}

    def taken_but_timed_out(sms: SmsMessage) -> SendResult:
        taken[sms.notification_id] = "sms-first"
        raise ChannelUnavailableError("read timeout")

    monkeypatch.setattr(notifier.sms, "send", taken_but_timed_out)
    sent = notifier.notify(RECYCLED)  # by SMS at once; given back, its id never came

    notifier.service.handle(SmsDelivered(sent, taken[sent], Channel.SMS, notifier.clock.now()))

    assert history(notifier, sent) == ["accepted", "sms_sent", "sms_delivered"]
    with engine.connect() as connection:
        assert connection.execute(select(records.ledger.c.channel)).scalars().all() == ["sms"]


def test_a_receipt_racing_the_give_back_of_its_timed_out_send_stands(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch, engine: Engine
) -> None:
    real_send, real_fetch = notifier.vk.send, records.fetch
    reported: list[bool] = []

    def taken_but_timed_out(message: SocialMessage) -> SendResult:
        real_send(message)

        def read_then_given_back(connection: Connection, notification_id: str) -> Any:
            row = real_fetch(connection, notification_id)
            with engine.begin() as dispatcher:  # the give-back commits after the report's read
                records.set_status(dispatcher, notification_id, (S.SENT,), S.ACCEPTED, at)
            return row

        at = notifier.clock.now()
        monkeypatch.setattr(records, "fetch", read_then_given_back)
        reported.append(notifier.service.delivered(message.notification_id, at, Channel.VK))
        monkeypatch.setattr(records, "fetch", real_fetch)
        raise ChannelUnavailableError("read timeout")

    monkeypatch.setattr(notifier.vk, "send", taken_but_timed_out)
    sent = notifier.notify(VERIFIED_FRESH)

    assert reported == [True]
    assert history(notifier, sent) == ["accepted", "sent", "delivered"]


def test_a_delivery_dated_back_by_its_report_is_billed_at_that_days_price(
    notifier: Notifier, engine: Engine
) -> None:
    now = notifier.clock.now()
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    prices = notifier.service.prices
    dearer = Price("7", Channel.VK, Decimal("1.00"), midnight.date())
    notifier.service.prices = PriceTable.of([*prices.prices, dearer])
    sent = notifier.notify(VERIFIED_FRESH, ttl=timedelta(hours=24))

    notifier.service.read(sent, midnight + timedelta(seconds=5))  # the read came first
    notifier.service.delivered(sent, midnight - timedelta(seconds=5))  # shown the day before

    with engine.connect() as connection:
        billed = connection.execute(select(records.ledger.c.price)).scalars().all()
    assert [Decimal(price) for price in billed] == [Decimal("0.45")]


def test_a_stopping_service_dispatches_nothing_new(notifier: Notifier) -> None:
    notifier.service.stopping.set()  # SIGTERM: the worker stops taking work
    accepted = notifier.service.accept(notifier.client_key, notifier.request(VERIFIED_FRESH))

    assert notifier.service.dispatch_due() == 0
    assert notifier.status(accepted.answer["id"]) == "accepted"  # for the next process
    assert notifier.vk.sent == []


def accepted_a_moment_later(notifier: Notifier, phone: str, request_id: str) -> Accepted:
    """Accepted a millisecond after the last: the rounds take the oldest first, and two
    accepted at one moment come in any order."""
    notifier.clock.advance(timedelta(milliseconds=1))
    return notifier.service.accept(notifier.client_key, notifier.request(phone, request_id))


def test_a_network_that_cannot_be_reached_is_called_once_a_round_and_holds_up_no_sms(
    notifier: Notifier,
) -> None:
    calls: list[str] = []

    def hanging(message: SocialMessage) -> SendResult:
        calls.append(message.notification_id)
        raise ChannelUnavailableError("no answer within the deadline")

    notifier.vk.send = hanging  # type: ignore[method-assign]
    waiting = [accepted_a_moment_later(notifier, VERIFIED_FRESH, f"r-{n}") for n in range(3)]
    by_sms = accepted_a_moment_later(notifier, RECYCLED, "r-sms")
    notifier.service.dispatch_due()

    assert len(calls) == 1
    assert [row[0] for row in notifier.sms.sent] == [by_sms.answer["id"]]
    first, *behind = (str(taken.answer["id"]) for taken in waiting)
    assert history(notifier, first) == ["accepted", "sent"]  # given back, sent again later
    assert [history(notifier, later) for later in behind] == [["accepted"], ["accepted"]]


def test_a_network_down_this_round_sends_nothing_by_sms_before_its_ttl(
    notifier: Notifier,
) -> None:
    notifier.vk.send = _unavailable  # type: ignore[method-assign]
    first = accepted_a_moment_later(notifier, VERIFIED_FRESH, "r-1")
    second = accepted_a_moment_later(notifier, VERIFIED_FRESH, "r-2")
    notifier.service.dispatch_due()

    assert notifier.sms.sent == []
    assert history(notifier, str(first.answer["id"])) == ["accepted", "sent"]
    assert history(notifier, str(second.answer["id"])) == ["accepted"]


def denied_by_the_person(notifier: Notifier) -> None:
    """A No to another notification to SUSPICIOUS, a moment later."""
    notifier.clock.advance(timedelta(seconds=1))
    with notifier.service.engine.begin() as connection:
        records.record_verification(
            connection, SUSPICIOUS, notifier.clock.now(), "prompt", "denied", None, None
        )


def test_a_timed_out_message_is_withdrawn_before_a_no_sends_it_by_sms(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the network took the message though its answer never came; then the person says No to
    # another notification: the disowned account must not see the first one
    answer_lost(monkeypatch, notifier.ok)
    first = notifier.notify(SUSPICIOUS)
    denied_by_the_person(notifier)
    notifier.next_round()

    assert notifier.ok.withdrawn == notifier.ok.issued[first, Sent.MESSAGE]
    assert [row[0] for row in notifier.sms.sent] == [first]
    assert history(notifier, first) == ["accepted", "sent", "sms_sent"]
    assert told_everything(notifier, first)


def test_a_timed_out_message_the_network_showed_before_a_no_is_delivered_not_sent_by_sms(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch, engine: Engine
) -> None:
    shown_but_answer_lost(monkeypatch, notifier.ok)
    first = notifier.notify(SUSPICIOUS)
    denied_by_the_person(notifier)
    notifier.next_round()

    assert notifier.sms.sent == []
    assert history(notifier, first) == ["accepted", "sent", "delivered"]
    with engine.connect() as connection:
        billed = connection.execute(select(records.ledger.c.notification_id)).scalars().all()
    assert billed == [first]


def test_a_network_that_cannot_be_asked_to_withdraw_holds_the_fallback_only_a_while(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = notifier.notify(VERIFIED_FRESH, ttl=timedelta(seconds=30))

    def down(provider_id: str) -> bool:
        raise ChannelUnavailableError("gateway down")

    monkeypatch.setattr(notifier.vk, "withdraw", down)
    notifier.clock.advance(timedelta(seconds=31))
    notifier.service.sweep()
    assert history(notifier, sent) == ["accepted", "sent"]  # asked again at the next sweep

    notifier.clock.advance(notifier.service.withdraw_timeout)
    notifier.service.sweep()

    assert history(notifier, sent) == ["accepted", "sent", "expired", "sms_sent"]
    found = notifier.service.notification(notifier.client_key, sent)
    assert found is not None
    assert found["history"][2]["detail"] == {"ttl_ran_out": True, "withdrawal_unconfirmed": True}
    assert [row[0] for row in notifier.sms.sent] == [sent]
    assert told_everything(notifier, sent)


def test_an_sms_claimed_by_a_process_that_died_before_the_gateway_answered_is_sent(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    def dies(sms: SmsMessage) -> SendResult:
        raise ProcessDied

    monkeypatch.setattr(notifier.sms, "send", dies)
    accepted = notifier.service.accept(notifier.client_key, notifier.request(RECYCLED))
    with pytest.raises(ProcessDied):
        notifier.service.dispatch_due()
    monkeypatch.undo()

    # the next process, once the claim is older than any gateway call lasts
    notifier.clock.advance(notifier.service.claim_timeout)
    notifier.service.sweep()
    sent = str(accepted.answer["id"])
    found = notifier.service.notification(notifier.client_key, sent)
    assert found is not None and found["provider_id"]  # the gateway's id, kept
    report = SmsDelivered(sent, found["provider_id"], Channel.SMS, notifier.clock.now())
    notifier.service.handle(report)

    assert [row[0] for row in notifier.sms.sent] == [sent]
    assert history(notifier, sent) == ["accepted", "sms_sent", "sms_delivered"]
    assert told_everything(notifier, sent)


def test_an_answer_dated_before_its_notification_was_accepted_counts_from_the_acceptance(
    notifier: Notifier, engine: Engine
) -> None:
    # a gateway's wrong clock must not date a No before the question was put: the overlay and
    # the batch would weigh it against evidence it cannot have followed
    asked = notifier.notify(SUSPICIOUS, sensitive=True)
    accepted_at = notifier.clock.now()

    notifier.service.answered(asked, confirmed=False, at=accepted_at - timedelta(days=2))

    with engine.connect() as connection:
        answered_at = connection.execute(select(records.verifications.c.ts)).scalar_one()
    assert answered_at == accepted_at


def test_a_dispatcher_whose_read_predates_the_ttl_does_not_claim_after_it(
    notifier: Notifier,
) -> None:
    # the sweeper owns a notification once its TTL ran out: a claim then would put a copy in
    # the network that the sweeper's withdrawal never saw
    accepted = notifier.service.accept(
        notifier.client_key, notifier.request(VERIFIED_FRESH, ttl=timedelta(seconds=30))
    )
    sent = str(accepted.answer["id"])
    with notifier.service.engine.connect() as connection:
        read_before_the_ttl = records.fetch(connection, sent)
    assert read_before_the_ttl is not None

    notifier.clock.advance(timedelta(seconds=31))
    assert notifier.service._dispatch(read_before_the_ttl, set()) == 0
    notifier.service.sweep()

    assert notifier.vk.sent == []
    assert history(notifier, sent) == ["accepted", "expired", "sms_sent"]


def test_a_crash_left_sms_claim_the_gateway_cannot_take_yet_waits_as_sms_sent_whatever_the_fallback(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    def dies(sms: SmsMessage) -> SendResult:
        raise ProcessDied

    def down(sms: SmsMessage) -> SendResult:
        raise ChannelUnavailableError("the SMS gateway is down")

    monkeypatch.setattr(notifier.sms, "send", dies)
    accepted = notifier.service.accept(
        notifier.client_key, notifier.request(RECYCLED, fallback=Fallback.NONE)
    )
    with pytest.raises(ProcessDied):
        notifier.service.dispatch_due()
    monkeypatch.setattr(notifier.sms, "send", down)
    notifier.clock.advance(notifier.service.claim_timeout)
    notifier.service.sweep()
    monkeypatch.undo()
    notifier.clock.advance(notifier.service.claim_timeout)
    notifier.service.sweep()

    sent = str(accepted.answer["id"])
    assert [row[0] for row in notifier.sms.sent] == [sent]
    assert history(notifier, sent) == ["accepted", "sms_sent"]
    assert told_everything(notifier, sent)


def test_the_sweeper_asks_a_network_that_cannot_be_reached_once_a_sweep(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def hanging(provider_id: str) -> bool:
        asked.append(provider_id)
        raise ChannelUnavailableError("no answer within the deadline")

    for n in range(3):
        notifier.notify(VERIFIED_FRESH, f"r-{n}", ttl=timedelta(seconds=30))
    monkeypatch.setattr(notifier.vk, "withdraw", hanging)
    notifier.clock.advance(timedelta(seconds=31))
    notifier.service.sweep()

    assert len(asked) == 1


def test_a_sweep_asks_an_sms_gateway_that_cannot_be_reached_once(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a crash-left SMS claim and two notifications past their TTL, in one sweep
    asked: list[str] = []

    def dies(sms: SmsMessage) -> SendResult:
        raise ProcessDied

    def down(sms: SmsMessage) -> SendResult:
        asked.append(sms.notification_id)
        raise ChannelUnavailableError("the SMS gateway is down")

    monkeypatch.setattr(notifier.sms, "send", dies)
    notifier.service.accept(notifier.client_key, notifier.request(RECYCLED, "r-crash"))
    with pytest.raises(ProcessDied):
        notifier.service.dispatch_due()
    monkeypatch.undo()
    for n in range(2):
        notifier.notify(VERIFIED_FRESH, f"r-{n}", ttl=timedelta(seconds=30))
    monkeypatch.setattr(notifier.sms, "send", down)
    notifier.clock.advance(notifier.service.claim_timeout)
    notifier.service.sweep()

    assert len(asked) == 1
